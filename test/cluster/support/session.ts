/**
 * What a test file needs to talk to the run's cluster (started by global-setup.ts), and the shared
 * "dist/ is applied" state: the first file applies and checks it; later files re-apply only if
 * they run on their own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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

/**
 * Warnings the controller logs on every run that say nothing about the Rollouts: its client metrics
 * wrapper cannot parse protobuf request bodies (argoproj/pkg kubeclientmetrics, "invalid character
 * 'k'"); the requests themselves succeed.
 */
const benign = [/Unable to Process Create request/];

/** The Argo Rollouts controller's recent errors and warnings (its log is in the run dir), for failure messages. */
export function rolloutsControllerProblems(lines = 15): string {
  let log = '';
  try { log = readFileSync(join(cluster().runDir, 'rollouts-controller.log'), 'utf8'); } catch { return '(no Argo Rollouts controller log)'; }
  const bad = log.split('\n')
    .filter((l) => /level=(error|warning)|"level":"(error|warning)"/.test(l) && !benign.some((b) => b.test(l)))
    .slice(-lines);
  return bad.length ? `Argo Rollouts controller errors/warnings (last ${bad.length}):\n${bad.join('\n')}` : 'Argo Rollouts controller logged no errors or warnings';
}
