/**
 * What a test file needs to talk to the run's cluster (started by global-setup.ts), and the shared
 * "dist/ is applied" state: the first file applies and checks it; later files re-apply only if
 * they run on their own.
 */
import { inject } from 'vitest';
import { applyDist } from './apply.ts';
import { Kube } from './kube.ts';

export function cluster() {
  return inject('cluster');
}

export async function connect(): Promise<Kube> {
  return Kube.fromKubeconfig(cluster().kubeconfig);
}

const marker = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'lms-cluster-test-dist-applied', namespace: 'default' } };

export async function markDistApplied(kube: Kube): Promise<void> {
  await kube.apply(marker, { fieldManager: 'lms-cluster-test' });
}

/** Apply dist/ unless 10-apply.test.ts already did in this run (its problems are that file's to report). */
export async function ensureDistApplied(kube: Kube): Promise<void> {
  if (await kube.get('v1', 'ConfigMap', marker.metadata.name, 'default')) return;
  await applyDist(kube);
  await markDistApplied(kube);
}
