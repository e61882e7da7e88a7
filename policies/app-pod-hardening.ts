/**
 * In app namespaces: no privileged containers, no hostPath volumes, no host network, PID or IPC
 * namespace. Pod Security `restricted` rejects these too; this policy says exactly what to change,
 * and still holds if someone relaxes a namespace's Pod Security label.
 */
import { podBearingMatchConditions, podBearingRules, podSpecVariables } from './pod-spec.ts';
import type { AdmissionPolicy, PolicyContext } from './types.ts';

export const appPodHardening = (ctx: PolicyContext): AdmissionPolicy => ({
  name: 'lms-app-pod-hardening',
  description: 'App pods get no host access: no privileged containers, hostPath volumes, hostNetwork, hostPID or hostIPC.',
  resourceRules: podBearingRules,
  namespaces: { withLabel: { key: ctx.appNamespaceLabel.key, values: [ctx.appNamespaceLabel.value] } },
  matchConditions: podBearingMatchConditions,
  variables: [
    ...podSpecVariables,
    {
      name: 'privileged',
      expression: 'variables.containers.filter(c, has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged == true).map(c, c.name)',
    },
    {
      name: 'hostPathVolumes',
      expression: 'has(variables.podSpec.volumes) ? variables.podSpec.volumes.filter(v, has(v.hostPath)).map(v, v.name) : []',
    },
  ],
  validations: [
    {
      expression: 'size(variables.privileged) == 0',
      message: 'privileged containers are not allowed in app namespaces; remove securityContext.privileged',
      messageExpression: "'container(s) ' + variables.privileged.join(', ') + ' are privileged; app namespaces allow no privileged containers: remove securityContext.privileged'",
      reason: 'Forbidden',
    },
    {
      expression: 'size(variables.hostPathVolumes) == 0',
      message: 'hostPath volumes are not allowed in app namespaces; use a PersistentVolumeClaim, emptyDir, ConfigMap or Secret',
      messageExpression: "'volume(s) ' + variables.hostPathVolumes.join(', ') + ' mount a hostPath; app namespaces may not read the node\\'s files: use a PersistentVolumeClaim, emptyDir, ConfigMap or Secret'",
      reason: 'Forbidden',
    },
    {
      expression: '!has(variables.podSpec.hostNetwork) || variables.podSpec.hostNetwork == false',
      message: 'hostNetwork is not allowed in app namespaces; remove spec.hostNetwork and expose the port through a Service',
      reason: 'Forbidden',
    },
    {
      expression: '!has(variables.podSpec.hostPID) || variables.podSpec.hostPID == false',
      message: 'hostPID is not allowed in app namespaces; remove spec.hostPID',
      reason: 'Forbidden',
    },
    {
      expression: '!has(variables.podSpec.hostIPC) || variables.podSpec.hostIPC == false',
      message: 'hostIPC is not allowed in app namespaces; remove spec.hostIPC',
      reason: 'Forbidden',
    },
  ],
});
