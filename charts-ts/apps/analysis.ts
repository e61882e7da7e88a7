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
import { traefikMetrics as T } from './metrics.ts';

export type QuerySettings = Pick<AnalysisSettings, 'window' | 'minRequests'>;

/** `{service="<service>",<matchers>}` */
const selector = (service: string, ...matchers: string[]): string =>
  `{${[`${T.labels.service}="${service}"`, ...matchers].join(',')}}`;

/** `<expr> and on() (enough requests)`: keeps the value only with at least minRequests in the window. */
const withEnoughTraffic = (expr: string, service: string, s: QuerySettings, ...matchers: string[]): string =>
  `${expr} and on() (sum(increase(${T.requestsTotal}${selector(service, ...matchers)}[${s.window}])) >= ${s.minRequests})`;

/**
 * Share of non-5xx responses the canary served in the window, 0..1. A canary answering only 5xx
 * has no non-5xx series at all, so the ratio is built from the 5xx rate (`or vector(0)` when there
 * is none) and the total, never from a possibly missing numerator.
 */
export function successRateQuery(service: string, s: QuerySettings): string {
  const errors = `sum(rate(${T.requestsTotal}${selector(service, `${T.labels.code}=~"5.."`)}[${s.window}]))`;
  const total = `sum(rate(${T.requestsTotal}${selector(service)}[${s.window}]))`;
  return withEnoughTraffic(`(1 - ((${errors} or on() vector(0)) / ${total}))`, service, s);
}

/**
 * p95 latency (seconds) of the canary's plain HTTP requests in the window. WebSocket and SSE
 * requests last as long as the connection and would drown the signal, so only protocol="http".
 */
export function latencyP95Query(service: string, s: QuerySettings): string {
  const http = `${T.labels.protocol}="${T.httpProtocol}"`;
  const buckets = `sum by (${T.labels.le}) (rate(${T.requestDurationBucket}${selector(service, http)}[${s.window}]))`;
  return withEnoughTraffic(`histogram_quantile(0.95, ${buckets})`, service, s, http);
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
  /** The canary's Traefik `service` label (metrics.ts traefikServiceLabel). */
  readonly traefikService: string;
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
      successRate: successRateQuery(props.traefikService, a),
      latencyP95: latencyP95Query(props.traefikService, a),
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
