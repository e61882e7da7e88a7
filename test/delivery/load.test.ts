/**
 * The k6 script's scenarios and thresholds (k6 itself runs in GitHub Actions). The script is
 * imported as k6 would load it, with its k6 modules stubbed and __ENV set per run.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { durationSeconds } from '../../charts-ts/config/sections/apps.ts';
import { renderAll } from '../support/render.ts';

const get = vi.fn((_url: string, _params?: unknown) => ({ status: 200 }));
const check = vi.fn((res: unknown, sets: Record<string, (r: unknown) => boolean>) => Object.values(sets).every((f) => f(res)));
vi.mock('k6/http', () => ({ default: { get } }));
vi.mock('k6', () => ({ check }));

type Script = typeof import('../../load/lms.ts');
/** The global k6 gives the script its --env values in. */
const k6Globals = globalThis as { __ENV?: Record<string, string> };
async function loadScript(env: Record<string, string>): Promise<Script> {
  vi.resetModules();
  k6Globals.__ENV = env;
  return import('../../load/lms.ts');
}

beforeEach(() => { get.mockClear(); check.mockClear(); });
afterEach(() => { delete k6Globals.__ENV; });

describe('k6 script', () => {
  it('load: constant arrival rate of 500 requests/s for 5 minutes, and only that scenario', async () => {
    const { options } = await loadScript({ SCENARIO: 'load' });
    expect(Object.keys(options.scenarios!)).toEqual(['load']);
    expect(options.scenarios!.load).toMatchObject({
      executor: 'constant-arrival-rate', rate: 500, timeUnit: '1s', duration: '5m',
    });
    const load = options.scenarios!.load as { preAllocatedVUs: number; maxVUs: number };
    // Enough VUs to hold 500/s even when responses take the full 300 ms budget (500 * 0.3 = 150).
    expect(load.maxVUs).toBeGreaterThanOrEqual(150);
    expect(load.preAllocatedVUs).toBeLessThanOrEqual(load.maxVUs);
  });

  it('thresholds: p(95) < 300 ms and error rate < 1 %, for every scenario', async () => {
    for (const scenario of ['load', 'smoke']) {
      const { options } = await loadScript({ SCENARIO: scenario });
      expect(options.thresholds).toMatchObject({
        http_req_duration: ['p(95)<300'],
        http_req_failed: ['rate<0.01'],
      });
    }
  });

  it('smoke is the default: a short, light run suitable after every staging rollout', async () => {
    const { options } = await loadScript({});
    expect(Object.keys(options.scenarios!)).toEqual(['smoke']);
    expect(options.scenarios!.smoke).toMatchObject({ executor: 'constant-vus', duration: '30s' });
    expect((options.scenarios!.smoke as { vus: number }).vus).toBeLessThanOrEqual(5);
  });

  it('rejects an unknown scenario with the list of valid ones', async () => {
    await expect(loadScript({ SCENARIO: 'soak' })).rejects.toThrow('SCENARIO=soak is not a scenario; use one of canary, smoke, load');
  });

  it('canary traffic gives each staging canary enough requests for a conclusive analysis', async () => {
    const script = await loadScript({ SCENARIO: 'canary' });
    const rate = script.scenarios.canary.rate / (durationSeconds(script.scenarios.canary.timeUnit));
    const mix = script.requestMix('https://web', 'https://api', ['/health/live']);
    const share = (prefix: string) => mix.filter((m) => m.url.startsWith(prefix)).length / mix.length;
    const staging = renderAll().config.environments.staging;
    const firstWeight = (staging.canary.steps.find((s) => 'setWeight' in s) as { setWeight: number }).setWeight;
    const perWindow = (app: string) => rate * share(app) * (firstWeight / 100) * durationSeconds(staging.apps.analysis.window);
    // 1.5x headroom over the minimum, so a slow minute is still judged.
    expect(perWindow('https://web')).toBeGreaterThanOrEqual(1.5 * staging.apps.analysis.minRequests);
    expect(perWindow('https://api')).toBeGreaterThanOrEqual(1.5 * staging.apps.analysis.minRequests);
    // It outlasts the slowest staging canary the deploy job waits for.
    expect(durationSeconds(script.scenarios.canary.duration)).toBeGreaterThanOrEqual(15 * 60);
  });

  it('every scenario runs the exported function it names', async () => {
    const script = await loadScript({});
    for (const s of Object.values(script.scenarios)) expect(typeof (script as Record<string, unknown>)[s.exec]).toBe('function');
  });

  it('requests the web index and the API paths, tagged by name, and checks for 200', async () => {
    const script = await loadScript({ WEB_URL: 'https://staging.lms.example.com', API_URL: 'https://staging-api.lms.example.com', API_PATHS: '/healthz, /v1/courses' });
    for (let i = 0; i < 60; i++) script.visit();
    const urls = new Set(get.mock.calls.map((c) => c[0]));
    expect(urls).toEqual(new Set(['https://staging.lms.example.com/', 'https://staging-api.lms.example.com/healthz', 'https://staging-api.lms.example.com/v1/courses']));
    expect(get.mock.calls[0][1]).toMatchObject({ tags: { name: expect.any(String) } });
    expect(check).toHaveBeenCalledTimes(60);
  });

  it('refuses to run without target URLs, naming the variable', async () => {
    const script = await loadScript({ API_URL: 'https://staging-api.lms.example.com' });
    expect(() => script.visit()).toThrow(/WEB_URL must be the site's origin/);
  });
});
