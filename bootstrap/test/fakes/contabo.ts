/**
 * A fake of the Contabo API for the tests, following https://api.contabo.com (OpenAPI spec in
 * github.com/contabo/cntb openapi/api/openapi.yaml): Keycloak password grant at
 * /auth/realms/contabo/protocol/openid-connect/token, bearer-authenticated /v1 endpoints that
 * require a UUID `x-request-id` header, list responses {_pagination, data, _links}, creates
 * answering 201 {data: [..], _links}. Error bodies are not in the spec; they follow what the API
 * returns in practice ({statusCode, message}).
 */
import { FakeApi, type RecordedRequest, type Reply } from './server.ts';

export const requestIdPattern = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-5][0-9A-Fa-f]{3}-[089abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$/;
export const tokenPath = '/auth/realms/contabo/protocol/openid-connect/token';

export interface FakeInstance {
  instanceId: number; name: string; displayName: string; region: string; productId: string; imageId: string; status: string;
  cpuCores: number; ramMb: number; diskMb: number; ipConfig: { v4: { ip: string }; v6: { ip: string } }; userData?: string;
  /** GETs left before the next status step (provisioning -> installing -> running). */
  pending: string[];
}
export interface FakeSnapshot { snapshotId: string; name: string; description: string; instanceId: number; createdDate: string; autoDeleteDate: string; imageId: string; imageName: string; tenantId: string; customerId: string; visibleAfterGets: number }
export interface FakeStorage { objectStorageId: string; region: string; s3Url: string; status: string; displayName: string; totalPurchasedSpaceTB: number }

const products: Record<string, { cpuCores: number; ramMb: number; diskMb: number }> = {
  V94: { cpuCores: 6, ramMb: 12288, diskMb: 102400 }, // Cloud VPS 20 NVMe
  V91: { cpuCores: 4, ramMb: 8192, diskMb: 76800 }, // Cloud VPS 10 NVMe
};
const regions = ['EU', 'US-central', 'US-east', 'US-west', 'SIN', 'UK', 'AUS', 'JPN', 'IND'];

export class FakeContabo extends FakeApi {
  readonly creds = { clientId: 'client-id', clientSecret: 'client-secret', user: 'ops@example.com', password: 'api-password' };
  readonly instances: FakeInstance[] = [];
  readonly snapshots: FakeSnapshot[] = [];
  readonly storages: FakeStorage[] = [];
  readonly images = [{ imageId: 'd64d5c6c-9dda-4e38-8174-0ee282474d8a', name: 'ubuntu-24.04', standardImage: true }, { imageId: 'afecbb85-e2fc-46f0-9684-b46b1faf00bb', name: 'ubuntu-22.04', standardImage: true }];
  readonly tokens = new Set<string>();
  snapshotLimit = 2;
  /** The S3 endpoint a new object storage gets per region (tests point EU at a local S3 server). */
  readonly s3Urls: Record<string, string> = { EU: 'https://eu2.contabostorage.com', 'US-central': 'https://usc1.contabostorage.com', SIN: 'https://sin1.contabostorage.com' };
  private nextId = 200100;

  addInstance(p: Partial<FakeInstance> & { displayName: string }): FakeInstance {
    const id = this.nextId++;
    const inst: FakeInstance = {
      instanceId: id, name: `vmi${id}`, region: 'EU', productId: 'V94', imageId: this.images[0]!.imageId, status: 'running',
      ...products.V94!, ipConfig: { v4: { ip: '203.0.113.10' }, v6: { ip: '2001:db8::10' } }, pending: [], ...p,
    };
    this.instances.push(inst);
    return inst;
  }

  addSnapshot(instanceId: number, name: string, createdDate: string): FakeSnapshot {
    const s: FakeSnapshot = { snapshotId: `snap-${name}`, name, description: 'test', instanceId, createdDate, autoDeleteDate: '2027-01-01T00:00:00Z', imageId: this.images[0]!.imageId, imageName: 'ubuntu-24.04', tenantId: 'INT', customerId: '12345', visibleAfterGets: 0 };
    this.snapshots.push(s);
    return s;
  }

  /** API requests (not token requests). */
  get apiRequests(): RecordedRequest[] { return this.requests.filter((r) => r.path.startsWith('/v1/')); }

  protected handle(r: RecordedRequest): Reply {
    if (r.path === tokenPath) return this.token(r);
    const auth = String(r.headers.authorization ?? '');
    if (!auth.startsWith('Bearer ') || !this.tokens.has(auth.slice(7))) return { status: 401, body: { statusCode: 401, message: 'Unauthorized' } };
    const rid = r.headers['x-request-id'];
    if (typeof rid !== 'string' || !requestIdPattern.test(rid)) return { status: 400, body: { statusCode: 400, message: ['x-request-id must be a UUID v4'] } };
    const seg = r.path.split('/').filter(Boolean); // v1, compute, instances, ...
    const list = <T>(data: T[]): Reply => ({ status: 200, body: { _pagination: { size: 100, totalElements: data.length, totalPages: 1, page: 1 }, data, _links: { first: r.path, previous: r.path, self: r.path, next: r.path, last: r.path } } });
    const created = <T>(data: T): Reply => ({ status: 201, body: { data: [data], _links: { self: r.path } } });

    if (r.path === '/v1/compute/images' && r.method === 'GET') {
      return list(this.images.filter((i) => (!r.query.get('name') || i.name === r.query.get('name')) && (r.query.get('standardImage') !== 'true' || i.standardImage)));
    }
    if (r.path === '/v1/compute/instances' && r.method === 'GET') {
      const dn = r.query.get('displayName');
      // Substring match, like a search: the client must keep exact matches only.
      return list(this.instances.filter((i) => !dn || i.displayName.includes(dn)).map(view));
    }
    if (r.path === '/v1/compute/instances' && r.method === 'POST') {
      const b = (r.json ?? {}) as Partial<{ imageId: string; productId: string; region: string; displayName: string; userData: string }>;
      if (!b.imageId || !this.images.some((i) => i.imageId === b.imageId)) return { status: 400, body: { statusCode: 400, message: ['imageId must be a valid image'] } };
      if (!products[b.productId!]) return { status: 400, body: { statusCode: 400, message: [`productId ${b.productId} is not available`] } };
      if (!regions.includes(b.region!)) return { status: 400, body: { statusCode: 400, message: [`region must be one of ${regions.join(', ')}`] } };
      const inst = this.addInstance({ displayName: b.displayName!, region: b.region!, productId: b.productId!, imageId: b.imageId, userData: b.userData, ...products[b.productId!]!, status: 'provisioning', pending: ['provisioning', 'installing', 'installing'] });
      return created({ tenantId: 'INT', customerId: '12345', instanceId: inst.instanceId, createdDate: new Date().toISOString(), imageId: inst.imageId, productId: inst.productId, region: inst.region, addOns: [], osType: 'Linux', status: 'provisioning', sshKeys: [] });
    }
    if (seg[1] === 'compute' && seg[2] === 'instances' && seg[3] && !seg[4]) {
      const inst = this.instances.find((i) => i.instanceId === Number(seg[3]));
      if (!inst) return { status: 404, body: { statusCode: 404, message: 'Entry Instance not found by instanceId' } };
      if (r.method === 'GET') {
        const v = view(inst);
        if (inst.pending.length) inst.status = inst.pending.shift()!;
        else if (inst.status !== 'running') inst.status = 'running';
        return list([v]);
      }
      if (r.method === 'PUT') {
        const b = r.json as { imageId?: string; userData?: string } | undefined;
        if (!b?.imageId) return { status: 400, body: { statusCode: 400, message: ['imageId should not be empty'] } };
        inst.imageId = b.imageId;
        inst.userData = b.userData;
        inst.pending = ['installing', 'installing'];
        return { status: 200, body: { data: [{ tenantId: 'INT', customerId: '12345', instanceId: inst.instanceId, createdDate: new Date().toISOString() }], _links: { self: r.path } } };
      }
    }
    if (seg[2] === 'instances' && seg[4] === 'snapshots') {
      const id = Number(seg[3]);
      if (!this.instances.some((i) => i.instanceId === id)) return { status: 404, body: { statusCode: 404, message: 'Entry Instance not found by instanceId' } };
      if (r.method === 'GET' && !seg[5]) {
        for (const s of this.snapshots) if (s.instanceId === id && s.visibleAfterGets > 0) s.visibleAfterGets--;
        return list(this.snapshots.filter((s) => s.instanceId === id && s.visibleAfterGets === 0).map(({ visibleAfterGets: _, ...s }) => s));
      }
      if (r.method === 'POST') {
        const b = r.json as { name?: unknown; description?: string } | undefined;
        const name = b?.name;
        if (typeof name !== 'string' || name.length < 1 || name.length > 30) return { status: 400, body: { statusCode: 400, message: ['name must be shorter than or equal to 30 characters'] } };
        if (this.snapshots.filter((s) => s.instanceId === id).length >= this.snapshotLimit) return { status: 400, body: { statusCode: 400, message: 'Maximum number of snapshots reached' } };
        const s = this.addSnapshot(id, name, new Date().toISOString());
        s.description = b!.description!;
        s.visibleAfterGets = 1; // appears after a poll, like the real, asynchronous snapshot
        const { visibleAfterGets: _, ...v } = s;
        return created(v);
      }
      if (r.method === 'DELETE' && seg[5]) {
        const i = this.snapshots.findIndex((s) => s.instanceId === id && s.snapshotId === seg[5]);
        if (i < 0) return { status: 404, body: { statusCode: 404, message: 'Entry Snapshot not found' } };
        this.snapshots.splice(i, 1);
        return { status: 204 };
      }
    }
    if (r.path === '/v1/object-storages' && r.method === 'GET') return list(this.storages);
    if (r.path === '/v1/object-storages' && r.method === 'POST') {
      const b = (r.json ?? {}) as Partial<{ region: string; displayName: string; totalPurchasedSpaceTB: number }>;
      if (!['EU', 'US-central', 'SIN'].includes(b.region!)) return { status: 400, body: { statusCode: 400, message: ['region must be one of EU, US-central, SIN'] } };
      const s: FakeStorage = { objectStorageId: `os-${this.storages.length + 1}`, region: b.region!, s3Url: this.s3Urls[b.region!]!, status: 'PROVISIONING', displayName: b.displayName!, totalPurchasedSpaceTB: b.totalPurchasedSpaceTB! };
      this.storages.push(s);
      setTimeout(() => { s.status = 'READY'; }, 5);
      return created(s);
    }
    return { status: 404, body: { statusCode: 404, message: `Cannot ${r.method} ${r.path}` } };
  }

  private token(r: RecordedRequest): Reply {
    const f = new URLSearchParams(r.body);
    if (String(r.headers['content-type']).split(';')[0] !== 'application/x-www-form-urlencoded' || f.get('grant_type') !== 'password') {
      return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' } };
    }
    if (f.get('client_id') !== this.creds.clientId || f.get('client_secret') !== this.creds.clientSecret) {
      return { status: 401, body: { error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' } };
    }
    if (f.get('username') !== this.creds.user || f.get('password') !== this.creds.password) {
      return { status: 401, body: { error: 'invalid_grant', error_description: 'Invalid user credentials' } };
    }
    const token = `tok-${this.tokens.size + 1}`;
    this.tokens.add(token);
    return { status: 200, body: { access_token: token, expires_in: 300, refresh_expires_in: 1800, refresh_token: `r-${token}`, token_type: 'Bearer', 'not-before-policy': 0, scope: 'email profile' } };
  }

  /** Env pointing the bootstrap at this fake, with valid credentials. */
  env(): Record<string, string> {
    return {
      CONTABO_API_URL: this.url, CONTABO_AUTH_URL: `${this.url}${tokenPath}`,
      CONTABO_CLIENT_ID: this.creds.clientId, CONTABO_CLIENT_SECRET: this.creds.clientSecret,
      CONTABO_API_USER: this.creds.user, CONTABO_API_PASSWORD: this.creds.password,
    };
  }
}

const view = ({ pending: _p, userData: _u, ...i }: FakeInstance) => ({ ...i, tenantId: 'INT', customerId: '12345', additionalIps: [], dataCenter: 'European Union 2', regionName: 'European Union', macAddress: '00:50:56:00:00:01', osType: 'Linux', sshKeys: [], createdDate: '2026-11-01T00:00:00Z', cancelDate: '', vHostId: 1, vHostNumber: 1, vHostName: 'host', addOns: [], productType: 'nvme', productName: 'Cloud VPS 20', defaultUser: 'root' });
