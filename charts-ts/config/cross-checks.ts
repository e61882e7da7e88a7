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
 * - Staging, which runs unreleased code, is not public: it has an IP allow-list.
 * - The capacity budget keeps at least `minHeadroomPercent` of allocatable free of requests
 *   (charts-ts/lib/budget.ts; `npm run budget` and `npm run synth` fail above the rest).
 * - The k3s upgrade window and the host's reboot window never overlap: a reboot in the middle of an
 *   upgrade leaves the node cordoned (docs/runbooks/upgrade-k3s.md).
 * - Planned maintenance (reboots and k3s upgrades in the worst month) takes at most
 *   `slo.edge.maxPlannedShare` of the edge availability budget (charts-ts/lib/availability.ts).
 * - A canary is aborted within `abortWithin` at every step, for every replica count the HPA can
 *   set: the analysis's verdict plus the stable pods the abort has to start again with
 *   dynamicStableScale (charts-ts/lib/canary-abort.ts); and at the HPA minimum those pods fit in
 *   what the capacity budget counts for the Rollout (HPA maximum + 1 canary pod).
 */
import type { z } from 'zod';
import { plannedMaintenance } from '../lib/availability.ts';
import { stepAborts, type CanaryApp } from '../lib/canary-abort.ts';
import { rebootOccurrences, rebootTimerAccuracyMinutes, upgradeOccurrences, type Occurrence } from '../lib/maintenance-windows.ts';
import { sloWindows } from '../observability/rules/slo.ts';
import type { Cluster, Environment, EnvironmentName } from './schema.ts';
import { durationSeconds, rateWindowScrapes } from './sections/apps.ts';

/** Share of allocatable CPU and memory kept free of requests (issue 16: requests <= 80 %). */
export const minHeadroomPercent = 20;

interface ConfigShape {
  readonly cluster: Cluster;
  readonly environments: Record<EnvironmentName, Environment>;
}

export function crossSectionChecks(c: ConfigShape, ctx: z.RefinementCtx): void {
  checkScrapeIntervals(c, ctx);
  checkEdgeAuthLimits(c, ctx);
  checkMaintenanceWindows(c, ctx);
  checkPlannedMaintenance(c, ctx);
  checkAbortAtEveryStep(c, ctx);
  if (c.cluster.reservation.headroomPercent < minHeadroomPercent) {
    ctx.addIssue({
      code: 'custom', path: ['cluster', 'reservation', 'headroomPercent'], input: c.cluster.reservation.headroomPercent,
      message: `must be at least ${minHeadroomPercent}: requests at the HPA maxima plus the canary pods, jobs and k3s's pods may use at most ${100 - minHeadroomPercent} % of allocatable CPU and memory (docs/architecture.md "Capacity"); trim requests or HPA maxima instead`,
    });
  }
  if (!c.environments.staging.apps.ingress.ipAllowList) {
    ctx.addIssue({
      code: 'custom', path: ['environments', 'staging', 'apps', 'ingress', 'ipAllowList'], input: undefined,
      message: 'is required: staging runs unreleased code and must not be public; list the operators\' and the deploy pipeline\'s address ranges (docs/delivery.md "Staging allow-list")',
    });
  }
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

// ---------------------------------------------------------------- maintenance windows

function checkMaintenanceWindows(c: ConfigShape, ctx: z.RefinementCtx): void {
  const reboots = rebootOccurrences(c);
  const clash = upgradeOccurrences(c).find((u) => reboots.some((r) => r.start < u.end && u.start < r.end));
  if (!clash) return;
  const u = c.cluster.platform.upgrades;
  const b = c.cluster.bootstrap;
  const r = reboots.find((x) => x.start < clash.end && clash.start < x.end)!;
  const span = (o: Occurrence) => {
    const [a, b2] = [new Date(o.start).toISOString(), new Date(o.end).toISOString()];
    return `${a.slice(0, 10)} ${a.slice(11, 16)}-${b2.slice(0, 10) === a.slice(0, 10) ? '' : `${b2.slice(0, 10)} `}${b2.slice(11, 16)} UTC`;
  };
  ctx.addIssue({
    code: 'custom', path: ['cluster', 'platform', 'upgrades', 'window', 'endTime'], input: u.window.endTime,
    message: `lets the k3s upgrade overlap the host's reboot window (cluster.bootstrap.upgrades ${b.upgrades.rebootDays.join(',')} ${b.upgrades.rebootTime} ${b.timeSync.timezone}, `
      + `${b.upgrades.estimatedRebootMinutes} min + ${rebootTimerAccuracyMinutes} min timer accuracy): upgrade ${span(clash)} (window ${u.window.days.join(',')} ${u.window.startTime}-${u.window.endTime} ${u.window.timeZone} `
      + `+ jobActiveDeadlineSeconds ${u.jobActiveDeadlineSeconds}) vs reboot ${span(r)}; a reboot during an upgrade leaves the node cordoned: end the window earlier or move the reboot`,
  });
}

function checkPlannedMaintenance(c: ConfigShape, ctx: z.RefinementCtx): void {
  const p = plannedMaintenance(c);
  const edge = c.cluster.observability.slo.edge;
  if (p.share <= edge.maxPlannedShare) return;
  const b = c.cluster.bootstrap.upgrades;
  ctx.addIssue({
    code: 'custom', path: ['cluster', 'observability', 'slo', 'edge', 'maxPlannedShare'], input: edge.maxPlannedShare,
    message: `is exceeded: planned maintenance takes ${p.plannedMinutes} of the ${p.budgetMinutes} minutes a month ${Number((edge.objective * 100).toPrecision(12))} % allows (${Math.round(p.share * 100)} %): `
      + `${p.rebootsPerMonth} reboots (bootstrap.upgrades.rebootDays ${b.rebootDays.join(',')}) x ${b.estimatedRebootMinutes} min + ${p.upgradesPerMonth} k3s upgrade(s) x ${edge.k3sUpgradeMinutes} min; `
      + 'reboot less often, shorten the reboot, or lower the objective (docs/observability/slo-sla.md "Availability at the edge")',
  });
}

// ---------------------------------------------------------------- abort at every step

function checkAbortAtEveryStep(c: ConfigShape, ctx: z.RefinementCtx): void {
  for (const [name, env] of Object.entries(c.environments)) {
    const budget = durationSeconds(env.apps.analysis.abortWithin);
    for (const app of ['api', 'web'] as CanaryApp[]) {
      let aborts;
      try {
        aborts = stepAborts(env, app);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['environments', name, 'canary', 'steps'], input: env.canary.steps, message: `${app}: ${(e as Error).message}` });
        continue;
      }
      const reported = new Set<number>();
      for (const a of aborts.filter((x) => x.seconds > budget).sort((x, y) => y.seconds - x.seconds || y.replicas - x.replicas)) {
        if (reported.has(a.stepIndex)) continue;
        reported.add(a.stepIndex);
        ctx.addIssue({
          code: 'custom', path: ['environments', name, 'canary', 'steps', a.stepIndex], input: env.canary.steps[a.stepIndex],
          message: `aborts ${app} at ${a.weight} % with ${a.replicas} pods in ${a.seconds}s, more than abortWithin (${env.apps.analysis.abortWithin}): `
            + `the ${a.verdictBy}'s verdict ${a.verdictSeconds}s + ${a.scaleUp.rounds} x ${a.roundSeconds}s waiting for new stable pods (dynamicStableScale: ${a.scaleUp.stableBefore} stable pods at ${a.weight} %; `
            + `start apps.${app}.startSeconds, probes, lifecycle.minReadySeconds, analysis.controllerLatency); `
            + 'use fewer or lower setWeight steps (each intermediate step can cost one more wait), or shorten the pods\' start (docs/delivery.md "Abort arithmetic")',
        });
      }
      const hpa = env.apps[app].hpa;
      const atMin = aborts.filter((x) => x.replicas === hpa.min && x.scaleUp.peakPods > hpa.max + 1)
        .sort((x, y) => y.scaleUp.peakPods - x.scaleUp.peakPods || y.weight - x.weight);
      for (const a of atMin.slice(0, 1)) {
        ctx.addIssue({
          code: 'custom', path: ['environments', name, 'apps', app, 'hpa', 'max'], input: hpa.max,
          message: `leaves no room for the abort at ${a.weight} % with the HPA at its minimum (${hpa.min}): it needs ${a.scaleUp.peakPods} ${app} pods at once, the capacity budget counts ${hpa.max} + 1 canary pod; a full node would keep the canary's traffic (docs/delivery.md "Abort arithmetic")`,
        });
      }
    }
  }
}
