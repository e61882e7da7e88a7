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
 * - guard (background analysis for the whole rollout): only a failure condition; it can only
 *   abort, never advance a step, so "no traffic" is simply no evidence of failure.
 */
import type { Construct } from 'constructs';
import { durationSeconds, type AnalysisSettings } from '../config/sections/apps.ts';
import {
  AnalysisTemplate, AnalysisTemplateSpecMetricsConsecutiveErrorLimit, AnalysisTemplateSpecMetricsCount,
  AnalysisTemplateSpecMetricsFailureLimit, AnalysisTemplateSpecMetricsInconclusiveLimit, type AnalysisTemplateSpecMetrics,
} from '../imports/analysistemplate-argoproj.io.ts';
import { names } from '../lib/names.ts';
import { traefikMetrics as T, type CanaryTraefikLabels } from './metrics.ts';

export type QuerySettings = Pick<AnalysisSettings, 'window' | 'minRequests'>;

/** `{service="<service>",<matchers>}` */
const selector = (service: string, ...matchers: string[]): string =>
  `{${[`${T.labels.service}="${service}"`, ...matchers].join(',')}}`;

const regexLiteral = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');

/** `(sum(<fn>(<metric><selector>[window])) or on() vector(0))`: 0 rather than nothing when no series matches. */
const total = (fn: 'rate' | 'increase', metric: string, sel: string, window: string): string =>
  `(sum(${fn}(${metric}${sel}[${window}])) or on() vector(0))`;

/**
 * Requests of the app's TraefikService that Traefik itself answered 503 "no available server":
 * its routers' 503s minus the 503s the servers of its stable and canary Services returned. Service
 * series are recorded per server (charts-ts/apps/metrics.ts), so a canary Service without a ready
 * pod records nothing, and only the router sees its share of the traffic fail. Traefik does not
 * say which child had no server; during a canary the stable side has ready pods (Argo Rollouts
 * keeps them), so they are the canary's.
 */
function noServerRequests(l: CanaryTraefikLabels, fn: 'rate' | 'increase', window: string): string {
  const code = `${T.labels.code}="${T.noServerCode}"`;
  const routed = `sum(${fn}(${T.routerRequestsTotal}${selector(l.router, code)}[${window}]))`;
  const served = total(fn, T.requestsTotal, `{${T.labels.service}=~"${regexLiteral(l.stable)}|${regexLiteral(l.canary)}",${code}}`, window);
  return `(clamp_min(${routed} - ${served}, 0) or on() vector(0))`;
}

/** `<expr> and on() (enough requests)`: keeps the value only with at least minRequests in the window. */
const withEnoughTraffic = (expr: string, requests: string, s: QuerySettings): string =>
  `${expr} and on() (${requests} >= ${s.minRequests})`;

/**
 * Share of the canary's requests answered without a 5xx in the window, 0..1: what its pods served,
 * plus the requests Traefik could not send to any canary pod (503 "no available server", counted
 * from the router series). A canary answering only 5xx has no non-5xx series at all, so the ratio
 * is built from the error and total rates (each 0 when absent), never from a possibly missing
 * numerator.
 */
export function successRateQuery(l: CanaryTraefikLabels, s: QuerySettings): string {
  const errors = total('rate', T.requestsTotal, selector(l.canary, `${T.labels.code}=~"5.."`), s.window);
  const served = total('rate', T.requestsTotal, selector(l.canary), s.window);
  const noServer = noServerRequests(l, 'rate', s.window);
  const requests = `${total('increase', T.requestsTotal, selector(l.canary), s.window)} + ${noServerRequests(l, 'increase', s.window)}`;
  return withEnoughTraffic(`(1 - ((${errors} + ${noServer}) / (${served} + ${noServer})))`, `(${requests})`, s);
}

/**
 * p95 latency (seconds) of the canary's plain HTTP requests in the window. WebSocket and SSE
 * requests last as long as the connection and would drown the signal, so only protocol="http".
 */
export function latencyP95Query(l: CanaryTraefikLabels, s: QuerySettings): string {
  const http = `${T.labels.protocol}="${T.httpProtocol}"`;
  const buckets = `sum by (${T.labels.le}) (rate(${T.requestDurationBucket}${selector(l.canary, http)}[${s.window}]))`;
  return withEnoughTraffic(`histogram_quantile(0.95, ${buckets})`, `sum(increase(${T.requestsTotal}${selector(l.canary, http)}[${s.window}]))`, s);
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
    const v = verdicts(a);
    const prometheus = (query: string) => ({ prometheus: { address: names.monitoring.prometheusUrl, query, timeout: 10 } });
    const timing = {
      interval: a.interval,
      initialDelay: a.initialDelay,
      consecutiveErrorLimit: AnalysisTemplateSpecMetricsConsecutiveErrorLimit.fromNumber(a.consecutiveErrorLimit),
    };
    const metric = (name: keyof typeof queries, mode: 'gate' | 'guard'): AnalysisTemplateSpecMetrics => ({
      name: name === 'successRate' ? 'success-rate' : 'latency-p95',
      provider: prometheus(queries[name]),
      ...timing,
      ...(mode === 'gate'
        ? {
          count: AnalysisTemplateSpecMetricsCount.fromNumber(a.gate.count),
          failureLimit: AnalysisTemplateSpecMetricsFailureLimit.fromNumber(a.gate.failureLimit),
          inconclusiveLimit: AnalysisTemplateSpecMetricsInconclusiveLimit.fromNumber(a.gate.inconclusiveLimit),
          successCondition: v[name].successCondition,
          failureCondition: v[name].failureCondition,
        }
        : {
          // No count: runs until the rollout completes or aborts.
          failureLimit: AnalysisTemplateSpecMetricsFailureLimit.fromNumber(a.guard.failureLimit),
          failureCondition: v[name].failureCondition,
        }),
    });
    const template = (name: string, mode: 'gate' | 'guard', what: string) => new AnalysisTemplate(scope, `${id}-${mode}`, {
      metadata: {
        name,
        namespace: props.namespace,
        annotations: { 'lms.dev/description': what },
      },
      spec: { metrics: [metric('successRate', mode), metric('latencyP95', mode)] },
    });
    template(n.gate, 'gate', `Analysis step: passes after ${a.gate.count} measurements with at most ${a.gate.failureLimit} failed and ${a.gate.inconclusiveLimit} inconclusive (no traffic); see docs/delivery.md`);
    template(n.guard, 'guard', `Background analysis from the first traffic step: aborts after ${a.guard.failureLimit + 1} failed measurements; see docs/delivery.md`);
  }
}

/** Seconds an analysis step lasts when every measurement is conclusive. */
export const gateSeconds = (a: AnalysisSettings): number =>
  durationSeconds(a.initialDelay) + (a.gate.count - 1) * durationSeconds(a.interval);
