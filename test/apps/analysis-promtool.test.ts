/**
 * The canary analysis, end to end with the real tools:
 * 1. every query is taken from the rendered AnalysisTemplates (what Flux applies), written as a
 *    recording rule, and `promtool test rules` evaluates it on synthetic Traefik series (service
 *    and router level): healthy, 5xx-heavy, only-5xx, slow, exactly-at-threshold, no traffic, too
 *    little traffic, long-lived WebSocket requests, a stable side that is failing (which the canary
 *    query must ignore), and a canary without a ready pod whose share Traefik answers with 503
 *    "no available server" (seen only by the router series);
 * 2. the values promtool confirmed go through Argo Rollouts' own condition evaluator (argo-eval)
 *    with the templates' success/failure conditions: pass, fail, or inconclusive (not a pass);
 * 3. a timeline: a bad canary's measurements, at the worst scrape alignment, fail within the
 *    configured abort budget (docs/delivery.md "Abort arithmetic"), whether or not its Traefik
 *    series existed before it got traffic.
 */
import { describe, expect, it } from 'vitest';
import { analysisTemplateNames } from '../../charts-ts/apps/analysis.ts';
import { analysisRecordNames, canaryTraefikLabels, traefikMetrics as T } from '../../charts-ts/apps/metrics.ts';
import { durationSeconds, worstCaseAbortSeconds } from '../../charts-ts/config/sections/apps.ts';
import type { Environment } from '../../charts-ts/config/schema.ts';
import { names } from '../../charts-ts/lib/names.ts';
import type { AnalysisTemplateJson } from '../support/kinds.ts';
import { argoPhases, environments, rendered, run, tempDir, writeYaml } from './support.ts';

type MetricKey = 'successRate' | 'latencyP95';
const metricNames: Record<MetricKey, string> = { successRate: 'success-rate', latencyP95: 'latency-p95' };

interface Conditions { successCondition?: string; failureCondition?: string }
interface Target {
  readonly env: Environment;
  readonly app: string;
  /** Traefik service label of the canary (and of the stable side, for noise). */
  readonly canary: string;
  readonly stable: string;
  /** The weighted TraefikService, as its routers' series carry it. */
  readonly router: string;
  /** The probe's TraefikService, as the probe route's router series carry it. */
  readonly probeRouter: string;
  readonly queries: Record<MetricKey, string>;
  /** The guard template's queries (must equal the gate's). */
  readonly guardQueries: Record<MetricKey, string>;
  readonly gate: Record<MetricKey, Conditions>;
  readonly guard: Record<MetricKey, Conditions>;
}

const r = rendered();

/** Every canaried app of every environment, with its queries and conditions as rendered. */
function targets(): Target[] {
  return environments(r).flatMap((env) => [names.apps.api, names.apps.web].map((app) => {
    const t = analysisTemplateNames(app);
    const gate = r.getOf<AnalysisTemplateJson>('argoproj.io', 'AnalysisTemplate', t.gate, env.namespace);
    const guard = r.getOf<AnalysisTemplateJson>('argoproj.io', 'AnalysisTemplate', t.guard, env.namespace);
    const metric = (tpl: AnalysisTemplateJson, key: MetricKey) => tpl.spec.metrics.find((m) => m.name === metricNames[key])!;
    const conditions = (tpl: AnalysisTemplateJson, key: MetricKey): Conditions => ({ successCondition: metric(tpl, key).successCondition, failureCondition: metric(tpl, key).failureCondition });
    return {
      env, app,
      ...canaryTraefikLabels(env.namespace, app),
      queries: { successRate: metric(gate, 'successRate').provider.prometheus!.query, latencyP95: metric(gate, 'latencyP95').provider.prometheus!.query },
      gate: { successRate: conditions(gate, 'successRate'), latencyP95: conditions(gate, 'latencyP95') },
      guard: { successRate: conditions(guard, 'successRate'), latencyP95: conditions(guard, 'latencyP95') },
      guardQueries: { successRate: metric(guard, 'successRate').provider.prometheus!.query, latencyP95: metric(guard, 'latencyP95').provider.prometheus!.query },
    };
  }));
}

const all = targets();
const analysis = r.config.environments.production.apps.analysis;
/** Traefik is scraped once for the cluster: one interval for every environment's synthetic series. */
const scrape = durationSeconds(analysis.scrapeInterval);
const recordLabels = (t: Target) => ({ env: t.env.name, app: t.app });

/** The recording rules: each rendered query under one name, labelled with its environment and app. */
function ruleFile(dir: string): string {
  return writeYaml(dir, 'canary-analysis.rules.yaml', {
    groups: [{
      name: 'canary-analysis',
      rules: all.flatMap((t) => (Object.keys(analysisRecordNames) as MetricKey[]).map((k) => ({
        record: analysisRecordNames[k], expr: t.queries[k], labels: recordLabels(t),
      }))),
    }],
  });
}

// ------------------------------------------------------------------ synthetic traffic

/** Cumulative share of requests at or under each Traefik bucket bound (+Inf is always 1). */
type Latency = Partial<Record<number, number>>;
const fast: Latency = { 0.1: 1 };
interface Stream { readonly code: string; readonly rps: number; readonly protocol?: string; readonly latency?: Latency }

const le = (b: number) => String(b);
const share = (lat: Latency, bound: number): number => {
  let s = 0;
  for (const b of T.latencyBuckets) if (b <= bound && lat[b] !== undefined) s = lat[b]!;
  return s;
};

/**
 * Counter values for `samples` scrapes of `perScrape` requests each. With `startAt` the traffic
 * starts at that scrape; before it the series is flat at 0 (Traefik had it from an earlier canary)
 * or, with `absentBefore`, does not exist yet (Traefik creates a series with its first request, so
 * after a Traefik restart the canary's series appear only once it gets traffic).
 */
function counterValues(perScrape: number, samples: number, startAt = 0, absentBefore = false): string {
  if (!startAt) return `0+${perScrape}x${samples}`;
  return `${absentBefore ? `_x${startAt}` : `0x${startAt - 1}`} ${perScrape}+${perScrape}x${samples}`;
}

/**
 * Streams with the same code and protocol are one Traefik series: their requests and bucket
 * counts add up (users' and the probe's requests to the canary, for instance).
 */
function merged(streams: readonly Stream[]): { code: string; protocol: string; rps: number; buckets: number[] }[] {
  const out = new Map<string, { code: string; protocol: string; rps: number; buckets: number[] }>();
  for (const s of streams) {
    const protocol = s.protocol ?? T.httpProtocol;
    const key = `${s.code}/${protocol}`;
    const m = out.get(key) ?? { code: s.code, protocol, rps: 0, buckets: T.latencyBuckets.map(() => 0) };
    m.rps += s.rps;
    T.latencyBuckets.forEach((b, i) => { m.buckets[i] += s.rps * share(s.latency ?? fast, b); });
    out.set(key, m);
  }
  return [...out.values()];
}

/**
 * Input series for one Traefik service (or, with `router`, the router series of one route's
 * service): requests counters and duration buckets, `samples` scrapes.
 */
function seriesFor(service: string, streams: readonly Stream[], samples: number, startAt = 0, absentBefore = false, router?: string) {
  const out: { series: string; values: string }[] = [];
  const values = (perScrape: number) => counterValues(perScrape, samples, startAt, absentBefore);
  const [total, bucket] = router ? [T.routerRequestsTotal, T.routerRequestDurationBucket] : [T.requestsTotal, T.requestDurationBucket];
  for (const s of merged(streams)) {
    const labels = (extra: Record<string, string> = {}) => `{${Object.entries({ ...(router ? { router } : {}), service, code: s.code, method: 'GET', protocol: s.protocol, ...extra }).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
    out.push({ series: `${total}${labels()}`, values: values(s.rps * scrape) });
    T.latencyBuckets.forEach((b, i) => out.push({ series: `${bucket}${labels({ le: le(b) })}`, values: values(s.buckets[i] * scrape) }));
    out.push({ series: `${bucket}${labels({ le: '+Inf' })}`, values: values(s.rps * scrape) });
  }
  return out;
}

/** The probe's route: its router series (requests and durations) under the probe's TraefikService. */
const probeRouterName = (t: Target) => `websecure-${t.env.namespace}-${t.app}-canary-probe@kubernetescrd`;

/**
 * Router series of the app's TraefikService: every request of both sides (split over the API's two
 * routes, the auth route and the catch-all), plus `noServer` requests per second that Traefik
 * answered 503 "no available server" itself (no service series records them).
 */
function routerSeriesFor(t: Target, streams: readonly Stream[], noServer: number, samples: number) {
  const routers = ['auth', 'catch-all'].map((r) => `websecure-${t.env.namespace}-${t.app}-${r}@kubernetescrd`);
  const all: Stream[] = [...streams, ...(noServer ? [{ code: T.noServerCode, rps: noServer }] : [])];
  return routers.flatMap((router) => merged(all).map((s) => ({
    series: `${T.routerRequestsTotal}{${Object.entries({ router, service: t.router, code: s.code, method: 'GET', protocol: s.protocol }).map(([k, v]) => `${k}="${v}"`).join(',')}}`,
    values: counterValues((s.rps * scrape) / routers.length, samples),
  })));
}

// ------------------------------------------------------------------ independent expectations

type Settings = typeof analysis;

/**
 * Success rate of the canary's requests (non-5xx share): what its pods served plus the requests
 * Traefik found no canary pod for (`noServer`, all 503); undefined below minRequests.
 */
function expectedSuccessRate(streams: readonly Stream[], a: Settings, noServer = 0, probe: readonly Stream[] = [], probeNoServer = 0): number | undefined {
  const of = (ss: readonly Stream[], ns: number) => {
    const total = ss.reduce((sum, s) => sum + s.rps, 0) + ns;
    const errors = ss.filter((s) => /^5\d\d$/.test(s.code)).reduce((sum, s) => sum + s.rps, 0) + ns;
    return total * durationSeconds(a.window) < a.minRequests ? undefined : 1 - errors / total;
  };
  // Users' requests alone when they are enough; with the probe's otherwise.
  return of(streams, noServer) ?? of([...streams, ...probe], noServer + probeNoServer);
}

/** p95 of the canary's plain-HTTP streams (users' first, as the success rate), by linear interpolation inside the Traefik bucket (as histogram_quantile). */
function expectedLatencyP95(streams: readonly Stream[], a: Settings, probe: readonly Stream[] = []): number | undefined {
  return latencyOf(streams, a) ?? latencyOf([...streams, ...probe], a);
}

function latencyOf(streams: readonly Stream[], a: Settings): number | undefined {
  const http = streams.filter((s) => (s.protocol ?? T.httpProtocol) === T.httpProtocol);
  const total = http.reduce((sum, s) => sum + s.rps, 0);
  if (total * durationSeconds(a.window) < a.minRequests) return undefined;
  const cumulative = T.latencyBuckets.map((b) => http.reduce((sum, s) => sum + s.rps * share(s.latency ?? fast, b), 0));
  const rank = 0.95 * total;
  const i = cumulative.findIndex((c) => c >= rank);
  if (i < 0) return Number.POSITIVE_INFINITY;
  const lower = i === 0 ? 0 : T.latencyBuckets[i - 1];
  const below = i === 0 ? 0 : cumulative[i - 1];
  return lower + (T.latencyBuckets[i] - lower) * ((rank - below) / (cumulative[i] - below));
}

type Verdict = 'pass' | 'fail' | 'none';
interface Scenario {
  readonly name: string;
  readonly canary: readonly Stream[];
  /** The stable side's traffic: noise the canary queries must not see. */
  readonly stable?: readonly Stream[];
  /** Canary requests per second Traefik answers 503 "no available server" (no ready canary pod). */
  readonly noServer?: number;
  /** The synthetic probe's requests the canary's pods served (charts-ts/apps/probe.ts). */
  readonly probe?: readonly Stream[];
  /** The probe's requests per second Traefik answers 503 "no available server". */
  readonly probeNoServer?: number;
  readonly verdict: Record<MetricKey, Verdict>;
}

// The stable pods' own 503s are in the router series too; they must not count as the canary's.
const failingStable: Stream[] = [
  { code: '200', rps: 20, latency: { 5: 1 } },
  { code: '503', rps: 20, latency: { 5: 1 } },
];
const healthyStable: Stream[] = [{ code: '200', rps: 360 }];
/** The lowest rate (rps) that reaches minRequests in some environment. */
const min = Math.min(...environments(r).map((e) => e.apps.analysis.minRequests / durationSeconds(e.apps.analysis.window)));
const threshold = analysis.successRateMin;

const scenarios: Scenario[] = [
  {
    name: 'healthy canary (0.5 % errors, p95 ~210 ms) next to a failing stable side',
    canary: [{ code: '200', rps: 40, latency: { 0.1: 0.9, 0.3: 0.99, 1.2: 1 } }, { code: '500', rps: 0.2 }],
    stable: failingStable,
    verdict: { successRate: 'pass', latencyP95: 'pass' },
  },
  {
    name: '5xx-heavy canary (10 % errors)',
    canary: [{ code: '200', rps: 36 }, { code: '503', rps: 4 }],
    verdict: { successRate: 'fail', latencyP95: 'pass' },
  },
  {
    name: 'canary answering only 5xx (no non-5xx series at all)',
    canary: [{ code: '502', rps: 40 }],
    verdict: { successRate: 'fail', latencyP95: 'pass' },
  },
  {
    name: 'slow canary (p95 1.2 s)',
    canary: [{ code: '200', rps: 40, latency: { 0.1: 0.3, 0.3: 0.6, 1.2: 0.95, 5: 1 } }],
    verdict: { successRate: 'pass', latencyP95: 'fail' },
  },
  {
    name: 'just inside both thresholds (0.9 % errors, 95.5 % within 300 ms)',
    canary: [{ code: '200', rps: 39.64, latency: { 0.1: 0.5, 0.3: 0.955, 1.2: 1 } }, { code: '500', rps: 0.36, latency: { 0.1: 0.5, 0.3: 0.955, 1.2: 1 } }],
    verdict: { successRate: 'pass', latencyP95: 'pass' },
  },
  {
    name: 'just over the error threshold (1.1 % errors)',
    canary: [{ code: '200', rps: 39.56 }, { code: '500', rps: 0.44 }],
    verdict: { successRate: 'fail', latencyP95: 'pass' },
  },
  {
    name: 'just over the latency threshold (94.9 % within 300 ms)',
    canary: [{ code: '200', rps: 40, latency: { 0.1: 0.5, 0.3: 0.949, 1.2: 1 } }],
    verdict: { successRate: 'pass', latencyP95: 'fail' },
  },
  {
    name: 'no traffic yet (series exist, nothing counted)',
    canary: [{ code: '200', rps: 0 }],
    stable: failingStable,
    verdict: { successRate: 'none', latencyP95: 'none' },
  },
  {
    name: 'no series at all',
    canary: [],
    stable: failingStable,
    verdict: { successRate: 'none', latencyP95: 'none' },
  },
  {
    name: 'too little traffic to judge, although every request fails',
    canary: [{ code: '500', rps: min * 0.9, latency: { 5: 1 } }],
    verdict: { successRate: 'none', latencyP95: 'none' },
  },
  {
    name: 'canary without a ready pod: Traefik answers its share with 503 no available server (router series only)',
    canary: [],
    stable: healthyStable,
    noServer: 40,
    verdict: { successRate: 'fail', latencyP95: 'none' },
  },
  {
    name: 'canary losing a pod: 2 % of its share finds no server, the rest is served fine',
    canary: [{ code: '200', rps: 39.2 }],
    stable: healthyStable,
    noServer: 0.8,
    verdict: { successRate: 'fail', latencyP95: 'pass' },
  },
  {
    name: 'too few no-server 503s to judge',
    canary: [],
    stable: healthyStable,
    noServer: min * 0.9,
    verdict: { successRate: 'none', latencyP95: 'none' },
  },
  {
    name: 'long-lived WebSocket and SSE requests do not count as latency',
    canary: [
      { code: '200', rps: 40, latency: { 0.1: 1 } },
      { code: '101', rps: 10, protocol: 'websocket', latency: { 5: 0 } },
      { code: '200', rps: 10, protocol: 'sse', latency: { 5: 0 } },
    ],
    verdict: { successRate: 'pass', latencyP95: 'pass' },
  },
];

/**
 * The traffic an LMS has (docs/delivery.md "Design rates"), at the canary's first weight: requests
 * per second at the origin (Traefik) times the weight reach the canary from users; the probe adds
 * its own where that is not enough for a verdict.
 */
const production = r.config.environments.production;
const firstWeight = (production.canary.steps.find((x) => 'setWeight' in x) as { setWeight: number }).setWeight / 100;
const probeRps = production.apps.probe.requestsPerSecond;
const users = (originRps: number, errorShare = 0, latency?: Latency): Stream[] => [
  { code: '200', rps: originRps * firstWeight * (1 - errorShare), latency },
  ...(errorShare ? [{ code: '500', rps: originRps * firstWeight * errorShare, latency }] : []),
];
const probe = (errorShare = 0): Stream[] => [
  { code: '200', rps: probeRps * (1 - errorShare) },
  ...(errorShare ? [{ code: '500', rps: probeRps * errorShare }] : []),
];
const schoolLatency: Latency = { 0.1: 0.9, 0.3: 0.99, 1.2: 1 };
const slow: Latency = { 0.1: 0.3, 0.3: 0.6, 1.2: 0.95, 5: 1 };

const trafficScenarios: Scenario[] = [
  {
    name: '1 rps at the origin (night) without the probe: 6 users\' requests a minute reach the canary, no verdict',
    canary: users(1),
    stable: healthyStable,
    verdict: { successRate: 'none', latencyP95: 'none' },
  },
  {
    name: '1 rps at the origin (night) with the probe: a healthy canary passes on the probe\'s requests',
    canary: users(1),
    probe: probe(),
    stable: healthyStable,
    verdict: { successRate: 'pass', latencyP95: 'pass' },
  },
  {
    name: '1 rps at the origin (night) with the probe: a canary failing 5 % of every path fails',
    canary: users(1, 0.05),
    probe: probe(0.05),
    stable: healthyStable,
    verdict: { successRate: 'fail', latencyP95: 'pass' },
  },
  {
    name: '1 rps at the origin (night), the canary loses its pods: the probe\'s requests get 503 no available server',
    canary: [],
    probeNoServer: probeRps,
    stable: healthyStable,
    verdict: { successRate: 'fail', latencyP95: 'none' },
  },
  {
    name: '20 rps at the origin (school hours): a healthy canary passes on users\' requests',
    canary: users(20, 0.002, schoolLatency),
    probe: probe(),
    stable: healthyStable,
    verdict: { successRate: 'pass', latencyP95: 'pass' },
  },
  {
    name: '20 rps at the origin (school hours): 2 % of users\' requests fail while the probe\'s paths are fine: users\' requests decide, the probe does not dilute them',
    canary: users(20, 0.02),
    probe: probe(),
    stable: healthyStable,
    verdict: { successRate: 'fail', latencyP95: 'pass' },
  },
  {
    name: '20 rps at the origin (school hours): slow for users (p95 1.2 s), fast for the probe: fails',
    canary: users(20, 0, slow),
    probe: probe(),
    stable: healthyStable,
    verdict: { successRate: 'pass', latencyP95: 'fail' },
  },
  {
    name: '200 rps at the origin (exam peak): a healthy canary passes',
    canary: users(200, 0.002, schoolLatency),
    probe: probe(),
    stable: healthyStable,
    verdict: { successRate: 'pass', latencyP95: 'pass' },
  },
  {
    name: '200 rps at the origin (exam peak): 1.5 % of users\' requests fail',
    canary: users(200, 0.015),
    probe: probe(),
    stable: healthyStable,
    verdict: { successRate: 'fail', latencyP95: 'pass' },
  },
];
scenarios.push(...trafficScenarios);

const evalAt = 300; // seconds; the traffic runs from 0 to 600 s
const samples = 20;
const expected = (s: Scenario, env: Environment): Record<MetricKey, number | undefined> => ({
  successRate: expectedSuccessRate(s.canary, env.apps.analysis, s.noServer, s.probe, s.probeNoServer),
  latencyP95: expectedLatencyP95(s.canary, env.apps.analysis, s.probe),
});

/**
 * A promtool check that `series` has the value `e` at `evalTime` (within 1e-9 relative: rate() and
 * histogram_quantile() round differently from this file's arithmetic), or no value at all.
 */
function valueCheck(series: string, evalTime: string, e: number | undefined) {
  if (e === undefined) return { expr: series, eval_time: evalTime, exp_samples: [] };
  const labels = series.slice(series.indexOf('{'));
  return {
    expr: `abs(${series} - ${e}) <= bool ${Math.max(Math.abs(e), 1) * 1e-9}`,
    eval_time: evalTime,
    exp_samples: [{ labels, value: 1 }],
  };
}

function scenarioTest(s: Scenario) {
  return {
    name: s.name,
    interval: analysis.scrapeInterval,
    input_series: all.flatMap((t) => [
      ...seriesFor(t.canary, [...s.canary, ...(s.probe ?? [])], samples),
      ...seriesFor(t.stable, s.stable ?? [], samples),
      ...routerSeriesFor(t, [...s.canary, ...(s.stable ?? [])], s.noServer ?? 0, samples),
      ...seriesFor(t.probeRouter, [...(s.probe ?? []), ...(s.probeNoServer ? [{ code: T.noServerCode, rps: s.probeNoServer }] : [])], samples, 0, false, probeRouterName(t)),
    ]),
    promql_expr_test: all.flatMap((t) => (Object.keys(analysisRecordNames) as MetricKey[]).map((k) => {
      const e = expected(s, t.env)[k];
      return valueCheck(`${analysisRecordNames[k]}{env="${t.env.name}",app="${t.app}"}`, `${evalAt}s`, e);
    })),
  };
}

describe('canary analysis queries (promtool test rules on the rendered AnalysisTemplates)', () => {
  const dir = tempDir('analysis');
  const rules = ruleFile(dir);

  it('renders one query per metric, shared by the gate and the guard, reading only the canary service', () => {
    expect(all).toHaveLength(2 * environments(r).length);
    for (const env of environments(r)) expect(env.apps.analysis.scrapeInterval).toBe(analysis.scrapeInterval);
    for (const t of all) {
      // The guard judges the gate's query over the last guard.sustain, one point per scrape.
      for (const k of Object.keys(metricNames) as MetricKey[]) {
        expect(t.guardQueries[k]).toContain(t.queries[k]);
        expect(t.guardQueries[k]).toContain(`[${t.env.apps.analysis.guard.sustain}:${t.env.apps.analysis.scrapeInterval}]`);
      }
      for (const q of Object.values(t.queries)) {
        expect(q).toContain(`service="${t.canary}"`);
        expect(q).toContain(`>= ${t.env.apps.analysis.minRequests}`);
        expect(q).toContain(`[${t.env.apps.analysis.window}]`);
      }
      // Latency reads the canary alone; the success rate reads the stable side's series only to
      // subtract the 503s its pods served from the router's (what is left found no server).
      expect(t.queries.latencyP95).not.toContain(t.stable);
      expect(t.queries.latencyP95).not.toContain(`service="${t.router}"`);
      expect(t.queries.successRate).toContain(`${T.routerRequestsTotal}{service=~"${t.router}|${t.probeRouter}",code="503"}`);
      // The probe's route is told apart by its own router series.
      expect(t.queries.successRate).toContain(`${T.routerRequestsTotal}{service="${t.probeRouter}"}`);
      expect(t.queries.latencyP95).toContain(`${T.routerRequestDurationBucket}{service="${t.probeRouter}",protocol="http"}`);
      expect(t.queries.successRate.replaceAll(`service=~"${t.stable}|${t.canary}",code="503"`, '')).not.toContain(t.stable);
    }
    const check = run('promtool', ['check', 'rules', rules]);
    expect(check.status, check.output).toBe(0);
  });

  it.each(scenarios.map((s) => [s.name, s] as const))('%s: promtool confirms the values', (_name, s) => {
    const file = writeYaml(dir, `${s.name.replace(/[^a-z0-9]+/gi, '-')}.test.yaml`, {
      rule_files: [rules],
      evaluation_interval: analysis.scrapeInterval,
      tests: [scenarioTest(s)],
    });
    const result = run('promtool', ['test', 'rules', file]);
    expect(result.status, result.output).toBe(0);
  });

  it('Argo Rollouts turns the confirmed values into the expected verdicts (gate) and only aborts on failures (guard)', () => {
    const cases: { t: Target; s: Scenario; k: MetricKey; mode: 'gate' | 'guard' }[] = [];
    for (const s of scenarios) for (const t of all) for (const k of Object.keys(metricNames) as MetricKey[]) for (const mode of ['gate', 'guard'] as const) cases.push({ t, s, k, mode });
    const phases = argoPhases(cases.map(({ t, s, k, mode }) => {
      const v = expected(s, t.env)[k];
      return { ...t[mode][k], result: v === undefined ? [] : [Number.isFinite(v) ? v : String(v)] };
    }));
    const want: Record<'gate' | 'guard', Record<Verdict, string>> = {
      // Inconclusive: not a pass (the step does not complete) and not a failure (no abort).
      gate: { pass: 'Successful', fail: 'Failed', none: 'Inconclusive' },
      // The guard never advances a step; without data it has no evidence of failure.
      guard: { pass: 'Successful', fail: 'Failed', none: 'Successful' },
    };
    const got = cases.map((c, i) => `${c.s.name} / ${c.t.env.name} ${c.t.app} ${c.k} ${c.mode}: ${phases[i].phase}${phases[i].error ? ` (${phases[i].error})` : ''}`);
    const exp = cases.map((c) => `${c.s.name} / ${c.t.env.name} ${c.t.app} ${c.k} ${c.mode}: ${want[c.mode][c.s.verdict[c.k]]}`);
    expect(got).toEqual(exp);
  });

  it('an empty result is neither a pass nor an error (a bare `result[0] >= x` would error, and errors abort)', () => {
    const t = all[0];
    const [ours, naive, nan] = argoPhases([
      { ...t.gate.successRate, result: [] },
      { successCondition: `result[0] >= ${threshold}`, result: [] },
      { ...t.gate.successRate, result: ['NaN'] },
    ]);
    expect(ours.phase).toBe('Inconclusive');
    expect(naive.phase).toBe('Error');
    expect(nan.phase).toBe('Inconclusive');
  });

  it('a value exactly at a threshold passes; one just past it fails', () => {
    const t = all[0];
    const a = t.env.apps.analysis;
    const phases = argoPhases([
      { ...t.gate.successRate, result: [a.successRateMin] },
      { ...t.gate.successRate, result: [a.successRateMin - 1e-9] },
      { ...t.gate.latencyP95, result: [a.latencyP95MaxSeconds] },
      { ...t.gate.latencyP95, result: [a.latencyP95MaxSeconds + 1e-9] },
      { ...t.gate.latencyP95, result: ['+Inf'] }, // p95 beyond the last finite bucket
    ]).map((p) => p.phase);
    expect(phases).toEqual(['Successful', 'Failed', 'Successful', 'Failed', 'Failed']);
  });

  it.each([0, 7, 14])('at night the first gate of a release is judged from its first measurement: the probe starts when the canary pod is ready, minReadySeconds before the gate (probe starts %is after a scrape)', (offset) => {
    // The probe's requests reach the canary from `start` (the canary pod ready); the setWeight
    // step completes minReadySeconds later and the gate measures initialDelay after that, a second
    // before a scrape would land. Users send 1 request a second at the origin (0.1 at the canary).
    const t = all.find((x) => x.env.name === 'production' && x.app === names.apps.api)!;
    const minReady = t.env.apps.lifecycle.minReadySeconds;
    const start = 10 * scrape + offset;
    const measurement = start + minReady + durationSeconds(t.env.apps.analysis.initialDelay) - 1;
    // Per scrape interval (k - 1, k]: the probe's requests sent in it.
    const perScrape = (k: number) => Math.max(0, Math.min(k * scrape, measurement + scrape) - Math.max((k - 1) * scrape, start)) * probeRps;
    const values = (rps: (k: number) => number) => {
      let v = 0;
      return Array.from({ length: samples + 1 }, (_, k) => { v += k ? rps(k) : 0; return String(Number(v.toFixed(6))); }).join(' ');
    };
    const labels = (l: Record<string, string>) => `{${Object.entries(l).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
    const base = { code: '200', method: 'GET', protocol: T.httpProtocol };
    const user = users(1)[0].rps * scrape;
    const file = writeYaml(dir, `first-gate-${offset}.test.yaml`, {
      rule_files: [rules],
      evaluation_interval: '1s',
      tests: [{
        name: 'first gate at night',
        interval: analysis.scrapeInterval,
        input_series: [
          { series: `${T.requestsTotal}${labels({ service: t.canary, ...base })}`, values: values((k) => perScrape(k) + user) },
          { series: `${T.routerRequestsTotal}${labels({ router: 'probe', service: t.probeRouter, ...base })}`, values: values(perScrape) },
        ],
        // A value (the probe's 4/s make the minimum), and it is the success rate of all of them.
        promql_expr_test: [valueCheck(`${analysisRecordNames.successRate}{env="${t.env.name}",app="${t.app}"}`, `${measurement}s`, 1)],
      }],
    });
    const result = run('promtool', ['test', 'rules', file]);
    expect(result.status, result.output).toBe(0);
  });

  it.each([
    ['existed before (flat since an earlier canary)', false],
    ['appear with the first canary request (Traefik restarted since)', true],
  ] as const)('aborts a bad canary within the abort budget, at the worst scrape alignment, when its series %s', (_name, absentBefore) => {
    // Traffic (10 % errors) starts right after a scrape at t0; measurements come every interval
    // from initialDelay on, each a second before a scrape would have landed (worst alignment).
    const t0 = 10 * scrape;
    const bad: Stream[] = [{ code: '200', rps: 36 }, { code: '503', rps: 4 }];
    const interval = durationSeconds(analysis.interval);
    const measurements = Array.from({ length: analysis.gate.count }, (_, i) => t0 + durationSeconds(analysis.initialDelay) + i * interval - 1);
    const t = all.find((x) => x.env.name === 'production' && x.app === names.apps.api)!;
    const successRate = expectedSuccessRate(bad, t.env.apps.analysis)!;
    // rate() needs two samples: one scrape after t0 when the series was there before, two when
    // the first canary request created it.
    const seen = (at: number) => Math.floor((at - t0) / scrape) >= (absentBefore ? 2 : 1);
    const file = writeYaml(dir, `timeline-${absentBefore ? 'new' : 'existing'}.test.yaml`, {
      rule_files: [rules],
      evaluation_interval: '1s',
      tests: [{
        name: 'timeline',
        interval: analysis.scrapeInterval,
        input_series: seriesFor(t.canary, bad, samples, t0 / scrape + 1, absentBefore),
        promql_expr_test: measurements.map((at) =>
          valueCheck(`${analysisRecordNames.successRate}{env="${t.env.name}",app="${t.app}"}`, `${at}s`, seen(at) ? successRate : undefined)),
      }],
    });
    const result = run('promtool', ['test', 'rules', file]);
    expect(result.status, result.output).toBe(0);

    // Argo Rollouts' phases for those measurements, then its rule: the metric fails once failed
    // measurements exceed failureLimit (analysis/analysis.go assessMetricFailureInconclusiveOrError).
    const phases = argoPhases(measurements.map((at) => ({ ...t.gate.successRate, result: seen(at) ? [successRate] : [] })));
    let failed = 0;
    let abortedAt: number | undefined;
    phases.forEach((p, i) => {
      if (p.phase === 'Failed') failed++;
      if (abortedAt === undefined && failed > analysis.gate.failureLimit) abortedAt = measurements[i];
    });
    // Nothing to rate yet is not a verdict.
    expect(phases.map((p) => p.phase)).toEqual(measurements.map((at) => (seen(at) ? 'Failed' : 'Inconclusive')));
    expect(abortedAt).toBeDefined();
    const controllers = durationSeconds(analysis.controllerLatency);
    expect(abortedAt! - t0 + controllers).toBeLessThanOrEqual(worstCaseAbortSeconds(analysis, analysis.gate.failureLimit));
    expect(abortedAt! - t0 + controllers).toBeLessThanOrEqual(durationSeconds(analysis.abortWithin));
  });
});
