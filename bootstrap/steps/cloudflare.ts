/**
 * cloudflare: the edge in front of the VPS. Proxied DNS records for every environment hostname (A
 * only: the cluster is IPv4 single-stack, an AAAA record would send Cloudflare to an IPv6 origin
 * address nothing listens on, and any left over is deleted), SSL
 * mode Full (strict) with HTTPS only, the managed WAF rulesets, and rate-limiting rules for login and
 * API paths, and the origin's health check (cloudflare-healthchecks.ts). Each resource is read first
 * and written only when it differs (idempotent). The two ruleset entry points are owned by this step:
 * a PUT replaces rules added by hand in the dashboard.
 */
import type { Config } from '../../charts-ts/config/schema.ts';
import { environmentNames } from '../../charts-ts/config/schema.ts';
import { cloudflarePlanLimits } from '../../charts-ts/config/sections/bootstrap.ts';
import { BootstrapError } from '../lib/context.ts';
import { cloudflareCredentials, requireCredentials } from '../lib/credentials.ts';
import type { PlanItem } from '../lib/plan.ts';
import { CloudflareClient, cloudflareApiUrl, cloudflareCalls, cloudflarePlan, type DnsRecord, type Ruleset, type RulesetRule } from '../providers/cloudflare.ts';
import { clusterIpFamilies } from '../host/k3s.ts';
import { ensureHealthCheck, healthCheckPlan } from './cloudflare-healthchecks.ts';
import { hostPlanNote, serverAddress, type Step } from './common.ts';

export const phases = { managed: 'http_request_firewall_managed', rateLimit: 'http_ratelimit' } as const;

/** Zone settings the edge needs, as Cloudflare names and values them. */
export const zoneSettings = (config: Config): Record<string, string> => ({
  ssl: 'strict',
  always_use_https: 'on',
  min_tls_version: config.cluster.bootstrap.cloudflare.minTlsVersion,
  tls_1_3: 'on',
  automatic_https_rewrites: 'on',
  // Authenticated Origin Pulls (zone level, Cloudflare's certificate): Cloudflare presents a client
  // certificate from its origin-pull CA to the origin, and Traefik refuses handshakes without one
  // (charts-ts/lib/origin-pull.ts). Needs SSL Full or Full (strict), set above.
  tls_client_auth: 'on',
});

export const hostnames = (config: Config): { api: string[]; web: string[] } => ({
  api: environmentNames.map((e) => config.environments[e].hostnames.api),
  web: environmentNames.map((e) => config.environments[e].hostnames.web),
});

const quote = (s: string): string => JSON.stringify(s);

/** A rate-limit rule's expression in the Rules language. */
export function rateLimitExpression(config: Config, r: Config['cluster']['bootstrap']['cloudflare']['rateLimits'][number]): string {
  const parts: string[] = [];
  if (r.host !== 'any') parts.push(`(http.host in {${hostnames(config)[r.host].map(quote).join(' ')}})`);
  if (!r.pathPrefixes.includes('/')) parts.push(`(${r.pathPrefixes.map((p) => `starts_with(http.request.uri.path, ${quote(p)})`).join(' or ')})`);
  return parts.length ? parts.join(' and ') : 'true';
}

export function desiredRulesets(config: Config): { managed?: Ruleset; rateLimit?: Ruleset } {
  const cf = config.cluster.bootstrap.cloudflare;
  const managed: RulesetRule[] = cf.managedRulesets.map((m) => ({
    ref: `lms-managed-${m.id.slice(0, 8)}`,
    description: m.name,
    expression: 'true',
    action: 'execute',
    action_parameters: { id: m.id },
    enabled: true,
  }));
  const rateLimit: RulesetRule[] = cf.rateLimits.map((r) => ({
    ref: r.ref,
    description: r.description,
    expression: rateLimitExpression(config, r),
    action: r.action,
    enabled: true,
    // Per client IP at each Cloudflare data centre (the only counting characteristic below Enterprise).
    ratelimit: { characteristics: ['cf.colo.id', 'ip.src'], period: r.periodSeconds, requests_per_period: r.requestsPerPeriod, mitigation_timeout: r.mitigationTimeoutSeconds },
  }));
  return {
    managed: managed.length ? { description: 'LMS: managed WAF rulesets (bootstrap/steps/cloudflare.ts)', rules: managed } : undefined,
    rateLimit: rateLimit.length ? { description: 'LMS: rate limits (bootstrap/steps/cloudflare.ts)', rules: rateLimit } : undefined,
  };
}

/** The parts of a rule this step sets; the API adds ids, versions and timestamps. */
const normalize = (rules: RulesetRule[] | undefined) => (rules ?? []).map((r) => ({
  ref: r.ref, description: r.description, expression: r.expression, action: r.action, enabled: r.enabled,
  action_parameters: r.action_parameters ? { id: (r.action_parameters as { id?: string }).id } : undefined,
  ratelimit: r.ratelimit ? { characteristics: [...r.ratelimit.characteristics].sort(), period: r.ratelimit.period, requests_per_period: r.ratelimit.requests_per_period, mitigation_timeout: r.ratelimit.mitigation_timeout } : undefined,
}));
export const sameRules = (a: RulesetRule[] | undefined, b: RulesetRule[] | undefined): boolean => JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));

/** Hostnames must be in the zone; two labels below it need an Advanced certificate. */
function checkHostnames(config: Config): void {
  const cf = config.cluster.bootstrap.cloudflare;
  const zone = cf.zone;
  const all = [...new Set([...hostnames(config).api, ...hostnames(config).web])];
  for (const h of all) {
    if (h !== zone && !h.endsWith(`.${zone}`)) {
      throw new BootstrapError(`hostname ${h} is not in the Cloudflare zone ${zone}`, 'fix bootstrap.cloudflare.zone or the environment hostnames');
    }
    const depth = h === zone ? 0 : h.slice(0, -zone.length - 1).split('.').length;
    if (depth > 1 && cf.edgeCertificate === 'universal') {
      throw new BootstrapError(`hostname ${h} is ${depth} labels below ${zone}: Universal SSL covers only ${zone} and *.${zone}`, 'order an Advanced certificate and set bootstrap.cloudflare.edgeCertificate: advanced, or use a one-label name (e.g. api-staging)');
    }
  }
}

const dnsRecord = (name: string, type: 'A' | 'AAAA', content: string): DnsRecord =>
  ({ type, name, content, proxied: true, ttl: 1, comment: 'managed by lms bootstrap (cloudflare step)' });

export const cloudflare: Step = {
  name: 'cloudflare',
  summary: 'proxied DNS, SSL Full (strict), Authenticated Origin Pulls, WAF managed rules, rate limits, the origin health check (Cloudflare API)',

  plan(ctx) {
    const api = cloudflareApiUrl(ctx.env);
    const cf = ctx.config.cluster.bootstrap.cloudflare;
    const items: PlanItem[] = [hostPlanNote(ctx), cloudflarePlan(api, cloudflareCalls.findZone(cf.zone))];
    const all = [...new Set([...hostnames(ctx.config).web, ...hostnames(ctx.config).api])];
    for (const h of all) {
      items.push(cloudflarePlan(api, cloudflareCalls.listDnsRecords('<zone>', 'A', h)));
      items.push(cloudflarePlan(api, cloudflareCalls.createDnsRecord('<zone>', dnsRecord(h, 'A', '<server IPv4>')), 'record missing; PUT .../dns_records/<id> when it differs'));
    }
    if (clusterIpFamilies.includes('IPv6')) {
      items.push({ kind: 'note', text: 'AAAA records the same way when the server has an IPv6 address' });
    } else {
      items.push({ kind: 'note', text: 'no AAAA records: the cluster is IPv4 single-stack (bootstrap/host/k3s.ts clusterIpFamilies); AAAA records found for these names are deleted' });
    }
    for (const [k, v] of Object.entries(zoneSettings(ctx.config))) {
      items.push(cloudflarePlan(api, cloudflareCalls.getSetting('<zone>', k)));
      items.push(cloudflarePlan(api, cloudflareCalls.setSetting('<zone>', k, v), 'value differs'));
    }
    items.push(cloudflarePlan(api, cloudflareCalls.getOriginPullSettings('<zone>')));
    items.push(cloudflarePlan(api, cloudflareCalls.setOriginPullSettings('<zone>', true), 'zone-level Authenticated Origin Pulls not enabled'));
    const rs = desiredRulesets(ctx.config);
    for (const [phase, ruleset] of [[phases.managed, rs.managed], [phases.rateLimit, rs.rateLimit]] as const) {
      if (!ruleset) continue;
      items.push(cloudflarePlan(api, cloudflareCalls.getEntrypoint('<zone>', phase)));
      items.push(cloudflarePlan(api, cloudflareCalls.putEntrypoint('<zone>', phase, ruleset), 'rules differ or entry point missing'));
    }
    items.push(...healthCheckPlan(api, ctx.config));
    return items;
  },

  async run(ctx) {
    const config = ctx.config;
    const cf = config.cluster.bootstrap.cloudflare;
    checkHostnames(config);
    const { CLOUDFLARE_API_TOKEN: token } = requireCredentials(ctx, 'cloudflare', cloudflareCredentials);
    const client = new CloudflareClient(ctx, token!);
    const addr = await serverAddress(ctx, 'cloudflare');

    const zone = await client.findZone(cf.zone);
    if (!zone) throw new BootstrapError(`Cloudflare zone ${cf.zone} not found for this token`, 'add the zone in Cloudflare (or scope the token to it), or fix bootstrap.cloudflare.zone');
    const plan = zone.plan?.legacy_id;
    if (plan && plan !== cf.plan) {
      throw new BootstrapError(`zone ${cf.zone} is on the ${plan} plan, but bootstrap.cloudflare.plan is ${cf.plan} (rate-limit and WAF limits differ per plan)`, `set bootstrap.cloudflare.plan to ${plan}, or change the zone's plan`);
    }

    // DNS
    const all = [...new Set([...hostnames(config).web, ...hostnames(config).api])];
    const dualStack = clusterIpFamilies.includes('IPv6');
    for (const name of all) {
      if (!dualStack) {
        // Single-stack IPv4: nothing serves the origin's IPv6 address, so an AAAA record only yields 521s.
        for (const stale of await client.dnsRecords(zone.id, 'AAAA', name)) {
          await client.deleteDnsRecord(zone.id, stale.id!);
          ctx.out.warn(`DNS AAAA ${name} -> ${stale.content} deleted: the cluster is IPv4 single-stack`);
        }
      }
      for (const [type, content] of [['A', addr.ipv4], ['AAAA', dualStack ? addr.ipv6 : undefined]] as const) {
        if (!content) continue;
        const want = dnsRecord(name, type, content);
        const have = await client.dnsRecords(zone.id, type, name);
        if (have.length > 1) throw new BootstrapError(`${have.length} ${type} records exist for ${name}`, 'delete the extra ones in the Cloudflare dashboard (one origin, one record)');
        const cur = have[0];
        if (!cur) {
          await client.createDnsRecord(zone.id, want);
          ctx.out.info(`✓ DNS ${type} ${name} -> ${content} (proxied) created`);
        } else if (cur.content !== content || cur.proxied !== true) {
          await client.updateDnsRecord(zone.id, cur.id!, want);
          ctx.out.info(`✓ DNS ${type} ${name} -> ${content} (proxied) updated (was ${cur.content}${cur.proxied ? '' : ', not proxied'})`);
        } else {
          ctx.out.info(`✓ DNS ${type} ${name} already -> ${content} (proxied)`);
        }
      }
    }

    // Zone settings
    for (const [id, value] of Object.entries(zoneSettings(config))) {
      const cur = await client.setting(zone.id, id);
      if (cur?.value === value) {
        ctx.out.info(`✓ setting ${id} already ${value}`);
      } else {
        await client.setSetting(zone.id, id, value);
        ctx.out.info(`✓ setting ${id}: ${String(cur?.value ?? 'unset')} -> ${value}`);
      }
    }

    // Zone-level Authenticated Origin Pulls: the enablement, besides the tls_client_auth setting above.
    const aop = await client.originPullSettings(zone.id);
    if (aop?.enabled === true) {
      ctx.out.info('✓ Authenticated Origin Pulls already enabled for the zone');
    } else {
      await client.setOriginPullSettings(zone.id, true);
      ctx.out.info('✓ Authenticated Origin Pulls enabled for the zone (Traefik requires the origin-pull client certificate)');
    }

    // Rulesets
    if (!cloudflarePlanLimits[cf.plan].managedRulesets) ctx.out.info('note: the Free plan runs only the automatic Free Managed Ruleset; no managed rulesets to deploy');
    const rs = desiredRulesets(config);
    for (const [phase, want] of [[phases.managed, rs.managed], [phases.rateLimit, rs.rateLimit]] as const) {
      if (!want) continue;
      const cur = await client.entrypoint(zone.id, phase);
      if (cur && sameRules(cur.rules, want.rules)) {
        ctx.out.info(`✓ ${phase}: ${want.rules.length} rule(s) already in place`);
        continue;
      }
      const extra = (cur?.rules ?? []).filter((r) => !want.rules.some((w) => w.ref === r.ref));
      if (extra.length) ctx.out.warn(`${phase}: replacing ${extra.length} rule(s) not defined in config (${extra.map((r) => r.description || r.ref || r.id).join(', ')})`);
      await client.putEntrypoint(zone.id, phase, want);
      ctx.out.info(`✓ ${phase}: ${want.rules.length} rule(s) ${cur ? 'updated' : 'created'}`);
    }

    // The origin's health check: the edge-measured availability SLI (cloudflare-healthchecks.ts).
    await ensureHealthCheck(ctx, client, zone.id, addr.ipv4);
  },
};
