/**
 * The delivery KPI recording rules, run with the real `promtool test rules` on synthetic series
 * (Argo Rollouts, ALERTS, Traefik, the API's active-users gauge) at the deployed evaluation interval:
 * each KPI must come out at the value computed by hand here.
 */
import { describe, expect, it } from 'vitest';
import { canaryServiceNames, servicePort, traefikMetrics as T, traefikServiceLabel } from '../../charts-ts/apps/metrics.ts';
import { costReport } from '../../charts-ts/lib/cost.ts';
import { kpiSeries, timedPauseSeconds } from '../../charts-ts/observability/rules/kpi.ts';
import { renderAll } from '../support/render.ts';
import { counter, gauge } from './series.ts';
import type { PrometheusRuleJson } from '../support/kinds.ts';
import { rendered, ruleFile, run, tempDir, writeYaml } from './support.ts';

const r = rendered();
const config = r.config;
const prod = config.environments.production;
const staging = config.environments.staging;
const interval = config.cluster.observability.prometheus.evaluationInterval;
const step = Number(interval.replace(/s$/, ''));
/** Samples per minute/hour at the evaluation (and test) interval. */
const perMinute = 60 / step;
const hours = (h: number) => Math.round(h * 60 * perMinute);

const labels = (l: Record<string, string>) => `{${Object.entries(l).map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
/** `abs(expr - value) < bool eps`: 1 when the KPI is at the expected value (float-safe). */
const near = (expr: string, value: number, eps = 1e-6) => `abs(${expr} - ${value}) < bool ${eps}`;

const rolloutInfo = (name: string, phase: string) =>
  `rollout_info${labels({ namespace: prod.namespace, name, phase, strategy: 'canary', traffic_router: '', job: 'argo-rollouts', pod: 'argo-rollouts-0' })}`;
const rolloutEvents = (name: string, reason: string, pod: string) =>
  `rollout_events_total${labels({ namespace: prod.namespace, name, reason, type: reason === 'RolloutAborted' ? 'Warning' : 'Normal', job: 'argo-rollouts', pod })}`;

function promtool(tests: unknown[], rendered = r) {
  const dir = tempDir('kpi');
  const rules = ruleFile(dir, 'delivery-kpis', rendered);
  // Prometheus evaluates groups independently; promtool's order is random unless given. Signals first.
  const groupEvalOrder = rendered.getOf<PrometheusRuleJson>('monitoring.coreos.com', 'PrometheusRule', 'delivery-kpis', 'monitoring').spec.groups.map((g) => g.name);
  const file = writeYaml(dir, 'kpi.test.yaml', { rule_files: [rules], evaluation_interval: interval, group_eval_order: groupEvalOrder, tests });
  return run('promtool', ['test', 'rules', file]);
}

describe('delivery KPI rules (promtool test rules)', () => {
  it('evaluates at the deployed interval, which the MTTR step assumes', () => {
    expect(interval).toMatch(/^\d+s$/);
    const group = r.getOf<PrometheusRuleJson>('monitoring.coreos.com', 'PrometheusRule', 'delivery-kpis', 'monitoring').spec.groups.find((g) => g.name === 'lms-kpi-30d')!;
    const openSeconds = group.rules.find((x) => x.record === kpiSeries.openSeconds30d)!;
    expect(openSeconds.expr).toContain(`* ${step}`);
  });

  it('deployment success rate counts every completion and abort over 30 days, across a controller restart', () => {
    const total = hours(6);
    const tests = [{
      name: 'deployments',
      interval,
      input_series: [
        // The Rollout exists from the start; the event counters only appear with their first event.
        { series: rolloutInfo('lms-api', 'Healthy'), values: gauge([[1, total]]) },
        {
          series: rolloutEvents('lms-api', 'RolloutCompleted', 'argo-rollouts-0'),
          values: gauge([['_', hours(1)], [1, hours(1)], [2, hours(1)], [3, hours(1.5)], ['stale', 1]]),
        },
        {
          series: rolloutEvents('lms-api', 'RolloutAborted', 'argo-rollouts-0'),
          values: gauge([['_', hours(4)], [1, hours(0.5)], ['stale', 1]]),
        },
        // The controller restarts at 4h30: its counters start over in a new pod.
        { series: rolloutEvents('lms-api', 'RolloutCompleted', 'argo-rollouts-1'), values: gauge([['_', hours(5)], [1, hours(1)]]) },
      ],
      promql_expr_test: [
        { expr: `${kpiSeries.completed30d}{namespace="${prod.namespace}"}`, eval_time: '5h30m', exp_samples: [{ labels: `${kpiSeries.completed30d}${labels({ namespace: prod.namespace })}`, value: 4 }] },
        { expr: `${kpiSeries.aborted30d}{namespace="${prod.namespace}"}`, eval_time: '5h30m', exp_samples: [{ labels: `${kpiSeries.aborted30d}${labels({ namespace: prod.namespace })}`, value: 1 }] },
        { expr: near(`${kpiSeries.successRatio30d}{namespace="${prod.namespace}"}`, 0.8), eval_time: '5h30m', exp_samples: [{ labels: labels({ namespace: prod.namespace }), value: 1 }] },
        // Before any deployment there is no rate at all (0/0), not a perfect one.
        { expr: `${kpiSeries.successRatio30d}{namespace="${prod.namespace}"}`, eval_time: '30m', exp_samples: [] },
        // The first completion counts although its counter series only appears with it.
        { expr: `${kpiSeries.completed30d}{namespace="${prod.namespace}"}`, eval_time: '1h30m', exp_samples: [{ labels: `${kpiSeries.completed30d}${labels({ namespace: prod.namespace })}`, value: 1 }] },
      ],
    }];
    const result = promtool(tests);
    expect(result.status, result.output).toBe(0);
  });

  it('MTTR is the time incidents stay open per recovery; in-cluster release time per deployment', () => {
    const total = hours(5);
    const alertLabels = { alertname: 'SLOErrorBudgetBurn', alertstate: 'firing', severity: 'critical', namespace: prod.namespace, slo: 'api-availability' };
    const tests = [{
      name: 'incidents',
      interval,
      input_series: [
        // A page fires 10 minutes at 2h; a Rollout is aborted for 5 minutes at 3h.
        { series: `ALERTS${labels(alertLabels)}`, values: gauge([['_', hours(2)], [1, hours(10 / 60)], ['stale', 1]]) },
        // A warning is not an incident.
        { series: `ALERTS${labels({ ...alertLabels, severity: 'warning' })}`, values: gauge([['_', hours(2.5)], [1, hours(1)], ['stale', 1]]) },
        { series: rolloutInfo('lms-web', 'Abort'), values: gauge([['_', hours(3)], [1, hours(5 / 60)], ['stale', 1]]) },
        // A release: 10 min progressing, 20 min paused for approval, then healthy and completed.
        // The approval wait is a human's, not delivery time: only the 10 minutes count.
        { series: rolloutInfo('lms-api', 'Progressing'), values: gauge([['_', hours(1)], [1, hours(10 / 60)], ['stale', 1]]) },
        { series: rolloutInfo('lms-api', 'Paused'), values: gauge([['_', hours(1 + 10 / 60)], [1, hours(20 / 60)], ['stale', 1]]) },
        { series: rolloutInfo('lms-api', 'Healthy'), values: gauge([['_', hours(1.5)], [1, total - hours(1.5)]]) },
        { series: rolloutEvents('lms-api', 'RolloutCompleted', 'argo-rollouts-0'), values: gauge([['_', hours(1.5)], [1, total - hours(1.5)]]) },
      ],
      promql_expr_test: [
        { expr: `${kpiSeries.incidentOpen}{namespace="${prod.namespace}"}`, eval_time: '2h5m', exp_samples: [{ labels: `${kpiSeries.incidentOpen}${labels({ namespace: prod.namespace })}`, value: 1 }] },
        { expr: `${kpiSeries.incidentOpen}{namespace="${prod.namespace}"}`, eval_time: '2h40m', exp_samples: [{ labels: `${kpiSeries.incidentOpen}${labels({ namespace: prod.namespace })}`, value: 0 }] },
        { expr: `${kpiSeries.incidentOpen}{namespace="${staging.namespace}"}`, eval_time: '2h5m', exp_samples: [{ labels: `${kpiSeries.incidentOpen}${labels({ namespace: staging.namespace })}`, value: 0 }] },
        { expr: `${kpiSeries.recoveries30d}{namespace="${prod.namespace}"}`, eval_time: '4h', exp_samples: [{ labels: `${kpiSeries.recoveries30d}${labels({ namespace: prod.namespace })}`, value: 2 }] },
        { expr: `${kpiSeries.openSeconds30d}{namespace="${prod.namespace}"}`, eval_time: '4h', exp_samples: [{ labels: `${kpiSeries.openSeconds30d}${labels({ namespace: prod.namespace })}`, value: 900 }] },
        { expr: `${kpiSeries.mttrSeconds30d}{namespace="${prod.namespace}"}`, eval_time: '4h', exp_samples: [{ labels: `${kpiSeries.mttrSeconds30d}${labels({ namespace: prod.namespace })}`, value: 450 }] },
        // No recovery in staging: no MTTR (not 0).
        { expr: `${kpiSeries.mttrSeconds30d}{namespace="${staging.namespace}"}`, eval_time: '4h', exp_samples: [] },
        { expr: `${kpiSeries.deployDuration30d}{namespace="${prod.namespace}"}`, eval_time: '4h', exp_samples: [{ labels: `${kpiSeries.deployDuration30d}${labels({ namespace: prod.namespace })}`, value: 600 }] },
      ],
    }];
    const result = promtool(tests);
    expect(result.status, result.output).toBe(0);
  });

  it('release time excludes the wait for approval and inconclusive pauses, but counts timed pause steps', () => {
    // Production with a 2-minute timed pause after the 10 % gate (config steps never hold an indefinite
    // pause; at 10 % an abort needs no new stable pods, so the guard's verdict time fits abortWithin there).
    const steps = [{ setWeight: 10 }, { analysis: true }, { pause: { duration: '2m' } }, { setWeight: 25 }, { analysis: true }, { setWeight: 50 }, { analysis: true }, { setWeight: 100 }];
    const withPause = renderAll({ environments: { production: { canary: { steps } } } });
    const total = hours(8);
    const m = (minutes: number) => hours(minutes / 60);
    const tests = [{
      name: 'release time',
      interval,
      input_series: [
        // Release 1 at 1h: 6 min progressing, 3 h waiting for approval, 8 min progressing (its timed
        // pause shows as Paused, and counts at its configured 2 minutes), completed at 4h14.
        // Release 2 at 5h14: 10 min progressing, 30 min paused on an inconclusive analysis, 4 min
        // progressing, completed at 5h58.
        { series: rolloutInfo('lms-api', 'Progressing'), values: gauge([['_', m(60)], [1, m(6)], ['_', m(180)], [1, m(8)], ['_', m(60)], [1, m(10)], ['_', m(30)], [1, m(4)], ['stale', 1]]) },
        { series: rolloutInfo('lms-api', 'Paused'), values: gauge([['_', m(66)], [1, m(180)], ['_', m(8 + 60 + 10)], [1, m(30)], ['stale', 1]]) },
        { series: rolloutInfo('lms-api', 'Healthy'), values: gauge([[1, m(60)], ['_', m(194)], [1, m(60)], ['_', m(44)], [1, total - m(358)]]) },
        { series: rolloutEvents('lms-api', 'RolloutCompleted', 'argo-rollouts-0'), values: gauge([['_', m(254)], [1, m(104)], [2, total - m(358)]]) },
      ],
      promql_expr_test: [
        // (6 + 8 + 10 + 4) min progressing over 2 completed releases, plus 2 min of timed pause each;
        // the 3.5 hours of pauses for a human do not count.
        { expr: near(`${kpiSeries.deployDuration30d}{namespace="${prod.namespace}"}`, (28 * 60) / 2 + 120), eval_time: '7h', exp_samples: [{ labels: labels({ namespace: prod.namespace }), value: 1 }] },
      ],
    }];
    expect(timedPauseSeconds(withPause.config.environments.production)).toBe(120);
    expect(timedPauseSeconds(prod)).toBe(0);
    const result = promtool(tests, withPause);
    expect(result.status, result.output).toBe(0);
  });

  it('requests per second, p95 at the ingress and cost per active user', () => {
    const total = hours(1);
    const service = traefikServiceLabel(prod.namespace, canaryServiceNames('lms-api').stable, servicePort);
    const perSample = 300; // 10 requests per second at a 30 s interval
    const http = { service, code: '200', method: 'GET', protocol: T.httpProtocol };
    // 60 % under 100 ms, 90 % under 300 ms, all under 1.2 s: p95 = 0.3 + 0.9 * (0.95 - 0.9) / 0.1 = 0.75 s.
    const buckets: [string, number][] = [['0.1', 0.6], ['0.3', 0.9], ['1.2', 1], ['5.0', 1], ['+Inf', 1]];
    const monthly = costReport(config.cluster.cost, 1).totalUsd;
    const users = 250;
    const tests = [{
      name: 'traffic and cost',
      interval,
      input_series: [
        { series: `${T.requestsTotal}${labels(http)}`, values: counter([{ samples: total, inc: perSample }]) },
        ...buckets.map(([le, share]) => ({ series: `${T.requestDurationBucket}${labels({ ...http, le })}`, values: counter([{ samples: total, inc: perSample * share }]) })),
        // WebSocket upgrades last minutes; they must not count towards p95.
        { series: `${T.requestDurationBucket}${labels({ ...http, protocol: 'websocket', le: '+Inf' })}`, values: counter([{ samples: total, inc: 100 }]) },
        ...['lms-api-a', 'lms-api-b'].map((pod) => ({ series: `${config.cluster.cost.activeUsersMetric}${labels({ namespace: prod.namespace, pod })}`, values: gauge([[users, total]]) })),
      ],
      promql_expr_test: [
        { expr: near(`${kpiSeries.requestRate}{namespace="${prod.namespace}", service="lms-api"}`, 10), eval_time: '30m', exp_samples: [{ labels: labels({ environment: prod.name, namespace: prod.namespace, service: 'lms-api' }), value: 1 }] },
        { expr: near(`${kpiSeries.p95}{namespace="${prod.namespace}", service="lms-api"}`, 0.75), eval_time: '30m', exp_samples: [{ labels: labels({ environment: prod.name, namespace: prod.namespace, service: 'lms-api' }), value: 1 }] },
        { expr: kpiSeries.monthlyCost, eval_time: '30m', exp_samples: [{ labels: kpiSeries.monthlyCost, value: monthly }] },
        { expr: near(`${kpiSeries.costPerActiveUser}`, monthly / users), eval_time: '30m', exp_samples: [{ labels: labels({ environment: prod.name, namespace: prod.namespace }), value: 1 }] },
        { expr: `${kpiSeries.activeUsers}{namespace="${prod.namespace}"}`, eval_time: '30m', exp_samples: [{ labels: `${kpiSeries.activeUsers}${labels({ environment: prod.name, namespace: prod.namespace })}`, value: users }] },
      ],
    }];
    expect(monthly).toBeGreaterThan(0);
    const result = promtool(tests);
    expect(result.status, result.output).toBe(0);
  });
});
