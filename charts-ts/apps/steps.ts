/**
 * From the configured canary steps to Argo Rollouts steps, with the delivery rules enforced:
 *
 * 1. Config steps never contain an indefinite pause (`{pause: {}}`). The only indefinite pause is the
 *    manual approval, and the chart inserts it: right after the first analysis step when
 *    `canary.manualApproval` is on, nowhere when it is off. So staging cannot stop for a human by
 *    accident and production cannot skip the approval by a config edit.
 * 2. Every traffic level below 100 % is gated: each `setWeight` < 100 is followed by an analysis
 *    step before the next `setWeight` (or the end), so no canary is promoted on unmeasured traffic.
 * 3. An analysis step measures traffic, so it must come after a `setWeight`.
 *
 * A violation is a ConfigError naming the step, like any other bad config value.
 */
import type { CanaryStep, Environment } from '../config/schema.ts';
import { ConfigError } from '../config/load.ts';
import { durationSeconds } from '../config/sections/apps.ts';
import type { RolloutSpecStrategyCanaryStepsAnalysisTemplates } from '../imports/rollout-argoproj.io.ts';

/**
 * The Argo Rollouts canary steps this repository uses, as the JSON the Rollout carries: the
 * generated `RolloutSpecStrategyCanarySteps` without the step kinds we do not use, and with plain
 * values where it wraps int-or-string fields in classes (the Rollout is written as plain JSON and
 * validated against the pinned CRD schema).
 */
export type ArgoStep =
  | { readonly setWeight: number }
  | { readonly pause: { readonly duration?: string } }
  | { readonly analysis: { readonly templates: readonly RolloutSpecStrategyCanaryStepsAnalysisTemplates[]; readonly args?: readonly { readonly name: string; readonly value: string }[] } };

export interface ArgoStepContext {
  /** AnalysisTemplate for analysis steps (gate). */
  readonly gateTemplate: string;
  /** Steps run before the first traffic step (e.g. the database migration). */
  readonly preTraffic?: readonly ArgoStep[];
}

export function validateCanarySteps(env: Environment): void {
  const steps = env.canary.steps;
  const at = (i: number) => `environments.${env.name}.canary.steps[${i}]`;
  const problems: string[] = [];
  let sawWeight = false;
  let openWeight: number | undefined; // index of a setWeight < 100 not yet followed by analysis
  steps.forEach((s, i) => {
    if ('pause' in s && s.pause.duration === undefined) {
      problems.push(`${at(i)}: {"pause":{}} is an indefinite pause; configure timed pauses only (the manual approval pause is inserted by the chart when canary.manualApproval is true)`);
    }
    if ('pause' in s && s.pause.duration !== undefined && durationSeconds(s.pause.duration) === 0) {
      problems.push(`${at(i)}: ${JSON.stringify(s)} pauses for 0s; remove the step or give it a duration`);
    }
    if ('setWeight' in s) {
      if (openWeight !== undefined) {
        problems.push(`${at(openWeight)}: setWeight ${(steps[openWeight] as { setWeight: number }).setWeight} is never analysed; add {"analysis": true} before ${at(i)}`);
      }
      sawWeight = true;
      openWeight = s.setWeight < 100 ? i : undefined;
    }
    if ('analysis' in s) {
      if (!sawWeight) problems.push(`${at(i)}: an analysis step before any setWeight measures no canary traffic; put a setWeight first`);
      openWeight = undefined;
    }
  });
  if (openWeight !== undefined) {
    problems.push(`${at(openWeight)}: setWeight ${(steps[openWeight] as { setWeight: number }).setWeight} is never analysed; add {"analysis": true} after it`);
  }
  if (!steps.some((s) => 'analysis' in s)) {
    problems.push(`environments.${env.name}.canary.steps: has no {"analysis": true} step; without analysis nothing rolls a bad canary back`);
  }
  if (problems.length) throw new ConfigError(problems);
}

/** The Argo Rollouts steps for one Rollout (validate first). */
export function argoSteps(env: Environment, ctx: ArgoStepContext): ArgoStep[] {
  const out: ArgoStep[] = [...(ctx.preTraffic ?? [])];
  let approvalInserted = false;
  for (const s of env.canary.steps as CanaryStep[]) {
    if ('setWeight' in s) out.push({ setWeight: s.setWeight });
    else if ('pause' in s) out.push({ pause: { duration: s.pause.duration } });
    else {
      out.push({ analysis: { templates: [{ templateName: ctx.gateTemplate }] } });
      if (env.canary.manualApproval && !approvalInserted) {
        // Manual approval: `kubectl argo rollouts promote <rollout> -n <namespace>` continues.
        out.push({ pause: {} });
        approvalInserted = true;
      }
    }
  }
  return out;
}

/** Index of the first traffic step among the Argo steps (where the background analysis starts). */
export const firstTrafficStep = (steps: readonly ArgoStep[]): number => steps.findIndex((s) => 'setWeight' in s);
