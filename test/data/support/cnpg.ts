/**
 * CloudNativePG objects as rendered, typed as the fields the data tests read (fields compared whole
 * are unknown). CRD: postgresql.cnpg.io/v1 (Cluster, Pooler, ScheduledBackup).
 */
import type { V1LabelSelector, V1PodSpec } from '@kubernetes/client-node';
import type { NamedManifest } from '../../../charts-ts/lib/workloads.ts';

export const cnpgGroup = 'postgresql.cnpg.io';

export interface CnpgClusterJson {
  readonly spec: {
    readonly imageName: string;
    readonly instances: number;
    readonly inheritedMetadata?: { readonly labels?: Record<string, string> };
    readonly bootstrap: {
      readonly initdb?: { readonly database?: string; readonly owner?: string; readonly [field: string]: unknown };
      readonly recovery?: { readonly recoveryTarget?: unknown; readonly owner?: string; readonly [field: string]: unknown };
    };
    readonly enableSuperuserAccess?: boolean;
    readonly storage: { readonly size: string; readonly [field: string]: unknown };
    readonly resources?: unknown;
    readonly postgresql: { readonly parameters: Record<string, string> };
    readonly monitoring?: { readonly enablePodMonitor?: boolean };
    readonly plugins?: readonly { readonly parameters: Record<string, string>; readonly [field: string]: unknown }[];
    readonly externalClusters?: readonly { readonly plugin: { readonly parameters: Record<string, string> }; readonly [field: string]: unknown }[];
    readonly backup?: unknown;
    readonly primaryUpdateMethod?: string;
  };
}
export type CnpgCluster = NamedManifest & CnpgClusterJson;

export interface CnpgPoolerJson {
  readonly spec: {
    readonly cluster: { readonly name: string };
    readonly type: string;
    readonly instances: number;
    readonly pgbouncer: { readonly poolMode: string; readonly image: string; readonly parameters: Record<string, string> };
    readonly template?: { readonly spec: V1PodSpec };
  };
}
export type CnpgPooler = NamedManifest & CnpgPoolerJson;

/** A PodMonitor (monitoring.coreos.com/v1): the fields read. */
export interface PodMonitorJson { readonly spec: { readonly selector: V1LabelSelector; readonly podMetricsEndpoints: unknown } }
