/**
 * A CloudNativePG Cluster with this platform's defaults: pinned operand image, no superuser access,
 * the application database owned by its own role, data checksums, parameters sized to the memory
 * limit, WAL archiving and backups through the Barman Cloud plugin, a PodMonitor (the operator-made
 * one is deprecated in 1.30), and the capacity footprint of the pods the operator will create.
 *
 * With `recovery` set, the cluster bootstraps from the object store instead of initdb.
 */
import { Construct } from 'constructs';
import { ConfigError } from '../config/load.ts';
import type { Config, Environment, Resources } from '../config/schema.ts';
import { imageRef } from '../config/schema.ts';
import {
  Cluster, ClusterSpecPrimaryUpdateMethod, ClusterSpecPrimaryUpdateStrategy,
  ClusterSpecResourcesLimits, ClusterSpecResourcesRequests, type ClusterSpecBootstrap, type ClusterSpecExternalClusters,
} from '../imports/cnpg-cluster-postgresql.cnpg.io.ts';
import { PodMonitor } from '../imports/podmonitor-monitoring.coreos.com.ts';
import { footprintAnnotation, footprintValue } from '../lib/footprint.ts';
import { names } from '../lib/names.ts';
import { cpuCores, memoryBytes, MiB } from '../lib/quantity.ts';
import { barmanPluginName, type BarmanObjectStore } from './object-store.ts';
import { MemoryBudgetError, postgresParameters } from './postgres-parameters.ts';

/** Name of the restore source in `externalClusters`. */
export const recoverySourceName = 'backup-source';

export interface RecoverySource {
  /** serverName whose base backups and WAL are restored. */
  readonly serverName: string;
  /** RFC 3339; omitted = replay all archived WAL. */
  readonly targetTime?: string;
}

export interface PostgresClusterProps {
  readonly config: Config;
  readonly env: Environment;
  /** Cluster name; the operator derives `<name>-rw`, `<name>-app`, `<name>-ca` ... from it. */
  readonly name: string;
  readonly instances: number;
  readonly resources: Resources;
  readonly objectStore: BarmanObjectStore;
  /** Where this cluster archives its WAL and base backups. */
  readonly serverName: string;
  /** Volume size; default the environment's database.storageSize. */
  readonly storageSize?: string;
  /** max_connections; default the environment's database.maxConnections. */
  readonly maxConnections?: { readonly value: number; readonly field: string };
  /** Bootstrap from these backups instead of an empty database. */
  readonly recovery?: RecoverySource;
}

/** Sum CPU and memory quantities (for a pod made of several containers). */
export function sumResources(list: Resources[]): Resources {
  const cpu = (k: 'requests' | 'limits') => `${Math.round(list.reduce((s, r) => s + cpuCores(r[k].cpu), 0) * 1000)}m`;
  const mem = (k: 'requests' | 'limits') => `${Math.round(list.reduce((s, r) => s + memoryBytes(r[k].memory), 0) / MiB)}Mi`;
  return { requests: { cpu: cpu('requests'), memory: mem('requests') }, limits: { cpu: cpu('limits'), memory: mem('limits') } };
}

function parametersFor(maxConnections: { value: number; field: string }, resources: Resources, archiveTimeout: string): Record<string, string> {
  try {
    return postgresParameters({
      memoryLimit: resources.limits.memory,
      cpuLimitCores: cpuCores(resources.limits.cpu),
      maxConnections: maxConnections.value,
      archiveTimeout,
    });
  } catch (e) {
    if (e instanceof MemoryBudgetError) {
      throw new ConfigError([`${maxConnections.field}: ${maxConnections.value} ${e.message}`]);
    }
    throw e;
  }
}

export class PostgresCluster extends Construct {
  readonly cluster: Cluster;
  readonly name: string;
  /** postgres + Barman Cloud sidecar, per instance. */
  readonly podResources: Resources;

  constructor(scope: Construct, id: string, props: PostgresClusterProps) {
    super(scope, id);
    const { config, env } = props;
    const data = config.cluster.data;
    this.name = props.name;
    this.podResources = sumResources([props.resources, data.backup.sidecar.resources]);

    const bootstrap: ClusterSpecBootstrap = props.recovery
      ? {
        recovery: {
          source: recoverySourceName,
          database: names.database.name,
          owner: names.database.owner,
          ...(props.recovery.targetTime ? { recoveryTarget: { targetTime: props.recovery.targetTime } } : {}),
        },
      }
      : {
        initdb: {
          database: names.database.name,
          owner: names.database.owner,
          // Checksums catch silent corruption on read instead of restoring it into every backup.
          dataChecksums: true,
          encoding: 'UTF8',
        },
      };
    const externalClusters: ClusterSpecExternalClusters[] | undefined = props.recovery
      ? [{
        name: recoverySourceName,
        plugin: {
          name: barmanPluginName,
          parameters: { barmanObjectName: props.objectStore.name, serverName: props.recovery.serverName },
        },
      }]
      : undefined;

    this.cluster = new Cluster(this, 'Resource', {
      metadata: {
        name: props.name,
        namespace: env.namespace,
        annotations: {
          [footprintAnnotation]: footprintValue([{
            name: `${props.name} (postgres + barman-cloud sidecar)`,
            replicas: props.instances,
            ...this.podResources,
          }]),
        },
      },
      spec: {
        description: `LMS ${env.name} database`,
        instances: props.instances,
        imageName: imageRef(data.postgres.image),
        imagePullPolicy: 'IfNotPresent',
        enableSuperuserAccess: false,
        // Two instances: minor upgrades switch over to the updated standby instead of restarting.
        primaryUpdateStrategy: ClusterSpecPrimaryUpdateStrategy.UNSUPERVISED,
        primaryUpdateMethod: props.instances > 1 ? ClusterSpecPrimaryUpdateMethod.SWITCHOVER : ClusterSpecPrimaryUpdateMethod.RESTART,
        storage: {
          storageClass: env.database.storageClass ?? config.cluster.storageClass,
          size: props.storageSize ?? env.database.storageSize,
        },
        resources: {
          requests: {
            cpu: ClusterSpecResourcesRequests.fromString(props.resources.requests.cpu),
            memory: ClusterSpecResourcesRequests.fromString(props.resources.requests.memory),
          },
          limits: {
            cpu: ClusterSpecResourcesLimits.fromString(props.resources.limits.cpu),
            memory: ClusterSpecResourcesLimits.fromString(props.resources.limits.memory),
          },
        },
        postgresql: {
          parameters: parametersFor(
            props.maxConnections ?? { value: env.database.maxConnections, field: `environments.${env.name}.database.maxConnections` },
            props.resources, data.backup.archiveTimeout,
          ),
        },
        bootstrap,
        externalClusters,
        plugins: [{
          name: barmanPluginName,
          isWalArchiver: true,
          parameters: { barmanObjectName: props.objectStore.name, serverName: props.serverName },
        }],
      },
    });

    // The Cluster's own `monitoring.enablePodMonitor` is deprecated (CloudNativePG 1.30 docs,
    // monitoring.md): the PodMonitor is ours to own.
    new PodMonitor(this, 'PodMonitor', {
      metadata: { name: props.name, namespace: env.namespace },
      spec: {
        selector: { matchLabels: { 'cnpg.io/cluster': props.name } },
        podMetricsEndpoints: [{ port: 'metrics' }],
      },
    });
  }
}
