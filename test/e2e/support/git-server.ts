/**
 * A git smart-HTTP server on 127.0.0.1 standing in for GitHub in the first-deploy suite: CI pushes
 * the `clusters` branch to it with `npm run publish`, and Flux's source-controller clones it.
 *
 * Real, not a fake: every request is answered by git's own CGI program, `git http-backend` (the one
 * Apache or nginx run in front of a production git host), with the CGI variables a web server sets:
 * GIT_PROJECT_ROOT, GIT_HTTP_EXPORT_ALL, PATH_INFO, REQUEST_METHOD, QUERY_STRING, CONTENT_TYPE,
 * CONTENT_LENGTH, REMOTE_USER, REMOTE_ADDR, AUTH_TYPE, HTTP_CONTENT_ENCODING (git gzips large
 * upload-pack request bodies; http-backend inflates them itself) and HTTP_GIT_PROTOCOL (the
 * `Git-Protocol: version=2` header; without it every client silently falls back to protocol v0).
 * The request body is streamed in and the CGI response (`Status:` and other headers, then the body)
 * streamed out. What a Node server adds in front is what GitHub adds: HTTP basic auth with two
 * users, a read-only one (Flux's credential: may fetch, 403 on git-receive-pack) and a writer
 * (CI's deploy credential); no credentials get 401 with `WWW-Authenticate: Basic`, as GitHub does
 * for a private repository.
 *
 * Every request is logged (method, path, user, status, time) to `log` and, with `logFile`, as JSON
 * lines; a push that updated refs is emitted as a `push` event (PushEvent) with the time it
 * completed, so a test can time from the push.
 *
 * The server runs on the test process's event loop: drive git against it asynchronously
 * (`execFile`, zx, `publish()`), never with execFileSync/spawnSync, which block the loop that has
 * to answer them and hang.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeServer, trackSockets } from '../../support/close-server.ts';

export type GitRole = 'reader' | 'writer';

export interface GitUser {
  readonly username: string;
  readonly password: string;
}

export interface GitServerOptions {
  /** Directory holding the bare repositories; default a temp dir, removed by `stop()`. */
  readonly root?: string;
  /** The two credentials; default `flux` (reader) and `ci` (writer) with random passwords. */
  readonly users?: Partial<Record<GitRole, GitUser>>;
  /** Also append every request to this file (JSON lines). */
  readonly logFile?: string;
}

export interface GitRequestLog {
  readonly at: string;
  readonly method: string;
  /** URL path without the query (PATH_INFO as git http-backend sees it). */
  readonly path: string;
  readonly query: string;
  /** Authenticated user, or undefined when no or wrong credentials were sent. */
  readonly user: string | undefined;
  readonly status: number;
  readonly ms: number;
  /** Why the server itself answered (401/403/404/500) instead of git http-backend. */
  readonly note?: string;
}

export interface RefUpdate {
  readonly ref: string;
  readonly old: string;
  readonly new: string;
}

export interface PushEvent {
  readonly repo: string;
  readonly user: string;
  /** Refs the push changed (as they now are in the repository). */
  readonly refs: readonly RefUpdate[];
  /** Date.now() when git-receive-pack had finished and the response was sent. */
  readonly at: number;
}

const zeroId = /^0+$/;
const repoName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Ref updates named in a receive-pack request: the pkt-lines `<old> <new> <ref>[\0caps]` before the first flush. */
export function parseRefUpdates(body: Buffer): RefUpdate[] {
  const updates: RefUpdate[] = [];
  let at = 0;
  while (at + 4 <= body.length) {
    const len = Number.parseInt(body.subarray(at, at + 4).toString('latin1'), 16);
    if (!Number.isFinite(len) || len === 0 || len < 4 || at + len > body.length) break;
    const line = body.subarray(at + 4, at + len).toString('utf8').split('\0')[0].trimEnd();
    const m = /^([0-9a-f]{40,64}) ([0-9a-f]{40,64}) (\S+)$/.exec(line);
    if (m) updates.push({ old: m[1], new: m[2], ref: m[3] });
    at += len;
  }
  return updates;
}

/** Splits a CGI response head into the status and the headers to send. */
export function parseCgiHead(head: string): { status: number; headers: [string, string][] } {
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of head.split(/\r?\n/)) {
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers.push([name, value]);
  }
  return { status, headers };
}

function gitHttpBackend(): string {
  const execPath = execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim();
  const backend = join(execPath, 'git-http-backend');
  if (!existsSync(backend)) throw new Error(`git http-backend not found at ${backend} (git --exec-path); install git's full package`);
  return backend;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class GitServer extends EventEmitter<{ push: [PushEvent] }> {
  readonly root: string;
  readonly log: GitRequestLog[] = [];
  private readonly users: Record<GitRole, GitUser>;
  private readonly ownsRoot: boolean;
  private readonly backend = gitHttpBackend();
  private readonly pushes: PushEvent[] = [];
  private server: Server | undefined;
  private base = '';

  constructor(private readonly opts: GitServerOptions = {}) {
    super();
    this.ownsRoot = opts.root === undefined;
    this.root = opts.root ?? mkdtempSync(join(tmpdir(), 'lms-git-server-'));
    this.users = {
      reader: opts.users?.reader ?? { username: 'flux', password: randomBytes(12).toString('hex') },
      writer: opts.users?.writer ?? { username: 'ci', password: randomBytes(12).toString('hex') },
    };
    if (this.users.reader.username === this.users.writer.username) throw new Error('git server: reader and writer need different user names');
  }

  /** Listens on a free port of 127.0.0.1; returns the base URL (`http://127.0.0.1:<port>`). */
  async start(): Promise<string> {
    if (this.server) return this.base;
    const server = trackSockets(createServer((req, res) => {
      this.handle(req, res).catch((e: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end();
        this.record({ method: req.method ?? '?', path: req.url ?? '', query: '', user: undefined, status: 500, ms: 0, note: `server error: ${e.message}` });
      });
    }));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.base;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) {
      await closeServer(server);
    }
    if (this.ownsRoot) rmSync(this.root, { recursive: true, force: true });
  }

  /**
   * The base URL, a repository's URL, or (with a role) the repository's URL with that user's
   * credentials in it, e.g. for `git clone` or a `git remote`.
   */
  url(repo?: string, role?: GitRole): string {
    if (!this.base) throw new Error('git server: start() it first');
    if (repo === undefined) return this.base;
    const u = new URL(`${this.base}/${repo}.git`);
    if (role) {
      u.username = encodeURIComponent(this.users[role].username);
      u.password = encodeURIComponent(this.users[role].password);
    }
    return u.toString();
  }

  /** The credential of a role: `{ username, password }`, the stringData of Flux's git Secret. */
  credentials(role: GitRole): { username: string; password: string } {
    return { ...this.users[role] };
  }

  /** Directory of a bare repository. */
  repoPath(name: string): string {
    if (!repoName.test(name)) throw new Error(`git server: bad repository name "${name}"`);
    return join(this.root, `${name}.git`);
  }

  /**
   * Creates an empty bare repository (`http.receivepack=true`, as a git host allows pushes) and
   * returns its URL without credentials (start() first).
   */
  createRepo(name: string, initialBranch = 'main'): string {
    const url = this.url(name);
    const dir = this.repoPath(name);
    if (existsSync(dir)) throw new Error(`git server: repository ${name} exists`);
    this.git(this.root, ['init', '--quiet', '--bare', `--initial-branch=${initialBranch}`, dir]);
    this.git(dir, ['config', 'http.receivepack', 'true']);
    return url;
  }

  /** Commit a branch of a repository points at. */
  head(repo: string, branch: string): string {
    const out = this.git(this.repoPath(repo), ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], true);
    if (!out) throw new Error(`git server: ${repo} has no branch ${branch}`);
    return out;
  }

  /** Pushes that changed refs, in total or into one repository. */
  pushCount(repo?: string): number {
    return this.pushes.filter((p) => repo === undefined || p.repo === repo).length;
  }

  /** Date.now() of the last push that changed refs (of one repository), else undefined. */
  lastPushAt(repo?: string): number | undefined {
    return this.pushes.filter((p) => repo === undefined || p.repo === repo).at(-1)?.at;
  }

  /** Resolves on the next push that changes refs (of one repository). */
  nextPush(repo?: string): Promise<PushEvent> {
    return new Promise((done) => {
      const on = (e: PushEvent) => {
        if (repo !== undefined && e.repo !== repo) return;
        this.off('push', on);
        done(e);
      };
      this.on('push', on);
    });
  }

  private git(cwd: string, args: string[], allowFail = false): string {
    try {
      return execFileSync('git', args, { cwd, env: this.gitEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (e) {
      if (allowFail) return '';
      throw e;
    }
  }

  /** Hermetic environment for git on the server side: none of the caller's GIT_* or user config. */
  private gitEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
    return { ...env, HOME: this.root, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  }

  private authenticate(req: IncomingMessage): { user: string; role: GitRole } | undefined {
    const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const [user, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    for (const role of ['reader', 'writer'] as const) {
      const u = this.users[role];
      if (user === u.username && sameSecret(password, u.password)) return { user, role };
    }
    return undefined;
  }

  private record(entry: Omit<GitRequestLog, 'at'>): void {
    const line = { at: new Date().toISOString(), ...entry };
    this.log.push(line);
    if (this.opts.logFile) appendFileSync(this.opts.logFile, `${JSON.stringify(line)}\n`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let path = url.pathname;
    try { path = decodeURIComponent(url.pathname); } catch { /* left encoded: matches no repository */ }
    const query = url.search.replace(/^\?/, '');
    const auth = this.authenticate(req);
    const method = req.method ?? 'GET';
    const done = (status: number, note?: string) =>
      this.record({ method, path, query, user: auth?.user, status, ms: Date.now() - started, ...(note ? { note } : {}) });
    const refuse = (status: number, note: string, headers: Record<string, string> = {}) => {
      req.resume();
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
      res.end(`${note}\n`);
      done(status, note);
    };

    // Credentials first, as a private git host does: without them nothing, not even whether a repository exists.
    if (!auth) return refuse(401, 'authentication required', { 'WWW-Authenticate': 'Basic realm="git"' });
    const segments = path.split('/').filter(Boolean);
    const repo = segments[0]?.replace(/\.git$/, '');
    if (!repo || !repoName.test(repo) || segments.some((s) => s === '..' || s === '.') || !existsSync(this.repoPath(repo))) {
      return refuse(404, 'repository not found');
    }
    const receivePack = path.endsWith('/git-receive-pack') || url.searchParams.get('service') === 'git-receive-pack';
    if (receivePack && auth.role !== 'writer') return refuse(403, `${auth.user} may not push`);

    const env: NodeJS.ProcessEnv = {
      ...this.gitEnv(),
      GIT_PROJECT_ROOT: this.root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: `/${repo}.git/${segments.slice(1).join('/')}`,
      REQUEST_METHOD: method,
      QUERY_STRING: query,
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: auth.user,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      AUTH_TYPE: 'Basic',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      GATEWAY_INTERFACE: 'CGI/1.1',
    };
    if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length'];
    if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
    const protocol = req.headers['git-protocol'];
    if (typeof protocol === 'string') { env.HTTP_GIT_PROTOCOL = protocol; env.GIT_PROTOCOL = protocol; }

    const child = spawn(this.backend, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdin.on('error', () => { /* the backend may exit before reading everything (e.g. on an error) */ });

    // The first pkt-lines of a push name the ref updates; keep them to report what changed.
    const pushHead: Buffer[] = [];
    let headBytes = 0;
    if (receivePack && method === 'POST' && !req.headers['content-encoding']) {
      req.on('data', (d: Buffer) => { if (headBytes < 65536) { pushHead.push(d); headBytes += d.length; } });
    }
    req.pipe(child.stdin);

    let head = Buffer.alloc(0);
    let status = 0;
    const forward = (chunk: Buffer) => {
      if (!res.write(chunk)) { child.stdout.pause(); res.once('drain', () => child.stdout.resume()); }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      if (status) { forward(chunk); return; }
      head = Buffer.concat([head, chunk]);
      const text = head.toString('latin1');
      const end = text.search(/\r?\n\r?\n/);
      if (end < 0) return;
      const sep = /\r?\n\r?\n/.exec(text.slice(end))![0].length;
      const parsed = parseCgiHead(text.slice(0, end));
      status = parsed.status;
      for (const [k, v] of parsed.headers) res.appendHeader(k, v);
      res.writeHead(status);
      const rest = head.subarray(end + sep);
      if (rest.length) forward(rest);
    });
    const [code] = await once(child, 'close') as [number | null];
    if (!status) {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`git http-backend failed (${code}): ${stderr.trim()}\n`);
      return done(500, `git http-backend exited ${code} without a response: ${stderr.trim()}`);
    }
    res.end();
    done(status, code === 0 ? undefined : `git http-backend exited ${code}: ${stderr.trim()}`);

    if (receivePack && method === 'POST' && status === 200 && code === 0) this.notePush(repo, auth.user, Buffer.concat(pushHead));
  }

  /** A push is reported when a ref it named now points where the push said (the update was applied). */
  private notePush(repo: string, user: string, head: Buffer): void {
    const requested = parseRefUpdates(head);
    const now = new Map(this.git(this.repoPath(repo), ['for-each-ref', '--format=%(objectname) %(refname)'], true)
      .split('\n').filter(Boolean).map((l) => { const [id, ref] = l.split(' '); return [ref, id] as const; }));
    const applied = requested.length
      ? requested.filter((u) => (zeroId.test(u.new) ? !now.has(u.ref) : now.get(u.ref) === u.new))
      : [];
    // A gzip-encoded push body (git does not send one today) cannot be read here: count it unnamed.
    if (requested.length && !applied.length) return;
    const event: PushEvent = { repo, user, refs: applied, at: Date.now() };
    this.pushes.push(event);
    this.emit('push', event);
  }
}
