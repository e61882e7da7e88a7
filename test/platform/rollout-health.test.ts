/**
 * The apps layers' Rollout health checks, judged by Flux's own evaluator (flux-health: kustomize-
 * controller v1.9.4's cel.StatusEvaluator) on the rendered Rollouts with statuses as Argo Rollouts
 * v1.9.1 writes them (the cluster canary test checks the same expressions on the live controller's
 * objects). apps-staging must be Ready only when staging's canary has finished at the applied
 * template; apps-production when production's canary stops at its manual approval (the deploy job's
 * signal, docs/delivery.md) or is Healthy.
 */
import { describe, expect, it } from 'vitest';
import { fluxHealth, type HealthCheckExprs } from '../support/flux-health.ts';
import { renderAll } from '../support/render.ts';

const r = renderAll();
/** A rendered object, as far as these checks read it. */
interface KubeObject { kind: string; metadata: { name: string; namespace?: string }; spec?: unknown }
const all: KubeObject[] = r.objects.map((o) => o.object);
const exprsOf = (layer: string): HealthCheckExprs => {
  const k = all.find((o) => o.kind === 'Kustomization' && o.metadata.name === layer);
  const e = (k?.spec as { healthCheckExprs?: (HealthCheckExprs & { kind: string })[] } | undefined)?.healthCheckExprs?.find((x) => x.kind === 'Rollout');
  if (!e) throw new Error(`${layer} has no Rollout health check`);
  return e;
};
const rolloutOf = (namespace: string): KubeObject => {
  const o = all.find((x) => x.kind === 'Rollout' && x.metadata.namespace === namespace && x.metadata.name === 'lms-api');
  if (!o) throw new Error(`no lms-api Rollout in ${namespace}`);
  return o;
};
type Steps = { pause?: { duration?: unknown }; analysis?: unknown; setWeight?: number }[];
const stepsOf = (o: KubeObject): Steps => ((o.spec as { strategy: { canary: { steps: Steps } } }).strategy.canary.steps);

/** The Rollout as the API server returns it: generation 7, with the given status. */
const live = (o: KubeObject, status: Record<string, unknown>, generation = 7) => ({ ...o, metadata: { ...o.metadata, generation }, status });
const startTime = '2026-12-06T08:00:00Z';

describe('apps layer health checks (Flux\'s evaluator on Argo Rollouts statuses)', () => {
  const production = rolloutOf(r.config.environments.production.namespace);
  const staging = rolloutOf(r.config.environments.staging.namespace);
  const approval = stepsOf(production).findIndex((s) => s.pause && s.pause.duration === undefined);
  const gate = stepsOf(production).findIndex((s) => s.analysis !== undefined);

  it('finds the manual approval in production and none in staging', () => {
    expect(approval).toBeGreaterThan(0);
    expect(stepsOf(staging).some((s) => s.pause && s.pause.duration === undefined)).toBe(false);
  });

  // The regression: Argo's observedGeneration is a string, so Flux's built-in generation check skips it.
  it('does not take the previous release\'s Healthy for the new one (controller has not observed the new template)', () => {
    const stale = { phase: 'Healthy', observedGeneration: '6', currentStepIndex: stepsOf(staging).length, stableRS: 'aaa', currentPodHash: 'aaa' };
    expect(fluxHealth(exprsOf('apps-staging'), [live(staging, stale)])).toEqual(['InProgress']);
    expect(fluxHealth(exprsOf('apps-production'), [live(production, { ...stale, currentStepIndex: stepsOf(production).length })])).toEqual(['InProgress']);
    // A stale pause at the approval of the previous release is not this release's either.
    const stalePause = { phase: 'Paused', observedGeneration: '6', currentStepIndex: approval, pauseConditions: [{ reason: 'CanaryPauseStep', startTime }] };
    expect(fluxHealth(exprsOf('apps-production'), [live(production, stalePause)])).toEqual(['InProgress']);
  });

  it('production: Current at the manual approval and when Healthy; in progress before it', () => {
    const at = (status: Record<string, unknown>) => fluxHealth(exprsOf('apps-production'), [live(production, { observedGeneration: '7', ...status })])[0];
    expect(at({ phase: 'Paused', currentStepIndex: approval, pauseConditions: [{ reason: 'CanaryPauseStep', startTime }], controllerPause: true })).toBe('Current');
    expect(at({ phase: 'Healthy', currentStepIndex: stepsOf(production).length })).toBe('Current');
    expect(at({ phase: 'Progressing', currentStepIndex: gate })).toBe('InProgress');
    // Paused, but not for the approval: an inconclusive analysis waits for a human, and so does a
    // rollout someone paused by hand; neither is the release at its approval step.
    expect(at({ phase: 'Paused', currentStepIndex: gate, pauseConditions: [{ reason: 'InconclusiveAnalysisRun', startTime }] })).toBe('InProgress');
    expect(at({ phase: 'Paused', currentStepIndex: approval })).toBe('InProgress');
  });

  it('production: a timed pause is not the approval', () => {
    const timed = { ...production, spec: { ...(production.spec as object), strategy: { canary: { ...(production.spec as { strategy: { canary: object } }).strategy.canary, steps: [{ setWeight: 10 }, { pause: { duration: '5m' } }, { pause: {} }] } } } };
    const at = (i: number) => fluxHealth(exprsOf('apps-production'), [live(timed, { observedGeneration: '7', phase: 'Paused', currentStepIndex: i, pauseConditions: [{ reason: 'CanaryPauseStep', startTime }] })])[0];
    expect(at(1)).toBe('InProgress');
    expect(at(2)).toBe('Current');
  });

  it('staging: Current only when Healthy; the approval-style pause is in progress there', () => {
    const at = (status: Record<string, unknown>) => fluxHealth(exprsOf('apps-staging'), [live(staging, { observedGeneration: '7', ...status })])[0];
    expect(at({ phase: 'Healthy' })).toBe('Current');
    expect(at({ phase: 'Progressing' })).toBe('InProgress');
    expect(at({ phase: 'Paused', currentStepIndex: 0, pauseConditions: [{ reason: 'CanaryPauseStep', startTime }] })).toBe('InProgress');
  });

  it('an aborted canary fails the layer in both environments', () => {
    const aborted = { observedGeneration: '7', phase: 'Degraded', abort: true, message: 'RolloutAborted: Rollout aborted update to revision 3: Metric "success-rate" assessed Failed' };
    expect(fluxHealth(exprsOf('apps-staging'), [live(staging, aborted)])).toEqual(['Failed']);
    expect(fluxHealth(exprsOf('apps-production'), [live(production, aborted)])).toEqual(['Failed']);
  });
});
