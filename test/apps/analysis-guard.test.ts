/**
 * The guard (background analysis) through a long wait for approval, issue 16 item 2:
 *
 * 1. promtool runs the rendered guard queries of the production API over 24 hours of a school day
 *    at the canary's approval weight: users' traffic from 1 request a second at night to 200 at an
 *    exam, the probe's 4 a second, and realistic noise: baseline errors, error bursts of a canary
 *    pod restart (15 and 30 s), noisy minutes just over the threshold, a database failover that
 *    hits both sides (at night and at the exam peak), shared slowness, missed scrapes, a Traefik
 *    restart (counters reset) and a 10-minute Prometheus outage. The guard's value never crosses its
 *    failure condition. The same day with a real regression (errors at 13:00, at night, latency in
 *    the evening) crosses it within the abort budget.
 * 2. Argo Rollouts' measurement arithmetic (analysis/analysis.go: failed > failureLimit,
 *    consecutiveErrors > consecutiveErrorLimit, errors retried after 10 s) runs over the generated
 *    guard template: the healthy day is never aborted, the regression is aborted within
 *    abortWithin, and a Prometheus outage has its documented outcome. The template Argo Rollouts
 *    had before (failureLimit 2, consecutiveErrorLimit 4, instantaneous query) is aborted by the
 *    same healthy day, by noise alone.
 */
import { describe, expect, it } from 'vitest';
import { analysisTemplateNames, stableEvidence } from '../../charts-ts/apps/analysis.ts';
import { canaryTraefikLabels, guardRecordNames, traefikMetrics as T } from '../../charts-ts/apps/metrics.ts';
import { argoErrorRetrySeconds, durationSeconds, guardPoints, worstCaseGuardAbortSeconds } from '../../charts-ts/config/sections/apps.ts';
import { names } from '../../charts-ts/lib/names.ts';
import type { AnalysisMetricJson, AnalysisTemplateJson } from '../support/kinds.ts';
import { argoPhases, rendered, run, tempDir, writeYaml } from './support.ts';

const r = rendered();
const env = r.config.environments.production;
const a = env.apps.analysis;
const app = names.apps.api;
const labels = canaryTraefikLabels(env.namespace, app);
const tpl = (name: string) => r.getOf<AnalysisTemplateJson>('argoproj.io', 'AnalysisTemplate', name, env.namespace);
const guardTemplate = tpl(analysisTemplateNames(app).guard);
const gateTemplate = tpl(analysisTemplateNames(app).gate);
const metric = (t: AnalysisTemplateJson, name: string) => t.spec.metrics.find((m) => m.name === name)!;

const scrape = durationSeconds(a.scrapeInterval);
const day = 24 * 3600;
const samples = day / scrape;
const hour = 3600;
const at = (h: number, m = 0, s = 0) => h * hour + m * 60 + s;

// ------------------------------------------------------------------ the day

const weight = (env.canary.steps.find((x) => 'setWeight' in x) as { setWeight: number }).setWeight / 100;
const probeRps = env.apps.probe.requestsPerSecond;

/** Requests per second at the origin (Traefik) for this API, by time of day (docs/delivery.md "Design rates"). */
export function originRps(t: number): number {
  const h = t / hour;
  if (h >= 10 && h < 10.5) return 200; // exam start
  if (h >= 8 && h < 15) return 20; // school hours
  if (h >= 7 && h < 8) return 10;
  if (h >= 15 && h < 18) return 10; // homework
  if (h >= 18 && h < 22) return 5;
  return 1; // night
}

type Latency = readonly number[]; // cumulative share at each Traefik bucket (0.1, 0.3, 1.2, 5)
const usersLatency: Latency = [0.9, 0.99, 1, 1];
const fastLatency: Latency = [1, 1, 1, 1];
const slowLatency: Latency = [0.3, 0.6, 0.95, 1];

interface Side { rps: number; errorShare: number; latency: Latency }
interface Interval { users: Side; probe: Side; stable: Side }

interface Event { from: number; to: number; what: (i: Interval) => Interval; label: string }
const window = (from: number, seconds: number) => ({ from, to: from + seconds });
const both = (f: (s: Side) => Side) => (i: Interval): Interval => ({ users: f(i.users), probe: f(i.probe), stable: f(i.stable) });
const canaryOnly = (f: (s: Side) => Side) => (i: Interval): Interval => ({ ...i, users: f(i.users), probe: f(i.probe) });
const failing = (share: number) => (s: Side): Side => ({ ...s, errorShare: share });
const slowing = (s: Side): Side => ({ ...s, latency: slowLatency });

/** Noise a healthy canary meets in a day; none of it is the canary's fault for 90 s. */
const noise: Event[] = [
  // A canary pod restarts: every canary request fails for one scrape interval (15 s), six times a day, and once for two (30 s).
  ...[at(2, 13), at(9, 41), at(11, 7), at(13, 29), at(16, 52), at(20, 18)].map((t) => ({ ...window(t, 15), what: canaryOnly(failing(1)), label: 'canary pod restart (15 s)' })),
  { ...window(at(14, 5), 30), what: canaryOnly(failing(1)), label: 'canary pod restart (30 s)' },
  // A noisy minute just over the threshold (client aborts turned 502), every 47 minutes.
  ...Array.from({ length: 30 }, (_, i) => at(0, 20 + 47 * i)).filter((t) => t < day - 120).map((t) => ({ ...window(t, 60), what: canaryOnly(failing(0.015)), label: 'noisy minute (1.5 % errors)' })),
  // PostgreSQL fails over: both sides fail for 90 s, at night and at the exam peak.
  { ...window(at(3, 40), 90), what: both(failing(1)), label: 'database failover at night' },
  { ...window(at(10, 12), 90), what: both(failing(0.3)), label: 'database failover at the exam peak' },
  // Cold caches after the morning scale-up: both sides slow for 3 minutes.
  { ...window(at(8, 5), 180), what: both(slowing), label: 'shared slowness' },
  // A canary-only latency spike of one scrape interval.
  { ...window(at(15, 30), 15), what: canaryOnly(slowing), label: 'canary GC pause (15 s)' },
];

/** Samples Prometheus does not have: a 10-minute outage, and a missed scrape every 97 minutes. */
const missing = (k: number): boolean => {
  const t = k * scrape;
  return (t >= at(5, 0) && t < at(5, 10)) || (k % Math.round((97 * 60) / scrape) === 17);
};
/** Traefik restarts at 04:20 (a k3s upgrade): every counter starts again from 0. */
const traefikRestart = at(4, 20);

function healthyInterval(t: number): Interval {
  const o = originRps(t);
  return {
    users: { rps: o * weight, errorShare: 0.003, latency: usersLatency },
    probe: { rps: probeRps, errorShare: 0, latency: fastLatency },
    stable: { rps: o * (1 - weight), errorShare: 0.003, latency: usersLatency },
  };
}

/** The traffic of the interval ending at sample k, with the events active in it. */
function interval(k: number, events: readonly Event[]): Interval {
  const t = k * scrape; // the interval (t - scrape, t]
  return events.filter((e) => e.from < t && t - scrape < e.to).reduce((i, e) => e.what(i), healthyInterval(t));
}

// ------------------------------------------------------------------ promtool series

const labelText = (l: Record<string, string>) => `{${Object.entries(l).map(([k, v]) => `${k}="${v}"`).join(',')}}`;

/** Counter values (null = missing sample) in promtool's expanding notation. */
function notation(values: readonly (number | null)[]): string {
  const out: string[] = [];
  const round = (x: number) => Number(x.toFixed(6));
  let i = 0;
  while (i < values.length) {
    const v = values[i];
    if (v === null) {
      let n = 0;
      while (i < values.length && values[i] === null) { n++; i++; }
      out.push(`_x${n}`);
      continue;
    }
    let n = 0;
    const d = i + 1 < values.length && values[i + 1] !== null ? round(values[i + 1]! - v) : 0;
    while (i + n + 1 < values.length && values[i + n + 1] !== null && round(values[i + n + 1]! - values[i + n]!) === d) n++;
    out.push(n === 0 ? `${round(v)}` : `${round(v)}+${d}x${n}`);
    i += n + 1;
  }
  return out.join(' ');
}

interface Series { series: string; values: string }

/** The Traefik series of the day from `from` (sample 0) to `to`: canary and stable services, the probe's router. */
function daySeries(events: readonly Event[], from = 0, to = day): Series[] {
  const kinds = {
    canary: { metric: [T.requestsTotal, T.requestDurationBucket], base: { service: labels.canary } },
    stable: { metric: [T.requestsTotal, T.requestDurationBucket], base: { service: labels.stable } },
    probe: { metric: [T.routerRequestsTotal, T.routerRequestDurationBucket], base: { router: `websecure-${env.namespace}-${app}-canary-probe@kubernetescrd`, service: labels.probeRouter } },
  } as const;
  // key -> cumulative value per sample
  const acc = new Map<string, { labels: string; values: (number | null)[]; value: number }>();
  const add = (series: string, k: number, inc: number) => {
    let s = acc.get(series);
    if (!s) { s = { labels: series, values: [], value: 0 }; acc.set(series, s); }
    if (k * scrape === traefikRestart) s.value = 0;
    s.value += inc;
  };
  const sides = (i: Interval): [keyof typeof kinds, Side][] => [
    ['canary', { rps: i.users.rps + i.probe.rps, errorShare: 0, latency: fastLatency }],
    ['stable', i.stable],
    ['probe', i.probe],
  ];
  for (let j = 0; j <= (to - from) / scrape; j++) {
    const k = from / scrape + j;
    const i = interval(k, events);
    for (const [kind, side] of sides(i)) {
      // The canary Service serves users' and the probe's requests: add them per part.
      const parts: Side[] = kind === 'canary' ? [i.users, i.probe] : [side];
      for (const code of ['200', '500']) {
        const base = { ...kinds[kind].base, code, method: 'GET', protocol: T.httpProtocol };
        let requests = 0;
        const buckets = [0, 0, 0, 0];
        for (const p of parts) {
          const n = p.rps * scrape * (code === '500' ? p.errorShare : 1 - p.errorShare);
          requests += n;
          p.latency.forEach((c, b) => { buckets[b] += n * c; });
        }
        add(`${kinds[kind].metric[0]}${labelText(base)}`, k, requests);
        T.latencyBuckets.forEach((b, bi) => add(`${kinds[kind].metric[1]}${labelText({ ...base, le: String(b) })}`, k, buckets[bi]));
        add(`${kinds[kind].metric[1]}${labelText({ ...base, le: '+Inf' })}`, k, requests);
      }
    }
    for (const s of acc.values()) s.values.push(missing(k) ? null : s.value);
  }
  return [...acc.values()].map((s) => ({ series: s.labels, values: notation(s.values) }));
}

// ------------------------------------------------------------------ promtool

const recordLabels = { env: env.name, app };
const guardQuery = (key: 'successRate' | 'latencyP95') => metric(guardTemplate, key === 'successRate' ? 'success-rate' : 'latency-p95').provider.prometheus!.query;
const gateQuery = (key: 'successRate' | 'latencyP95') => metric(gateTemplate, key === 'successRate' ? 'success-rate' : 'latency-p95').provider.prometheus!.query;
const sel = labelText(recordLabels);
/** The guard's failure conditions as PromQL on the recorded values. */
const failing_ = {
  successRate: `${guardRecordNames.successRate}${sel} < ${a.successRateMin}`,
  latencyP95: `${guardRecordNames.latencyP95}${sel} > ${a.latencyP95MaxSeconds}`,
};

function promtool(name: string, events: readonly Event[], checks: { expr: string; eval_time: string; exp_samples: unknown[] }[], from = 0, to = day) {
  const dir = tempDir('guard');
  const rules = writeYaml(dir, 'guard.rules.yaml', {
    groups: [{
      name: 'canary-guard',
      rules: [
        ...(['successRate', 'latencyP95'] as const).map((k) => ({ record: guardRecordNames[k], expr: guardQuery(k), labels: recordLabels })),
        // Where the gate's instantaneous query fails: 1, else 0 (none without enough requests).
        { record: gateFailing, expr: `${gateQuery('successRate')} < bool ${a.successRateMin}`, labels: recordLabels },
      ],
    }],
  });
  const file = writeYaml(dir, `${name}.test.yaml`, {
    rule_files: [rules],
    evaluation_interval: a.scrapeInterval,
    tests: [{ name, interval: a.scrapeInterval, input_series: daySeries(events, from, to), promql_expr_test: checks }],
  });
  return run('promtool', ['test', 'rules', file]);
}

const seconds = (t: number) => `${t}s`;
const gateFailing = 'lms:canary_gate_failing';
const one = [{ labels: '{}', value: 1 }];
const oneOf = [{ labels: labelText(recordLabels), value: 1 }];
/** Over the whole day (recorded every scrape): the guard never had a failing value, and had values at 90 % of the points. */
const dayChecks = [
  { expr: `min_over_time(${guardRecordNames.successRate}${sel}[1d]) >= bool ${a.successRateMin}`, eval_time: '1d', exp_samples: oneOf },
  { expr: `max_over_time(${guardRecordNames.latencyP95}${sel}[1d]) <= bool ${a.latencyP95MaxSeconds}`, eval_time: '1d', exp_samples: oneOf },
  ...Object.values(guardRecordNames).map((rec) => ({ expr: `count_over_time(${rec}${sel}[1d]) >= bool ${Math.round(samples * 0.9)}`, eval_time: '1d', exp_samples: oneOf })),
  // The same noise fails the gate's instantaneous query at many points: a guard counting failed
  // measurements over the day (failureLimit 2) would have aborted.
  { expr: `sum_over_time(${gateFailing}${sel}[1d]) >= bool 30`, eval_time: '1d', exp_samples: oneOf },
];

const regressions: { name: string; start: number; event: (from: number) => Event; check: keyof typeof failing_ }[] = [
  { name: 'errors at 13:03 (school hours, users\' requests decide)', start: at(13, 3), event: (from) => ({ from, to: day, what: canaryOnly(failing(0.1)), label: 'regression' }), check: 'successRate' },
  { name: 'errors at 01:00 (night, the probe\'s requests decide)', start: at(1), event: (from) => ({ from, to: day, what: canaryOnly(failing(0.1)), label: 'regression' }), check: 'successRate' },
  { name: 'latency at 19:00 (evening)', start: at(19), event: (from) => ({ from, to: day, what: canaryOnly(slowing), label: 'regression' }), check: 'latencyP95' },
];


describe('the guard through a 24-hour wait for approval (promtool on the rendered production templates)', () => {
  it('judges the canary over guard.sustain, excused when the stable side fails too', () => {
    for (const k of ['successRate', 'latencyP95'] as const) {
      expect(guardQuery(k)).toContain(gateQuery(k));
      expect(guardQuery(k)).toContain(`[${a.guard.sustain}:${a.scrapeInterval}]) >= ${guardPoints(a)}`);
      expect(guardQuery(k)).toContain(`service="${labels.stable}"`);
      expect(guardQuery(k)).toContain(`>= ${stableEvidence(a)}))`);
    }
    expect(guardPoints(a)).toBe(6);
  });

  it('a healthy canary meets a day of noise and never crosses the failure condition (an instantaneous query would have, many times)', () => {
    const result = promtool('healthy-day', noise, dayChecks);
    expect(result.status, result.output).toBe(0);
  });

  it.each(regressions.map((x) => [x.name, x] as const))('a canary that turns bad during the pause (%s) crosses the failure condition within the budget', (_n, x) => {
    // Bad from the first scrape after `start`: the first window with it ends one scrape later, the
    // guard needs guardPoints of them in a row. (No scrape is missed meanwhile; a missed one adds one.)
    const crosses = x.start + scrape + (guardPoints(a) - 1) * scrape;
    for (let t = x.start; t <= crosses; t += scrape) expect(missing(t / scrape), `a missed scrape at ${t}s`).toBe(false);
    // From 10 minutes before (the day before it is the healthy day above), relative times.
    const from = x.start - 600;
    const result = promtool(`regression-${x.start}`, [...noise.filter((e) => e.to <= x.start), x.event(x.start)], [
      { expr: failing_[x.check], eval_time: seconds(crosses - scrape - from), exp_samples: [] },
      { expr: `count(${failing_[x.check]})`, eval_time: seconds(crosses - from), exp_samples: one },
    ], from, crosses + 60);
    expect(result.status, result.output).toBe(0);
    // Argo Rollouts measures at most one interval later and the controllers act: within the
    // worst case for a series that already existed, and within abortWithin.
    const abort = crosses - x.start + durationSeconds(a.interval) + durationSeconds(a.controllerLatency);
    expect(abort).toBeLessThanOrEqual(worstCaseGuardAbortSeconds(a));
    expect(abort).toBeLessThanOrEqual(durationSeconds(a.abortWithin));
    firstFailure.set(x.name, crosses);
  });
});

// ------------------------------------------------------------------ Argo Rollouts' arithmetic

/** When the guard query first fails, per regression (filled by the promtool tests above). */
const firstFailure = new Map<string, number>();

type Phase = 'Successful' | 'Failed' | 'Inconclusive' | 'Error';
interface MetricSpec { interval?: string; initialDelay?: string; count?: number; failureLimit?: number; inconclusiveLimit?: number; consecutiveErrorLimit?: number }

/**
 * One metric of an AnalysisRun as Argo Rollouts v1.9.1 runs it (analysis/analysis.go): the first
 * measurement after initialDelay, the next `interval` after one finished (10 s after an error,
 * DefaultErrorRetryInterval); the metric is Failed once failed > failureLimit, Inconclusive once
 * inconclusive > inconclusiveLimit, Error once consecutive errors > consecutiveErrorLimit (default
 * 4; reset by any other phase), Successful at count. `phaseAt(t)` is the measurement's phase and
 * how long it takes (a query to a Prometheus that hangs times out after 10 s).
 */
export function runMetric(m: MetricSpec, phaseAt: (t: number) => { phase: Phase; takes?: number }, start: number, end: number): { phase: string; at?: number; measurements: number } {
  let t = start + (m.initialDelay ? durationSeconds(m.initialDelay) : 0);
  let failed = 0;
  let inconclusive = 0;
  let consecutiveErrors = 0;
  let count = 0;
  let measurements = 0;
  const failureLimit = m.failureLimit ?? 0;
  const errorLimit = m.consecutiveErrorLimit ?? 4;
  while (t <= end) {
    const { phase, takes = 0 } = phaseAt(t);
    measurements++;
    const done = t + takes;
    if (phase === 'Error') consecutiveErrors++;
    else {
      consecutiveErrors = 0;
      count++;
      if (phase === 'Failed') failed++;
      if (phase === 'Inconclusive') inconclusive++;
    }
    if (failureLimit >= 0 && failed > failureLimit) return { phase: 'Failed', at: done, measurements };
    if (inconclusive > (m.inconclusiveLimit ?? 0)) return { phase: 'Inconclusive', at: done, measurements };
    if (consecutiveErrors > errorLimit) return { phase: 'Error', at: done, measurements };
    if (m.count !== undefined && count >= m.count) return { phase: 'Successful', at: done, measurements };
    t = done + (phase === 'Error' ? argoErrorRetrySeconds : durationSeconds(m.interval ?? '0s'));
  }
  return { phase: 'Running', measurements };
}

describe('Argo Rollouts\' measurement arithmetic over the generated guard template', () => {
  const guardMetrics = guardTemplate.spec.metrics.filter((m) => m.provider.prometheus);
  const spec = guardMetrics[0] as MetricSpec;
  /** The rollout's 24-hour pause, measured from a start at every alignment of measurements to scrapes. */
  const starts = Array.from({ length: durationSeconds(a.interval) }, (_, i) => i);

  it('reads one schedule for both queries: every interval, no count, failureLimit 0, errors ridden out for prometheusOutage', () => {
    for (const m of guardMetrics) expect({ interval: m.interval, count: m.count, failureLimit: m.failureLimit, consecutiveErrorLimit: m.consecutiveErrorLimit }).toEqual({ interval: spec.interval, count: undefined, failureLimit: 0, consecutiveErrorLimit: spec.consecutiveErrorLimit });
    expect(spec.consecutiveErrorLimit! * argoErrorRetrySeconds).toBeGreaterThanOrEqual(durationSeconds(a.guard.prometheusOutage));
  });

  it('a healthy canary paused 24 hours is not aborted, with the Prometheus outage of the day in it (errors for 10 minutes)', () => {
    // The promtool test above: the guard's query never fails during the day.
    const outage = (t: number) => t >= at(5, 0) && t < at(5, 10);
    for (const start of starts) {
      const run_ = runMetric(spec, (t) => ({ phase: outage(t) ? 'Error' : 'Successful' }), start, start + day);
      expect(run_.phase, `start ${start}s`).toBe('Running');
      expect(run_.measurements).toBeGreaterThan(day / durationSeconds(a.interval));
    }
  });

  it('the template before issue 16 (failureLimit 2, consecutiveErrorLimit 4, an instantaneous query) aborts the same healthy day', () => {
    // Measurements that land in a noise event's bad windows fail an instantaneous query (promtool:
    // the gate's query fails at 30+ points of the day); 3 failed measurements in total abort.
    const bad = noise.filter((e) => e.what(healthyInterval(e.from)).users.errorShare > 1 - a.successRateMin);
    const failsAt = (t: number) => bad.some((e) => t > e.from + scrape && t < e.to + durationSeconds(a.window) - scrape);
    const before = { interval: a.interval, initialDelay: a.initialDelay, failureLimit: 2, consecutiveErrorLimit: 4 };
    const noisy = runMetric(before, (t) => ({ phase: failsAt(t) ? 'Failed' : 'Successful' }), 0, day);
    expect(noisy.phase).toBe('Failed');
    expect(noisy.at!).toBeLessThan(at(12));
    // And a Prometheus restart of a minute (WAL replay) errors it out after 5 errors 10 s apart.
    const restart = runMetric(before, (t) => ({ phase: t >= at(5) && t < at(5, 1) ? 'Error' : 'Successful' }), 0, day);
    expect(restart.phase).toBe('Error');
  });

  it.each([
    ['refuses connections (each error at once)', 0],
    ['hangs (each query times out after 10 s)', 10],
  ])('a Prometheus outage during the pause: shorter than guard.prometheusOutage is ridden out, longer aborts (Prometheus %s)', (_n, takes) => {
    const tolerated = durationSeconds(a.guard.prometheusOutage);
    const from = at(12);
    for (const start of starts) {
      const down = (length: number) => (t: number) => (t >= from && t < from + length ? { phase: 'Error' as const, takes } : { phase: 'Successful' as const });
      expect(runMetric(spec, down(tolerated), start, start + day).phase, `start ${start}s`).toBe('Running');
      const long = runMetric(spec, down(day), start, start + day);
      expect(long.phase).toBe('Error');
      // It errors out no earlier than prometheusOutage after the first error, and no later than
      // twice that plus one interval after Prometheus went away.
      expect(long.at! - from).toBeGreaterThanOrEqual(tolerated);
      expect(long.at! - from).toBeLessThanOrEqual(2 * tolerated + durationSeconds(a.interval) + 20);
    }
  });

  it('a canary that turns bad during the pause is aborted within abortWithin, whatever the measurement alignment', () => {
    expect(firstFailure.size, 'the promtool regression tests ran first').toBeGreaterThan(0);
    for (const [name, crosses] of firstFailure) {
      const regression = regressions.find((x) => x.name === name)!;
      for (const start of starts) {
        const run_ = runMetric(spec, (t) => ({ phase: t >= crosses ? 'Failed' : 'Successful' }), start, start + day);
        expect(run_.phase).toBe('Failed');
        const abort = run_.at! - regression.start + durationSeconds(a.controllerLatency);
        expect(abort, `${name}, start ${start}s`).toBeLessThanOrEqual(durationSeconds(a.abortWithin));
      }
    }
  });

  it('the guard\'s conditions on the guard\'s values: a value outside the threshold fails, none is no evidence (Argo Rollouts\' evaluator)', () => {
    const conditions = (name: string) => ({ failureCondition: metric(guardTemplate, name).failureCondition });
    const phases = argoPhases([
      { ...conditions('success-rate'), result: [] },
      { ...conditions('success-rate'), result: [a.successRateMin] },
      { ...conditions('success-rate'), result: [a.successRateMin - 0.001] },
      { ...conditions('latency-p95'), result: [a.latencyP95MaxSeconds + 0.1] },
    ]).map((p) => p.phase);
    expect(phases).toEqual(['Successful', 'Successful', 'Failed', 'Failed']);
  });

  it('the synthetic-traffic Job never fails the run: a probe that dies is missing evidence, not a verdict', () => {
    const probe = guardTemplate.spec.metrics.find((m) => m.provider.job) as MetricSpec & AnalysisMetricJson;
    expect(probe).toBeDefined();
    expect(runMetric(probe, () => ({ phase: 'Failed' }), 0, day).phase).toBe('Successful');
    expect(runMetric(probe, () => ({ phase: 'Successful' }), 0, day).phase).toBe('Successful');
    // Its Job outlives any approval pause up to probe.maxDuration; Argo Rollouts deletes it with the run.
    expect(probe.provider.job!.spec.activeDeadlineSeconds).toBe(durationSeconds(env.apps.probe.maxDuration));
  });
});
