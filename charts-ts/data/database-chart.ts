/**
 * One environment's database, in its app namespace: the CloudNativePG Cluster with continuous
 * backup to Contabo Object Storage, the nightly base backup, a Pooler when the connection budget
 * needs one, the restore cluster when config asks for one, and who may connect.
 */
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import type { Config, Environment } from '../config/schema.ts';
import {
  ScheduledBackup, ScheduledBackupSpecBackupOwnerReference, ScheduledBackupSpecMethod, ScheduledBackupSpecTarget,
} from '../imports/cnpg-scheduledbackup-postgresql.cnpg.io.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { names } from '../lib/names.ts';
import { platformNs } from '../lib/namespaces.ts';
import { checkedConnectionBudget, type ConnectionBudget } from './connection-budget.ts';
import { LogicalDumpCronJob } from './logical-dump.ts';
import { barmanPluginName, BarmanObjectStore } from './object-store.ts';
import { PgBouncerPooler } from './pooler.ts';
import { PostgresCluster } from './postgres-cluster.ts';
import { recoveryPlan, type RecoveryPlan } from './recovery.ts';

export interface DatabaseChartProps {
  readonly config: Config;
  readonly env: Environment;
}

export class DatabaseChart extends LmsChart {
  readonly budget: ConnectionBudget;
  readonly recovery?: RecoveryPlan;

  constructor(scope: Construct, id: string, props: DatabaseChartProps) {
    super(scope, id, { layer: layers.data, component: 'database', namespace: props.env.namespace });
    const { config, env } = props;
    const db = env.database;
    this.budget = checkedConnectionBudget(env);
    this.recovery = recoveryPlan(env);

    const objectStore = new BarmanObjectStore(this, 'ObjectStore', { config, env });
    const inPlace = this.recovery?.mode === 'in-place' ? this.recovery : undefined;
    new PostgresCluster(this, 'Cluster', {
      config,
      env,
      name: names.database.cluster,
      instances: db.instances,
      resources: db.resources,
      objectStore,
      serverName: db.backup.serverName,
      recovery: inPlace ? { serverName: inPlace.sourceServerName, targetTime: inPlace.targetTime } : undefined,
    });

    new ScheduledBackup(this, 'NightlyBackup', {
      metadata: { name: `${names.database.cluster}-nightly`, namespace: env.namespace },
      spec: {
        cluster: { name: names.database.cluster },
        schedule: config.cluster.data.backup.schedule,
        method: ScheduledBackupSpecMethod.PLUGIN,
        pluginConfiguration: { name: barmanPluginName },
        // A new cluster (or a new serverName after a restore) gets its first base backup at once.
        immediate: true,
        backupOwnerReference: ScheduledBackupSpecBackupOwnerReference.SELF,
        target: ScheduledBackupSpecTarget.PREFER_HYPHEN_STANDBY,
      },
    });

    if (this.recovery?.mode === 'side-by-side') {
      // One instance is enough to inspect and copy data out; it lives until the block is removed.
      new PostgresCluster(this, 'RecoveryCluster', {
        config,
        env,
        name: this.recovery.clusterName,
        instances: 1,
        resources: db.resources,
        objectStore,
        serverName: this.recovery.archiveServerName,
        recovery: { serverName: this.recovery.sourceServerName, targetTime: this.recovery.targetTime },
      });
    }

    if (this.budget.pooler) {
      new PgBouncerPooler(this, 'Pooler', {
        env,
        name: names.database.poolerService,
        clusterName: names.database.cluster,
        image: config.cluster.data.pgbouncerImage,
        instances: db.pooler.instances,
        defaultPoolSize: db.pooler.defaultPoolSize,
        maxClientConn: this.budget.poolerMaxClientConn,
        resources: db.pooler.resources,
      });
    }

    this.addNetworkPolicies(env);
  }

  /** Only this namespace reaches PostgreSQL; the operator its status port; Prometheus the exporters. */
  private addNetworkPolicies(env: Environment): void {
    const tcp = (port: number) => ({ protocol: 'TCP', port });
    const fromNamespace = (ns: string, podLabels?: Record<string, string>) => ({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      ...(podLabels ? { podSelector: { matchLabels: podLabels } } : {}),
    });
    const prometheus = fromNamespace(names.monitoring.namespace, names.monitoring.prometheusPodLabels);
    new ApiObject(this, 'PostgresIngress', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `${names.database.cluster}-ingress`, namespace: env.namespace },
      spec: {
        // Every CloudNativePG cluster of the namespace (the live one and a recovery cluster).
        podSelector: { matchExpressions: [{ key: 'cnpg.io/cluster', operator: 'Exists' }] },
        policyTypes: ['Ingress'],
        ingress: [
          // API, migrations, the dump Job, the pooler, replication between instances.
          { from: [{ podSelector: {} }], ports: [tcp(5432)] },
          // Instance manager status (operator), and between instances of a cluster.
          { from: [fromNamespace(platformNs.cnpg), { podSelector: { matchExpressions: [{ key: 'cnpg.io/cluster', operator: 'Exists' }] } }], ports: [tcp(8000)] },
          { from: [prometheus], ports: [tcp(9187)] },
        ],
      },
    });
    if (this.budget.pooler) {
      new ApiObject(this, 'PoolerIngress', {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: `${names.database.poolerService}-ingress`, namespace: env.namespace },
        spec: {
          podSelector: { matchLabels: { 'cnpg.io/poolerName': names.database.poolerService } },
          policyTypes: ['Ingress'],
          ingress: [
            { from: [{ podSelector: {} }], ports: [tcp(5432)] },
            { from: [prometheus], ports: [tcp(9127)] },
          ],
        },
      });
    }
  }
}

export class LogicalDumpChart extends LmsChart {
  constructor(scope: Construct, id: string, props: DatabaseChartProps) {
    super(scope, id, { layer: layers.data, component: 'database-backup', namespace: props.env.namespace });
    new LogicalDumpCronJob(this, 'LogicalDump', props);
  }
}
