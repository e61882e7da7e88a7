/**
 * Every SLO alert, run with the real `promtool test rules` against the deployed PrometheusRules on
 * synthetic ingress traffic:
 * - a fast burn (total outage) pages within minutes, the 1h/5m pair first, then 6h/30m;
 * - a slow burn (4x the budget-neutral error rate) opens tickets and never pages;
 * - healthy traffic (0.4x) stays silent;
 * - very low traffic stays silent although half the requests fail (the guard, not the ratio,
 *   silences it: the recorded error ratio is 50 %);
 * - outside the paging environments a fast burn is a ticket;
 * - the error budget remaining is traffic-weighted over the window.
 */
import { describe, expect, it } from 'vitest';
import { canaryServiceNames, servicePort, traefikMetrics as T, traefikServiceLabel } from '../../charts-ts/apps/metrics.ts';
import type { Environment } from '../../charts-ts/config/schema.ts';
import { burnRateAlerts, errorBudget, sloAlertName, sloAlertRules, sloLabels, sloRuleGroup, type SloDefinition } from '../../charts-ts/observability/rules/slo.ts';
import { leLabel } from '../../charts-ts/observability/signals.ts';
import { slosFor } from '../../charts-ts/observability/slos.ts';
import { counter } from './series.ts';
import { rendered, ruleGroupsFile, run, tempDir, writeYaml } from './support.ts';

const r = rendered();
const config = r.config;
const runbookBase = config.cluster.observability.alerts.runbookBaseUrl;

/** Per-minute good and bad requests of one phase. */
interface Traffic { readonly minutes: number; readonly good: number; readonly bad: number }

/** Input series that make `slo` see the given traffic on the stable Service. */
function inputSeries(env: Environment, slo: SloDefinition, phases: readonly Traffic[]) {
  const app = slo.service;
  const service = traefikServiceLabel(env.namespace, canaryServiceNames(app).stable, servicePort);
  const labels = (extra: Record<string, string>) =>
    `{${Object.entries({ service, method: 'GET', protocol: T.httpProtocol, ...extra }).map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
  const series = (pick: (t: Traffic) => number) => counter(phases.map((t) => ({ samples: t.minutes, inc: pick(t) })));
  if (slo.name.endsWith('latency')) {
    const threshold = leLabel(config.cluster.observability.slo.apiLatency.thresholdSeconds);
    return [
      { series: `${T.requestDurationBucket}${labels({ code: '200', le: threshold })}`, values: series((t) => t.good) },
      { series: `${T.requestDuration}_count${labels({ code: '200' })}`, values: series((t) => t.good + t.bad) },
    ];
  }
  return [
    { series: `${T.requestsTotal}${labels({ code: '200' })}`, values: series((t) => t.good) },
    { series: `${T.requestsTotal}${labels({ code: '503' })}`, values: series((t) => t.bad) },
  ];
}

/** The firing burn-rate alerts of `slo` for the given window pairs, exactly as promtool reports them. */
function firing(slo: SloDefinition, longWindows: string[]) {
  return sloAlertRules(slo, runbookBase)
    .filter((a) => longWindows.includes(a.labels.long_window))
    .map((a) => ({ exp_labels: { ...a.labels, ...sloLabels(slo) }, exp_annotations: { ...a.annotations } }));
}

const perMinute = 600;
/** The outage of the fast-burn scenario starts here (minutes), after healthy traffic. */
const outageStart = 120;
const outageMinutes = 150;
const minutes = (d: string) => Number(d.slice(0, -1)) * { m: 1, h: 60, d: 1440 }[d.slice(-1) as 'm' | 'h' | 'd'];

/**
 * When each burn-rate alert of `slo` starts firing in the fast-burn scenario: the first minute both
 * of its windows show an error ratio above factor x budget (a window holds only the data there is),
 * plus its `for`.
 */
function fastBurnFiringMinute(slo: SloDefinition, pair: (typeof burnRateAlerts)[number]): number {
  const threshold = pair.factor * errorBudget(slo.objective);
  const ratio = (window: number, x: number) => Math.min(x, window) / Math.min(window, outageStart + x);
  for (let x = 1; x < outageMinutes; x++) {
    if (ratio(minutes(pair.long), x) > threshold && ratio(minutes(pair.short), x) > threshold) return outageStart + x + minutes(pair.for);
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * Checks for the fast-burn scenario: nothing before the outage; then, one minute after each alert
 * is due, exactly the alerts due by then. Rate extrapolation may move a start by a minute either
 * way, so a check is only made where every other alert is due at least two minutes away.
 */
function fastBurnChecks(slo: SloDefinition) {
  const due = burnRateAlerts.map((p) => ({ long: p.long, at: fastBurnFiringMinute(slo, p) }));
  const end = outageStart + outageMinutes - 1;
  const checks = [{ eval_time: `${outageStart - 1}m`, alertname: sloAlertName, exp_alerts: [] as unknown[] }];
  for (const d of [...due].sort((a, b) => a.at - b.at)) {
    const t = d.at + 1;
    if (t > end || due.some((q) => q !== d && Math.abs(q.at - t) < 2)) continue;
    checks.push({ eval_time: `${t}m`, alertname: sloAlertName, exp_alerts: firing(slo, due.filter((q) => q.at < t).map((q) => q.long)) });
  }
  return { checks, due };
}

const scenarios = (slo: SloDefinition) => {
  const b = errorBudget(slo.objective);
  const steady = (errorShare: number, minutes: number, rate = perMinute): Traffic[] =>
    [{ minutes, good: rate * (1 - errorShare), bad: rate * errorShare }];
  const lowTrafficPerMinute = slo.minRequestsPerHour / 3 / 60;
  return {
    fastBurn: [{ minutes: outageStart, good: perMinute, bad: 0 }, { minutes: outageMinutes, good: 0, bad: perMinute }],
    slowBurn: steady(4 * b, 360),
    healthy: steady(0.4 * b, 360),
    lowTraffic: steady(0.5, 360, lowTrafficPerMinute),
  };
};

function promtoolTest(name: string, ruleFiles: string[], tests: unknown[], evaluationInterval = '1m') {
  const dir = tempDir(name);
  const file = writeYaml(dir, `${name}.test.yaml`, { rule_files: ruleFiles, evaluation_interval: evaluationInterval, tests });
  return run('promtool', ['test', 'rules', file]);
}

const production = config.environments.production;
const staging = config.environments.staging;

describe('SLO burn-rate alerts (promtool test rules)', () => {
  const dir = tempDir('slo');
  /** The deployed rule group of one SLO alone (the others would only cost evaluation time). */
  const rulesOf = (env: Environment, slo: SloDefinition) => ruleGroupsFile(dir, `slo-${env.name}`, [sloRuleGroup(slo, runbookBase).name]);

  it('production pages a fast burn, tickets a slow burn, and stays silent on healthy and very low traffic', () => {
    expect(config.cluster.observability.slo.pagingEnvironments).toContain('production');
    for (const slo of slosFor(config, production)) {
      const s = scenarios(slo);
      const pages = burnRateAlerts.filter((a) => a.kind === 'page').map((a) => a.long);
      const tickets = burnRateAlerts.filter((a) => a.kind === 'ticket').map((a) => a.long);
      expect(firing(slo, pages).every((a) => a.exp_labels.severity === 'critical')).toBe(true);
      expect(firing(slo, tickets).every((a) => a.exp_labels.severity === 'warning')).toBe(true);
      const fast = fastBurnChecks(slo);
      // The 14.4x page is the first alert; with a 99.9 % objective it pages within 5 minutes of a
      // total outage, with a 95 % latency objective once 72 % of the last hour was slow.
      const page = fast.due.find((d) => d.long === '1h')!.at;
      expect(page - outageStart).toBeLessThanOrEqual(slo.objective >= 0.999 ? 5 : 14.4 * errorBudget(slo.objective) * 60 + 5);
      expect(fast.checks.filter((c) => c.exp_alerts.length > 0).length).toBeGreaterThanOrEqual(2);
      const tests = [
        {
          name: `${slo.name}: total outage at ${outageStart}m`,
          interval: '1m',
          input_series: inputSeries(production, slo, s.fastBurn),
          alert_rule_test: fast.checks,
        },
        {
          name: `${slo.name}: slow burn at 4x`,
          interval: '1m',
          input_series: inputSeries(production, slo, s.slowBurn),
          alert_rule_test: [
            { eval_time: '30m', alertname: sloAlertName, exp_alerts: firing(slo, ['1d']) },
            { eval_time: '90m', alertname: sloAlertName, exp_alerts: firing(slo, ['1d', '3d']) },
            { eval_time: '6h', alertname: sloAlertName, exp_alerts: firing(slo, ['1d', '3d']) },
          ],
        },
        {
          name: `${slo.name}: healthy at 0.4x`,
          interval: '1m',
          input_series: inputSeries(production, slo, s.healthy),
          alert_rule_test: ['1h', '3h', '6h'].map((t) => ({ eval_time: t, alertname: sloAlertName, exp_alerts: [] })),
        },
        {
          name: `${slo.name}: half the requests fail at ${slo.minRequestsPerHour / 3} requests per hour`,
          interval: '1m',
          input_series: inputSeries(production, slo, s.lowTraffic),
          alert_rule_test: ['1h', '3h', '6h'].map((t) => ({ eval_time: t, alertname: sloAlertName, exp_alerts: [] })),
          // The ratio itself is bad: only the low-traffic guard keeps the pager quiet.
          promql_expr_test: [{
            expr: `abs(slo:sli_error:ratio_rate1h{slo="${slo.name}"} - 0.5) < bool 0.000001`,
            eval_time: '3h',
            exp_samples: [{ labels: `{${Object.entries(sloLabels(slo)).map(([k, v]) => `${k}="${v}"`).join(', ')}}`, value: 1 }],
          }],
        },
      ];
      const result = promtoolTest(`slo-production-${slo.name}`, [rulesOf(production, slo)], tests);
      expect(result.status, `${slo.name}: ${result.output}`).toBe(0);
      expect(result.output).toMatch(/SUCCESS/);
    }
  });

  it('the test bites: a fast burn that is claimed to stay silent fails', () => {
    const slo = slosFor(config, production)[0];
    const result = promtoolTest('slo-negative', [rulesOf(production, slo)], [{
      interval: '1m',
      input_series: inputSeries(production, slo, scenarios(slo).fastBurn),
      alert_rule_test: [{ eval_time: `${outageStart + 20}m`, alertname: sloAlertName, exp_alerts: [] }],
    }]);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/FAILED/);
  });

  it('outside the paging environments a fast burn opens a ticket, not a page', () => {
    expect(config.cluster.observability.slo.pagingEnvironments).not.toContain('staging');
    // The API availability SLO; the others share the code path.
    const slo = slosFor(config, staging).find((x) => x.name === 'api-availability')!;
    const checks = fastBurnChecks(slo).checks;
    const alerts = checks.flatMap((c) => c.exp_alerts as { exp_labels: { severity: string } }[]);
    expect(alerts.length).toBeGreaterThan(0);
    for (const a of alerts) expect(a.exp_labels.severity).toBe('warning');
    const result = promtoolTest('slo-staging', [rulesOf(staging, slo)], [{
      name: `${slo.name} in staging: total outage`,
      interval: '1m',
      input_series: inputSeries(staging, slo, scenarios(slo).fastBurn),
      alert_rule_test: checks,
    }]);
    expect(result.status, result.output).toBe(0);
  });

  it('records the error budget remaining, weighted by traffic', () => {
    const slo = slosFor(config, production).find((s) => s.name === 'api-availability')!;
    const b = errorBudget(slo.objective);
    const day = 24 * 30; // samples at 2m
    // Day 1: 600 req/min without errors. Day 2: 60 req/min with 1 % errors (per 2-minute sample: twice that).
    const phases: Traffic[] = [{ minutes: day, good: 1200, bad: 0 }, { minutes: day, good: 118.8, bad: 1.2 }];
    const errors = 1.2 * day;
    const total = 1200 * day + 120 * day;
    const remaining = 1 - errors / total / b;
    const sel = `{slo="${slo.name}", namespace="${production.namespace}"}`;
    const near = (expr: string, value: number) => `abs(${expr} - ${value}) < bool 0.01`;
    const labels = `{${Object.entries(sloLabels(slo)).map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
    // At a 2-minute step (a 5m rate still sees two samples) to keep two days of evaluation quick.
    const result = promtoolTest('slo-budget', [rulesOf(production, slo)], [{
      interval: '2m',
      input_series: inputSeries(production, slo, phases),
      promql_expr_test: [
        // Weighted by traffic, day 2's 1 % errors are 0.09 % of the two days (budget left ~0.09);
        // an unweighted mean of the 5m ratios would say 0.5 % and -4 budgets.
        { expr: near(`slo:error_budget_remaining:ratio${sel}`, remaining), eval_time: '2878m', exp_samples: [{ labels, value: 1 }] },
        { expr: `slo:objective:ratio${sel}`, eval_time: '10m', exp_samples: [{ labels: `slo:objective:ratio${labels}`, value: slo.objective }] },
        { expr: `slo:error_budget:ratio${sel}`, eval_time: '10m', exp_samples: [{ labels: `slo:error_budget:ratio${labels}`, value: b }] },
        // One day in, nothing spent.
        { expr: `slo:error_budget_remaining:ratio${sel}`, eval_time: '1438m', exp_samples: [{ labels: `slo:error_budget_remaining:ratio${labels}`, value: 1 }] },
      ],
    }], '2m');
    expect(remaining).toBeGreaterThan(0.05);
    expect(remaining).toBeLessThan(0.15);
    expect(result.status, result.output).toBe(0);
  });
});

describe('SLO definitions', () => {
  it('reject a good/total query without a [$window] placeholder, naming the SLO and the field', () => {
    const slo = { ...slosFor(config, production)[0], good: 'sum(rate(x[5m]))' };
    expect(() => sloAlertRules(slo, runbookBase)).toThrow(/api-availability \(production\): good must contain "\[\$window\]"/);
  });

  it('reject a latency threshold that is not a Traefik bucket', () => {
    const bad = { ...config, cluster: { ...config.cluster, observability: { ...config.cluster.observability, slo: { ...config.cluster.observability.slo, apiLatency: { objective: 0.95, thresholdSeconds: 0.25 } } } } };
    expect(() => slosFor(bad, production)).toThrow(/thresholdSeconds: 0.25 is not a Traefik request-duration bucket/);
  });

  it('cover availability and latency of the API and availability of the web app in every environment', () => {
    for (const env of Object.values(config.environments)) {
      expect(slosFor(config, env).map((s) => `${s.service}/${s.name}`)).toEqual(['lms-api/api-availability', 'lms-api/api-latency', 'lms-web/web-availability']);
    }
  });
});
