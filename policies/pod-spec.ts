/**
 * Pod-bearing objects and how to reach their pod spec from CEL. Policies check workloads (so `flux`
 * and `kubectl apply` fail at once with the message) and Pods (so pods made by operators and Helm
 * charts are checked too).
 */
import type { NamedExpression, ResourceRule } from './types.ts';

const write: ResourceRule['operations'] = ['CREATE', 'UPDATE'];

export const podBearingRules: ResourceRule[] = [
  { apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'] },
  { apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments', 'statefulsets', 'daemonsets'], operations: write },
  { apiGroups: ['batch'], apiVersions: ['v1'], resources: ['jobs', 'cronjobs'], operations: write },
  { apiGroups: ['argoproj.io'], apiVersions: ['v1alpha1'], resources: ['rollouts'], operations: write },
];

/** A Rollout may reference a Deployment's template (`workloadRef`) instead of carrying one. */
export const podBearingMatchConditions: NamedExpression[] = [
  { name: 'has-pod-template', expression: "object.kind != 'Rollout' || has(object.spec.template)" },
];

/** `variables.podSpec` and `variables.containers` (init containers included). */
export const podSpecVariables: NamedExpression[] = [
  {
    name: 'podSpec',
    expression: "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)",
  },
  {
    name: 'containers',
    expression: 'variables.podSpec.containers + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : [])',
  },
];
