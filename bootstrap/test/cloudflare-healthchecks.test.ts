/** The cloudflare step's origin health check (the edge-measured availability SLI) against the Cloudflare stand-in. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cloudflare } from '../steps/cloudflare.ts';
import { desiredHealthCheck } from '../steps/cloudflare-healthchecks.ts';
import { testConfig } from './support/config.ts';
import { testContext } from './support/context.ts';
import { FakeCloudflare } from './fakes/cloudflare.ts';

let fake: FakeCloudflare;
beforeEach(async () => { fake = await new FakeCloudflare().start(); });
afterEach(async () => { await fake.stop(); });

const ctxFor = (env: Record<string, string> = {}) => testContext({ env: { ...fake.env(), LMS_HOST: '203.0.113.10', ...env } });

describe('cloudflare step: the origin health check', () => {
  it('creates a TCP check of the origin address on Traefik\'s port, every minute, from the configured regions', async () => {
    const ctx = ctxFor();
    await cloudflare.run(ctx);
    const h = testConfig().cluster.bootstrap.cloudflare.healthCheck;
    expect(fake.healthchecks).toEqual([expect.objectContaining({
      name: h.name, address: '203.0.113.10', type: 'TCP', check_regions: h.regions, interval: 60,
      consecutive_fails: 1, consecutive_successes: 1, suspended: false,
      tcp_config: { method: 'connection_established', port: 443 },
    })]);
    expect(ctx.out.text).toContain(`health check ${h.name} (TCP 203.0.113.10:443 from WEU, every 60s) created`);
    // The dry-run plan names the same call.
    expect(cloudflare.plan(ctx).map((i) => JSON.stringify(i)).join('\n')).toMatch(/POST .*\/healthchecks|"method":"POST","url":"[^"]*\/healthchecks"/);
  });

  it('is idempotent, and corrects a check that drifted (another address, suspended) in place', async () => {
    await cloudflare.run(ctxFor());
    const writes = fake.writes().length;
    const again = ctxFor();
    await cloudflare.run(again);
    expect(fake.writes().length).toBe(writes);
    expect(again.out.text).toContain('already checks 203.0.113.10:443');

    Object.assign(fake.healthchecks[0], { address: '198.51.100.99', suspended: true });
    await cloudflare.run(ctxFor());
    expect(fake.count('PUT', /healthchecks\/hc\d+$/)).toBe(1);
    expect(fake.healthchecks).toHaveLength(1);
    expect(fake.healthchecks[0]).toMatchObject({ address: '203.0.113.10', suspended: false });
  });

  it('follows the server address (a rebuilt server): the check moves with the A records', async () => {
    await cloudflare.run(ctxFor());
    await cloudflare.run(ctxFor({ LMS_HOST: '203.0.113.77' }));
    expect(fake.healthchecks.map((h) => h.address)).toEqual(['203.0.113.77']);
    expect(fake.records.filter((r) => r.type === 'A').every((r) => r.content === '203.0.113.77')).toBe(true);
  });

  it('what it sends is what the API documents (the stand-in refuses a bad check)', () => {
    const hc = desiredHealthCheck(testConfig(), '203.0.113.10');
    expect(Object.keys(hc).sort()).toEqual(['address', 'check_regions', 'consecutive_fails', 'consecutive_successes', 'description', 'interval', 'name', 'retries', 'suspended', 'tcp_config', 'timeout', 'type']);
    expect(() => testConfig({ cluster: { bootstrap: { cloudflare: { healthCheck: { intervalSeconds: 15 } } } } })).toThrow(/healthCheck\.intervalSeconds: 15 must be at least 60/);
    expect(() => testConfig({ cluster: { bootstrap: { cloudflare: { plan: 'free', managedRulesets: [], rateLimits: [] } } } })).toThrow(/cloudflare\.healthCheck: .* needs a Pro plan or higher \(Standalone Health Checks\)/);
  });
});
