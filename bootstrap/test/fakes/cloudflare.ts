/**
 * A fake of the Cloudflare API v4 for the tests (https://developers.cloudflare.com/api/): bearer
 * token, every response in the envelope {success, errors, messages, result[, result_info]}; zones,
 * DNS records, zone settings and phase entry-point rulesets with the validations that matter here
 * (record types/TTL, setting values, rate-limit periods and rule count per plan), Standalone Health
 * Checks, and the GraphQL Analytics API's health check events (the weekly report reads them).
 * Served both at the root and under the real base path /client/v4 (api.cloudflare.com/client/v4/...),
 * so that clients which append their own paths to the host (cert-manager's DNS-01 solver) work too.
 */
import { isIP } from 'node:net';
import { cloudflarePlanLimits, cloudflareRatePeriods } from '../../../charts-ts/config/sections/bootstrap.ts';
import { FakeApi, type RecordedRequest, type Reply } from './server.ts';

type Plan = keyof typeof cloudflarePlanLimits;
const ok = (result: unknown, info?: unknown): Reply => ({ status: 200, body: { success: true, errors: [], messages: [], result, ...(info ? { result_info: info } : {}) } });
const err = (status: number, code: number, message: string): Reply => ({ status, body: { success: false, errors: [{ code, message }], messages: [], result: null } });

/** A rule of a phase entry-point ruleset: the fields checked, the rest kept as sent. */
export interface RulesetRule {
  readonly ref?: string;
  readonly expression?: string;
  readonly action_parameters?: { readonly id?: string; readonly [field: string]: unknown };
  readonly ratelimit?: { readonly characteristics?: string[]; readonly period: number; readonly mitigation_timeout: number; readonly [field: string]: unknown };
  readonly [field: string]: unknown;
}

/** A Standalone Health Check as sent (the fields checked, the rest kept as sent) and as stored. */
export interface HealthCheckBody {
  readonly name?: string;
  readonly address?: string;
  readonly type?: string;
  readonly tcp_config?: { readonly method?: string; readonly port: number };
  readonly check_regions?: string[];
  readonly interval: number;
  readonly [field: string]: unknown;
}
export interface HealthCheck extends HealthCheckBody { readonly id: string; readonly status: string; readonly created_on: string }

/** A DNS record as sent: the fields checked and stored. */
interface DnsRecordBody { type: string; name: string; content: string; proxied?: boolean; ttl: number; comment?: string }

export class FakeCloudflare extends FakeApi {
  /** The API token every request must carry (`Authorization: Bearer <token>`); settable. */
  token: string;
  readonly zone = { id: '023e105f4ecef8ad9ca31a8372d0c353', name: 'lms.example.com', status: 'active', plan: { legacy_id: 'pro' as Plan, name: 'Pro Website' } };
  readonly records: { id: string; type: string; name: string; content: string; proxied: boolean; ttl: number; comment?: string }[] = [];
  readonly settings: Record<string, string> = { ssl: 'full', always_use_https: 'off', min_tls_version: '1.0', tls_1_3: 'on', automatic_https_rewrites: 'off', tls_client_auth: 'off' };
  /** Zone-level Authenticated Origin Pulls enablement (origin_tls_client_auth/settings). */
  originPull = { enabled: false };
  readonly entrypoints: Record<string, { id: string; rules: RulesetRule[]; version: string }> = {};
  /** Standalone Health Checks (/zones/<id>/healthchecks). */
  readonly healthchecks: HealthCheck[] = [];
  /**
   * Health check events the GraphQL Analytics API reports (dataset healthCheckEventsAdaptiveGroups):
   * one per check per region, with its time, the check's name and healthy/unhealthy.
   */
  readonly healthCheckEvents: { datetime: string; healthCheckName: string; healthStatus: 'healthy' | 'unhealthy' }[] = [];
  private seq = 1;

  constructor(token = 'cf-token') {
    super();
    this.token = token;
  }

  protected handle(req: RecordedRequest): Reply {
    if (String(req.headers.authorization) !== `Bearer ${this.token}`) return err(401, 10000, 'Authentication error');
    // The real base path: https://api.cloudflare.com/client/v4/zones... (the recorded request keeps it).
    const r = /^\/client\/v4(\/|$)/.test(req.path) ? { ...req, path: req.path.slice('/client/v4'.length) || '/' } : req;
    const seg = r.path.split('/').filter(Boolean);
    if (r.path === '/graphql' && r.method === 'POST') return this.graphql(r);
    if (r.path === '/zones' && r.method === 'GET') {
      const z = [this.zone].filter((x) => !r.query.get('name') || x.name === r.query.get('name'));
      return ok(z, { page: 1, per_page: 20, total_pages: 1, count: z.length, total_count: z.length });
    }
    if (seg[0] !== 'zones' || seg[1] !== this.zone.id) return err(404, 7003, 'Could not route to /' + seg.join('/') + ', perhaps your object identifier is invalid?');
    if (seg[2] === 'dns_records') return this.dns(r, seg[3]);
    if (seg[2] === 'settings' && seg[3]) {
      const id = seg[3];
      if (!(id in this.settings)) return err(404, 1003, 'Invalid or missing zone setting');
      if (r.method === 'GET') return ok({ id, value: this.settings[id], editable: true, modified_on: null });
      if (r.method === 'PATCH') {
        // A value outside the allowed list (or none) is refused below.
        const v = (r.json as { value?: string } | undefined)?.value as string;
        const allowed: Record<string, string[]> = { ssl: ['off', 'flexible', 'full', 'strict'], min_tls_version: ['1.0', '1.1', '1.2', '1.3'] };
        if (allowed[id] ? !allowed[id]!.includes(v) : !['on', 'off'].includes(v)) return err(400, 1007, `Invalid value for zone setting ${id}`);
        this.settings[id] = v;
        return ok({ id, value: v, editable: true, modified_on: new Date().toISOString() });
      }
    }
    if (seg[2] === 'rulesets' && seg[3] === 'phases' && seg[5] === 'entrypoint') return this.ruleset(r, seg[4]!);
    if (seg[2] === 'healthchecks') return this.healthcheck(r, seg[3]);
    if (seg[2] === 'origin_tls_client_auth' && seg[3] === 'settings' && seg.length === 4) {
      if (r.method === 'GET') return ok(this.originPull);
      if (r.method === 'PUT') {
        const b = r.json as { enabled?: unknown } | undefined;
        if (typeof b?.enabled !== 'boolean') return err(400, 1001, 'enabled must be a boolean');
        // Authenticated Origin Pulls does not work with SSL Off or Flexible.
        if (b.enabled && ['off', 'flexible'].includes(this.settings.ssl!)) return err(400, 1002, 'Authenticated Origin Pulls requires SSL mode Full or Full (strict)');
        this.originPull = { enabled: b.enabled };
        return ok(this.originPull);
      }
    }
    return err(404, 7000, 'No route for that URI');
  }

  private dns(r: RecordedRequest, id?: string): Reply {
    if (r.method === 'GET' && !id) {
      const l = this.records.filter((x) => (!r.query.get('type') || x.type === r.query.get('type')) && (!r.query.get('name') || x.name === r.query.get('name')));
      return ok(l, { page: 1, per_page: 100, total_pages: 1, count: l.length, total_count: l.length });
    }
    const b = (r.json ?? {}) as DnsRecordBody;
    // TXT content is one string of up to 2048 characters (the DNS answer splits it into 255-byte
    // strings); `proxied` is optional (false when left out), and TXT records cannot be proxied.
    const invalid = (!['A', 'AAAA', 'CNAME', 'TXT'].includes(b.type) && err(400, 9004, 'This record type is not supported.'))
      || (b.type === 'A' && isIP(b.content) !== 4 && err(400, 9005, 'Content for A record must be a valid IPv4 address.'))
      || (b.type === 'AAAA' && isIP(b.content) !== 6 && err(400, 9005, 'Content for AAAA record must be a valid IPv6 address.'))
      || (b.type === 'TXT' && !(typeof b.content === 'string' && b.content.length > 0 && b.content.length <= 2048) && err(400, 1004, 'DNS Validation Error: content for TXT record must be 1 to 2048 characters.'))
      || (!(b.ttl === 1 || (b.ttl >= 60 && b.ttl <= 86400)) && err(400, 9021, 'Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.'))
      || (b.proxied !== undefined && typeof b.proxied !== 'boolean' && err(400, 9003, 'Invalid \'proxied\' value, must be a boolean'))
      || (b.type === 'TXT' && b.proxied === true && err(400, 9004, 'This record type cannot be proxied.'));
    if (r.method === 'POST') {
      if (invalid) return invalid;
      if (this.records.some((x) => x.name === b.name && x.type === b.type && x.content === b.content)) return err(400, 81058, 'An identical record already exists.');
      const rec = { id: `rec${this.seq++}`, type: b.type, name: b.name, content: b.content, proxied: b.proxied ?? false, ttl: b.ttl, comment: b.comment };
      this.records.push(rec);
      return ok(rec);
    }
    if (r.method === 'DELETE' && id) {
      const at = this.records.findIndex((x) => x.id === id);
      if (at < 0) return err(404, 81044, 'Record does not exist.');
      this.records.splice(at, 1);
      return ok({ id });
    }
    if ((r.method === 'PUT' || r.method === 'PATCH') && id) {
      const rec = this.records.find((x) => x.id === id);
      if (!rec) return err(404, 81044, 'Record does not exist.');
      if (invalid) return invalid;
      Object.assign(rec, { type: b.type, name: b.name, content: b.content, proxied: b.proxied ?? false, ttl: b.ttl, comment: b.comment });
      return ok(rec);
    }
    return err(405, 10405, 'Method not allowed');
  }

  private ruleset(r: RecordedRequest, phase: string): Reply {
    const cur = this.entrypoints[phase];
    if (r.method === 'GET') {
      if (!cur) return err(404, 10003, `could not find entrypoint ruleset in the ${phase} phase`);
      return ok({ id: cur.id, name: 'default', kind: 'zone', phase, version: cur.version, rules: cur.rules, last_updated: new Date().toISOString() });
    }
    if (r.method !== 'PUT') return err(405, 10405, 'Method not allowed');
    const rules: RulesetRule[] = (r.json as { rules?: RulesetRule[] } | undefined)?.rules ?? [];
    const limits = cloudflarePlanLimits[this.zone.plan.legacy_id];
    if (phase === 'http_ratelimit') {
      if (rules.length > limits.rules) return err(400, 20080, `exceeded maximum number of rate limiting rules (${limits.rules})`);
      for (const rule of rules) {
        const rl = rule.ratelimit;
        if (!rl || !rl.characteristics?.includes('cf.colo.id')) return err(400, 20120, "'cf.colo.id' is a required characteristic");
        if (!(cloudflareRatePeriods as readonly number[]).includes(rl.period) || rl.period > limits.maxPeriod) return err(400, 20121, `'${rl.period}' is not a valid period for your plan`);
        if (rl.mitigation_timeout > limits.maxTimeout) return err(400, 20122, `'${rl.mitigation_timeout}' is not a valid mitigation timeout for your plan`);
      }
    }
    if (phase === 'http_request_firewall_managed' && !limits.managedRulesets) return err(403, 20087, 'not entitled to execute managed rulesets');
    const version = String(Number(cur?.version ?? 0) + 1);
    this.entrypoints[phase] = { id: cur?.id ?? `rs${this.seq++}`, version, rules: rules.map((x) => ({ ...x, id: `rule${this.seq++}`, version, last_updated: new Date().toISOString(), logging: undefined })) };
    return ok({ id: this.entrypoints[phase]!.id, kind: 'zone', phase, version, rules: this.entrypoints[phase]!.rules });
  }

  /**
   * Health checks as the API documents them (https://developers.cloudflare.com/api/resources/healthchecks/):
   * name of letters, digits, "-" and "_"; type HTTP, HTTPS or TCP; a TCP check's tcp_config.method
   * `connection_established` and a port; regions from CheckRegion; paid plans only.
   */
  private healthcheck(r: RecordedRequest, id?: string): Reply {
    if (r.method === 'GET' && !id) return ok(this.healthchecks, { page: 1, per_page: 50, total_pages: 1, count: this.healthchecks.length, total_count: this.healthchecks.length });
    if (this.zone.plan.legacy_id === 'free') return err(403, 1002, 'Standalone Health Checks are not available on the Free plan');
    const b = (r.json ?? {}) as HealthCheckBody;
    const regions = ['WNAM', 'ENAM', 'WEU', 'EEU', 'NSAM', 'SSAM', 'OC', 'ME', 'NAF', 'SAF', 'IN', 'SEAS', 'NEAS', 'ALL_REGIONS'];
    const invalid = (!/^[A-Za-z0-9_-]+$/.test(b.name ?? '') && err(400, 1002, 'name: only alphanumeric characters, hyphens and underscores are allowed'))
      || (!b.address && err(400, 1002, 'address is required'))
      || (!['HTTP', 'HTTPS', 'TCP'].includes(b.type!) && err(400, 1002, "type must be 'HTTP', 'HTTPS' or 'TCP'"))
      || (b.type === 'TCP' && (b.tcp_config?.method !== 'connection_established' || !(b.tcp_config?.port >= 1 && b.tcp_config?.port <= 65535)) && err(400, 1002, 'tcp_config: method connection_established and a port are required'))
      || ((b.check_regions ?? []).some((x) => !regions.includes(x)) && err(400, 1002, 'check_regions: invalid region'))
      || (!(b.interval >= 60) && err(400, 1002, 'interval: must be at least 60 seconds on this plan'));
    if (r.method === 'POST' && !id) {
      if (invalid) return invalid;
      const hc = { ...b, id: `hc${this.seq++}`, status: 'unknown', created_on: new Date().toISOString() };
      this.healthchecks.push(hc);
      return ok(hc);
    }
    if (r.method === 'PUT' && id) {
      const at = this.healthchecks.findIndex((x) => x.id === id);
      if (at < 0) return err(404, 1003, 'Health check not found');
      if (invalid) return invalid;
      this.healthchecks[at] = { ...b, id, status: this.healthchecks[at].status, created_on: this.healthchecks[at].created_on };
      return ok(this.healthchecks[at]);
    }
    return err(405, 10405, 'Method not allowed');
  }

  /**
   * The GraphQL Analytics API (POST /client/v4/graphql), only the query the weekly report makes:
   * `viewer { zones(filter: {zoneTag}) { healthCheckEventsAdaptiveGroups(limit, filter:
   * {datetime_geq, datetime_lt}) { count dimensions { healthCheckName healthStatus } } } }`. Errors
   * come in the GraphQL envelope ({data, errors}) with HTTP 200, as the real API answers.
   */
  private graphql(r: RecordedRequest): Reply {
    const { query, variables } = (r.json ?? {}) as { query?: unknown; variables?: { zoneTag?: string; start: string; end: string } };
    const gqlErr = (message: string): Reply => ({ status: 200, body: { data: null, errors: [{ message }] } });
    if (typeof query !== 'string' || !/healthCheckEventsAdaptiveGroups/.test(query)) return gqlErr('only healthCheckEventsAdaptiveGroups is served by this stand-in');
    const v: Partial<NonNullable<typeof variables>> = variables ?? {};
    if (v.zoneTag !== this.zone.id) return { status: 200, body: { data: { viewer: { zones: [] } }, errors: null } };
    const from = Date.parse(v.start!);
    const to = Date.parse(v.end!);
    if (!(to > from)) return gqlErr('datetime_geq must be before datetime_lt');
    // Adaptive datasets answer at most a day per query below Enterprise.
    if (to - from > 86_400_000) return gqlErr('cannot request data older than/over a range longer than 86400s');
    const groups = new Map<string, { count: number; dimensions: { healthCheckName: string; healthStatus: string } }>();
    for (const e of this.healthCheckEvents) {
      const t = Date.parse(e.datetime);
      if (t < from || t >= to) continue;
      const key = `${e.healthCheckName}/${e.healthStatus}`;
      const g = groups.get(key) ?? { count: 0, dimensions: { healthCheckName: e.healthCheckName, healthStatus: e.healthStatus } };
      g.count++;
      groups.set(key, g);
    }
    return { status: 200, body: { data: { viewer: { zones: [{ healthCheckEventsAdaptiveGroups: [...groups.values()] }] } }, errors: null } };
  }

  env(): Record<string, string> {
    return { CLOUDFLARE_API_URL: this.url, CLOUDFLARE_API_TOKEN: this.token };
  }
}
