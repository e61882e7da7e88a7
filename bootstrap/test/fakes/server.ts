/**
 * Base for the hand-written API fakes (Contabo, Cloudflare): a real HTTP server on 127.0.0.1 that
 * records every request and can be told to answer the next matching requests with injected faults
 * (401, 429 with Retry-After, 5xx) before the normal handler runs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, trackSockets } from '../../../test/support/close-server.ts';

export interface RecordedRequest { method: string; path: string; query: URLSearchParams; headers: IncomingMessage['headers']; body: string; json?: unknown }
export interface Reply { status: number; body?: unknown; headers?: Record<string, string> }
interface Fault { method: string; path: RegExp; reply: Reply; after?: boolean }

export abstract class FakeApi {
  readonly requests: RecordedRequest[] = [];
  private readonly faults: Fault[] = [];
  private server?: Server;
  url = '';

  /** Answer the next request matching method+path with `reply` (queued; each fault is used once). */
  fail(method: string, path: RegExp, reply: Reply): this {
    this.faults.push({ method, path, reply });
    return this;
  }

  /** Run the real handler (the change happens) but answer with `reply`: a lost response. */
  failAfter(method: string, path: RegExp, reply: Reply): this {
    this.faults.push({ method, path, reply, after: true });
    return this;
  }

  protected abstract handle(req: RecordedRequest): Reply;

  /** Requests that change something. */
  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && !r.path.includes('openid-connect'));
  }

  count(method: string, path: RegExp): number {
    return this.requests.filter((r) => r.method === method && path.test(r.path)).length;
  }

  async start(): Promise<this> {
    this.server = trackSockets(createServer((req, res) => this.dispatch(req, res)));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://fake');
      const rec: RecordedRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, headers: req.headers, body };
      // A JSON body without a Content-Type is read as JSON too: Cloudflare's API does (cert-manager's
      // DNS-01 client posts its records without one).
      if (body && (!req.headers['content-type'] || String(req.headers['content-type']).includes('json'))) {
        try { rec.json = JSON.parse(body); } catch { /* handler answers 400 */ }
      }
      this.requests.push(rec);
      const i = this.faults.findIndex((f) => f.method === rec.method && f.path.test(rec.path));
      let reply: Reply;
      if (i >= 0) {
        const [f] = this.faults.splice(i, 1);
        if (f!.after) this.handle(rec);
        reply = f!.reply;
      } else {
        reply = this.handle(rec);
      }
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  }
}
