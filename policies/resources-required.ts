/**
 * Every container (init containers included) sets CPU and memory requests and limits: on a single
 * 12 GB node an unbounded container can starve the database, and the capacity budget only adds up
 * what is declared. Applies everywhere except the k3s/Flux system namespaces (and the Job template
 * of a k3s upgrade, whose pods are still checked: see the match condition).
 */
import { podBearingMatchConditions, podBearingRules, podSpecVariables } from './pod-spec.ts';
import type { AdmissionPolicy, PolicyContext } from './types.ts';

export const resourcesRequired = (ctx: PolicyContext): AdmissionPolicy => ({
  name: 'lms-resources-required',
  description: 'Every container sets requests and limits for CPU and memory.',
  resourceRules: podBearingRules,
  namespaces: { allExcept: ctx.systemNamespaces },
  matchConditions: [
    ...podBearingMatchConditions,
    {
      // system-upgrade-controller's Plan API has no container resources, so the upgrade Job it makes
      // has none and would never be admitted (found by npm run test:e2e). Its pods get the
      // namespace's LimitRange defaults before this policy checks them as Pods; only the Job
      // template is let through, and only in the upgrade namespace with the controller's plan label.
      name: 'not-an-upgrade-plan-job',
      expression: `!(object.kind == 'Job' && request.namespace == '${ctx.upgradeNamespace}' && has(object.metadata.labels) && 'upgrade.cattle.io/plan' in object.metadata.labels)`,
    },
  ],
  variables: [
    ...podSpecVariables,
    {
      name: 'unbounded',
      expression: "variables.containers.filter(c, !has(c.resources) || !has(c.resources.requests) || !has(c.resources.limits) || !('cpu' in c.resources.requests) || !('memory' in c.resources.requests) || !('cpu' in c.resources.limits) || !('memory' in c.resources.limits)).map(c, c.name)",
    },
  ],
  validations: [{
    expression: 'size(variables.unbounded) == 0',
    message: 'every container must set resources.requests and resources.limits for both cpu and memory',
    messageExpression: "'container(s) ' + variables.unbounded.join(', ') + ' must set resources.requests and resources.limits for both cpu and memory (e.g. requests: {cpu: 50m, memory: 64Mi}, limits: {cpu: 500m, memory: 256Mi}); size them to fit the node budget (npm run budget)'",
    reason: 'Invalid',
  }],
});
