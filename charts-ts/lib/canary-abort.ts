/**
 * How long an abort takes at each canary step (docs/delivery.md "Abort arithmetic"), including the
 * stable ReplicaSet's scale-up that `dynamicStableScale` makes necessary.
 *
 * With `dynamicStableScale` the stable ReplicaSet shrinks as the canary's weight grows, and on abort
 * Argo Rollouts v1.9.1 moves traffic back only as stable pods become *available*
 * (rollout/trafficrouting.go calculateDesiredWeightOnAbortOrStableRollback): the canary keeps its
 * weight until enough stable pods are up, and the stable set grows back step by step, in the reverse
 * order of the setWeight steps (utils/replicaset/canary.go GetDesiredCanaryWeight), so that an abort
 * from a high weight does not surge to two full fleets. `abortScaleUp` replays that algorithm for one
 * step weight and one replica count: how many times the abort must wait for new stable pods to
 * start ("rounds"; each waits for the pods' start, probes and minReadySeconds) and the most pods the
 * two ReplicaSets hold meanwhile. At 50 % with 2 replicas the stable set has 1 pod, so half of the
 * traffic stays on the bad canary until a second stable pod is available: one round.
 *
 * `stepAbortSeconds` adds that to the analysis's worst case: the gate's (a canary bad at the step's
 * weight, from when it gets it) and, where the rollout can wait at the weight with only the guard
 * watching (the approval pause, a timed pause), the guard's. The config refuses a step, app and
 * replica count (HPA minimum to maximum) whose abort takes longer than `abortWithin`
 * (charts-ts/config/cross-checks.ts), and the cluster canary test measures it with the real
 * controller (test/cluster/40-canary.test.ts).
 */
import type { CanaryStep, Environment } from '../config/schema.ts';
import { durationSeconds, worstCaseAbortSeconds, worstCaseGuardAbortSeconds } from '../config/sections/apps.ts';

/** ceil(weight% x replicas), Argo Rollouts' trafficWeightToReplicas (maxWeight 100). */
export const weightToReplicas = (replicas: number, weight: number): number => Math.ceil((weight * replicas) / 100 - 1e-9);

export interface AbortScaleUp {
  /** Stable and canary pods at the step before the abort (dynamicStableScale, steady state). */
  readonly stableBefore: number;
  readonly canaryBefore: number;
  /** Times the abort waits for new stable pods to become available before the canary weight is 0. */
  readonly rounds: number;
  /** The canary weight after each round (the last one is 0). */
  readonly weights: readonly number[];
  /** Most pods of both ReplicaSets at once during the abort (new stable pods included while they start). */
  readonly peakPods: number;
}

/**
 * Argo Rollouts v1.9.1's abort with trafficRouting and dynamicStableScale from a steady state at
 * `weight` with `replicas` (spec.replicas, the HPA's), the setWeight values of the steps in order.
 * Each reconcile: the traffic weight from the stable pods available (trafficrouting.go), then the
 * ReplicaSets' sizes from the weights the reconcile started with (CalculateReplicaCountsForTrafficRoutedCanary);
 * canary pods removed stop counting at once, new stable pods count after a round.
 */
export function abortScaleUp(stepWeights: readonly number[], weight: number, replicas: number): AbortScaleUp {
  const R = replicas;
  let stableAvailable = weightToReplicas(R, 100 - weight);
  let canaryAvailable = weightToReplicas(R, weight);
  const stableBefore = stableAvailable;
  const canaryBefore = canaryAvailable;
  let canaryWeight = weight;
  let rounds = 0;
  let peak = stableAvailable + canaryAvailable;
  const weights: number[] = [];

  // utils/replicaset/canary.go GetDesiredCanaryWeight, aborted with dynamicStableScale.
  const desiredCanaryWeight = (): number => {
    const canaryReplicas = Math.max(R - stableAvailable, canaryAvailable);
    for (let i = stepWeights.length - 1; i >= 0; i--) {
      if (weightToReplicas(R, stepWeights[i]) < canaryReplicas) return stepWeights[i];
    }
    return 0;
  };
  // rollout/trafficrouting.go calculateDesiredWeightOnAbortOrStableRollback (weights set).
  const abortWeight = (): number => {
    const desired = desiredCanaryWeight();
    const stableWeight = Math.floor((100 * stableAvailable) / R);
    if (desired <= 0) return Math.min(Math.max(0, 100 - stableWeight), canaryWeight);
    if (stableWeight < 100 - desired) return canaryWeight;
    return Math.min(desired, canaryWeight);
  };

  // Pods of both sets when the stable pods still starting were asked for (a canary pod removed
  // later in the same round still held its place then).
  let canaryWhenRequested: number | undefined;
  for (let reconcile = 0; reconcile < 100; reconcile++) {
    const startWeight = canaryWeight;
    canaryWeight = abortWeight();
    // The ReplicaSets' sizes from the weights this reconcile started with.
    const desired = desiredCanaryWeight();
    const stableTarget = Math.max(weightToReplicas(R, 100 - desired), weightToReplicas(R, 100 - startWeight));
    const canaryTarget = Math.max(weightToReplicas(R, startWeight), weightToReplicas(R, desired));
    if (stableTarget > stableAvailable && canaryWhenRequested === undefined) canaryWhenRequested = canaryAvailable;
    if (stableTarget > stableAvailable) peak = Math.max(peak, stableTarget + (canaryWhenRequested ?? canaryAvailable));
    const canaryRemoved = canaryTarget < canaryAvailable;
    canaryAvailable = Math.min(canaryAvailable, canaryTarget);
    if (canaryWeight !== startWeight) weights.push(canaryWeight);
    if (canaryWeight === 0) return { stableBefore, canaryBefore, rounds, weights, peakPods: peak };
    if (canaryWeight !== startWeight || canaryRemoved) continue; // progress without waiting for pods
    if (stableTarget > stableAvailable) {
      // Nothing moves until the new stable pods are available: one round.
      stableAvailable = stableTarget;
      canaryWhenRequested = undefined;
      rounds++;
      continue;
    }
    throw new Error(`abort from ${weight} % with ${R} replicas stalls (stable ${stableAvailable}, canary ${canaryAvailable}, weight ${canaryWeight})`);
  }
  throw new Error(`abort from ${weight} % with ${R} replicas does not converge`);
}

export type CanaryApp = 'api' | 'web';

/**
 * One round of the stable scale-up, in seconds: the new stable pods start (image already on the
 * node: the stable image ran there minutes ago) and their process answers its health endpoint
 * (`apps.<app>.startSeconds`), the startup probe notices (API: within one `startupProbePeriodSeconds`),
 * the readiness probe within one `readinessProbePeriodSeconds`, the pod counts as available after
 * `minReadySeconds`, and Argo Rollouts writes the next weight and Traefik applies it (`controllerLatency`).
 */
export function stableRoundSeconds(env: Pick<Environment, 'apps'>, app: CanaryApp): number {
  const l = env.apps.lifecycle;
  return env.apps[app].startSeconds
    + (app === 'api' ? l.startupProbePeriodSeconds : 0)
    + l.readinessProbePeriodSeconds
    + l.minReadySeconds
    + durationSeconds(env.apps.analysis.controllerLatency);
}

export interface StepAbort {
  readonly app: CanaryApp;
  /** Index of the setWeight in the configured canary steps. */
  readonly stepIndex: number;
  readonly weight: number;
  readonly replicas: number;
  /** Which analysis decides the worst case here: the gate, or the guard where the rollout waits. */
  readonly verdictBy: 'gate' | 'guard';
  readonly verdictSeconds: number;
  readonly scaleUp: AbortScaleUp;
  readonly roundSeconds: number;
  /** verdictSeconds + rounds x roundSeconds. */
  readonly seconds: number;
}

/** Whether the rollout can wait at the weight set by steps[i] with only the guard judging (a pause before the next setWeight). */
export function waitsAt(env: Pick<Environment, 'canary'>, i: number): boolean {
  const steps = env.canary.steps as CanaryStep[];
  let analysed = steps.slice(0, i).some((s) => 'analysis' in s);
  for (let j = i + 1; j < steps.length && !('setWeight' in steps[j]); j++) {
    const s = steps[j];
    if ('pause' in s) return true;
    // The manual approval pause follows the first analysis step (charts-ts/apps/steps.ts).
    if ('analysis' in s && env.canary.manualApproval && !analysed) return true;
    if ('analysis' in s) analysed = true;
  }
  return false;
}

/**
 * The worst-case abort at every traffic step below 100 % of one app, for every replica count the HPA
 * can set: from the canary being bad at the step's weight to 100 % on stable.
 */
export function stepAborts(env: Pick<Environment, 'canary' | 'apps'>, app: CanaryApp): StepAbort[] {
  const a = env.apps.analysis;
  const steps = env.canary.steps as CanaryStep[];
  const stepWeights = steps.flatMap((s) => ('setWeight' in s ? [s.setWeight] : []));
  const roundSeconds = stableRoundSeconds(env, app);
  const gate = worstCaseAbortSeconds(a, a.gate.failureLimit);
  const guard = worstCaseGuardAbortSeconds(a);
  const out: StepAbort[] = [];
  steps.forEach((s, i) => {
    if (!('setWeight' in s) || s.setWeight >= 100 || s.setWeight <= 0) return;
    const byGuard = waitsAt(env, i) && guard > gate;
    const verdictSeconds = byGuard ? guard : gate;
    for (let replicas = env.apps[app].hpa.min; replicas <= env.apps[app].hpa.max; replicas++) {
      const scaleUp = abortScaleUp(stepWeights, s.setWeight, replicas);
      out.push({
        app, stepIndex: i, weight: s.setWeight, replicas, verdictBy: byGuard ? 'guard' : 'gate', verdictSeconds,
        scaleUp, roundSeconds, seconds: verdictSeconds + scaleUp.rounds * roundSeconds,
      });
    }
  });
  return out;
}
