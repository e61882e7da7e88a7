/**
 * Part of the cloudflare step: the Standalone Health Check of the origin
 * (https://developers.cloudflare.com/api/resources/healthchecks/), the edge-measured availability
 * SLI (docs/observability/slo-sla.md "Availability at the edge"). Cloudflare checks the origin from
 * its own network, so the minutes the node reboots or Traefik is down are seen, where Traefik's
 * metrics record nothing; the weekly report reads the check's events (GraphQL Analytics).
 *
 * Read first, written only when it differs: the check is found by its name (the API has no other
 * key we own), created with POST, corrected with PUT.
 */
import type { Config } from '../../charts-ts/config/schema.ts';
import type { StepContext } from '../lib/context.ts';
import type { PlanItem } from '../lib/plan.ts';
import { cloudflarePlan, type CloudflareClient } from '../providers/cloudflare.ts';

/** A health check as the API takes and returns it (the fields this step sets). */
export interface HealthCheck {
  id?: string;
  name: string;
  description: string;
  address: string;
  type: 'TCP';
  check_regions: string[];
  interval: number;
  timeout: number;
  retries: number;
  consecutive_fails: number;
  consecutive_successes: number;
  suspended: boolean;
  tcp_config: { method: 'connection_established'; port: number };
}

export const healthCheckCalls = {
  list: (zoneId: string) => ({ method: 'GET' as const, path: `/zones/${zoneId}/healthchecks?per_page=50` }),
  create: (zoneId: string, hc: HealthCheck) => ({ method: 'POST' as const, path: `/zones/${zoneId}/healthchecks`, body: hc }),
  update: (zoneId: string, id: string, hc: HealthCheck) => ({ method: 'PUT' as const, path: `/zones/${zoneId}/healthchecks/${id}`, body: hc }),
};

/** The check of the origin address: TCP connect to Traefik's port (no client certificate needed). */
export function desiredHealthCheck(config: Config, address: string): HealthCheck {
  const h = config.cluster.bootstrap.cloudflare.healthCheck;
  return {
    name: h.name,
    description: `LMS origin ${address}:${h.port} (edge-measured availability; managed by lms bootstrap, cloudflare step)`,
    address,
    type: 'TCP',
    check_regions: [...h.regions],
    interval: h.intervalSeconds,
    timeout: h.timeoutSeconds,
    retries: h.retries,
    // Every check counts on its own: the SLI is the share of healthy checks, not a debounced state.
    consecutive_fails: 1,
    consecutive_successes: 1,
    suspended: false,
    tcp_config: { method: 'connection_established', port: h.port },
  };
}

const fields = (h: Partial<HealthCheck>) => JSON.stringify({
  address: h.address, type: h.type, check_regions: [...(h.check_regions ?? [])].sort(), interval: h.interval, timeout: h.timeout, retries: h.retries,
  consecutive_fails: h.consecutive_fails, consecutive_successes: h.consecutive_successes, suspended: h.suspended,
  tcp_config: h.tcp_config ? { method: h.tcp_config.method, port: h.tcp_config.port } : undefined, description: h.description,
});

export function healthCheckPlan(apiUrl: string, config: Config): PlanItem[] {
  const want = desiredHealthCheck(config, '<server IPv4>');
  return [
    cloudflarePlan(apiUrl, healthCheckCalls.list('<zone>')),
    cloudflarePlan(apiUrl, healthCheckCalls.create('<zone>', want), `no health check named ${want.name}; PUT .../healthchecks/<id> when it differs`),
  ];
}

/** Creates or corrects the origin's health check. */
export async function ensureHealthCheck(ctx: StepContext, client: CloudflareClient, zoneId: string, address: string): Promise<void> {
  const want = desiredHealthCheck(ctx.config, address);
  const have = ((await client.call<HealthCheck[]>(healthCheckCalls.list(zoneId)))?.result ?? []).filter((h) => h.name === want.name);
  const cur = have[0];
  if (have.length > 1) ctx.out.warn(`${have.length} health checks are named ${want.name}; correcting the first, delete the others in the dashboard`);
  if (!cur) {
    await client.call(healthCheckCalls.create(zoneId, want));
    ctx.out.info(`✓ health check ${want.name} (TCP ${address}:${want.tcp_config.port} from ${want.check_regions.join(', ')}, every ${want.interval}s) created`);
  } else if (fields(cur) !== fields(want)) {
    await client.call(healthCheckCalls.update(zoneId, cur.id!, want));
    ctx.out.info(`✓ health check ${want.name} updated`);
  } else {
    ctx.out.info(`✓ health check ${want.name} already checks ${address}:${want.tcp_config.port}`);
  }
}
