/**
 * What the operators and controllers made from our objects, and whether the API server let them:
 * objects owned (ownerReferences) by our custom resources, and the FailedCreate events a workload
 * controller records when admission (Pod Security, our ValidatingAdmissionPolicies, quotas) denies
 * a pod it tries to create, which is how such a denial shows up nowhere else.
 */
import type { CoreV1Event, V1OwnerReference } from '@kubernetes/client-node';
import { distObjects } from '../../cluster/support/dist.ts';
import type { Kube } from '../../cluster/support/kube.ts';

/** Kinds an operator creates for our resources. */
const createdKinds: [string, string][] = [
  ['apps/v1', 'Deployment'], ['apps/v1', 'StatefulSet'], ['apps/v1', 'ReplicaSet'], ['batch/v1', 'Job'], ['batch/v1', 'CronJob'],
  ['v1', 'Pod'], ['v1', 'Service'], ['v1', 'Secret'], ['v1', 'ConfigMap'], ['v1', 'ServiceAccount'], ['v1', 'PersistentVolumeClaim'],
  ['policy/v1', 'PodDisruptionBudget'], ['rbac.authorization.k8s.io/v1', 'Role'], ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
];

/** Owner kinds that are ours (rendered in dist/) or made by an operator from ours. */
const ownerGroups = /(postgresql\.cnpg\.io|barmancloud\.cnpg\.io|upgrade\.cattle\.io|monitoring\.coreos\.com|argoproj\.io|cert-manager\.io)\//;

export async function operatorCreated(kube: Kube): Promise<string[]> {
  const out: string[] = [];
  for (const [apiVersion, kind] of createdKinds) {
    for (const o of await kube.list(apiVersion, kind)) {
      const owner = (o.metadata.ownerReferences ?? []).find((r: V1OwnerReference) => ownerGroups.test(`${r.apiVersion}`));
      if (owner) out.push(`${kind} ${o.metadata.namespace ?? ''}/${o.metadata.name} <- ${owner.kind} ${owner.name}`);
    }
  }
  return out.sort();
}

/** FailedCreate events (pods, or a StatefulSet's claims, denied at admission), optionally in one namespace. */
export async function failedCreates(kube: Kube, namespace?: string): Promise<string[]> {
  const events = await kube.list<CoreV1Event>('v1', 'Event', namespace);
  return events.filter((e) => /^FailedCreate/.test(e.reason ?? ''))
    .map((e) => `${e.involvedObject.kind} ${e.involvedObject.namespace}/${e.involvedObject.name}: ${e.reason}: ${e.message}`)
    .filter((v, i, a) => a.indexOf(v) === i);
}

/** The HelmReleases dist/ renders (names), optionally only under one dist/ path. */
export function distHelmReleases(under = ''): string[] {
  return distObjects().filter((o) => o.file.startsWith(under)).map((o) => o.object).filter((o) => o.kind === 'HelmRelease').map((o) => o.metadata.name);
}
