/**
 * The canaried workloads as rendered: steps and manual approval, the migration step, analysis
 * wiring, Traefik traffic routing, autoscaling, and what makes a rollout zero-downtime.
 */
import type { V1ConfigMap, V1PodDisruptionBudget, V1Service, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { analysisTemplateNames } from '../../charts-ts/apps/analysis.ts';
import { migrationTemplateName } from '../../charts-ts/apps/api.ts';
import { canaryServiceNames, servicePort } from '../../charts-ts/apps/metrics.ts';
import { durationSeconds } from '../../charts-ts/config/sections/apps.ts';
import { imageRef, type Environment } from '../../charts-ts/config/schema.ts';
import { names } from '../../charts-ts/lib/names.ts';
import type { AnalysisTemplateJson, RolloutJson, RolloutStepJson } from '../support/kinds.ts';
import { renderAll } from '../support/render.ts';
import { environments, rendered } from './support.ts';

const r = rendered();
const apps = [names.apps.api, names.apps.web] as const;
const rollout = (env: Environment, app: string) => r.getOf<RolloutJson>('argoproj.io', 'Rollout', app, env.namespace);
const canary = (env: Environment, app: string) => rollout(env, app).spec.strategy.canary;
const isIndefinitePause = (s: RolloutStepJson) => s.pause !== undefined && s.pause.duration === undefined;
const production = r.config.environments.production;
const staging = r.config.environments.staging;

describe('canary steps and manual approval', () => {
  it('production stops at an indefinite pause right after its first analysis step; staging never pauses indefinitely', () => {
    expect(production.canary.manualApproval).toBe(true);
    expect(staging.canary.manualApproval).toBe(false);
    for (const app of apps) {
      const prod = canary(production, app).steps;
      const firstGate = prod.findIndex((s) => s.analysis?.templates[0].templateName === analysisTemplateNames(app).gate);
      expect(prod[firstGate + 1]).toEqual({ pause: {} });
      expect(prod.filter(isIndefinitePause)).toHaveLength(1);
      expect(canary(staging, app).steps.filter(isIndefinitePause)).toHaveLength(0);
    }
  });

  it('follows the configured steps: setWeight and timed pauses as given, analysis steps run the gate template', () => {
    for (const env of environments(r)) {
      for (const app of apps) {
        const steps = canary(env, app).steps.filter((s) => !isIndefinitePause(s) && s.analysis?.templates[0].templateName !== migrationTemplateName);
        expect(steps).toEqual(env.canary.steps.map((s) => ('setWeight' in s ? { setWeight: s.setWeight }
          : 'pause' in s ? { pause: { duration: s.pause.duration } }
            : { analysis: { templates: [{ templateName: analysisTemplateNames(app).gate }] } })));
      }
    }
  });

  it('the manual pause follows the config switch, not the environment name', () => {
    const flipped = renderAll({ environments: { production: { canary: { manualApproval: false } }, staging: { canary: { manualApproval: true } } } });
    expect(flipped.getOf<RolloutJson>('argoproj.io', 'Rollout', names.apps.api, production.namespace).spec.strategy.canary.steps.filter(isIndefinitePause)).toHaveLength(0);
    expect(flipped.getOf<RolloutJson>('argoproj.io', 'Rollout', names.apps.api, staging.namespace).spec.strategy.canary.steps.filter(isIndefinitePause)).toHaveLength(1);
  });

  it.each([
    ['an indefinite pause in config', [{ setWeight: 10 }, { pause: {} }, { analysis: true }], 'config: environments.staging.canary.steps[1]: {"pause":{}} is an indefinite pause'],
    ['a traffic step that is never analysed', [{ setWeight: 10 }, { analysis: true }, { setWeight: 50 }, { setWeight: 100 }], 'config: environments.staging.canary.steps[2]: setWeight 50 is never analysed'],
    ['an analysis step before any traffic', [{ analysis: true }, { setWeight: 50 }, { analysis: true }], 'config: environments.staging.canary.steps[0]: an analysis step before any setWeight'],
    ['no analysis at all', [{ setWeight: 100 }], 'config: environments.staging.canary.steps: has no {"analysis": true} step'],
  ])('rejects %s with an error naming the step', (_what, steps, message) => {
    expect(() => renderAll({ environments: { staging: { canary: { steps } } } })).toThrow(message);
  });
});

describe('analysis wiring', () => {
  it('runs the guard in the background from the first traffic step, the gate at each analysis step', () => {
    for (const env of environments(r)) {
      for (const app of apps) {
        const c = canary(env, app);
        expect(c.analysis!.templates).toEqual([{ templateName: analysisTemplateNames(app).guard }]);
        expect(c.analysis!.startingStep).toBe(c.steps.findIndex((s) => 'setWeight' in s));
        expect(c.steps[c.analysis!.startingStep].setWeight).toBeGreaterThan(0);
        for (const t of Object.values(analysisTemplateNames(app))) expect(r.get('AnalysisTemplate', t, env.namespace)).toBeDefined();
      }
    }
  });

  it('aborts on a stuck rollout instead of waiting forever', () => {
    for (const env of environments(r)) {
      for (const app of apps) {
        const spec = rollout(env, app).spec;
        expect(spec.progressDeadlineAbort).toBe(true);
        expect(spec.progressDeadlineSeconds).toBe(durationSeconds(env.apps.lifecycle.progressDeadline));
      }
    }
  });
});

describe('database migration step', () => {
  it('runs first in the API rollout, before any traffic step, with the release\'s own image; web has none', () => {
    for (const env of environments(r)) {
      const steps = canary(env, names.apps.api).steps;
      expect(steps[0]).toEqual({ analysis: { templates: [{ templateName: migrationTemplateName }], args: [{ name: 'image', value: imageRef(env.apps.api.image) }] } });
      expect(rollout(env, names.apps.api).spec.template.spec.containers[0].image).toBe(imageRef(env.apps.api.image));
      expect(canary(env, names.apps.web).steps.some((s) => s.analysis?.templates[0].templateName === migrationTemplateName)).toBe(false);
    }
  });

  it('is a Job with no retries and a deadline, running the configured command against the -rw Service', () => {
    for (const env of environments(r)) {
      const t = r.getOf<AnalysisTemplateJson>('argoproj.io', 'AnalysisTemplate', migrationTemplateName, env.namespace);
      const job = t.spec.metrics[0].provider.job!;
      expect(job.spec.backoffLimit).toBe(0);
      expect(job.spec.activeDeadlineSeconds).toBe(durationSeconds(env.apps.migration.deadline));
      const c = job.spec.template.spec!.containers[0];
      expect(job.spec.template.spec!.restartPolicy).toBe('Never');
      expect(c.image).toBe('{{args.image}}');
      expect(c.command).toBeUndefined(); // the image's node entrypoint runs the script
      expect(c.args).toEqual(env.apps.migration.args);
      expect(c.env).toContainEqual({ name: 'DATABASE_HOST', value: names.database.rwService });
      expect(c.env).toContainEqual({ name: 'DATABASE_PASSWORD', valueFrom: { secretKeyRef: { name: names.database.appSecret, key: 'password' } } });
      expect(c.resources).toEqual(env.apps.migration.resources);
      // Not an API pod: the HPA and the API Services must not count or route to it.
      const apiSelector = rollout(env, names.apps.api).spec.selector.matchLabels;
      expect(Object.entries(apiSelector!).every(([k, v]) => job.spec.template.metadata!.labels![k] === v)).toBe(false);
    }
  });

  it('rejects a migration deadline that the progress deadline would cut short', () => {
    expect(() => renderAll({ environments: { production: { apps: { migration: { deadline: '15m' } } } } }))
      .toThrow('environments.production.apps.migration.deadline: "15m" must be shorter than lifecycle.progressDeadline');
  });
});

describe('traffic routing through Traefik', () => {
  it('splits traffic with a weighted TraefikService over stable and canary Services, weights left to Argo Rollouts', () => {
    for (const env of environments(r)) {
      for (const app of apps) {
        const c = canary(env, app);
        const s = canaryServiceNames(app);
        expect(c.stableService).toBe(s.stable);
        expect(c.canaryService).toBe(s.canary);
        expect(c.trafficRouting).toEqual({ traefik: { weightedTraefikServiceName: s.traefikService } });
        const ts = r.getOf<{ spec: { weighted: { services: unknown } } }>('traefik.io', 'TraefikService', s.traefikService, env.namespace);
        expect(ts.spec.weighted.services).toEqual([{ name: s.stable, port: servicePort }, { name: s.canary, port: servicePort }]);
        // Flux creates it and never re-applies it: the services list is atomic and Argo owns the weights.
        expect(ts.metadata.annotations!['kustomize.toolkit.fluxcd.io/ssa']).toBe('IfNotPresent');
        const selector = rollout(env, app).spec.selector.matchLabels;
        for (const name of [s.stable, s.canary]) {
          const svc = r.getOf<V1Service>('', 'Service', name, env.namespace);
          expect(svc.spec!.selector).toEqual(selector);
          expect(svc.spec!.ports).toEqual([{ name: 'http', port: servicePort, targetPort: 'http', protocol: 'TCP' }]);
        }
      }
    }
  });
});

describe('autoscaling', () => {
  it('an autoscaling/v2 HPA targets each Rollout at the configured CPU utilisation (70 %) and bounds', () => {
    for (const env of environments(r)) {
      for (const app of apps) {
        const hpa = r.getOf<V2HorizontalPodAutoscaler>('autoscaling', 'HorizontalPodAutoscaler', app, env.namespace);
        expect(hpa.apiVersion).toBe('autoscaling/v2');
        expect(hpa.spec!.scaleTargetRef).toEqual({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: app });
        expect(env.apps.autoscaling.cpuUtilization).toBe(70);
        expect(hpa.spec!.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
        const bounds = app === names.apps.api ? env.apps.api.hpa : env.apps.web.hpa;
        expect([hpa.spec!.minReplicas, hpa.spec!.maxReplicas]).toEqual([bounds.min, bounds.max]);
        expect(hpa.spec!.behavior!.scaleDown!.stabilizationWindowSeconds).toBe(durationSeconds(env.apps.autoscaling.scaleDownStabilization));
      }
    }
  });

  it('the Rollouts have no replicas (the HPA owns the scale) and scale the stable set down as the canary grows', () => {
    for (const env of environments(r)) {
      for (const app of apps) {
        expect(rollout(env, app).spec).not.toHaveProperty('replicas');
        // argo-rollouts #2857/#3849: see charts-ts/apps/canary.ts and docs/delivery.md.
        expect(canary(env, app).dynamicStableScale).toBe(true);
      }
    }
  });

  it('takes utilisation and bounds from config', () => {
    const o = renderAll({ environments: { staging: { apps: { api: { hpa: { min: 2, max: 3 } }, autoscaling: { cpuUtilization: 60 } } } } });
    const hpa = o.getOf<V2HorizontalPodAutoscaler>('autoscaling', 'HorizontalPodAutoscaler', names.apps.api, staging.namespace);
    expect([hpa.spec!.minReplicas, hpa.spec!.maxReplicas]).toEqual([2, 3]);
    expect(hpa.spec!.metrics![0].resource!.target.averageUtilization).toBe(60);
  });
});

describe('zero-downtime rollout', () => {
  it('gates traffic on readiness, drains before stopping, never takes a pod away before its replacement is up', () => {
    for (const env of environments(r)) {
      const l = env.apps.lifecycle;
      for (const app of apps) {
        const spec = rollout(env, app).spec;
        expect(spec.minReadySeconds).toBe(l.minReadySeconds);
        const pod = spec.template.spec;
        expect(pod.terminationGracePeriodSeconds).toBe(l.terminationGracePeriodSeconds);
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(l.preStopSeconds);
        const main = pod.containers[0];
        expect(main.readinessProbe!.httpGet!.port).toBe('http');
        expect(main.livenessProbe).toBeDefined();
        expect(main.lifecycle!.preStop).toEqual({ sleep: { seconds: l.preStopSeconds } });
        for (const c of pod.containers) expect(c.readinessProbe).toBeDefined();
      }
      expect(rollout(env, names.apps.api).spec.template.spec.containers[0].readinessProbe!.httpGet!.path).toBe('/health/ready');
      expect(rollout(env, names.apps.api).spec.template.spec.containers[0].livenessProbe!.httpGet!.path).toBe('/health/live');
    }
  });

  it('sets no maxSurge/maxUnavailable, which Argo Rollouts ignores with traffic routing, and lets the weight pace the stable set', () => {
    // CalculateReplicaCountsForTrafficRoutedCanary (utils/replicaset/canary.go) sizes canary and
    // stable from the weights alone; the fields would promise a pacing that never happens.
    for (const env of environments(r)) {
      for (const app of apps) {
        const canary = rollout(env, app).spec.strategy.canary;
        expect(canary.trafficRouting).toBeDefined();
        expect(canary.dynamicStableScale).toBe(true);
        expect(canary).not.toHaveProperty('maxSurge');
        expect(canary).not.toHaveProperty('maxUnavailable');
      }
    }
  });

  it('a PodDisruptionBudget keeps all but one pod through voluntary disruptions without blocking drains', () => {
    for (const env of environments(r)) {
      for (const app of apps) {
        const pdb = r.getOf<V1PodDisruptionBudget>('policy', 'PodDisruptionBudget', app, env.namespace);
        expect(pdb.spec!.selector!.matchLabels).toEqual(rollout(env, app).spec.selector.matchLabels);
        expect(pdb.spec!.maxUnavailable).toBe(1);
        expect(pdb.spec!.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
      }
    }
  });

  it('spreads pods over nodes and zones per revision, without blocking scheduling on the single node', () => {
    for (const env of environments(r)) {
      for (const app of apps) {
        const spec = rollout(env, app).spec;
        const spread = spec.template.spec.topologySpreadConstraints!;
        expect(spread.map((s) => s.topologyKey)).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
        for (const s of spread) {
          expect(s.whenUnsatisfiable).toBe('ScheduleAnyway');
          expect(s.labelSelector!.matchLabels).toEqual(spec.selector.matchLabels);
          expect(s.matchLabelKeys).toEqual(['rollouts-pod-template-hash']);
        }
      }
    }
  });
});

describe('configuration and secrets', () => {
  it('the API reads its settings from a ConfigMap and its credentials from Secrets by reference only', () => {
    for (const env of environments(r)) {
      const c = rollout(env, names.apps.api).spec.template.spec.containers[0];
      expect(c.envFrom).toEqual([{ configMapRef: { name: `${names.apps.api}-config` } }]);
      expect(c.env!.every((e) => e.value === undefined && e.valueFrom!.secretKeyRef)).toBe(true);
      expect(c.env!.map((e) => e.valueFrom!.secretKeyRef!.name).sort()).toEqual([names.database.appSecret, names.database.appSecret, names.redis.passwordSecret].sort());
      const cm = r.getOf<V1ConfigMap>('', 'ConfigMap', `${names.apps.api}-config`, env.namespace).data!;
      expect(cm.PORT).toBe(String(env.apps.api.port));
      expect(cm.REDIS_HOST).toBe(names.redis.service);
      expect(cm.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(`http://${names.monitoring.tempo.host}:${names.monitoring.tempo.otlpHttpPort}`);
      expect(cm.DATABASE_POOL_SIZE).toBe(String(env.apps.api.database.poolSize));
      expect(Object.values(cm).join(' ')).not.toMatch(/password=|secret/i);
    }
  });

  it('a configuration change rolls out as a new revision (the pod template carries the config hash)', () => {
    const hash = (o: ReturnType<typeof renderAll>) => o.getOf<RolloutJson>('argoproj.io', 'Rollout', names.apps.api, production.namespace).spec.template.metadata.annotations!['lms.dev/config-hash'];
    const changed = renderAll({ environments: { production: { apps: { api: { logLevel: 'debug' } } } } });
    expect(hash(changed)).not.toBe(hash(r));
    expect(hash(renderAll())).toBe(hash(r));
  });
});
