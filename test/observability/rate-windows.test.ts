/**
 * Every range a recording or alerting rule or a canary analysis reads spans at least 4 intervals
 * of the series it reads (rateWindowScrapes; Prometheus guidance: with 4 scrapes in a window, one
 * missed scrape still leaves rate() its two samples). The interval of a series:
 * - Traefik's (`traefik_*`): the Traefik PodMonitor's, as rendered;
 * - any other scraped series: the longest interval a PodMonitor, ServiceMonitor or the global
 *   Prometheus config sets (conservative: every exporter is at most that slow);
 * - a recorded series (a name with `:`) and `ALERTS`: the evaluation interval of the group that
 *   writes it.
 * Ranges are found with Prometheus' own lezer grammar, in matrix selectors and subqueries.
 */
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { rateWindowScrapes } from '../../charts-ts/config/sections/apps.ts';
import type { MonitorJson } from '../support/kinds.ts';
import { analysisQueries, metricNames, rendered, renderedRules } from './support.ts';

const r = rendered();
const config = r.config;

/** Seconds in a Prometheus duration ("5m", "1h30m", "30d"). */
function seconds(d: string): number {
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  const parts = [...d.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== d) throw new Error(`"${d}" is not a Prometheus duration`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]], 0);
}

interface Range { readonly metric: string; readonly range: string }

/** The range of every matrix selector in `expr`, with the metric it reads. */
function ranges(expr: string): Range[] {
  const out: Range[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.name !== 'MatrixSelector') return;
      const selector = node.node.getChild('VectorSelector');
      const duration = node.node.getChild('DurationExpr');
      if (!selector || !duration) return;
      for (const metric of metricNames(expr.slice(selector.from, selector.to))) out.push({ metric, range: expr.slice(duration.from, duration.to) });
    },
  });
  return out;
}

const monitors = [...r.findOf<MonitorJson>('monitoring.coreos.com', 'PodMonitor'), ...r.findOf<MonitorJson>('monitoring.coreos.com', 'ServiceMonitor')];
const endpointIntervals = monitors.flatMap((m) => (m.spec.podMetricsEndpoints ?? m.spec.endpoints ?? []).map((e) => e.interval).filter(Boolean) as string[]);
const traefikInterval = seconds(r.getOf<MonitorJson>('monitoring.coreos.com', 'PodMonitor', 'traefik', 'kube-system').spec.podMetricsEndpoints![0].interval!);
const scrapeInterval = Math.max(seconds(config.cluster.observability.prometheus.scrapeInterval), ...endpointIntervals.map(seconds));
const evaluationInterval = seconds(config.cluster.observability.prometheus.evaluationInterval);

const rules = renderedRules().flatMap((f) => f.groups.flatMap((g) => g.rules.map((x) => ({
  where: `PrometheusRule ${f.name}/${g.name}/${x.record ?? x.alert}`,
  expr: String(x.expr),
  record: x.record as string | undefined,
  interval: g.interval ? seconds(g.interval) : evaluationInterval,
}))));
/** How often each recorded series gets a sample. */
const recordedEvery = new Map(rules.filter((x) => x.record).map((x) => [x.record!, x.interval]));

function intervalOf(metric: string): number {
  if (metric.includes(':')) {
    const every = recordedEvery.get(metric);
    if (every === undefined) throw new Error(`${metric} is read but no rule records it`);
    return every;
  }
  if (metric === 'ALERTS' || metric === 'ALERTS_FOR_STATE') return evaluationInterval;
  return metric.startsWith('traefik_') ? traefikInterval : scrapeInterval;
}

/** Ranges shorter than rateWindowScrapes intervals of their series, as readable lines. */
function tooShort(exprs: { where: string; expr: string }[]): string[] {
  return exprs.flatMap((x) => ranges(x.expr)
    .filter((g) => seconds(g.range) < rateWindowScrapes * intervalOf(g.metric))
    .map((g) => `${x.where}: ${g.metric}[${g.range}] spans fewer than ${rateWindowScrapes} x ${intervalOf(g.metric)}s`));
}

describe('rate windows span at least 4 intervals of the series they read', () => {
  it('finds the ranges of the rules and analyses (the check has something to check)', () => {
    expect(rules.length).toBeGreaterThan(50);
    expect(analysisQueries().length).toBeGreaterThanOrEqual(8);
    expect(ranges('sum(rate(a{x="y"}[5m])) / sum_over_time(b:c[30d]) + max_over_time(rate(d[1m])[10m:1m])'))
      .toEqual([{ metric: 'a', range: '5m' }, { metric: 'b:c', range: '30d' }, { metric: 'd', range: '1m' }]);
    expect(traefikInterval).toBe(seconds(config.cluster.platform.traefik.scrapeInterval));
  });

  it('in every PrometheusRule', () => {
    expect(tooShort(rules)).toEqual([]);
  });

  it('in every canary analysis query', () => {
    expect(tooShort(analysisQueries())).toEqual([]);
  });

  it('flags a window of fewer scrapes (the check bites)', () => {
    expect(tooShort([{ where: 'x', expr: `rate(traefik_service_requests_total[${rateWindowScrapes * traefikInterval - 1}s])` }])).toHaveLength(1);
    expect(tooShort([{ where: 'x', expr: `rate(node_cpu_seconds_total[${2 * scrapeInterval}s])` }])).toHaveLength(1);
    expect(tooShort([{ where: 'x', expr: `sum_over_time(slo:sli_good:rate5m[${rateWindowScrapes * intervalOf('slo:sli_good:rate5m') - 1}s])` }])).toHaveLength(1);
  });
});
