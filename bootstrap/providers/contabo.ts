/**
 * Contabo API client (https://api.contabo.com, OpenAPI spec in github.com/contabo/cntb
 * openapi/api/openapi.yaml): OAuth2 password grant at auth.contabo.com, then bearer calls that each
 * carry a fresh UUIDv4 `x-request-id` (required) and the run's `x-trace-id`.
 * Only the calls the bootstrap needs: instances, images, object storages, snapshots.
 */
import { randomUUID } from 'node:crypto';
import { BootstrapError, type StepContext } from '../lib/context.ts';
import { HttpClient, type HttpRequest, type HttpResponse, type Method } from '../lib/http.ts';
import type { PlanItem } from '../lib/plan.ts';

export const contaboDefaults = {
  apiUrl: 'https://api.contabo.com',
  authUrl: 'https://auth.contabo.com/auth/realms/contabo/protocol/openid-connect/token',
} as const;

export interface ContaboEndpoints { apiUrl: string; authUrl: string }
/** Endpoints can be pointed elsewhere (tests use a local server); production uses the defaults. */
export const contaboEndpoints = (env: StepContext['env']): ContaboEndpoints => ({
  apiUrl: (env.CONTABO_API_URL ?? contaboDefaults.apiUrl).replace(/\/$/, ''),
  authUrl: env.CONTABO_AUTH_URL ?? contaboDefaults.authUrl,
});

export interface ContaboCredentials { clientId: string; clientSecret: string; apiUser: string; apiPassword: string }
export const contaboCredentialsFrom = (v: Record<string, string>): ContaboCredentials => ({
  clientId: v.CONTABO_CLIENT_ID!, clientSecret: v.CONTABO_CLIENT_SECRET!, apiUser: v.CONTABO_API_USER!, apiPassword: v.CONTABO_API_PASSWORD!,
});

export interface ContaboInstance {
  instanceId: number;
  name: string;
  displayName: string;
  region: string;
  productId: string;
  imageId: string;
  status: string;
  cpuCores: number;
  ramMb: number;
  diskMb: number;
  ipConfig?: { v4?: { ip?: string }; v6?: { ip?: string } };
  errorMessage?: string;
}
export interface ContaboImage { imageId: string; name: string; standardImage: boolean }
export interface ContaboObjectStorage { objectStorageId: string; region: string; s3Url: string; status: string; displayName: string; totalPurchasedSpaceTB: number }
export interface ContaboSnapshot { snapshotId: string; name: string; description?: string; instanceId: number; createdDate: string; autoDeleteDate?: string }

export interface CreateInstanceBody {
  imageId: string;
  productId: string;
  region: string;
  userData: string;
  displayName: string;
  period: number;
  defaultUser: 'root' | 'admin';
}
export interface ReinstallInstanceBody { imageId: string; userData: string; defaultUser: 'root' | 'admin' }
export interface CreateObjectStorageBody { region: string; totalPurchasedSpaceTB: number; displayName: string; autoScaling: { state: 'enabled' | 'disabled'; sizeLimitTB: number } }

const q = (params: Record<string, string | number | boolean | undefined>): string => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) s.set(k, String(v));
  const t = s.toString();
  return t ? `?${t}` : '';
};

/** The requests, shared by the client (run) and the plan (dry-run), so both say the same thing. */
export const contaboCalls = {
  listInstances: (displayName: string) => ({ method: 'GET' as Method, path: `/v1/compute/instances${q({ displayName, size: 100 })}` }),
  getInstance: (id: number) => ({ method: 'GET' as Method, path: `/v1/compute/instances/${id}` }),
  createInstance: (body: CreateInstanceBody) => ({ method: 'POST' as Method, path: '/v1/compute/instances', body }),
  reinstallInstance: (id: number | string, body: ReinstallInstanceBody) => ({ method: 'PUT' as Method, path: `/v1/compute/instances/${id}`, body }),
  listImages: (name: string) => ({ method: 'GET' as Method, path: `/v1/compute/images${q({ name, standardImage: true, size: 100 })}` }),
  listObjectStorages: () => ({ method: 'GET' as Method, path: `/v1/object-storages${q({ size: 100 })}` }),
  createObjectStorage: (body: CreateObjectStorageBody) => ({ method: 'POST' as Method, path: '/v1/object-storages', body }),
  listSnapshots: (id: number | string) => ({ method: 'GET' as Method, path: `/v1/compute/instances/${id}/snapshots${q({ size: 100 })}` }),
  createSnapshot: (id: number | string, body: { name: string; description: string }) => ({ method: 'POST' as Method, path: `/v1/compute/instances/${id}/snapshots`, body }),
  deleteSnapshot: (id: number | string, snapshotId: string) => ({ method: 'DELETE' as Method, path: `/v1/compute/instances/${id}/snapshots/${snapshotId}` }),
};

type Call = { method: Method; path: string; body?: unknown };

/** A plan line for a Contabo call; user-data is summarised (the render step writes it in full). */
export function contaboPlan(ep: ContaboEndpoints, call: Call, when?: string): PlanItem {
  let body = call.body;
  if (body && typeof body === 'object' && 'userData' in body) {
    const ud = (body as { userData: string }).userData;
    body = { ...body, userData: `<cloud-init user-data, ${ud.length} bytes; see: npm run bootstrap -- render>` };
  }
  return { kind: 'http', service: 'Contabo', method: call.method, url: `${ep.apiUrl}${call.path}`, body, when };
}
export const contaboTokenPlan = (ep: ContaboEndpoints): PlanItem =>
  ({ kind: 'http', service: 'Contabo', method: 'POST', url: ep.authUrl, body: { grant_type: 'password', client_id: '$CONTABO_CLIENT_ID', username: '$CONTABO_API_USER' } });

const messageOf = (res: HttpResponse): string => {
  const b = res.body as { message?: unknown; error?: string; error_description?: string } | undefined;
  if (b?.error_description) return `${b.error}: ${b.error_description}`;
  if (Array.isArray(b?.message)) return b!.message.join('; ');
  if (typeof b?.message === 'string') return b.message;
  return res.text.slice(0, 200) || `HTTP ${res.status}`;
};

/** Contabo region names for instance and object-storage calls, from the S3 endpoint's region code. */
export const objectStorageRegionName: Record<string, string> = {
  eu2: 'EU', usc1: 'US-central', use1: 'US-east', usw1: 'US-west', sin1: 'SIN', uk1: 'UK', aus1: 'AUS', jpn1: 'JPN', ind1: 'IND',
};

export class ContaboClient {
  private readonly http: HttpClient;
  private token?: { value: string; expiresAt: number };
  /** One trace id per run groups its requests for Contabo support. */
  readonly traceId = randomUUID();

  constructor(private readonly ctx: StepContext, private readonly creds: ContaboCredentials, readonly endpoints: ContaboEndpoints = contaboEndpoints(ctx.env)) {
    this.http = new HttpClient(ctx, 'Contabo');
  }

  private async accessToken(force = false): Promise<string> {
    const now = this.ctx.now().getTime();
    if (!force && this.token && this.token.expiresAt > now) return this.token.value;
    const res = await this.http.send({
      method: 'POST',
      url: this.endpoints.authUrl,
      form: {
        grant_type: 'password',
        client_id: this.creds.clientId,
        client_secret: this.creds.clientSecret,
        username: this.creds.apiUser,
        password: this.creds.apiPassword,
      },
    });
    const b = res.body as { access_token?: string; expires_in?: number } | undefined;
    if (res.status === 401 || res.status === 400) {
      throw new BootstrapError(
        `Contabo login failed (HTTP ${res.status}, ${messageOf(res)})`,
        'check CONTABO_CLIENT_ID/CONTABO_CLIENT_SECRET and CONTABO_API_USER/CONTABO_API_PASSWORD (the API password set at https://my.contabo.com/api/details, not the control panel login)',
      );
    }
    if (res.status !== 200 || !b?.access_token) {
      throw new BootstrapError(`Contabo login failed (HTTP ${res.status}): no access_token in the response`, 'retry later; if it persists, check https://contabo-status.com');
    }
    // Renew 30 s before expiry; tokens live ~5 minutes.
    this.token = { value: b.access_token, expiresAt: now + Math.max(0, (b.expires_in ?? 300) - 30) * 1000 };
    return this.token.value;
  }

  /** One API call; a 401 refreshes the token once (it may have expired mid-run), a second 401 fails. */
  async call(call: Call): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const req: HttpRequest = {
        method: call.method,
        url: `${this.endpoints.apiUrl}${call.path}`,
        headers: { authorization: `Bearer ${await this.accessToken(attempt > 0)}`, 'x-request-id': randomUUID(), 'x-trace-id': this.traceId },
        json: call.body,
      };
      const res = await this.http.send(req);
      if (res.status === 401 && attempt === 0) {
        this.ctx.out.info('  … Contabo: access token rejected (401); logging in again');
        continue;
      }
      if (res.status === 401) {
        throw new BootstrapError(`Contabo rejected the access token twice on ${call.method} ${call.path} (401: ${messageOf(res)})`, 'check that the API user has API access enabled at https://my.contabo.com/api/details');
      }
      if (res.status === 403) {
        throw new BootstrapError(`Contabo refused ${call.method} ${call.path} (403: ${messageOf(res)})`, 'give the API user a role with permission for this resource (Customer Control Panel, API users and roles)');
      }
      if (res.status >= 400 && res.status !== 404) {
        throw new BootstrapError(`Contabo rejected ${call.method} ${call.path} (HTTP ${res.status}: ${messageOf(res)})`, 'check the bootstrap.contabo settings in charts-ts/config/sections/bootstrap.ts');
      }
      return res;
    }
  }

  private async data<T>(call: Call): Promise<T[]> {
    const res = await this.call(call);
    if (res.status === 404) return [];
    return ((res.body as { data?: T[] } | undefined)?.data ?? []);
  }

  findInstances(displayName: string): Promise<ContaboInstance[]> {
    // The API's displayName filter may match substrings; keep exact matches only.
    return this.data<ContaboInstance>(contaboCalls.listInstances(displayName)).then((l) => l.filter((i) => i.displayName === displayName));
  }
  async getInstance(id: number): Promise<ContaboInstance | undefined> {
    return (await this.data<ContaboInstance>(contaboCalls.getInstance(id)))[0];
  }
  async createInstance(body: CreateInstanceBody): Promise<ContaboInstance> {
    const d = await this.data<ContaboInstance>(contaboCalls.createInstance(body));
    if (!d[0]) throw new BootstrapError('Contabo accepted the instance order but returned no instance id', 'look for the new instance in the control panel, then run provision again');
    return d[0];
  }
  async reinstallInstance(id: number, body: ReinstallInstanceBody): Promise<void> {
    await this.call(contaboCalls.reinstallInstance(id, body));
  }
  findImages(name: string): Promise<ContaboImage[]> {
    return this.data<ContaboImage>(contaboCalls.listImages(name)).then((l) => l.filter((i) => i.name === name && i.standardImage));
  }
  listObjectStorages(): Promise<ContaboObjectStorage[]> {
    return this.data<ContaboObjectStorage>(contaboCalls.listObjectStorages());
  }
  async createObjectStorage(body: CreateObjectStorageBody): Promise<ContaboObjectStorage> {
    const d = await this.data<ContaboObjectStorage>(contaboCalls.createObjectStorage(body));
    return d[0]!;
  }
  listSnapshots(instanceId: number): Promise<ContaboSnapshot[]> {
    return this.data<ContaboSnapshot>(contaboCalls.listSnapshots(instanceId));
  }
  async createSnapshot(instanceId: number, body: { name: string; description: string }): Promise<ContaboSnapshot | undefined> {
    return (await this.data<ContaboSnapshot>(contaboCalls.createSnapshot(instanceId, body)))[0];
  }
  async deleteSnapshot(instanceId: number, snapshotId: string): Promise<void> {
    await this.call(contaboCalls.deleteSnapshot(instanceId, snapshotId));
  }
}
