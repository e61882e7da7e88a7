/**
 * A stand-in for the parts of GitHub's REST API the release path uses (GitHub cannot be reached
 * from here): commit statuses, which Flux's notification-controller posts for every layer result
 * and `npm run release` reads and writes, repository dispatches, which the Argo Rollouts
 * notifications send, and deployments with their statuses. It follows the documented requests and
 * responses (https://docs.github.com/en/rest/commits/statuses,
 * https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event,
 * https://docs.github.com/en/rest/deployments/deployments,
 * https://docs.github.com/en/rest/deployments/statuses): token auth
 * (401 "Bad credentials"), 404 for a repository the token cannot see, 422 with `errors` for an invalid
 * state, an unknown commit or a bad dispatch, 201 with the status object, statuses listed newest
 * first, the combined status per context.
 *
 * It is served as `api.github.com:443` over TLS (tlsFront) through the egress proxy, so the
 * component keeps its real address (https://github.com/<owner>/<repo>) and trusts the test CA the way
 * it trusts GitHub's (SSL_CERT_FILE).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { FakeApi, type RecordedRequest, type Reply } from '../../bootstrap/test/fakes/server.ts';
import { closeServer, trackSockets } from './close-server.ts';

export interface CommitStatus {
  readonly id: number;
  readonly state: 'error' | 'failure' | 'pending' | 'success';
  readonly context: string;
  readonly description: string | null;
  readonly target_url: string | null;
  readonly created_at: string;
  readonly sha: string;
}

export interface Deployment {
  readonly id: number;
  readonly sha: string;
  readonly ref: string;
  readonly environment: string;
  readonly task: string;
  readonly payload: Record<string, unknown>;
  readonly created_at: string;
  readonly statuses: { id: number; state: string; description: string; created_at: string }[];
}

export interface Dispatch { readonly event_type: string; readonly client_payload: Record<string, unknown>; readonly at: number }

export interface GitHubApiOptions {
  /** `owner/repo` -> whether the commit exists (the git server's repository). */
  readonly repos: Record<string, (sha: string) => boolean>;
  /** Tokens accepted (read on each request, e.g. from a Secret in the cluster). */
  readonly tokens: () => Promise<string[]> | string[];
}

const docs = 'https://docs.github.com/rest';
const states = ['error', 'failure', 'pending', 'success'];
const deploymentStates = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success'];

export class GitHubApi extends FakeApi {
  private readonly statuses = new Map<string, CommitStatus[]>();
  readonly dispatches = new Map<string, Dispatch[]>();
  readonly deployments = new Map<string, Deployment[]>();
  private nextId = 1;
  private accepted: string[] = [];

  constructor(private readonly opts: GitHubApiOptions) { super(); }

  /** The port of the plain HTTP listener (behind the TLS front). */
  get port(): number { return Number(new URL(this.url).port); }

  /** Statuses of a commit, newest first (as GET .../commits/{ref}/statuses lists them). */
  statusesOf(repo: string, sha: string): CommitStatus[] {
    return [...(this.statuses.get(`${repo}@${sha}`) ?? [])].reverse();
  }

  /** The latest status per context (what GET .../commits/{ref}/status combines). */
  latestByContext(repo: string, sha: string): Map<string, CommitStatus> {
    const out = new Map<string, CommitStatus>();
    for (const s of this.statusesOf(repo, sha)) if (!out.has(s.context)) out.set(s.context, s);
    return out;
  }

  /** Creates a deployment directly (as an earlier run would have). */
  addDeployment(repo: string, d: Omit<Deployment, 'id' | 'created_at' | 'statuses' | 'ref' | 'task'> & Partial<Pick<Deployment, 'ref' | 'task'>>): Deployment {
    const full: Deployment = { ref: d.sha, task: 'deploy', ...d, id: this.nextId++, created_at: new Date().toISOString(), statuses: [] };
    this.deployments.set(repo, [...(this.deployments.get(repo) ?? []), full]);
    return full;
  }

  /** Posts a commit status directly (as Flux's notification-controller would). */
  addStatus(repo: string, sha: string, state: CommitStatus['state'], context: string, description: string | null = null, createdAt = new Date()): void {
    const key = `${repo}@${sha}`;
    this.statuses.set(key, [...(this.statuses.get(key) ?? []), { id: this.nextId++, state, context, description, target_url: null, created_at: createdAt.toISOString(), sha }]);
  }

  /** Refreshes the accepted tokens; call before requests are expected (the handler is synchronous). */
  async refreshTokens(): Promise<void> { this.accepted = await this.opts.tokens(); }

  protected handle(req: RecordedRequest): Reply {
    const auth = String(req.headers.authorization ?? '');
    const token = /^(?:Bearer|token) (\S+)$/i.exec(auth)?.[1];
    if (!token || !this.accepted.includes(token)) return { status: 401, body: { message: 'Bad credentials', documentation_url: docs, status: '401' } };
    const m = /^\/repos\/([^/]+)\/([^/]+)\/(.+)$/.exec(req.path);
    const repo = m ? `${m[1]}/${m[2]}` : '';
    const exists = this.opts.repos[repo];
    if (!m || !exists) return { status: 404, body: { message: 'Not Found', documentation_url: docs, status: '404' } };
    const rest = m[3]!;
    let r: RegExpExecArray | null;
    if (req.method === 'POST' && (r = /^statuses\/([0-9a-f]{40})$/.exec(rest))) return this.createStatus(repo, r[1]!, exists, req);
    if (req.method === 'GET' && (r = /^commits\/([0-9a-f]{40})\/statuses$/.exec(rest))) {
      const perPage = Math.min(Number(req.query.get('per_page') ?? 30), 100);
      const page = Math.max(Number(req.query.get('page') ?? 1), 1);
      return { status: 200, body: this.statusesOf(repo, r[1]!).slice((page - 1) * perPage, page * perPage).map((s) => this.view(repo, s)) };
    }
    if (req.method === 'GET' && (r = /^commits\/([0-9a-f]{40})\/status$/.exec(rest))) {
      const latest = [...this.latestByContext(repo, r[1]!).values()];
      const state = latest.some((s) => s.state === 'failure' || s.state === 'error') ? 'failure'
        : latest.length && latest.every((s) => s.state === 'success') ? 'success' : 'pending';
      return { status: 200, body: { state, sha: r[1], total_count: latest.length, statuses: latest.map((s) => this.view(repo, s)) } };
    }
    if (req.method === 'POST' && rest === 'dispatches') return this.createDispatch(repo, req);
    if (rest === 'deployments' || rest.startsWith('deployments/')) return this.deploymentsApi(repo, rest, exists, req);
    return { status: 404, body: { message: 'Not Found', documentation_url: docs, status: '404' } };
  }

  private deploymentsApi(repo: string, rest: string, exists: (sha: string) => boolean, req: RecordedRequest): Reply {
    const list = this.deployments.get(repo) ?? [];
    const notFound: Reply = { status: 404, body: { message: 'Not Found', documentation_url: docs, status: '404' } };
    if (rest === 'deployments' && req.method === 'GET') {
      const env = req.query.get('environment');
      const perPage = Math.min(Number(req.query.get('per_page') ?? 30), 100);
      // Newest first, as GitHub lists them.
      return { status: 200, body: [...list].reverse().filter((d) => !env || d.environment === env).slice(0, perPage).map((d) => this.deploymentView(repo, d)) };
    }
    if (rest === 'deployments' && req.method === 'POST') {
      const b = req.json as { ref?: unknown; payload?: unknown; environment?: string; task?: string } | undefined;
      if (!b || typeof b.ref !== 'string') return this.invalid('Deployment', 'ref', 'missing_field');
      // ref: a branch, tag or SHA; here SHAs the repository has.
      if (!/^[0-9a-f]{40}$/.test(b.ref) || !exists(b.ref)) return { status: 409, body: { message: `No ref found for: ${b.ref}`, documentation_url: docs, status: '409' } };
      const payload = (typeof b.payload === 'string' ? JSON.parse(b.payload) : (b.payload ?? {})) as Record<string, unknown>;
      const d = this.addDeployment(repo, { sha: b.ref, ref: b.ref, environment: b.environment ?? 'production', task: b.task ?? 'deploy', payload });
      return { status: 201, body: this.deploymentView(repo, d) };
    }
    const m = /^deployments\/(\d+)(\/statuses)?$/.exec(rest);
    const d = m ? list.find((x) => x.id === Number(m[1])) : undefined;
    if (!m || !d) return notFound;
    if (!m[2] && req.method === 'GET') return { status: 200, body: this.deploymentView(repo, d) };
    if (m[2] && req.method === 'GET') return { status: 200, body: [...d.statuses].reverse() };
    if (m[2] && req.method === 'POST') {
      const b = req.json as { state: string; description?: unknown } | undefined;
      if (!b || !deploymentStates.includes(b.state)) return this.invalid('DeploymentStatus', 'state', 'custom', `state is not included in the list (${deploymentStates.join(', ')})`);
      if (b.description !== undefined && String(b.description).length > 140) return this.invalid('DeploymentStatus', 'description', 'custom', 'description is too long (maximum is 140 characters)');
      const st = { id: this.nextId++, state: b.state, description: (b.description ?? '') as string, created_at: new Date().toISOString() };
      d.statuses.push(st);
      return { status: 201, body: { url: `https://api.github.com/repos/${repo}/deployments/${d.id}/statuses/${st.id}`, ...st } };
    }
    return notFound;
  }

  private deploymentView(repo: string, d: Deployment) {
    return {
      url: `https://api.github.com/repos/${repo}/deployments/${d.id}`, id: d.id, node_id: `DE_${d.id}`, sha: d.sha, ref: d.ref, task: d.task,
      payload: d.payload, environment: d.environment, created_at: d.created_at, updated_at: d.created_at,
      statuses_url: `https://api.github.com/repos/${repo}/deployments/${d.id}/statuses`,
    };
  }

  private invalid(resource: string, field: string, code: string, message?: string): Reply {
    return { status: 422, body: { message: 'Validation Failed', errors: [{ resource, field, code, ...(message ? { message } : {}) }], documentation_url: docs, status: '422' } };
  }

  private createStatus(repo: string, sha: string, exists: (sha: string) => boolean, req: RecordedRequest): Reply {
    const b = req.json as { state: CommitStatus['state']; context?: string; description?: string | null; target_url?: string | null } | undefined;
    if (!b || typeof b !== 'object') return { status: 400, body: { message: 'Problems parsing JSON', documentation_url: docs, status: '400' } };
    if (!states.includes(b.state)) return this.invalid('Status', 'state', 'custom', `state is not included in the list (${states.join(', ')})`);
    if (!exists(sha)) return { status: 422, body: { message: `No commit found for SHA: ${sha}`, documentation_url: docs, status: '422' } };
    if (b.description !== undefined && b.description !== null && String(b.description).length > 140) return this.invalid('Status', 'description', 'custom', 'description is too long (maximum is 140 characters)');
    const status: CommitStatus = {
      id: this.nextId++, state: b.state, context: b.context ?? 'default', description: b.description ?? null,
      target_url: b.target_url ?? null, created_at: new Date().toISOString(), sha,
    };
    const key = `${repo}@${sha}`;
    this.statuses.set(key, [...(this.statuses.get(key) ?? []), status]);
    return { status: 201, body: this.view(repo, status) };
  }

  private createDispatch(repo: string, req: RecordedRequest): Reply {
    const b = req.json as { event_type?: unknown; client_payload?: unknown } | undefined;
    if (!b || typeof b !== 'object') return { status: 400, body: { message: 'Problems parsing JSON', documentation_url: docs, status: '400' } };
    if (typeof b.event_type !== 'string' || b.event_type.length < 1 || b.event_type.length > 100) return this.invalid('RepositoryDispatch', 'event_type', 'missing_field');
    const payload = b.client_payload ?? {};
    if (typeof payload !== 'object' || Array.isArray(payload) || Object.keys(payload).length > 10) return this.invalid('RepositoryDispatch', 'client_payload', 'invalid', 'client_payload is an object with at most 10 top-level properties');
    this.dispatches.set(repo, [...(this.dispatches.get(repo) ?? []), { event_type: b.event_type, client_payload: payload as Record<string, unknown>, at: Date.now() }]);
    return { status: 204 };
  }

  private view(repo: string, s: CommitStatus) {
    return {
      url: `https://api.github.com/repos/${repo}/statuses/${s.sha}`, id: s.id, node_id: `SC_${s.id}`, state: s.state,
      description: s.description, target_url: s.target_url, context: s.context, created_at: s.created_at, updated_at: s.created_at,
      creator: { login: 'lms-flux-status', id: 1, type: 'User' },
    };
  }
}

/** A server certificate for `hostnames` from a throw-away CA, made with openssl in `dir`. */
export interface TestServerCert {
  /** PEM of the CA that signed it (what a client must trust). */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export function testServerCert(dir: string, hostnames: readonly string[]): TestServerCert {
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const base = hostnames[0]!.replace(/[^a-z0-9]+/gi, '-');
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}-ca.key`, '-out', `${base}-ca.crt`,
    '-subj', `/CN=${hostnames[0]} test CA`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  writeFileSync(join(dir, `${base}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${hostnames.map((h) => `DNS:${h}`).join(',')}\n`);
  ssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${hostnames[0]}`]);
  ssl(['x509', '-req', '-in', `${base}.csr`, '-CA', `${base}-ca.crt`, '-CAkey', `${base}-ca.key`, '-CAcreateserial', '-days', '2', '-sha256', '-extfile', `${base}.ext`, '-out', `${base}.crt`]);
  return { caFile: join(dir, `${base}-ca.crt`), certFile: join(dir, `${base}.crt`), keyFile: join(dir, `${base}.key`) };
}

/** A TLS front for a plain HTTP server: presents a certificate for `hostname` from a throw-away CA. */
export class TlsFront {
  private server?: TlsServer;
  port = 0;
  /** PEM bundle of the CA that signed the certificate (what a client must trust). */
  readonly caFile: string;
  private readonly certFile: string;
  private readonly keyFile: string;

  constructor(dir: string, readonly hostname: string, private readonly upstreamPort: () => number) {
    ({ caFile: this.caFile, certFile: this.certFile, keyFile: this.keyFile } = testServerCert(dir, [hostname]));
  }

  async start(): Promise<this> {
    this.server = trackSockets(createTlsServer({ cert: readFileSync(this.certFile), key: readFileSync(this.keyFile), ALPNProtocols: ['http/1.1'] }, (tls) => {
      const up = connect(this.upstreamPort(), '127.0.0.1');
      tls.pipe(up).pipe(tls);
      const close = () => { tls.destroy(); up.destroy(); };
      tls.on('error', close);
      up.on('error', close);
    }));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}

/**
 * An HTTPS proxy (CONNECT only) that knows a few hosts: `api.github.com:443` -> a TlsFront. A Go
 * component given HTTPS_PROXY reaches "GitHub" at its real address through it (Go never proxies
 * loopback, so the API server stays direct). Anything else gets 403.
 */
export class ConnectProxy {
  private readonly server = trackSockets(createHttpServer((_, res) => res.writeHead(405).end()));
  /** CONNECT targets seen, in order (what the component dialled). */
  readonly targets: string[] = [];
  port = 0;

  constructor(private readonly routes: Record<string, () => number>) {
    this.server.on('connect', (req, socket: Socket, head) => {
      this.targets.push(req.url ?? '');
      const port = this.routes[req.url ?? '']?.();
      if (!port) { socket.end('HTTP/1.1 403 Forbidden\r\n\r\n'); return; }
      const up = connect(port, '127.0.0.1', () => { socket.write('HTTP/1.1 200 Connection Established\r\n\r\n'); up.write(head); up.pipe(socket).pipe(up); });
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
    });
  }

  get url(): string { return `http://127.0.0.1:${this.port}`; }

  async start(): Promise<this> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}
