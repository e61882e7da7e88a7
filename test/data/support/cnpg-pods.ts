/**
 * The pods CloudNativePG 1.30.0 and plugin-barman-cloud v0.14.0 create for a Cluster and a Pooler,
 * with the labels the operator gives them, for the network path tests. Read off the sources at the
 * pinned tags (github.com/cloudnative-pg/cloudnative-pg v1.30.0, .../plugin-barman-cloud v0.14.0):
 *
 * - instance pods: pkg/specs/pods.go `buildInstance` (cnpg.io/cluster, cnpg.io/instanceName,
 *   cnpg.io/podRole=instance, app.kubernetes.io/{name=postgresql,instance,version,component=database,
 *   managed-by=cloudnative-pg}); the operator adds the role labels `cnpg.io/instanceRole` and the
 *   deprecated `role` (primary|replica) at run time (internal/controller, pkg/utils
 *   ClusterInstanceRoleLabelName, ClusterRoleLabelName).
 * - bootstrap Jobs: pkg/specs/jobs.go `CreatePrimaryJob`, the same labels as the instance it builds
 *   minus podRole, plus cnpg.io/jobRole: initdb (new cluster), full-recovery (restore from the object
 *   store), join (a replica's pg_basebackup from the primary), named `<instance>-<role>`. The Job
 *   controller adds batch.kubernetes.io/job-name, job-name and the controller-uid labels to its pods.
 * - Pooler pods: pkg/specs/pgbouncer/deployments.go `Deployment`: cnpg.io/poolerName, cnpg.io/cluster,
 *   cnpg.io/podRole=pooler, app.kubernetes.io/{name=postgresql,instance,component=pooler,managed-by};
 *   the Deployment controller adds pod-template-hash. Ports: pgbouncer 5432, metrics 9127
 *   (pkg/management/url PgBouncerMetricsPort).
 * - The Barman Cloud plugin's sidecar (`plugin-barman-cloud`) runs inside the instance pods (WAL
 *   archiving, base backups) and inside the full-recovery/snapshot-recovery Jobs (restore):
 *   internal/cnpgi/operator/lifecycle.go; it adds no labels, so its traffic leaves from those pods.
 * - Instance ports: PostgreSQL 5432, the instance manager's status port 8000 (url.StatusPort) that the
 *   operator calls, the metrics exporter 9187 (url.PostgresMetricsPort).
 *
 * Spec metadata inheritance (spec.inheritedMetadata) adds labels too; our Clusters set none (checked).
 */

import type { CnpgCluster, CnpgPooler } from './cnpg.ts';

export type Labels = Record<string, string>;

/** `app.kubernetes.io/version` on instances and Jobs: the PostgreSQL major of the Cluster's image. */
export function postgresMajor(cluster: CnpgCluster): string {
  const tag = /:(\d+)(?:[.-]|@|$)/.exec(String(cluster.spec.imageName));
  if (!tag) throw new Error(`cannot read the PostgreSQL major from ${cluster.spec.imageName}`);
  return tag[1];
}

const instanceName = (cluster: string, serial: number) => `${cluster}-${serial}`;

const databaseLabels = (cluster: CnpgCluster, serial: number): Labels => {
  if (cluster.spec.inheritedMetadata?.labels) throw new Error(`Cluster ${cluster.metadata.name} sets inheritedMetadata.labels: add them to the pod model`);
  return {
    'cnpg.io/cluster': cluster.metadata.name,
    'cnpg.io/instanceName': instanceName(cluster.metadata.name, serial),
    'app.kubernetes.io/name': 'postgresql',
    'app.kubernetes.io/instance': cluster.metadata.name,
    'app.kubernetes.io/version': postgresMajor(cluster),
    'app.kubernetes.io/component': 'database',
    'app.kubernetes.io/managed-by': 'cloudnative-pg',
  };
};

/** Labels the Job controller puts on a Job's pods. */
export const jobPodLabels = (jobName: string): Labels => ({
  'batch.kubernetes.io/job-name': jobName,
  'job-name': jobName,
  'batch.kubernetes.io/controller-uid': '00000000-0000-4000-8000-000000000000',
  'controller-uid': '00000000-0000-4000-8000-000000000000',
});

/** An instance pod (with the plugin sidecar inside it when the Cluster uses the Barman Cloud plugin). */
export function instancePod(cluster: CnpgCluster, serial: number, role: 'primary' | 'replica'): { name: string; labels: Labels } {
  return {
    name: instanceName(cluster.metadata.name, serial),
    labels: { ...databaseLabels(cluster, serial), 'cnpg.io/podRole': 'instance', 'cnpg.io/instanceRole': role, role },
  };
}

export type JobRole = 'initdb' | 'full-recovery' | 'join';

/** A bootstrap Job's pod: `<cluster>-<serial>-<role>`. */
export function jobPod(cluster: CnpgCluster, serial: number, role: JobRole): { name: string; labels: Labels } {
  const name = `${instanceName(cluster.metadata.name, serial)}-${role}`;
  return { name, labels: { ...databaseLabels(cluster, serial), 'cnpg.io/jobRole': role, ...jobPodLabels(name) } };
}

/** A PgBouncer pod of a Pooler. */
export function poolerPod(pooler: CnpgPooler): { name: string; labels: Labels } {
  return {
    name: `${pooler.metadata.name}-5d8f7c9b4-x2x7q`,
    labels: {
      'cnpg.io/poolerName': pooler.metadata.name,
      'cnpg.io/cluster': pooler.spec.cluster.name,
      'cnpg.io/podRole': 'pooler',
      'app.kubernetes.io/name': 'postgresql',
      'app.kubernetes.io/instance': pooler.spec.cluster.name,
      'app.kubernetes.io/component': 'pooler',
      'app.kubernetes.io/managed-by': 'cloudnative-pg',
      'pod-template-hash': '5d8f7c9b4',
    },
  };
}

export const ports = { postgres: 5432, status: 8000, postgresMetrics: 9187, pgbouncer: 5432, pgbouncerMetrics: 9127 } as const;
