/**
 * Traefik v3's request matching and rate limiting, re-stated from its source so the rendered rules
 * and limits can be tested on requests (Traefik v3.6, github.com/traefik/traefik):
 *
 * - the path a rule sees (pkg/server/server_entrypoint_tcp.go normalizePath then sanitizePath,
 *   pkg/muxer/http/mux.go withRoutingPath): percent-encoded unreserved characters decoded and the
 *   rest upper-cased; `//`, `/./` and `/../` cleaned (a trailing slash kept); then every
 *   percent-encoding decoded except the reserved ones (`%2F` stays `%2F`);
 * - matchers (pkg/muxer/http/matcher.go): `Host` compares case-insensitively, `Path` is equality,
 *   `PathPrefix` a plain string prefix, `PathRegexp` a Go regexp on the path (only the leading
 *   `(?i)` flag is supported here), `Header` a header's exact value, `ClientIP` the connection's
 *   source address (not X-Forwarded-For) in a range; rules combine with `&&`, `||`, `!` and
 *   parentheses;
 * - the RateLimit middleware (pkg/middlewares/ratelimiter/rate_limiter.go): a token bucket per
 *   source of `burst` tokens refilled at average/period per second (golang.org/x/time/rate); a
 *   request that would have to wait longer than maxDelay (1 / (2 x rate), or 0.5 s below one
 *   request a second) is answered 429 and takes no token;
 * - the client address of `ipStrategy.excludedIPs` (pkg/ip/strategy.go) and the IPAllowList check
 *   (pkg/middlewares/ipallowlist: an empty address is refused).
 */
import { cidrContains } from '../../charts-ts/config/sections/apps.ts';

const unreserved = /^[A-Za-z0-9\-._~]$/;
/** Percent-encodings the routing path keeps encoded (mux.go reservedCharacters). */
const reserved = new Set(['%3A', '%2F', '%3F', '%23', '%5B', '%5D', '%40', '%21', '%24', '%26', '%27', '%28', '%29', '%2A', '%2B', '%2C', '%3B', '%3D', '%25']);

const decodePercent = (path: string, keep: (encoded: string, char: string) => boolean): string =>
  path.replace(/%[0-9A-Fa-f]{2}/g, (e) => {
    const char = String.fromCharCode(parseInt(e.slice(1), 16));
    return keep(e.toUpperCase(), char) ? e.toUpperCase() : char;
  });

/** Go's url.JoinPath() on a path: path.Clean, keeping a trailing slash. */
function cleanPath(path: string): string {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const cleaned = `/${out.join('/')}`;
  return path.endsWith('/') && cleaned !== '/' ? `${cleaned}/` : cleaned;
}

/** The path Traefik's router matches for a request path as sent (percent-encoded). */
export function routingPath(rawPath: string): string {
  const normalized = decodePercent(rawPath, (_e, c) => !unreserved.test(c));
  return decodePercent(cleanPath(normalized), (e) => reserved.has(e));
}

function goRegexp(source: string): RegExp {
  const m = /^\(\?i\)/.exec(source);
  return new RegExp(m ? source.slice(m[0].length) : source, m ? 'i' : '');
}

interface Request {
  readonly host: string;
  readonly path: string;
  /** Request headers (names compare case-insensitively, as Go's canonical header keys). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The connection's source address (what `ClientIP` matches; never X-Forwarded-For). */
  readonly remoteAddr?: string;
}

/** Whether a Traefik v3 rule matches a request (host, raw path, headers, source address). */
export function ruleMatches(rule: string, req: Request): boolean {
  const path = routingPath(req.path);
  let i = 0;
  const ws = () => { while (rule[i] === ' ') i++; };
  const expect = (s: string) => {
    ws();
    if (!rule.startsWith(s, i)) throw new Error(`rule ${rule}: expected "${s}" at ${i}`);
    i += s.length;
  };
  const matcher = (): boolean => {
    ws();
    const name = /^[A-Za-z]+/.exec(rule.slice(i))?.[0];
    if (!name) throw new Error(`rule ${rule}: expected a matcher at ${i}`);
    i += name.length;
    expect('(');
    const args: string[] = [];
    for (;;) {
      expect('`');
      const end = rule.indexOf('`', i);
      args.push(rule.slice(i, end));
      i = end + 1;
      ws();
      if (rule[i] !== ',') break;
      i++;
    }
    expect(')');
    const [arg] = args;
    switch (name) {
      case 'Host': return req.host.toLowerCase() === arg.toLowerCase();
      case 'Path': return path === arg;
      case 'PathPrefix': return path.startsWith(arg);
      case 'PathRegexp': return goRegexp(arg).test(path);
      // matcher.go expectParameterCount(2): the header's value equals the argument.
      case 'Header': return Object.entries(req.headers ?? {}).some(([k, v]) => k.toLowerCase() === arg.toLowerCase() && v === args[1]);
      // matcher.go clientIP: the request's RemoteAddr against an IP or CIDR.
      case 'ClientIP': return req.remoteAddr !== undefined && inRanges(req.remoteAddr, [arg.includes('/') ? arg : `${arg}/32`]);
      default: throw new Error(`rule ${rule}: matcher ${name} is not modelled`);
    }
  };
  const unary = (): boolean => {
    ws();
    if (rule[i] === '!') { i++; return !unary(); }
    if (rule[i] === '(') { i++; const v = or(); expect(')'); return v; }
    return matcher();
  };
  const and = (): boolean => {
    let v = unary();
    for (ws(); rule.startsWith('&&', i); ws()) { i += 2; v = unary() && v; }
    return v;
  };
  const or = (): boolean => {
    let v = and();
    for (ws(); rule.startsWith('||', i); ws()) { i += 2; v = and() || v; }
    return v;
  };
  const result = or();
  ws();
  if (i !== rule.length) throw new Error(`rule ${rule}: unexpected "${rule.slice(i)}"`);
  return result;
}

export interface RateLimit { readonly average: number; readonly periodSeconds: number; readonly burst: number }

/** Which of the requests from one source (their times in seconds, ascending) Traefik lets through. */
export function rateLimited(limit: RateLimit, times: readonly number[]): boolean[] {
  const rate = limit.average / limit.periodSeconds;
  const maxDelay = rate < 1 ? 0.5 : 1 / (2 * Math.floor(rate));
  const burst = Math.max(limit.burst, 1);
  let tokens = burst;
  let last = times[0] ?? 0;
  return times.map((t) => {
    tokens = Math.min(burst, tokens + (t - last) * rate);
    last = t;
    const wait = tokens >= 1 ? 0 : (1 - tokens) / rate;
    if (wait > maxDelay) return false;
    tokens -= 1;
    return true;
  });
}

/**
 * The client address an `ipStrategy.excludedIPs` picks (pkg/ip/strategy.go PoolStrategy): the
 * right-most X-Forwarded-For entry not in the excluded ranges, or "" when there is none.
 */
export function poolStrategyAddress(xForwardedFor: string, excluded: readonly string[]): string {
  const entries = xForwardedFor.split(',').map((e) => e.trim());
  for (let i = entries.length - 1; i >= 0; i--) {
    if (entries[i] && !inRanges(entries[i], excluded)) return entries[i];
  }
  return '';
}

/** Whether an address lies in one of the CIDR ranges ("" never does: Traefik refuses it). */
export function inRanges(address: string, ranges: readonly string[]): boolean {
  if (!address) return false;
  const host = `${address}/${address.includes(':') ? 128 : 32}`;
  return ranges.some((r) => (r.includes(':') === address.includes(':')) && cidrContains(r, host));
}
