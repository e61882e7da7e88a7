/**
 * k6 load and smoke tests for the LMS, run by GitHub Actions (k6 runs TypeScript natively):
 *
 *   k6 run --env SCENARIO=smoke --env WEB_URL=https://staging.lms.example.com \
 *          --env API_URL=https://staging-api.lms.example.com load/lms.ts
 *
 * - `canary` (deploy.yml, in the background while staging rolls out): steady synthetic traffic so
 *   the canary analysis has requests to judge (staging has no users; without traffic its analysis
 *   is inconclusive and the rollout pauses, docs/delivery.md). Stopped once staging is Healthy.
 * - `smoke` (deploy.yml, after every staging rollout): a few users for 30 s; proves the release
 *   serves pages and answers API calls before production is offered for approval.
 * - `load` (load-test.yml): the epic's throughput KPI, a constant arrival rate of 500 requests/s
 *   for 5 minutes with p(95) < 300 ms and < 1 % errors.
 *
 * A failed threshold makes k6 exit non-zero (99), which fails the job. `API_PATHS` (comma-separated)
 * sets the API requests in the mix (default the API's
 * /health/live); point it at representative read endpoints for the KPI run.
 */
import { check } from 'k6';
import http from 'k6/http';
import type { Options, Scenario } from 'k6/options';

export const scenarios = {
  canary: {
    executor: 'constant-arrival-rate',
    // Each app's canary must see apps.analysis.minRequests (100) requests a minute at the first
    // staging weight; checked by test/delivery/load.test.ts.
    rate: 40,
    timeUnit: '1s',
    // Upper bound; the workflow stops it when the Rollouts are Healthy.
    duration: '20m',
    preAllocatedVUs: 20,
    maxVUs: 100,
    exec: 'visit',
  },
  smoke: {
    executor: 'constant-vus',
    vus: 2,
    duration: '30s',
    exec: 'visit',
  },
  load: {
    executor: 'constant-arrival-rate',
    rate: 500,
    timeUnit: '1s',
    duration: '5m',
    // 500 req/s at ~100 ms each needs ~50 VUs; headroom for a slow phase without missing the rate.
    preAllocatedVUs: 100,
    maxVUs: 600,
    exec: 'visit',
  },
} satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof scenarios;

/** The service levels every run must hold (the epic: p95 <= 300 ms; errors under 1 %). */
export const thresholds = {
  http_req_duration: ['p(95)<300'],
  http_req_failed: ['rate<0.01'],
  checks: ['rate>0.99'],
};

const env = (name: string): string | undefined => (typeof __ENV === 'undefined' ? undefined : __ENV[name]);

export function optionsFor(name: string): Options {
  if (!(name in scenarios)) {
    throw new Error(`SCENARIO=${name} is not a scenario; use one of ${Object.keys(scenarios).join(', ')}`);
  }
  return {
    scenarios: { [name]: scenarios[name as ScenarioName] },
    thresholds,
    // Bodies are not inspected: do not spend the runner's memory on them.
    discardResponseBodies: true,
    summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
    userAgent: 'lms-k6/1.0',
  };
}

export const options: Options = optionsFor(env('SCENARIO') ?? 'smoke');

const base = (name: string): string => {
  const url = env(name);
  if (!url || !/^https?:\/\/[^/]+$/.test(url)) {
    throw new Error(`${name} must be the site's origin without a trailing slash, e.g. https://staging.lms.example.com (got ${url ?? 'nothing'})`);
  }
  return url;
};

/** The request mix: the SPA shell and API reads, weighted toward the API as real traffic is. */
export function requestMix(webUrl: string, apiUrl: string, apiPaths: string[]): { url: string; name: string }[] {
  return [
    { url: `${webUrl}/`, name: 'web index' },
    ...apiPaths.flatMap((p) => [{ url: `${apiUrl}${p}`, name: `api ${p}` }, { url: `${apiUrl}${p}`, name: `api ${p}` }]),
  ];
}

let mix: { url: string; name: string }[] | undefined;

export function visit(): void {
  mix ??= requestMix(base('WEB_URL'), base('API_URL'), (env('API_PATHS') ?? '/health/live').split(',').map((p) => p.trim()).filter(Boolean));
  const target = mix[Math.floor(Math.random() * mix.length)];
  const res = http.get(target.url, { tags: { name: target.name }, timeout: '10s' });
  check(res, { 'status is 200': (r) => r.status === 200 });
}

export default visit;
