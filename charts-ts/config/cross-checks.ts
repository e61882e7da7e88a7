/**
 * Config rules that span sections (the section schemas cannot see each other): each adds an issue
 * on the field to change, with what is wrong and the fix.
 *
 * - Rate windows cover at least `rateWindowScrapes` scrapes of the series they read: the canary
 *   analysis assumes the interval Prometheus really scrapes Traefik at (the Traefik PodMonitor's),
 *   and the shortest SLO window (5m, over Traefik and every other exporter) covers 4 scrapes.
 * - Cloudflare's rate limits on the auth paths admit what the origin's auth limit is sized for (a
 *   school class behind one address): an edge limit tighter than that locks the class out before
 *   the origin's limit is ever reached.
 */
import type { z } from 'zod';
import { sloWindows } from '../observability/rules/slo.ts';
import type { Cluster, Environment, EnvironmentName } from './schema.ts';
import { durationSeconds, rateWindowScrapes } from './sections/apps.ts';

interface ConfigShape {
  readonly cluster: Cluster;
  readonly environments: Record<EnvironmentName, Environment>;
}

export function crossSectionChecks(c: ConfigShape, ctx: z.RefinementCtx): void {
  checkScrapeIntervals(c, ctx);
  checkEdgeAuthLimits(c, ctx);
}

/** Whether a request path prefix and an auth path (itself and below) can match the same request. */
const overlaps = (prefix: string, authPath: string): boolean => {
  const p = prefix.toLowerCase();
  const a = authPath.toLowerCase();
  return p === a || p.startsWith(`${a}/`) || a.startsWith(p.endsWith('/') ? p : `${p}/`) || p === '/';
};

function checkEdgeAuthLimits(c: ConfigShape, ctx: z.RefinementCtx): void {
  c.cluster.bootstrap.cloudflare.rateLimits.forEach((rule, i) => {
    if (rule.host === 'web') return;
    for (const [name, env] of Object.entries(c.environments)) {
      const ing = env.apps.ingress;
      if (!rule.pathPrefixes.some((p) => ing.authPaths.some((a) => overlaps(p, a)))) continue;
      const l = ing.authRateLimit;
      const needed = l.sharedAddressClients * l.requestsPerLogin;
      if (rule.requestsPerPeriod < needed) {
        ctx.addIssue({
          code: 'custom', path: ['cluster', 'bootstrap', 'cloudflare', 'rateLimits', i, 'requestsPerPeriod'], input: rule.requestsPerPeriod,
          message: `counts the auth paths per address like environments.${name}.apps.ingress.authRateLimit, which lets ${l.sharedAddressClients} clients behind one address (a school class) log in at once: allow at least ${needed} requests per period`,
        });
        return;
      }
    }
  });
}

function checkScrapeIntervals(c: ConfigShape, ctx: z.RefinementCtx): void {
  const traefik = c.cluster.platform.traefik.scrapeInterval;
  for (const [name, env] of Object.entries(c.environments)) {
    const assumed = env.apps.analysis.scrapeInterval;
    if (durationSeconds(assumed) !== durationSeconds(traefik)) {
      ctx.addIssue({
        code: 'custom', path: ['environments', name, 'apps', 'analysis', 'scrapeInterval'], input: assumed,
        message: `must equal cluster.platform.traefik.scrapeInterval (${traefik}), how often Prometheus really scrapes Traefik; the window and the abort arithmetic assume it`,
      });
    }
  }
  const shortestSlo = Math.min(...Object.values(sloWindows));
  for (const [path, interval] of [
    [['cluster', 'platform', 'traefik', 'scrapeInterval'], traefik],
    [['cluster', 'observability', 'prometheus', 'scrapeInterval'], c.cluster.observability.prometheus.scrapeInterval],
  ] as const) {
    if (rateWindowScrapes * durationSeconds(interval) > shortestSlo) {
      ctx.addIssue({
        code: 'custom', path: [...path], input: interval,
        message: `is too long for the shortest SLO window (${shortestSlo / 60}m): a rate window must span at least ${rateWindowScrapes} scrapes; use at most ${shortestSlo / rateWindowScrapes}s`,
      });
    }
  }
}
