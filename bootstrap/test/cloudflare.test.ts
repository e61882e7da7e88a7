/** The cloudflare step against a local fake of the Cloudflare API v4 (127.0.0.1). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusterIpFamilies } from '../host/k3s.ts';
import { cloudflare, rateLimitExpression } from '../steps/cloudflare.ts';
import { testConfig } from './support/config.ts';
import { testContext } from './support/context.ts';
import { FakeCloudflare } from './fakes/cloudflare.ts';

let fake: FakeCloudflare;
beforeEach(async () => { fake = await new FakeCloudflare().start(); });
afterEach(async () => { await fake.stop(); });

const ctxFor = (p: { env?: Record<string, string>; config?: ReturnType<typeof testConfig> } = {}) =>
  testContext({ config: p.config, env: { ...fake.env(), LMS_HOST: '203.0.113.10', LMS_HOST_IPV6: '2001:db8::10', ...p.env } });
const hosts = ['api.lms.example.com', 'lms.example.com', 'staging-api.lms.example.com', 'staging.lms.example.com'];

describe('cloudflare step', () => {
  it('creates proxied A records (no AAAA: IPv4 single-stack), SSL Full (strict), managed WAF and rate limits on a fresh zone', async () => {
    const ctx = ctxFor();
    await cloudflare.run(ctx);
    expect(fake.records.filter((r) => r.type === 'A').map((r) => r.name).sort()).toEqual(hosts);
    // The server has an IPv6 address (LMS_HOST_IPV6), but nothing in the cluster listens on it.
    expect(clusterIpFamilies).toEqual(['IPv4']);
    expect(fake.records.filter((r) => r.type === 'AAAA')).toEqual([]);
    expect(fake.requests.filter((r) => r.method === 'POST' && (r.json as { type?: string } | undefined)?.type === 'AAAA')).toEqual([]);
    expect(cloudflare.plan(ctx).map((i) => JSON.stringify(i)).join('\n')).toContain('no AAAA records: the cluster is IPv4 single-stack');
    expect(fake.records.every((r) => r.proxied && r.ttl === 1)).toBe(true);
    expect(fake.records.filter((r) => r.type === 'A').every((r) => r.content === '203.0.113.10')).toBe(true);
    expect(fake.settings).toMatchObject({ ssl: 'strict', always_use_https: 'on', min_tls_version: '1.2', tls_1_3: 'on', tls_client_auth: 'on' });
    // Zone-level Authenticated Origin Pulls, after SSL Full (strict) (it fails on Off/Flexible).
    expect(fake.originPull).toEqual({ enabled: true });
    const at = (re: RegExp) => fake.requests.findIndex((r) => r.method !== 'GET' && re.test(r.path));
    expect(at(/settings\/ssl$/)).toBeLessThan(at(/origin_tls_client_auth\/settings$/));
    const managed = fake.entrypoints.http_request_firewall_managed!.rules;
    expect(managed.map((r) => r.action_parameters!.id)).toEqual(['efb7b8c949ac4650a09736fc376e9aee', '4814384a9e5d4991b9815dcfc25d2f1f']);
    const rl = fake.entrypoints.http_ratelimit!.rules;
    expect(rl.map((r) => r.ref)).toEqual(['lms-login', 'lms-api']);
    expect(rl[0].expression).toBe('(http.host in {"staging-api.lms.example.com" "api.lms.example.com"}) and (starts_with(http.request.uri.path, "/auth/login") or starts_with(http.request.uri.path, "/auth/password-reset"))');
    expect(rl[0].ratelimit).toEqual({ characteristics: ['cf.colo.id', 'ip.src'], period: 60, requests_per_period: 120, mitigation_timeout: 600 });
    expect(rl[1].expression).toBe('(http.host in {"staging-api.lms.example.com" "api.lms.example.com"})');
  });

  it('is idempotent: a second run only reads', async () => {
    await cloudflare.run(ctxFor());
    const before = fake.writes().length;
    const ctx = ctxFor();
    await cloudflare.run(ctx);
    expect(fake.writes().length).toBe(before);
    expect(ctx.out.text).toContain('http_ratelimit: 2 rule(s) already in place');
    expect(ctx.out.text).toContain('setting ssl already strict');
    expect(ctx.out.text).toContain('Authenticated Origin Pulls already enabled for the zone');
  });

  it('deletes AAAA records left for the hostnames (they send Cloudflare to an IPv6 origin nothing serves: 521)', async () => {
    fake.records.push({ id: 'v6a', type: 'AAAA', name: 'lms.example.com', content: '2001:db8::10', proxied: true, ttl: 1 });
    fake.records.push({ id: 'v6b', type: 'AAAA', name: 'api.lms.example.com', content: '2001:db8::10', proxied: true, ttl: 1 });
    fake.records.push({ id: 'other', type: 'AAAA', name: 'mail.lms.example.com', content: '2001:db8::25', proxied: false, ttl: 300 });
    const ctx = ctxFor();
    await cloudflare.run(ctx);
    expect(fake.count('DELETE', /dns_records\/v6a$/)).toBe(1);
    expect(fake.count('DELETE', /dns_records\/v6b$/)).toBe(1);
    // Only this step's hostnames: other records in the zone are not its business.
    expect(fake.records.filter((r) => r.type === 'AAAA').map((r) => r.id)).toEqual(['other']);
    expect(ctx.out.text).toContain('DNS AAAA lms.example.com -> 2001:db8::10 deleted: the cluster is IPv4 single-stack');
  });

  it('corrects drift: a record pointing elsewhere or not proxied is updated in place', async () => {
    fake.records.push({ id: 'old1', type: 'A', name: 'lms.example.com', content: '198.51.100.99', proxied: false, ttl: 300 });
    await cloudflare.run(ctxFor());
    expect(fake.count('PUT', /dns_records\/old1$/)).toBe(1);
    expect(fake.records.filter((r) => r.name === 'lms.example.com' && r.type === 'A')).toEqual([expect.objectContaining({ id: 'old1', content: '203.0.113.10', proxied: true })]);
  });

  it('replaces a hand-edited rate-limit ruleset and says which rules it removed', async () => {
    fake.entrypoints.http_ratelimit = { id: 'rs0', version: '3', rules: [{ id: 'x', ref: 'manual', description: 'dashboard rule', expression: 'true', action: 'block', enabled: true, ratelimit: { characteristics: ['cf.colo.id', 'ip.src'], period: 10, requests_per_period: 5, mitigation_timeout: 10 } }] };
    const ctx = ctxFor();
    await cloudflare.run(ctx);
    expect(fake.entrypoints.http_ratelimit.rules.map((r) => r.ref)).toEqual(['lms-login', 'lms-api']);
    expect(ctx.out.text).toContain('replacing 1 rule(s) not defined in config (dashboard rule)');
  });

  it('a rejected token fails with the scopes to grant, after one request', async () => {
    const err = await cloudflare.run(ctxFor({ env: { CLOUDFLARE_API_TOKEN: 'nope' } })).catch((e) => e);
    expect(err.message).toContain('Cloudflare rejected CLOUDFLARE_API_TOKEN');
    expect(err.message).toContain('10000 Authentication error');
    expect(err.message).toContain('DNS:Edit');
    expect(fake.requests).toHaveLength(1);
  });

  it('honours Retry-After on 429 and retries 5xx on reads', async () => {
    fake.fail('GET', /^\/zones$/, { status: 429, headers: { 'retry-after': '3' }, body: { success: false, errors: [{ code: 10429, message: 'rate limited' }], messages: [], result: null } });
    fake.fail('GET', /settings\/ssl$/, { status: 502 });
    const ctx = ctxFor();
    await cloudflare.run(ctx);
    expect(ctx.sleeps).toEqual([3000, 10]);
    expect(fake.settings.ssl).toBe('strict');
  });

  it('does not repeat a POST after a 5xx (a record may have been created); re-running converges', async () => {
    fake.failAfter('POST', /dns_records$/, { status: 500 });
    const err = await cloudflare.run(ctxFor()).catch((e) => e);
    expect(err.message).toMatch(/POST .*dns_records failed with HTTP 500/);
    await cloudflare.run(ctxFor());
    expect(fake.records.filter((r) => r.type === 'A')).toHaveLength(4);
  });

  it('stops when the zone\'s plan differs from the configured plan', async () => {
    fake.zone.plan.legacy_id = 'free';
    const err = await cloudflare.run(ctxFor()).catch((e) => e);
    expect(err.message).toContain('is on the free plan, but bootstrap.cloudflare.plan is pro');
    expect(fake.writes()).toEqual([]);
  });

  it('reports the API\'s error envelope (code and message) when a write is refused', async () => {
    fake.fail('PUT', /http_ratelimit\/entrypoint$/, { status: 400, body: { success: false, errors: [{ code: 20121, message: "'45' is not a valid period for your plan" }], messages: [], result: null } });
    const err = await cloudflare.run(ctxFor()).catch((e) => e);
    expect(err.message).toContain("20121 '45' is not a valid period for your plan");
  });

  it('refuses hostnames Universal SSL would not cover unless an Advanced certificate is configured', async () => {
    const config = testConfig({
      cluster: { bootstrap: { cloudflare: { edgeCertificate: 'universal' } } },
      environments: { staging: { hostnames: { api: 'api.staging.lms.example.com' } } },
    });
    const err = await cloudflare.run(ctxFor({ config })).catch((e) => e);
    expect(err.message).toContain('api.staging.lms.example.com is 2 labels below lms.example.com');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('rule generation', () => {
  it('path "/" means any path; host "any" means any host', () => {
    const config = testConfig();
    expect(rateLimitExpression(config, { ...config.cluster.bootstrap.cloudflare.rateLimits[0]!, host: 'any', pathPrefixes: ['/'] })).toBe('true');
  });

  it('the config rejects what the plan cannot do (rule count, periods, host field on Free)', () => {
    expect(() => testConfig({ cluster: { bootstrap: { cloudflare: { plan: 'free', managedRulesets: [] } } } })).toThrow(/has 2 rules but the free plan allows 1/);
    expect(() => testConfig({ cluster: { bootstrap: { cloudflare: { rateLimits: [{ ref: 'x-rule', description: 'abc', host: 'api', pathPrefixes: ['/'], requestsPerPeriod: 1, periodSeconds: 50, mitigationTimeoutSeconds: 60, action: 'block' }] } } } }))
      .toThrow(/cluster\.bootstrap\.cloudflare\.rateLimits\[0\]\.periodSeconds: 50 is not allowed on the pro plan; use one of 10, 15, 20, 30, 40, 45, 60/);
    expect(() => testConfig({ cluster: { bootstrap: { cloudflare: { plan: 'free', managedRulesets: [], rateLimits: [{ ref: 'x-rule', description: 'abc', host: 'api', pathPrefixes: ['/'], requestsPerPeriod: 1, periodSeconds: 10, mitigationTimeoutSeconds: 10, action: 'block' }] } } } }))
      .toThrow(/host: "api" needs the http.host field/);
  });

});
