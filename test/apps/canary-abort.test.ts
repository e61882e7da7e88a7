/**
 * The abort at every canary step (issue 16 item 3): with dynamicStableScale the stable ReplicaSet has
 * shrunk at the higher weights, and Argo Rollouts v1.9.1 moves traffic back only as stable pods
 * become available again, growing the stable set in the reverse order of the steps. The arithmetic
 * (charts-ts/lib/canary-abort.ts) replays that algorithm; the config refuses steps, start times or
 * probe timing whose abort takes longer than `abortWithin` at some replica count the HPA can set,
 * and an HPA maximum that leaves no room for the abort at the HPA minimum. The cluster canary test
 * measures the same aborts with the real controller (test/cluster/40-canary.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { durationSeconds } from '../../charts-ts/config/sections/apps.ts';
import { abortScaleUp, stableRoundSeconds, stepAborts, waitsAt } from '../../charts-ts/lib/canary-abort.ts';
import { names } from '../../charts-ts/lib/names.ts';
import type { RolloutJson } from '../support/kinds.ts';
import { renderAll } from '../support/render.ts';
import { argoAbort, environments, rendered } from './support.ts';

const r = rendered();
const production = r.config.environments.production;
const steps = [10, 25, 50, 100];

describe('abort scale-up (Argo Rollouts v1.9.1, trafficRouting + dynamicStableScale)', () => {
  // Worked through by hand from utils/replicaset/canary.go (GetDesiredCanaryWeight,
  // CalculateReplicaCountsForTrafficRoutedCanary) and rollout/trafficrouting.go
  // (calculateDesiredWeightOnAbortOrStableRollback).
  it.each([
    // weight, replicas: stable/canary pods at the step, waits for new stable pods, canary weights, most pods at once
    [10, 2, 2, 1, 0, [0], 3], // ceil(90 % of 2) = 2: the stable set is whole, traffic goes back at once
    [25, 2, 2, 1, 0, [0], 3],
    [50, 2, 1, 1, 1, [0], 3], // issue 16: half the traffic stays on the canary until a second stable pod is available
    [50, 3, 2, 2, 1, [25, 0], 5],
    [25, 5, 4, 2, 1, [10, 0], 7],
    [50, 4, 2, 2, 2, [25, 0], 5], // reverse order of the steps: 3 stable pods (for 25 %), then 4
    [50, 5, 3, 3, 2, [25, 10, 0], 7],
  ])('from %i %% with %i replicas', (weight, replicas, stable, canary, rounds, weights, peak) => {
    expect(abortScaleUp(steps, weight, replicas)).toEqual({ stableBefore: stable, canaryBefore: canary, rounds, weights, peakPods: peak });
  });

  it('agrees with Argo Rollouts\' own code (argo-eval abort: CalculateReplicaCountsForTrafficRoutedCanary, GetDesiredCanaryWeight) for every step and 1-12 replicas', () => {
    const stepLists = [
      ...environments(r).map((env) => env.canary.steps.flatMap((s) => ('setWeight' in s ? [s.setWeight] : []))),
      [10, 50, 100], [50, 100], [5, 10, 20, 40, 60, 80, 100], [1, 33, 66, 100], [30, 100],
    ];
    const cases = stepLists.flatMap((list) => list.filter((w) => w < 100)
      .flatMap((weight) => Array.from({ length: 12 }, (_, i) => ({ steps: list, weight, replicas: i + 1 }))));
    const argo = argoAbort(cases);
    expect(argo.filter((a) => a.error)).toEqual([]);
    const ours = cases.map((c) => abortScaleUp(c.steps, c.weight, c.replicas));
    const differing = cases.flatMap((c, i) => (JSON.stringify(ours[i]) === JSON.stringify({ ...argo[i], weights: argo[i].weights })
      ? [] : [`${JSON.stringify(c)}: ours ${JSON.stringify(ours[i])}, Argo ${JSON.stringify(argo[i])}`]));
    expect(differing).toEqual([]);
    expect(cases.length).toBeGreaterThan(150);
  });

  it('an intermediate step costs a wait at the higher replica counts; without it one wait suffices', () => {
    expect(abortScaleUp([10, 50, 100], 50, 5).rounds).toBe(1);
    expect(abortScaleUp([10, 50, 100], 50, 4).rounds).toBe(1);
    expect(abortScaleUp(steps, 50, 5).rounds).toBe(2);
  });
});

describe('abort within abortWithin at every step (config check)', () => {
  it('every step of every app and environment, at every replica count from the HPA minimum to its maximum, fits the budget', () => {
    const lines: string[] = [];
    for (const env of environments(r)) {
      const budget = durationSeconds(env.apps.analysis.abortWithin);
      for (const app of ['api', 'web'] as const) {
        const aborts = stepAborts(env, app);
        expect(aborts.length).toBeGreaterThan(0);
        for (const a of aborts) {
          lines.push(`${env.name} ${app} ${a.weight}% x${a.replicas}: ${a.verdictBy} ${a.verdictSeconds}s + ${a.scaleUp.rounds} x ${a.roundSeconds}s = ${a.seconds}s`);
          expect(a.seconds, `${env.name} ${app} at ${a.weight} % with ${a.replicas} pods`).toBeLessThanOrEqual(budget);
        }
      }
    }
    console.log(lines.join('\n'));
  });

  it('production API: 50 % with the HPA at its minimum waits for one stable pod; at 4-5 pods for two, the binding case', () => {
    const aborts = stepAborts(production, 'api');
    const at = (w: number, n: number) => aborts.find((a) => a.weight === w && a.replicas === n)!;
    // 8 s start + 2 s startup probe + 2 s readiness probe + 10 s minReadySeconds + 15 s controllers
    expect(stableRoundSeconds(production, 'api')).toBe(37);
    expect(at(50, production.apps.api.hpa.min)).toMatchObject({ verdictBy: 'gate', verdictSeconds: 105, seconds: 142 });
    expect(at(50, 5)).toMatchObject({ seconds: 179 });
    // The approval pause at 10 %: the guard's worst case, the stable set is whole at every size.
    expect(at(10, production.apps.api.hpa.max)).toMatchObject({ verdictBy: 'guard', verdictSeconds: 165, seconds: 165 });
    expect(Math.max(...aborts.map((a) => a.seconds))).toBe(179);
  });

  it('the guard decides where the rollout waits: the approval pause and timed pauses', () => {
    expect(waitsAt(production, 0)).toBe(true); // setWeight 10, analysis, (approval)
    expect(waitsAt(production, 2)).toBe(false);
    expect(waitsAt({ canary: { manualApproval: false, steps: [{ setWeight: 20 }, { analysis: true }, { pause: { duration: '10m' } }, { setWeight: 50 }, { analysis: true }] } }, 0)).toBe(true);
    expect(waitsAt({ canary: { manualApproval: false, steps: [{ setWeight: 20 }, { analysis: true }, { setWeight: 50 }, { analysis: true }] } }, 0)).toBe(false);
  });

  it('the arithmetic uses what is rendered: probe periods, minReadySeconds, dynamicStableScale and the steps', () => {
    for (const env of environments(r)) {
      const l = env.apps.lifecycle;
      for (const name of [names.apps.api, names.apps.web]) {
        const ro = r.getOf<RolloutJson>('argoproj.io', 'Rollout', name, env.namespace);
        expect(ro.spec.minReadySeconds).toBe(l.minReadySeconds);
        expect(ro.spec.strategy.canary.dynamicStableScale).toBe(true);
        // The replay removes canary pods as soon as the weight allows: with dynamicStableScale that holds
        // only without abortScaleDownDelaySeconds (rollout/replicaset.go shouldDelayScaleDownOnAbort).
        expect(ro.spec.strategy.canary.abortScaleDownDelaySeconds).toBeUndefined();
        expect(ro.spec.strategy.canary.steps.filter((s) => s.setWeight !== undefined).map((s) => s.setWeight))
          .toEqual(env.canary.steps.flatMap((s) => ('setWeight' in s ? [s.setWeight] : [])));
        for (const c of ro.spec.template.spec.containers) {
          // Every container's readiness counts: the pod is Ready only when all are.
          expect(c.readinessProbe!.periodSeconds, `${name} ${c.name}`).toBeLessThanOrEqual(l.readinessProbePeriodSeconds);
          expect(c.readinessProbe!.initialDelaySeconds ?? 0).toBe(0);
          if (c.startupProbe) expect(c.startupProbe.periodSeconds).toBeLessThanOrEqual(l.startupProbePeriodSeconds);
        }
        const hasStartup = ro.spec.template.spec.containers.some((c) => c.startupProbe);
        expect(hasStartup).toBe(name === names.apps.api); // stableRoundSeconds adds the startup probe for the API only
      }
    }
  });

  it('refuses a slower start that would keep half the traffic on a bad canary past abortWithin, naming the step', () => {
    expect(() => renderAll({ environments: { production: { apps: { api: { startSeconds: 9 } } } } }))
      .toThrow(/environments\.production\.canary\.steps(\.|\[)4\]?.*aborts api at 50 % with 5 pods in 181s, more than abortWithin \(3m\): the gate's verdict 105s \+ 2 x 38s waiting for new stable pods/);
    // The readiness probe period as before issue 16 item 3 (5 s): the same.
    expect(() => renderAll({ environments: { production: { apps: { lifecycle: { readinessProbePeriodSeconds: 5 } } } } }))
      .toThrow(/aborts api at 50 % with 5 pods in 185s/);
  });

  it('refuses a step whose weight the rollout can wait at without a gate when the guard plus the scale-up exceeds the budget', () => {
    // A timed pause at 50 %: only the guard (165 s) watches there, and the stable set needs new pods (one wait: no step between 10 and 50).
    const patched = { environments: { production: { canary: { steps: [{ setWeight: 10 }, { analysis: true }, { setWeight: 50 }, { analysis: true }, { pause: { duration: '5m' } }, { setWeight: 100 }] } } } };
    expect(() => renderAll(patched)).toThrow(/aborts api at 50 % with 5 pods in 202s.*the guard's verdict 165s \+ 1 x 37s/);
  });

  it('refuses an HPA maximum that leaves no room for the abort at the HPA minimum', () => {
    // 5 pods fixed: at 50 % 3 stable + 3 canary; the abort asks for a 4th stable pod with the 3 canary pods still serving.
    expect(() => renderAll({ environments: { production: { apps: { api: { hpa: { min: 5, max: 5 } } } } } }))
      .toThrow('environments.production.apps.api.hpa.max: 5 leaves no room for the abort at 50 % with the HPA at its minimum (5): it needs 7 api pods at once, the capacity budget counts 5 + 1 canary pod');
  });
});
