/**
 * A small Kubernetes API client for the cluster tests. Credentials come from the run's kubeconfig
 * through @kubernetes/client-node; requests are plain HTTPS so that every response's `Warning`
 * headers are visible (a warning is a test failure) and objects reach the server byte-for-byte as
 * they are in dist/ (no client-side model that could drop fields it does not know).
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { KubeConfig, type V1ObjectMeta } from '@kubernetes/client-node';

/** Object metadata; every object the tests handle has a name. */
export type KubeMeta = V1ObjectMeta & { name: string };

/** An item of a list response: the API server leaves apiVersion and kind out of built-in kinds' items. */
export interface ListedObject {
  metadata: KubeMeta;
  [field: string]: unknown;
}

/** An object of any kind: its identity typed, the rest `unknown` until read through its kind's type. */
export interface KubeObject extends ListedObject {
  apiVersion: string;
  kind: string;
}

/** A kind whose type has a `spec` has it set when served (the API server defaults it). */
type SpecSet<T> = T extends { spec?: infer S } ? (unknown extends S ? unknown : { spec: NonNullable<S> }) : unknown;

/** `T` (a client-node kind, or the fields read of a custom one) as the API server serves it. */
export type Served<T extends object> = KubeObject & T & SpecSet<T>;

/** `T` as an item of a list response. */
export type Listed<T extends object> = ListedObject & T & SpecSet<T>;

export interface KubeResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  /** Text of every `Warning` response header. */
  readonly warnings: string[];
}

/** A field of a JSON body (the Status of a failed request), when the body is an object. */
function bodyField(body: unknown, field: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly body: unknown, what: string, readonly warnings: string[] = []) {
    super(`${what}: HTTP ${status} ${bodyField(body, 'reason') ?? ''}: ${bodyField(body, 'message') ?? JSON.stringify(body)}`);
    this.name = 'ApiError';
  }

  /** The `message` of the Status the API server answered with, if it sent one. */
  get statusMessage(): unknown {
    return bodyField(this.body, 'message');
  }
}

interface ResourceInfo { readonly plural: string; readonly namespaced: boolean; readonly subresources: string[] }

/** Aggregated discovery (apidiscovery.k8s.io/v2 APIGroupDiscoveryList): the fields read. */
interface GroupDiscoveryList {
  readonly items?: {
    readonly metadata?: { readonly name?: string };
    readonly versions?: {
      readonly version: string;
      readonly resources?: { readonly resource: string; readonly scope: string; readonly responseKind?: { readonly kind?: string }; readonly subresources?: { readonly subresource: string }[] }[];
    }[];
  }[];
}

/** `299 - "text"` -> `text` (RFC 7234 warn-text, as the API server sends it). */
function warningText(header: string): string {
  const m = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(header);
  return m ? m[1].replace(/\\(.)/g, '$1') : header;
}

export function objectRef(o: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

export class Kube {
  private resources = new Map<string, ResourceInfo>();

  private constructor(readonly server: URL, private readonly tls: Pick<RequestOptions, 'ca' | 'cert' | 'key'>) {}

  static async fromKubeconfig(path: string): Promise<Kube> {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    return new Kube(new URL(kc.getCurrentCluster()!.server), { ca: opts.ca, cert: opts.cert, key: opts.key });
  }

  /** A request; the body is the parsed JSON (or the text), trusted to be a `T`. */
  request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json', accept = 'application/json'): Promise<KubeResponse<T>> {
    const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return new Promise((done, fail) => {
      const req = httpsRequest({
        ...this.tls,
        host: this.server.hostname,
        port: this.server.port,
        method,
        path,
        headers: { Accept: accept, ...(payload ? { 'Content-Type': contentType, 'Content-Length': payload.length } : {}) },
        timeout: 60_000,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
          const raw = res.headers.warning;
          const warnings = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).flatMap((h) => h.split(/,(?=\s*\d{3} )/)).map((h) => warningText(h.trim()));
          done({ status: res.statusCode ?? 0, body: parsed as T, warnings });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', fail);
      if (payload) req.write(payload);
      req.end();
    });
  }

  private async ok<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<KubeResponse<T>> {
    const res = await this.request<T>(method, path, body, contentType);
    if (res.status >= 400) throw new ApiError(res.status, res.body, `${method} ${path}`, res.warnings);
    return res;
  }

  /** Reload API discovery (after CRDs were installed). Uses aggregated discovery (GA since 1.30). */
  async discover(): Promise<void> {
    const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
    const map = new Map<string, ResourceInfo>();
    for (const root of ['/api', '/apis']) {
      const res = await this.request<GroupDiscoveryList>(`GET`, root, undefined, undefined, accept);
      if (res.status !== 200) throw new ApiError(res.status, res.body, `GET ${root} (discovery)`);
      for (const group of res.body.items ?? []) {
        for (const version of group.versions ?? []) {
          const apiVersion = group.metadata?.name ? `${group.metadata.name}/${version.version}` : version.version;
          for (const r of version.resources ?? []) {
            if (!r.responseKind?.kind) continue;
            map.set(`${apiVersion}/${r.responseKind.kind}`, {
              plural: r.resource,
              namespaced: r.scope === 'Namespaced',
              subresources: (r.subresources ?? []).map((s) => s.subresource),
            });
          }
        }
      }
    }
    this.resources = map;
  }

  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    let info = this.resources.get(`${apiVersion}/${kind}`);
    if (!info) { await this.discover(); info = this.resources.get(`${apiVersion}/${kind}`); }
    if (!info) throw new Error(`the API server does not serve ${kind} in ${apiVersion} (CRD missing from the pinned set or not established?)`);
    return info;
  }

  /** Collection path (across namespaces without `namespace`), or the object path when `name` is given. */
  async path(apiVersion: string, kind: string, namespace?: string, name?: string): Promise<string> {
    const r = await this.resource(apiVersion, kind);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    if (r.namespaced && !namespace && name) throw new Error(`${kind} ${name} is namespaced but has no namespace`);
    const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${r.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
  }

  /**
   * Server-side apply, as Flux does (field manager, forced ownership), with strict field validation:
   * an unknown or duplicate field is an error naming the field, not a silently dropped value.
   */
  async apply(obj: KubeObject, opts: { fieldManager?: string; dryRun?: boolean } = {}): Promise<KubeResponse<KubeObject>> {
    const path = await this.path(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    const q = new URLSearchParams({ fieldManager: opts.fieldManager ?? 'lms-cluster-test', force: 'true', fieldValidation: 'Strict' });
    if (opts.dryRun) q.set('dryRun', 'All');
    const res = await this.request<KubeObject>('PATCH', `${path}?${q}`, obj, 'application/apply-patch+yaml');
    if (res.status >= 400) throw new ApiError(res.status, res.body, `apply ${objectRef(obj)}`, res.warnings);
    return res;
  }

  /** POST (create), optionally as a server-side dry run: admission (PSA, policies) runs either way. */
  async create(obj: KubeObject, opts: { dryRun?: boolean } = {}): Promise<KubeResponse<KubeObject>> {
    const path = await this.path(obj.apiVersion, obj.kind, obj.metadata.namespace);
    const q = new URLSearchParams({ fieldValidation: 'Strict' });
    if (opts.dryRun) q.set('dryRun', 'All');
    const res = await this.request<KubeObject>('POST', `${path}?${q}`, obj);
    if (res.status >= 400) throw new ApiError(res.status, res.body, `create ${objectRef(obj)}`, res.warnings);
    return res;
  }

  /** The object, typed `T`: its kind's type or the fields the caller reads. */
  async get<T extends object = KubeObject>(apiVersion: string, kind: string, name: string, namespace?: string): Promise<Served<T> | undefined> {
    const res = await this.request<Served<T>>('GET', await this.path(apiVersion, kind, namespace, name));
    if (res.status === 404) return undefined;
    if (res.status >= 400) throw new ApiError(res.status, res.body, `get ${kind} ${name}`);
    return res.body;
  }

  /** Objects of a kind, in one namespace or (without `namespace`) in all; typed as `get` types them. */
  async list<T extends object = ListedObject>(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<Listed<T>[]> {
    const path = await this.path(apiVersion, kind, namespace);
    const res = await this.ok<{ items?: Listed<T>[] }>('GET', `${path}${labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : ''}`);
    return res.body.items ?? [];
  }

  /** JSON merge patch, of the object or one of its subresources (`status`, `scale`). */
  async mergePatch<T extends object = KubeObject>(apiVersion: string, kind: string, name: string, namespace: string | undefined, patch: unknown, subresource?: string): Promise<KubeResponse<Served<T>>> {
    const path = await this.path(apiVersion, kind, namespace, name);
    return this.ok<Served<T>>('PATCH', `${path}${subresource ? `/${subresource}` : ''}`, patch, 'application/merge-patch+json');
  }

  async delete(apiVersion: string, kind: string, name: string, namespace?: string): Promise<void> {
    const res = await this.request('DELETE', await this.path(apiVersion, kind, namespace, name));
    if (res.status >= 400 && res.status !== 404) throw new ApiError(res.status, res.body, `delete ${kind} ${name}`);
  }
}
