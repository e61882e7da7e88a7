/**
 * The AnalysisTemplates take their thresholds and timing from config, and the config refuses
 * settings that would break the promises: abort within the budget, no verdict on a handful of
 * requests, exact latency comparisons. (The queries themselves run in analysis-promtool.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { analysisTemplateNames, gateSeconds } from '../../charts-ts/apps/analysis.ts';
import { durationSeconds, worstCaseAbortSeconds, worstCaseGuardAbortSeconds } from '../../charts-ts/config/sections/apps.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { renderAll } from '../support/render.ts';
import type { AnalysisTemplateJson, MonitorJson } from '../support/kinds.ts';
import { environments, rendered } from './support.ts';

const r = rendered();

describe('analysis templates', () => {
  it('carry the configured thresholds, timing and limits', () => {
    for (const env of environments(r)) {
      const a = env.apps.analysis;
      for (const app of [names.apps.api, names.apps.web]) {
        const t = analysisTemplateNames(app);
        const gate = r.getOf<AnalysisTemplateJson>('argoproj.io', 'AnalysisTemplate', t.gate, env.namespace).spec.metrics;
        const guard = r.getOf<AnalysisTemplateJson>('argoproj.io', 'AnalysisTemplate', t.guard, env.namespace).spec.metrics;
        expect(gate.map((m) => m.name)).toEqual(['success-rate', 'latency-p95']);
        const guardPrometheus = guard.filter((m) => m.provider.prometheus);
        expect(guardPrometheus.map((m) => m.name)).toEqual(['success-rate', 'latency-p95']);
        for (const m of [...gate, ...guardPrometheus]) {
          expect(m.interval).toBe(a.interval);
          expect(m.initialDelay).toBe(a.initialDelay);
          expect(m.provider.prometheus!.address).toBe(names.monitoring.prometheusUrl);
        }
        for (const m of gate) {
          expect([m.count, m.failureLimit, m.inconclusiveLimit, m.consecutiveErrorLimit]).toEqual([a.gate.count, a.gate.failureLimit, a.gate.inconclusiveLimit, a.consecutiveErrorLimit]);
        }
        for (const m of guardPrometheus) {
          // Runs for the whole rollout; can only fail it, at the first failed measurement (the
          // query carries the persistence), and rides out a Prometheus outage.
          expect(m.count).toBeUndefined();
          expect(m.successCondition).toBeUndefined();
          expect(m.failureLimit).toBe(0);
          expect(m.consecutiveErrorLimit).toBe(Math.ceil(durationSeconds(a.guard.prometheusOutage) / 10));
        }
        // The synthetic traffic Job runs in the guard where the environment has the probe.
        const probe = guard.find((m) => m.provider.job);
        expect(Boolean(probe)).toBe(env.apps.probe.enabled);
        expect(gate[0].successCondition).toBe(`len(result) > 0 && result[0] >= ${a.successRateMin}`);
        expect(gate[0].failureCondition).toBe(`len(result) > 0 && result[0] < ${a.successRateMin}`);
        expect(gate[1].successCondition).toBe(`len(result) > 0 && result[0] <= ${a.latencyP95MaxSeconds}`);
        expect(gate[1].failureCondition).toBe(`len(result) > 0 && result[0] > ${a.latencyP95MaxSeconds}`);
      }
    }
  });

  it('follow a change of thresholds and timing in config', () => {
    const o = renderAll({ environments: { production: { apps: { analysis: { successRateMin: 0.995, latencyP95MaxSeconds: 0.1, minRequests: 200, window: '90s', interval: '20s', guard: { sustain: '105s' } } } } } });
    const [success, latency] = o.getOf<AnalysisTemplateJson>('argoproj.io', 'AnalysisTemplate', analysisTemplateNames(names.apps.api).gate, 'lms-production').spec.metrics;
    expect(success.successCondition).toContain('>= 0.995');
    expect(success.provider.prometheus!.query).toContain('[90s]');
    expect(success.provider.prometheus!.query).toContain('>= 200)');
    expect(latency.successCondition).toContain('<= 0.1');
    expect(latency.interval).toBe('20s');
  });

  it('abort arithmetic: the configured timing aborts a bad canary within 3 minutes', () => {
    for (const env of environments(r)) {
      const a = env.apps.analysis;
      expect(durationSeconds(a.abortWithin)).toBe(180);
      // max(30 s delay, 2 x 15 s scrapes for rate()'s two samples) + 30 s + failureLimit x 30 s + 15 s controllers
      expect(worstCaseAbortSeconds(a, a.gate.failureLimit)).toBe(105);
      // 2 x 15 s scrapes + 90 s sustained + 30 s interval + 15 s controllers
      expect(worstCaseGuardAbortSeconds(a)).toBe(165);
      // An analysis step takes count x 30 s when every measurement is conclusive: 2 minutes in
      // production, 90 s in staging (three measurements under the pipeline's synthetic load).
      expect(gateSeconds(a)).toBe({ production: 120, staging: 90 }[env.name]);
    }
  });

  it.each([
    [{ gate: { count: 8, failureLimit: 4 } }, 'apps.analysis.gate.failureLimit: 4 lets a bad canary run 195s before the abort, more than abortWithin (3m)'],
    [{ interval: '1m' }, 'apps.analysis.guard.sustain: "90s" lets a bad canary run 195s before the guard aborts it, more than abortWithin (3m)'],
    [{ guard: { sustain: '60s' } }, 'apps.analysis.guard.sustain: "60s" must be at least window + scrapeInterval (75s)'],
    [{ guard: { sustain: '100s' } }, 'apps.analysis.guard.sustain: "100s" must be a multiple of scrapeInterval (15s)'],
    [{ guard: { prometheusOutage: '30s' } }, 'apps.analysis.guard.prometheusOutage: "30s" must be at least what the gate rides out (50s)'],
    [{ minRequests: 50 }, 'apps.analysis.minRequests: 50 must be at least 100 for a 99 % target'],
    [{ latencyP95MaxSeconds: 0.25 }, "apps.analysis.latencyP95MaxSeconds: 0.25 must be one of Traefik's histogram bucket bounds (0.1, 0.3, 1.2, 5)"],
    [{ window: '45s' }, 'apps.analysis.window: "45s" must span at least 4 scrapes (4 x scrapeInterval 15s = 60s)'],
    [{ gate: { count: 2 } }, 'apps.analysis.gate.count: 2 must exceed failureLimit + inconclusiveLimit'],
    [{ successRateMin: 1 }, 'apps.analysis.successRateMin: 1 must be between 0 and 1'],
  ])('rejects %o with an error naming the field', (analysis, message) => {
    expect(() => renderAll({ environments: { production: { apps: { analysis } } } })).toThrow(`config: environments.production.${message}`);
  });

  it('rate windows span at least 4 scrapes of Traefik, at the interval Traefik is really scraped at', () => {
    for (const env of environments(r)) {
      const a = env.apps.analysis;
      expect(a.scrapeInterval).toBe(r.config.cluster.platform.traefik.scrapeInterval);
      expect(durationSeconds(a.window)).toBeGreaterThanOrEqual(4 * durationSeconds(a.scrapeInterval));
    }
    expect(r.getOf<MonitorJson>('monitoring.coreos.com', 'PodMonitor', 'traefik', 'kube-system').spec.podMetricsEndpoints![0].interval).toBe(r.config.cluster.platform.traefik.scrapeInterval);
    // Scraping Traefik every 30 s again, as before issue 16: the 1-minute window would hold 2 scrapes.
    expect(() => renderAll({ cluster: { platform: { traefik: { scrapeInterval: '30s' } } }, environments: { staging: { apps: { analysis: { scrapeInterval: '30s' } } }, production: { apps: { analysis: { scrapeInterval: '30s' } } } } }))
      .toThrow('config: environments.staging.apps.analysis.window: "1m" must span at least 4 scrapes (4 x scrapeInterval 30s = 120s)');
    // The analysis must assume the interval the PodMonitor uses.
    expect(() => renderAll({ cluster: { platform: { traefik: { scrapeInterval: '10s' } } } }))
      .toThrow('config: environments.staging.apps.analysis.scrapeInterval: "15s" must equal cluster.platform.traefik.scrapeInterval (10s)');
    // The shortest SLO window (5m) must hold 4 scrapes of every exporter.
    expect(() => renderAll({ cluster: { observability: { prometheus: { scrapeInterval: '2m' } } } }))
      .toThrow('config: cluster.observability.prometheus.scrapeInterval: "2m" is too long for the shortest SLO window (5m): a rate window must span at least 4 scrapes; use at most 75s');
  });
});
