/**
 * The rendered Rollouts, with the AnalysisTemplates and Services they reference, pass Argo Rollouts'
 * own validation (the checks the controller runs before acting; a failure there leaves the Rollout
 * `InvalidSpec` and nothing rolls out). Run with argo-eval, built from argo-rollouts v1.9.1.
 */
import { describe, expect, it } from 'vitest';
import { migrationTemplateName } from '../../charts-ts/apps/api.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { argoValidate, environments, rendered } from './support.ts';

const r = rendered();
/** The fields of a Rollout the negative cases edit. */
interface EditedRollout { spec: { strategy: { canary: { scaleDownDelaySeconds?: number; steps: { analysis?: { args?: unknown } }[] } } } }
const caseFor = (namespace: string, app: string) => ({
  rollout: structuredClone(r.getOf<EditedRollout>('argoproj.io', 'Rollout', app, namespace)),
  analysisTemplates: r.find('AnalysisTemplate', { namespace }),
  services: r.find('Service', { namespace }),
});

describe('Argo Rollouts validation', () => {
  it('accepts every rendered Rollout with its analysis templates and services', () => {
    const cases = environments(r).flatMap((env) => [names.apps.api, names.apps.web].map((app) => caseFor(env.namespace, app)));
    expect(argoValidate(cases)).toEqual(cases.map(() => []));
  });

  it('rejects what the controller would reject (so the check above can fail)', () => {
    const ns = r.config.environments.production.namespace;
    const withDelay = caseFor(ns, names.apps.api);
    withDelay.rollout.spec.strategy.canary.scaleDownDelaySeconds = 30;
    const noImageArg = caseFor(ns, names.apps.api);
    delete noImageArg.rollout.spec.strategy.canary.steps[0].analysis!.args;
    const missingTemplate = caseFor(ns, names.apps.web);
    missingTemplate.analysisTemplates = missingTemplate.analysisTemplates.filter((t) => t.metadata.name !== 'lms-web-canary-guard');
    const [delay, arg, missing] = argoValidate([withDelay, noImageArg, missingTemplate]);
    expect(delay.join('\n')).toContain('dynamicStableScale cannot be used with scaleDownDelaySeconds');
    expect(arg.join('\n')).toMatch(/args\.image|image/);
    expect(arg.join('\n')).toContain(migrationTemplateName);
    expect(missing.join('\n')).toContain('lms-web-canary-guard');
  });
});
