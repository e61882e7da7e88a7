/**
 * One environment's database, in its app namespace: the CloudNativePG Cluster with continuous
 * backup to Contabo Object Storage, the nightly base backup, a Pooler when the connection budget
 * needs one, the restore cluster when config asks for one, and who may connect.
 */
import type { Construct } from 'constructs';
import type { Config, Environment } from '../config/schema.ts';
import {
  ScheduledBackup, ScheduledBackupSpecBackupOwnerReference, ScheduledBackupSpecMethod, ScheduledBackupSpecTarget,
} from '../imports/cnpg-scheduledbackup-postgresql.cnpg.io.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { names } from '../lib/names.ts';
import { clusterDnsEgress, inNamespace, kubernetesApiEgress, publicHttpsEgress, tcp } from '../lib/network-policy.ts';
import { kplus } from '../lib/plus.ts';
import { platformNs } from '../lib/namespaces.ts';
import { checkedConnectionBudget, type ConnectionBudget } from './connection-budget.ts';
import { LogicalDumpCronJob, logicalDumpName } from './logical-dump.ts';
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
      // Sized by cluster.data.recoveryCluster, its volume by recovery.storageSize, so it fits next
      // to the live cluster (the quota and the capacity budget count it).
      const sizing = config.cluster.data.recoveryCluster;
      new PostgresCluster(this, 'RecoveryCluster', {
        config,
        env,
        name: this.recovery.clusterName,
        instances: 1,
        resources: sizing.resources,
        maxConnections: { value: sizing.maxConnections, field: 'cluster.data.recoveryCluster.maxConnections' },
        storageSize: this.recovery.storageSize,
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

  /**
   * The app namespace denies all traffic by default (charts-ts/apps/network-policies.ts): these
   * admit the database's clients and the CloudNativePG flows. Ingress: PostgreSQL from this
   * namespace only, the instance manager's status port from the operator and between instances,
   * the exporters from Prometheus. Egress: the cluster DNS, the Kubernetes API (instance manager,
   * Barman sidecar, bootstrap and recovery Jobs), other instances (replication), Object Storage over
   * HTTPS.
   *
   * Everything these pods need ships here, in the data layer: the apps layers (default-deny,
   * allow-dns) are applied only after platform-data is Ready, so on a first install or a restore
   * onto a fresh server these are the only policies in force, and a pod they isolate for egress
   * gets nothing else, not even DNS. test/data/network-paths.test.ts evaluates every flow at each
   * layer state.
   */
  private addNetworkPolicies(env: Environment): void {
    const cnpgPods = { matchExpressions: [{ key: 'cnpg.io/cluster', operator: 'Exists' }] };
    const prometheus = inNamespace(names.monitoring.namespace, names.monitoring.prometheusPodLabels);
    networkPolicy(this, 'PostgresIngress', env, `${names.database.cluster}-ingress`, {
      // Every CloudNativePG pod of the namespace: instances, their bootstrap/recovery Jobs, a recovery cluster.
      podSelector: cnpgPods,
      policyTypes: ['Ingress'],
      ingress: [
        // API, migrations, the dump Job, the pooler, replication between instances.
        { from: [{ podSelector: {} }], ports: tcp(5432) },
        { from: [inNamespace(platformNs.cnpg), { podSelector: cnpgPods }], ports: tcp(8000) },
        { from: [prometheus], ports: tcp(9187) },
      ],
    });
    networkPolicy(this, 'PostgresEgress', env, `${names.database.cluster}-egress`, {
      podSelector: cnpgPods,
      policyTypes: ['Egress'],
      egress: [
        clusterDnsEgress,
        ...kubernetesApiEgress,
        { to: [{ podSelector: cnpgPods }], ports: tcp(5432, 8000) },
        objectStorageEgress,
      ],
    });
    if (this.budget.pooler) {
      const poolerPods = { matchLabels: { 'cnpg.io/poolerName': names.database.poolerService } };
      networkPolicy(this, 'PoolerTraffic', env, names.database.poolerService, {
        podSelector: poolerPods,
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          { from: [{ podSelector: {} }], ports: tcp(5432) },
          { from: [prometheus], ports: tcp(9127) },
        ],
        // PgBouncer resolves the -rw Service; its instance manager reads its Secrets from the API;
        // PgBouncer reaches PostgreSQL.
        egress: [clusterDnsEgress, ...kubernetesApiEgress, { to: [{ podSelector: { matchLabels: { 'cnpg.io/cluster': names.database.cluster } } }], ports: tcp(5432) }],
      });
    }
  }
}

function networkPolicy(scope: Construct, id: string, env: Environment, name: string, spec: kplus.k8s.NetworkPolicySpec): kplus.k8s.KubeNetworkPolicy {
  return new kplus.k8s.KubeNetworkPolicy(scope, id, { metadata: { name, namespace: env.namespace }, spec });
}

/** Contabo Object Storage: HTTPS to public addresses (its endpoint's addresses are not ours to pin). */
const objectStorageEgress = publicHttpsEgress;

export class LogicalDumpChart extends LmsChart {
  constructor(scope: Construct, id: string, props: DatabaseChartProps) {
    super(scope, id, { layer: layers.data, component: 'database-backup', namespace: props.env.namespace });
    new LogicalDumpCronJob(this, 'LogicalDump', props);
    // The dump pod resolves names and reaches PostgreSQL and Object Storage, nothing else (it has no
    // API token).
    networkPolicy(this, 'Egress', props.env, `${logicalDumpName}-egress`, {
      podSelector: { matchLabels: { 'app.kubernetes.io/name': logicalDumpName } },
      policyTypes: ['Egress'],
      egress: [
        clusterDnsEgress,
        { to: [{ podSelector: { matchLabels: { 'cnpg.io/cluster': names.database.cluster } } }], ports: tcp(5432) },
        objectStorageEgress,
      ],
    });
  }
}
