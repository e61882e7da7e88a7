/**
 * JSON over HTTP for the provider APIs, with the retry rules every step relies on:
 *   429            wait for Retry-After (seconds or HTTP date; capped), then retry; any method, the
 *                  request was not processed.
 *   5xx, network   exponential back-off and retry when the request is safe to repeat (GET, PUT,
 *                  PATCH, DELETE). A POST that failed this way is NOT repeated blindly: the caller
 *                  looks the resource up again first (a lost 201 would otherwise create two VPSs).
 * In dry-run mode nothing may be sent; the client refuses, so a step bug cannot touch a provider.
 */
import { BootstrapError, type StepContext } from './context.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: Method;
  url: string;
  headers?: Record<string, string>;
  json?: unknown;
  /** application/x-www-form-urlencoded body (OAuth2 token requests). */
  form?: Record<string, string>;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is empty or not JSON. */
  body: unknown;
}

/** A response the client gave up on: 5xx after retries, or a 5xx on a POST (see above). */
export class HttpServerError extends Error {
  constructor(readonly service: string, readonly request: HttpRequest, readonly status: number, readonly text: string) {
    super(`${service}: ${request.method} ${redactUrl(request.url)} failed with HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`);
    this.name = 'HttpServerError';
  }
}

const redactUrl = (u: string): string => u.replace(/([?&](?:token|key|secret)[^=]*=)[^&]+/gi, '$1***');

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const safeToRepeat = (m: Method): boolean => m !== 'POST';

export class HttpClient {
  constructor(private readonly ctx: StepContext, readonly service: string) {}

  async send(req: HttpRequest): Promise<HttpResponse> {
    if (this.ctx.dryRun) {
      // Steps print their plan instead of calling; reaching this is a bug, and it must not leak out.
      throw new Error(`internal: dry-run tried to send ${req.method} ${redactUrl(req.url)} to ${this.service}`);
    }
    const { maxAttempts, retryBaseMs, maxRetryAfterMs } = this.ctx.timing;
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(req.form).toString();
    }
    const what = `${req.method} ${redactUrl(req.url)}`;
    for (let attempt = 1; ; attempt++) {
      const backoff = retryBaseMs * 2 ** (attempt - 1);
      let res: Response;
      try {
        res = await this.ctx.fetch(req.url, { method: req.method, headers, body, signal: AbortSignal.timeout(60_000) });
      } catch (e) {
        const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
        if (safeToRepeat(req.method) && attempt < maxAttempts) {
          this.ctx.out.info(`  … ${this.service}: ${what}: network error (${cause}); retrying in ${backoff / 1000}s (attempt ${attempt + 1}/${maxAttempts})`);
          await this.ctx.sleep(backoff);
          continue;
        }
        throw new BootstrapError(`${this.service}: cannot reach ${new URL(req.url).origin} (${what}): ${cause}`, 'check the network and the API URL, then run the step again (it is idempotent)');
      }
      const text = await res.text();
      if (res.status === 429) {
        const wait = parseRetryAfter(res.headers.get('retry-after'), this.ctx.now().getTime()) ?? backoff;
        if (wait > maxRetryAfterMs) {
          throw new BootstrapError(`${this.service}: rate limited (429) on ${what}; the API asks to wait ${Math.ceil(wait / 1000)}s`, 'run the step again later (it is idempotent)');
        }
        if (attempt < maxAttempts) {
          this.ctx.out.info(`  … ${this.service}: rate limited (429); retrying in ${Math.ceil(wait / 1000)}s as Retry-After asks (attempt ${attempt + 1}/${maxAttempts})`);
          await this.ctx.sleep(wait);
          continue;
        }
        throw new BootstrapError(`${this.service}: still rate limited (429) after ${maxAttempts} attempts on ${what}`, 'run the step again later (it is idempotent)');
      }
      if (res.status >= 500) {
        if (safeToRepeat(req.method) && attempt < maxAttempts) {
          this.ctx.out.info(`  … ${this.service}: ${what}: HTTP ${res.status}; retrying in ${backoff / 1000}s (attempt ${attempt + 1}/${maxAttempts})`);
          await this.ctx.sleep(backoff);
          continue;
        }
        throw new HttpServerError(this.service, req, res.status, text);
      }
      let parsed: unknown;
      if (text.trim() !== '') {
        try { parsed = JSON.parse(text); } catch { parsed = undefined; }
      }
      return { status: res.status, headers: res.headers, text, body: parsed };
    }
  }
}
