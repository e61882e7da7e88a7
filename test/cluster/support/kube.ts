/**
 * A small Kubernetes API client for the cluster tests. Credentials come from the run's kubeconfig
 * through @kubernetes/client-node; requests are plain HTTPS so that every response's `Warning`
 * headers are visible (a warning is a test failure) and objects reach the server byte-for-byte as
 * they are in dist/ (no client-side model that could drop fields it does not know).
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: any };
  [k: string]: any;
}

export interface KubeResponse<T = any> {
  readonly status: number;
  readonly body: T;
  /** Text of every `Warning` response header. */
  readonly warnings: string[];
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly body: any, what: string, readonly warnings: string[] = []) {
    super(`${what}: HTTP ${status} ${body?.reason ?? ''}: ${body?.message ?? JSON.stringify(body)}`);
    this.name = 'ApiError';
  }
}

interface ResourceInfo { readonly plural: string; readonly namespaced: boolean; readonly subresources: string[] }

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

  request<T = any>(method: string, path: string, body?: unknown, contentType = 'application/json', accept = 'application/json'): Promise<KubeResponse<T>> {
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
          let parsed: any = text;
          try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
          const raw = res.headers.warning;
          const warnings = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).flatMap((h) => h.split(/,(?=\s*\d{3} )/)).map((h) => warningText(h.trim()));
          done({ status: res.statusCode ?? 0, body: parsed, warnings });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', fail);
      if (payload) req.write(payload);
      req.end();
    });
  }

  private async ok<T = any>(method: string, path: string, body?: unknown, contentType?: string): Promise<KubeResponse<T>> {
    const res = await this.request<T>(method, path, body, contentType);
    if (res.status >= 400) throw new ApiError(res.status, res.body, `${method} ${path}`, res.warnings);
    return res;
  }

  /** Reload API discovery (after CRDs were installed). Uses aggregated discovery (GA since 1.30). */
  async discover(): Promise<void> {
    const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
    const map = new Map<string, ResourceInfo>();
    for (const root of ['/api', '/apis']) {
      const res = await this.request(`GET`, root, undefined, undefined, accept);
      if (res.status !== 200) throw new ApiError(res.status, res.body, `GET ${root} (discovery)`);
      for (const group of res.body.items ?? []) {
        for (const version of group.versions ?? []) {
          const apiVersion = group.metadata?.name ? `${group.metadata.name}/${version.version}` : version.version;
          for (const r of version.resources ?? []) {
            if (!r.responseKind?.kind) continue;
            map.set(`${apiVersion}/${r.responseKind.kind}`, {
              plural: r.resource,
              namespaced: r.scope === 'Namespaced',
              subresources: (r.subresources ?? []).map((s: any) => s.subresource),
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

  async get<T = any>(apiVersion: string, kind: string, name: string, namespace?: string): Promise<T | undefined> {
    const res = await this.request<T>('GET', await this.path(apiVersion, kind, namespace, name));
    if (res.status === 404) return undefined;
    if (res.status >= 400) throw new ApiError(res.status, res.body, `get ${kind} ${name}`);
    return res.body;
  }

  /** Objects of a kind, in one namespace or (without `namespace`) in all. */
  async list<T = any>(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<T[]> {
    const path = await this.path(apiVersion, kind, namespace);
    const res = await this.ok('GET', `${path}${labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : ''}`);
    return res.body.items ?? [];
  }

  /** JSON merge patch, of the object or one of its subresources (`status`, `scale`). */
  async mergePatch<T = any>(apiVersion: string, kind: string, name: string, namespace: string | undefined, patch: unknown, subresource?: string): Promise<KubeResponse<T>> {
    const path = await this.path(apiVersion, kind, namespace, name);
    return this.ok<T>('PATCH', `${path}${subresource ? `/${subresource}` : ''}`, patch, 'application/merge-patch+json');
  }

  async delete(apiVersion: string, kind: string, name: string, namespace?: string): Promise<void> {
    const res = await this.request('DELETE', await this.path(apiVersion, kind, namespace, name));
    if (res.status >= 400 && res.status !== 404) throw new ApiError(res.status, res.body, `delete ${kind} ${name}`);
  }
}
