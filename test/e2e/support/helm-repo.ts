/**
 * A Helm chart repository on 127.0.0.1 standing in for the upstream chart repositories our
 * HelmRepositories name (charts.jetstack.io, argoproj.github.io/argo-helm, ...): Flux's
 * source-controller fetches `index.yaml` from it and helm-controller installs the packages it lists.
 *
 * Real in the way that matters: it is the classic HTTP repository layout Helm documents
 * (https://helm.sh/docs/topics/chart_repository/), `GET /index.yaml` plus `GET /<chart>-<version>.tgz`,
 * serving the pinned chart packages of CHARTS_DIR (default `../shared/charts`, read-only, never
 * copied) byte for byte. The index is generated the way `helm repo index` does it: `apiVersion: v1`,
 * `entries` (chart name -> its versions, newest first) whose fields are the package's own Chart.yaml
 * metadata plus `urls`, `digest` (sha256 of the .tgz, what Helm and Flux verify) and `created`, and
 * `generated`; both timestamps are fixed so the index is deterministic. Chart.yaml is read out of
 * each .tgz with node:zlib and a minimal tar reader.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse, stringify } from 'yaml';
import { closeServer, trackSockets } from '../../support/close-server.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..', '..');

/** CHARTS_DIR, default `<repo>/../shared/charts` (the pinned packages, see its SOURCES.md). */
export function chartsDir(): string {
  return resolve(repoRoot, process.env.CHARTS_DIR ?? '../shared/charts');
}

/** The fields of Helm's chart Metadata (Chart.yaml) that `helm repo index` copies into an entry. */
const metadataFields = ['apiVersion', 'name', 'version', 'kubeVersion', 'description', 'type', 'keywords', 'home', 'sources',
  'dependencies', 'maintainers', 'icon', 'appVersion', 'deprecated', 'annotations', 'condition', 'tags'] as const;

export interface ChartVersionEntry {
  readonly name: string;
  readonly version: string;
  readonly apiVersion: string;
  readonly appVersion?: string;
  readonly description?: string;
  readonly type?: string;
  readonly dependencies?: readonly Record<string, unknown>[];
  readonly [field: string]: unknown;
  readonly urls: readonly string[];
  readonly created: string;
  readonly digest: string;
}

export interface HelmIndex {
  readonly apiVersion: 'v1';
  readonly entries: Record<string, ChartVersionEntry[]>;
  readonly generated: string;
}

export interface HelmRepoOptions {
  /** Directory of chart packages (*.tgz); default `chartsDir()`. */
  readonly chartsDir?: string;
  /** `created` of every entry and `generated` of the index (fixed for a deterministic index). */
  readonly created?: string;
  /** Also append every request to this file (JSON lines). */
  readonly logFile?: string;
}

export interface HelmRequestLog {
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly bytes: number;
}

export const fixedCreated = '2026-01-01T00:00:00Z';

function tarString(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8');
}

/**
 * Files of a gzip-compressed tar (ustar/GNU/PAX as Go's archive/tar and `helm package` write
 * them): path -> content, for the entries `want` accepts.
 */
export function readTgz(file: string, want: (path: string) => boolean): Map<string, Buffer> {
  const tar = gunzipSync(readFileSync(file));
  const out = new Map<string, Buffer>();
  let at = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (at + 512 <= tar.length) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const size = Number.parseInt(tarString(header, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const prefix = tarString(header, 345, 155);
    const body = tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') { longName = tarString(body, 0, body.length); continue; }
    if (type === 'x') {
      for (const m of body.toString('utf8').matchAll(/^\d+ path=(.*)$/gm)) paxPath = m[1];
      continue;
    }
    if (type === 'g') continue;
    const name = paxPath ?? longName ?? (prefix ? `${prefix}/${tarString(header, 0, 100)}` : tarString(header, 0, 100));
    paxPath = undefined;
    longName = undefined;
    if ((type === '0' || type === '\0') && want(name)) out.set(name, Buffer.from(body));
  }
  return out;
}

/** The top-level Chart.yaml of a chart package (`<chart>/Chart.yaml`, not a vendored subchart's). */
export function chartMetadata(file: string): Record<string, unknown> {
  const found = [...readTgz(file, (p) => /^[^/]+\/Chart\.yaml$/.test(p.replace(/^\.\//, ''))).values()];
  if (found.length !== 1) throw new Error(`${file}: expected one top-level Chart.yaml, found ${found.length}`);
  const meta = parse(found[0].toString('utf8')) as Record<string, unknown>;
  if (typeof meta?.name !== 'string' || meta.version === undefined) throw new Error(`${file}: Chart.yaml has no name or version`);
  return meta;
}

/** Highest version first (semver precedence, pre-releases below their release), as Helm sorts entries. */
export function compareVersionsDesc(a: string, b: string): number {
  const split = (v: string) => {
    const [core, pre] = v.replace(/^v/, '').split('+')[0].split(/-(.*)/s);
    return { core: core.split('.').map((n) => Number.parseInt(n, 10) || 0), pre };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < 3; i++) if ((x.core[i] ?? 0) !== (y.core[i] ?? 0)) return (y.core[i] ?? 0) - (x.core[i] ?? 0);
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return -1;
  if (y.pre === undefined) return 1;
  return y.pre.localeCompare(x.pre, 'en', { numeric: true });
}

/** The index of every *.tgz in `dir`; `urls` are `<baseUrl>/<file>` (or the bare file name, relative, without a base). */
export function buildIndex(dir: string, opts: { baseUrl?: string; created?: string } = {}): { index: HelmIndex; files: Map<string, string> } {
  const created = opts.created ?? fixedCreated;
  const entries: Record<string, ChartVersionEntry[]> = {};
  const files = new Map<string, string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.tgz')).sort()) {
    const path = join(dir, file);
    const meta = chartMetadata(path);
    const entry: Record<string, unknown> = {};
    for (const field of metadataFields) if (meta[field] !== undefined) entry[field] = meta[field];
    entry.version = String(meta.version);
    entry.apiVersion ??= 'v1';
    entry.urls = [opts.baseUrl ? `${opts.baseUrl.replace(/\/+$/, '')}/${file}` : file];
    entry.created = created;
    entry.digest = createHash('sha256').update(readFileSync(path)).digest('hex');
    (entries[meta.name as string] ??= []).push(entry as ChartVersionEntry);
    files.set(file, path);
  }
  const sorted: Record<string, ChartVersionEntry[]> = {};
  for (const name of Object.keys(entries).sort()) sorted[name] = entries[name].sort((a, b) => compareVersionsDesc(a.version, b.version));
  return { index: { apiVersion: 'v1', entries: sorted, generated: created }, files };
}

export class HelmRepoServer {
  readonly dir: string;
  readonly log: HelmRequestLog[] = [];
  private server: Server | undefined;
  private base = '';
  private indexText = '';
  private files = new Map<string, string>();
  private current: HelmIndex | undefined;

  constructor(private readonly opts: HelmRepoOptions = {}) {
    this.dir = opts.chartsDir ?? chartsDir();
  }

  /** Reads the packages, listens on a free port of 127.0.0.1; returns the repository URL. */
  async start(): Promise<string> {
    if (this.server) return this.base;
    const server = trackSockets(createServer((req, res) => this.handle(req, res)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const built = buildIndex(this.dir, { baseUrl: this.base, created: this.opts.created });
    if (built.files.size === 0) throw new Error(`helm repo: no *.tgz chart packages in ${this.dir} (set CHARTS_DIR)`);
    this.current = built.index;
    this.files = built.files;
    this.indexText = stringify(built.index);
    return this.base;
  }

  /** The repository URL (a HelmRepository's `spec.url`). */
  get url(): string {
    if (!this.base) throw new Error('helm repo: start() it first');
    return this.base;
  }

  /** The served index. */
  get index(): HelmIndex {
    if (!this.current) throw new Error('helm repo: start() it first');
    return this.current;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeServer(server);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const method = req.method ?? 'GET';
    const reply = (status: number, type: string, body: Buffer | string) => {
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
      res.end(method === 'HEAD' ? undefined : body);
      const line = { at: new Date().toISOString(), method, path, status, bytes: Buffer.byteLength(body) };
      this.log.push(line);
      if (this.opts.logFile) appendFileSync(this.opts.logFile, `${JSON.stringify(line)}\n`);
    };
    if (method !== 'GET' && method !== 'HEAD') return reply(405, 'text/plain', 'method not allowed\n');
    if (path === '/index.yaml') return reply(200, 'application/x-yaml', this.indexText);
    let name = path.slice(1);
    try { name = decodeURIComponent(name); } catch { /* left encoded: matches no package */ }
    const file = this.files.get(name);
    if (file) return reply(200, 'application/gzip', readFileSync(file));
    return reply(404, 'text/plain', 'not found\n');
  }
}
