/**
 * Canary analysis: the PromQL queries and verdict conditions Argo Rollouts evaluates, and the
 * AnalysisTemplates that carry them. The promtool tests (test/apps/analysis-promtool.test.ts) turn
 * the rendered templates' queries into recording rules, so what is tested is what is deployed.
 *
 * Semantics (docs/delivery.md "Empty results"):
 * - a query returns a value only when the canary served at least `minRequests` requests in the
 *   window; otherwise the result is empty;
 * - gate (analysis step): success = non-empty and within the threshold, failure = non-empty and
 *   outside it; empty matches neither -> the measurement is Inconclusive (not a pass, not a
 *   failure). Too many inconclusive measurements make the run Inconclusive, which pauses the
 *   rollout for a human; it never promotes;
 * - guard (background analysis for the whole rollout, approval pause included): only a failure
 *   condition; it can only abort, never advance a step, so "no traffic" is simply no evidence of
 *   failure. Its queries judge the last `guard.sustain` (guardQueries), its failureLimit is 0.
 * - users' requests first: the probe's (charts-ts/apps/probe.ts) count only where users' are fewer
 *   than minRequests in the window.
 */
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import { durationSeconds, guardConsecutiveErrorLimit, guardPoints, type AnalysisSettings } from '../config/sections/apps.ts';
import {
  AnalysisTemplate, AnalysisTemplateSpecMetricsConsecutiveErrorLimit, AnalysisTemplateSpecMetricsCount,
  AnalysisTemplateSpecMetricsFailureLimit, AnalysisTemplateSpecMetricsInconclusiveLimit, type AnalysisTemplateSpecMetrics,
} from '../imports/analysistemplate-argoproj.io.ts';
import { footprintAnnotation, footprintValue, type PodFootprint } from '../lib/footprint.ts';
import { names } from '../lib/names.ts';
import { traefikMetrics as T, type CanaryTraefikLabels } from './metrics.ts';
import type { ProviderJob } from './probe.ts';

export type QuerySettings = Pick<AnalysisSettings, 'window' | 'minRequests'>;

/** `{service="<service>",<matchers>}` */
const selector = (service: string, ...matchers: string[]): string =>
  `{${[`${T.labels.service}="${service}"`, ...matchers].join(',')}}`;

const regexLiteral = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');

/** `(sum(<fn>(<metric><selector>[window])) or on() vector(0))`: 0 rather than nothing when no series matches. */
const total = (fn: 'rate' | 'increase', metric: string, sel: string, window: string): string =>
  `(sum(${fn}(${metric}${sel}[${window}])) or on() vector(0))`;

/**
 * Requests Traefik itself answered 503 "no available server" for the canary: the 503s of the
 * routers in front of it (users' routes via the weighted TraefikService, the probe's via its own)
 * minus the 503s the servers of the stable and canary Services returned. Service series are
 * recorded per server (charts-ts/apps/metrics.ts), so a canary Service without a ready pod
 * records nothing, and only the routers see its share of the traffic fail. Traefik does not say
 * which child had no server; during a canary the stable side has ready pods (Argo Rollouts keeps
 * them), so they are the canary's.
 */
function noServerRequests(l: CanaryTraefikLabels, fn: 'rate' | 'increase', window: string): string {
  const code = `${T.labels.code}="${T.noServerCode}"`;
  const routers = `{${T.labels.service}=~"${regexLiteral(l.router)}|${regexLiteral(l.probeRouter)}",${code}}`;
  const routed = `sum(${fn}(${T.routerRequestsTotal}${routers}[${window}]))`;
  const served = total(fn, T.requestsTotal, `{${T.labels.service}=~"${regexLiteral(l.stable)}|${regexLiteral(l.canary)}",${code}}`, window);
  return `(clamp_min(${routed} - ${served}, 0) or on() vector(0))`;
}

/** `(<expr> and on() (<requests> >= minRequests))`: the value only with enough requests in the window. */
const withEnoughTraffic = (expr: string, requests: string, s: QuerySettings): string =>
  `(${expr} and on() (${requests} >= ${s.minRequests}))`;

/** `a - b`, never below 0 (counters of the probe's route are a subset of the canary's, up to scrape skew). */
const minus = (a: string, b: string): string => `clamp_min(${a} - ${b}, 0)`;

/**
 * Users' requests first: `users` when users alone made minRequests in the window; otherwise `all`
 * (users and the probe) when together they did; otherwise nothing. The probe's requests only make
 * up the evidence where users' are too few, so they never dilute a verdict users can give.
 */
const usersFirst = (users: string, all: string): string => `(${users} or ${all})`;

/**
 * The canary's requests in the window: users' (routed through the weighted TraefikService) and
 * the probe's (routed through the probe's TraefikService, so the probe's router series count
 * exactly its requests, served or answered by Traefik itself).
 */
function canaryRequests(l: CanaryTraefikLabels, s: QuerySettings) {
  const probe = `{${T.labels.service}="${l.probeRouter}"`;
  const probe5xx = `${probe},${T.labels.code}=~"5.."}`;
  const all = {
    errors: `(${total('rate', T.requestsTotal, selector(l.canary, `${T.labels.code}=~"5.."`), s.window)} + ${noServerRequests(l, 'rate', s.window)})`,
    rate: `(${total('rate', T.requestsTotal, selector(l.canary), s.window)} + ${noServerRequests(l, 'rate', s.window)})`,
    count: `(${total('increase', T.requestsTotal, selector(l.canary), s.window)} + ${noServerRequests(l, 'increase', s.window)})`,
  };
  const byProbe = {
    errors: total('rate', T.routerRequestsTotal, probe5xx, s.window),
    rate: total('rate', T.routerRequestsTotal, `${probe}}`, s.window),
    count: total('increase', T.routerRequestsTotal, `${probe}}`, s.window),
  };
  const users = { errors: minus(all.errors, byProbe.errors), rate: minus(all.rate, byProbe.rate), count: minus(all.count, byProbe.count) };
  return { all, users };
}

/**
 * Share of the canary's requests answered without a 5xx in the window, 0..1: what its pods served,
 * plus the requests Traefik could not send to any canary pod (503 "no available server", counted
 * from the router series). Users' requests alone when they reach minRequests, users' and the
 * probe's together otherwise (`usersFirst`). A canary answering only 5xx has no non-5xx series at
 * all, so the ratio is built from the error and total rates (each 0 when absent), never from a
 * possibly missing numerator.
 */
export function successRateQuery(l: CanaryTraefikLabels, s: QuerySettings): string {
  const { all, users } = canaryRequests(l, s);
  const ratio = (r: { errors: string; rate: string }) => `(1 - (${r.errors} / ${r.rate}))`;
  return usersFirst(withEnoughTraffic(ratio(users), users.count, s), withEnoughTraffic(ratio(all), all.count, s));
}

/**
 * p95 latency (seconds) of the canary's plain HTTP requests in the window. WebSocket and SSE
 * requests last as long as the connection and would drown the signal, so only protocol="http".
 * Users' requests first, like the success rate: their buckets are the canary Service's minus the
 * probe route's (the router's duration includes its middlewares, microseconds; clamp_min absorbs a
 * request that lands in a neighbouring bucket).
 */
export function latencyP95Query(l: CanaryTraefikLabels, s: QuerySettings): string {
  const http = `${T.labels.protocol}="${T.httpProtocol}"`;
  const probe = `{${T.labels.service}="${l.probeRouter}",${http}}`;
  const allBuckets = `sum by (${T.labels.le}) (rate(${T.requestDurationBucket}${selector(l.canary, http)}[${s.window}]))`;
  const probeBuckets = `sum by (${T.labels.le}) (rate(${T.routerRequestDurationBucket}${probe}[${s.window}]))`;
  // Without probe series the subtraction is empty and the canary's own buckets are users'.
  const userBuckets = `(clamp_min(${allBuckets} - ${probeBuckets}, 0) or ${allBuckets})`;
  const allCount = total('increase', T.requestsTotal, selector(l.canary, http), s.window);
  const userCount = minus(allCount, total('increase', T.routerRequestsTotal, probe, s.window));
  return usersFirst(
    withEnoughTraffic(`histogram_quantile(0.95, ${userBuckets})`, userCount, s),
    withEnoughTraffic(`histogram_quantile(0.95, ${allBuckets})`, allCount, s),
  );
}

/**
 * Requests the stable side needs in the window for its failing to excuse the canary: a tenth of
 * minRequests. Excusing needs less evidence than blaming: at night the stable side's 90 % of a
 * few requests a minute still shows a database restart that hits both sides.
 */
export const stableEvidence = (s: Pick<QuerySettings, 'minRequests'>): number => Math.ceil(s.minRequests / 10);

/** The stable side's success rate and p95 in the window, from `stableEvidence` requests on. */
function stableQueries(l: CanaryTraefikLabels, s: QuerySettings) {
  const http = `${T.labels.protocol}="${T.httpProtocol}"`;
  const errors = total('rate', T.requestsTotal, selector(l.stable, `${T.labels.code}=~"5.."`), s.window);
  const rate = total('rate', T.requestsTotal, selector(l.stable), s.window);
  const count = total('increase', T.requestsTotal, selector(l.stable), s.window);
  const buckets = `sum by (${T.labels.le}) (rate(${T.requestDurationBucket}${selector(l.stable, http)}[${s.window}]))`;
  const enough = { ...s, minRequests: stableEvidence(s) };
  return {
    successRate: withEnoughTraffic(`(1 - (${errors} / ${rate}))`, count, enough),
    latencyP95: withEnoughTraffic(`histogram_quantile(0.95, ${buckets})`, total('increase', T.requestsTotal, selector(l.stable, http), s.window), enough),
  };
}

export type GuardSettings = Pick<AnalysisSettings, 'window' | 'minRequests' | 'successRateMin' | 'latencyP95MaxSeconds' | 'guard' | 'scrapeInterval'>;

/**
 * The guard's queries: the canary's value over the last `guard.sustain`, one point per scrape
 * (subquery), where a point counts only while the stable side is not failing the same threshold
 * (a shared cause, e.g. a database failover, is not the canary's fault; the SLO alerts own it).
 * The success rate is the best point, the p95 the lowest, and there is a value only when every
 * point of the range has one: so the guard's plain threshold fails only when the canary was bad,
 * alone, for the whole of `sustain`. A short error burst, a noisy minute, a shared outage or a
 * gap in the data gives no failing value, however long the approval pause lasts.
 */
export function guardQueries(l: CanaryTraefikLabels, a: GuardSettings): { successRate: string; latencyP95: string } {
  const stable = stableQueries(l, a);
  const range = `[${a.guard.sustain}:${a.scrapeInterval}]`;
  const points = guardPoints(a);
  const sustained = (fn: 'max_over_time' | 'min_over_time', point: string) =>
    `(${fn}((${point})${range}) and on() (count_over_time((${point})${range}) >= ${points}))`;
  return {
    successRate: sustained('max_over_time', `${successRateQuery(l, a)} unless on() (${stable.successRate} < ${a.successRateMin})`),
    latencyP95: sustained('min_over_time', `${latencyP95Query(l, a)} unless on() (${stable.latencyP95} > ${a.latencyP95MaxSeconds})`),
  };
}

export interface Verdict {
  readonly successCondition?: string;
  readonly failureCondition: string;
}

/** Argo Rollouts conditions (expr language) on the query result vector. */
export function verdicts(a: Pick<AnalysisSettings, 'successRateMin' | 'latencyP95MaxSeconds'>): { successRate: Required<Verdict>; latencyP95: Required<Verdict> } {
  const some = 'len(result) > 0';
  return {
    successRate: {
      successCondition: `${some} && result[0] >= ${a.successRateMin}`,
      failureCondition: `${some} && result[0] < ${a.successRateMin}`,
    },
    latencyP95: {
      successCondition: `${some} && result[0] <= ${a.latencyP95MaxSeconds}`,
      failureCondition: `${some} && result[0] > ${a.latencyP95MaxSeconds}`,
    },
  };
}

export interface CanaryAnalysisProps {
  readonly namespace: string;
  /** The app (Rollout) name; templates are `<app>-canary-gate` and `<app>-canary-guard`. */
  readonly app: string;
  /** The Traefik `service` labels of the canary, the stable side and their TraefikService (metrics.ts). */
  readonly traefik: CanaryTraefikLabels;
  readonly settings: AnalysisSettings;
  /** The synthetic traffic Job the guard runs (charts-ts/apps/probe.ts), and its pod's footprint. */
  readonly probe?: { readonly job: ProviderJob; readonly footprint: PodFootprint };
}

export const analysisTemplateNames = (app: string) => ({ gate: `${app}-canary-gate`, guard: `${app}-canary-guard` });

/** The gate (for analysis steps) and guard (background) templates of one canaried app. */
export class CanaryAnalysis {
  readonly gateName: string;
  readonly guardName: string;

  constructor(scope: Construct, id: string, props: CanaryAnalysisProps) {
    const { settings: a } = props;
    const n = analysisTemplateNames(props.app);
    this.gateName = n.gate;
    this.guardName = n.guard;
    const queries = {
      successRate: successRateQuery(props.traefik, a),
      latencyP95: latencyP95Query(props.traefik, a),
    };
    const sustained = guardQueries(props.traefik, a);
    const v = verdicts(a);
    const prometheus = (query: string) => ({ prometheus: { address: names.monitoring.prometheusUrl, query, timeout: 10 } });
    const metricName = (name: keyof typeof queries) => (name === 'successRate' ? 'success-rate' : 'latency-p95');
    const gateMetric = (name: keyof typeof queries): AnalysisTemplateSpecMetrics => ({
      name: metricName(name),
      provider: prometheus(queries[name]),
      interval: a.interval,
      initialDelay: a.initialDelay,
      consecutiveErrorLimit: AnalysisTemplateSpecMetricsConsecutiveErrorLimit.fromNumber(a.consecutiveErrorLimit),
      count: AnalysisTemplateSpecMetricsCount.fromNumber(a.gate.count),
      failureLimit: AnalysisTemplateSpecMetricsFailureLimit.fromNumber(a.gate.failureLimit),
      inconclusiveLimit: AnalysisTemplateSpecMetricsInconclusiveLimit.fromNumber(a.gate.inconclusiveLimit),
      successCondition: v[name].successCondition,
      failureCondition: v[name].failureCondition,
    });
    new AnalysisTemplate(scope, `${id}-gate`, {
      metadata: {
        name: n.gate,
        namespace: props.namespace,
        annotations: { 'lms.dev/description': `Analysis step: passes after ${a.gate.count} measurements with at most ${a.gate.failureLimit} failed and ${a.gate.inconclusiveLimit} inconclusive (no traffic); see docs/delivery.md` },
      },
      spec: { metrics: [gateMetric('successRate'), gateMetric('latencyP95')] },
    });

    // The guard: plain JSON (the probe's pod template comes from pod.ts), validated against the
    // pinned CRD schema like the migration template.
    const outage = guardConsecutiveErrorLimit(a);
    const guardMetric = (name: keyof typeof queries) => ({
      name: metricName(name),
      provider: prometheus(sustained[name]),
      interval: a.interval,
      initialDelay: a.initialDelay,
      // No count: runs until the rollout completes or aborts. The query carries the persistence
      // (a value outside the threshold means `sustain` of bad canary traffic), so the first
      // failed measurement aborts: nothing accumulates over a long approval pause.
      failureLimit: 0,
      consecutiveErrorLimit: outage,
      failureCondition: v[name].failureCondition,
    });
    const probe = props.probe
      ? [{
        name: 'synthetic-traffic',
        provider: { job: props.probe.job },
        // One Job for the whole rollout; Argo Rollouts deletes it when the run ends. failureLimit =
        // count: a probe that dies is missing evidence, never a verdict (the gates then see too
        // little traffic and pause for a human).
        count: 1,
        failureLimit: 1,
        consecutiveErrorLimit: outage,
      }]
      : [];
    new ApiObject(scope, `${id}-guard`, {
      apiVersion: AnalysisTemplate.GVK.apiVersion,
      kind: AnalysisTemplate.GVK.kind,
      metadata: {
        name: n.guard,
        namespace: props.namespace,
        annotations: {
          'lms.dev/description': `Background analysis from the first traffic step: aborts when the canary alone was bad for ${a.guard.sustain}; rides out a Prometheus outage of ${a.guard.prometheusOutage}${props.probe ? '; runs the synthetic traffic' : ''}; see docs/delivery.md`,
          ...(props.probe ? { [footprintAnnotation]: footprintValue([props.probe.footprint]) } : {}),
        },
      },
      spec: { metrics: [guardMetric('successRate'), guardMetric('latencyP95'), ...probe] },
    });
  }
}

/** Seconds an analysis step lasts when every measurement is conclusive. */
export const gateSeconds = (a: AnalysisSettings): number =>
  durationSeconds(a.initialDelay) + (a.gate.count - 1) * durationSeconds(a.interval);
