/**
 * Cloudflare API v4 client (https://developers.cloudflare.com/api/): bearer API token, every response
 * in the envelope {success, errors, messages, result[, result_info]}. Only what the edge needs: zone
 * lookup, DNS records, zone settings, zone-level Authenticated Origin Pulls, and phase entry-point
 * rulesets (WAF managed rules, rate limits).
 */
import { BootstrapError, type StepContext } from '../lib/context.ts';
import { HttpClient, type HttpResponse, type Method } from '../lib/http.ts';
import type { PlanItem } from '../lib/plan.ts';

export const cloudflareDefaults = { apiUrl: 'https://api.cloudflare.com/client/v4' } as const;
export const cloudflareApiUrl = (env: StepContext['env']): string => (env.CLOUDFLARE_API_URL ?? cloudflareDefaults.apiUrl).replace(/\/$/, '');

export interface CloudflareEnvelope<T> {
  success: boolean;
  errors: { code: number; message: string }[];
  messages: { code: number; message: string }[];
  result: T;
  result_info?: { page: number; per_page: number; total_pages: number; count: number; total_count: number };
}
export interface Zone { id: string; name: string; status: string; plan?: { legacy_id?: string; name?: string } }
export interface DnsRecord { id?: string; type: 'A' | 'AAAA' | 'CNAME'; name: string; content: string; proxied: boolean; ttl: number; comment?: string }
export interface ZoneSetting<V = unknown> { id: string; value: V; editable?: boolean }
export interface RulesetRule {
  ref: string;
  description: string;
  expression: string;
  action: string;
  enabled: boolean;
  action_parameters?: Record<string, unknown>;
  ratelimit?: { characteristics: string[]; period: number; requests_per_period: number; mitigation_timeout: number };
  id?: string;
}
export interface Ruleset { id?: string; name?: string; kind?: string; phase?: string; description?: string; rules: RulesetRule[] }

const q = (params: Record<string, string | number>): string => `?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString()}`;

/** Requests shared by the client and the dry-run plan. */
export const cloudflareCalls = {
  findZone: (name: string) => ({ method: 'GET' as Method, path: `/zones${q({ name })}` }),
  listDnsRecords: (zoneId: string, type: string, name: string) => ({ method: 'GET' as Method, path: `/zones/${zoneId}/dns_records${q({ type, name, per_page: 100 })}` }),
  createDnsRecord: (zoneId: string, rec: DnsRecord) => ({ method: 'POST' as Method, path: `/zones/${zoneId}/dns_records`, body: rec }),
  updateDnsRecord: (zoneId: string, id: string, rec: DnsRecord) => ({ method: 'PUT' as Method, path: `/zones/${zoneId}/dns_records/${id}`, body: rec }),
  deleteDnsRecord: (zoneId: string, id: string) => ({ method: 'DELETE' as Method, path: `/zones/${zoneId}/dns_records/${id}` }),
  getSetting: (zoneId: string, setting: string) => ({ method: 'GET' as Method, path: `/zones/${zoneId}/settings/${setting}` }),
  setSetting: (zoneId: string, setting: string, value: unknown) => ({ method: 'PATCH' as Method, path: `/zones/${zoneId}/settings/${setting}`, body: { value } }),
  getEntrypoint: (zoneId: string, phase: string) => ({ method: 'GET' as Method, path: `/zones/${zoneId}/rulesets/phases/${phase}/entrypoint` }),
  putEntrypoint: (zoneId: string, phase: string, ruleset: Ruleset) => ({ method: 'PUT' as Method, path: `/zones/${zoneId}/rulesets/phases/${phase}/entrypoint`, body: ruleset }),
  // Zone-level Authenticated Origin Pulls: "Get enablement setting for zone" / "Set enablement for zone".
  getOriginPullSettings: (zoneId: string) => ({ method: 'GET' as Method, path: `/zones/${zoneId}/origin_tls_client_auth/settings` }),
  setOriginPullSettings: (zoneId: string, enabled: boolean) => ({ method: 'PUT' as Method, path: `/zones/${zoneId}/origin_tls_client_auth/settings`, body: { enabled } }),
};

type Call = { method: Method; path: string; body?: unknown };
export const cloudflarePlan = (apiUrl: string, call: Call, when?: string): PlanItem =>
  ({ kind: 'http', service: 'Cloudflare', method: call.method, url: `${apiUrl}${call.path}`, body: call.body, when });

const errorsOf = (res: HttpResponse): string => {
  const e = (res.body as Partial<CloudflareEnvelope<unknown>> | undefined)?.errors;
  return e?.length ? e.map((x) => `${x.code} ${x.message}`).join('; ') : res.text.slice(0, 200) || `HTTP ${res.status}`;
};

export class CloudflareClient {
  private readonly http: HttpClient;
  constructor(ctx: StepContext, private readonly token: string, readonly apiUrl: string = cloudflareApiUrl(ctx.env)) {
    this.http = new HttpClient(ctx, 'Cloudflare');
  }

  /** One call; returns undefined for 404 (e.g. a phase without an entry-point ruleset yet). */
  async call<T>(call: Call): Promise<CloudflareEnvelope<T> | undefined> {
    const res = await this.http.send({
      method: call.method,
      url: `${this.apiUrl}${call.path}`,
      headers: { authorization: `Bearer ${this.token}` },
      json: call.body,
    });
    if (res.status === 401 || res.status === 403) {
      throw new BootstrapError(
        `Cloudflare rejected CLOUDFLARE_API_TOKEN on ${call.method} ${call.path} (HTTP ${res.status}: ${errorsOf(res)})`,
        'create a token for this zone with Zone:Read, DNS:Edit, Zone Settings:Edit, Zone WAF:Edit and Health Checks:Edit at https://dash.cloudflare.com/profile/api-tokens',
      );
    }
    if (res.status === 404) return undefined;
    const env = res.body as CloudflareEnvelope<T> | undefined;
    if (!env || typeof env.success !== 'boolean') {
      throw new BootstrapError(`Cloudflare answered ${call.method} ${call.path} with HTTP ${res.status} and no API envelope`, 'check CLOUDFLARE_API_URL (default https://api.cloudflare.com/client/v4)');
    }
    if (!env.success || res.status >= 400) {
      throw new BootstrapError(`Cloudflare rejected ${call.method} ${call.path} (HTTP ${res.status}: ${errorsOf(res)})`, 'check the bootstrap.cloudflare settings (plan limits, rule expressions) in charts-ts/config/sections/bootstrap.ts');
    }
    return env;
  }

  async findZone(name: string): Promise<Zone | undefined> {
    return (await this.call<Zone[]>(cloudflareCalls.findZone(name)))?.result.find((z) => z.name === name);
  }
  async dnsRecords(zoneId: string, type: string, name: string): Promise<DnsRecord[]> {
    return ((await this.call<DnsRecord[]>(cloudflareCalls.listDnsRecords(zoneId, type, name)))?.result ?? []).filter((r) => r.name === name && r.type === type);
  }
  async createDnsRecord(zoneId: string, rec: DnsRecord): Promise<void> { await this.call(cloudflareCalls.createDnsRecord(zoneId, rec)); }
  async updateDnsRecord(zoneId: string, id: string, rec: DnsRecord): Promise<void> { await this.call(cloudflareCalls.updateDnsRecord(zoneId, id, rec)); }
  async deleteDnsRecord(zoneId: string, id: string): Promise<void> { await this.call(cloudflareCalls.deleteDnsRecord(zoneId, id)); }
  async setting(zoneId: string, id: string): Promise<ZoneSetting | undefined> {
    return (await this.call<ZoneSetting>(cloudflareCalls.getSetting(zoneId, id)))?.result;
  }
  async setSetting(zoneId: string, id: string, value: unknown): Promise<void> { await this.call(cloudflareCalls.setSetting(zoneId, id, value)); }
  async entrypoint(zoneId: string, phase: string): Promise<Ruleset | undefined> {
    return (await this.call<Ruleset>(cloudflareCalls.getEntrypoint(zoneId, phase)))?.result;
  }
  async putEntrypoint(zoneId: string, phase: string, ruleset: Ruleset): Promise<void> { await this.call(cloudflareCalls.putEntrypoint(zoneId, phase, ruleset)); }
  async originPullSettings(zoneId: string): Promise<{ enabled: boolean } | undefined> {
    return (await this.call<{ enabled: boolean }>(cloudflareCalls.getOriginPullSettings(zoneId)))?.result;
  }
  async setOriginPullSettings(zoneId: string, enabled: boolean): Promise<void> { await this.call(cloudflareCalls.setOriginPullSettings(zoneId, enabled)); }
}
