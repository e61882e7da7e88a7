/**
 * A single-instance stateful service (Redis): the shape of a workload that keeps data on a volume and
 * is reached through one Service. It owns everything around its pod: the ServiceAccount, the client
 * Service (its metrics port scraped through the ServiceMonitor), the governing headless Service, the
 * StatefulSet with its volume claim, and the NetworkPolicy of its own traffic (who may connect: the
 * workloads that declare they use it, from the workload list, so a new consumer edits nothing here).
 *
 * - One replica, no HPA or PDB: the data is not sharded, and a PDB on one pod would block every
 *   node drain (the k3s upgrade) instead of protecting anything.
 * - The volume outlives the StatefulSet (`persistentVolumeClaimRetentionPolicy: Retain`).
 * - Ordered, rolling updates: the new pod starts only after the old one has flushed and exited.
 */
import type { V1PersistentVolumeClaimSpec } from '@kubernetes/client-node';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { kplus } from '../lib/plus.ts';
import { appNetworkPolicy, type PolicySpec } from './network-policies.ts';
import { podSpec, type PodSpecProps } from './pod.ts';
import { metricsServiceLabel, metricsServiceMonitor } from './scaling.ts';

export interface StatefulServiceProps {
  readonly namespace: string;
  /** Name of the StatefulSet, its client Service, ServiceAccount, ServiceMonitor and NetworkPolicy. */
  readonly name: string;
  /** Labels that select exactly this service's pod. */
  readonly selector: Readonly<Record<string, string>>;
  /**
   * Ports of the client Service, each targeting the container port of the same name; the first is
   * the service's own, and one named `metrics` is what Prometheus scrapes (the ServiceMonitor).
   */
  readonly ports: readonly { readonly name: string; readonly port: number }[];
  /** Pod labels and annotations (the selector's labels included). */
  readonly podMetadata: { readonly labels: Record<string, string>; readonly annotations?: Record<string, string> };
  /** The pod (pod.ts); its ServiceAccount is this service's. */
  readonly pod: Omit<PodSpecProps, 'serviceAccountName'>;
  /** The data volume: mounted by the containers under this name. */
  readonly volumeClaim: { readonly name: string; readonly spec: V1PersistentVolumeClaimSpec };
  /** Its own traffic: who may reach its pod (and what it reaches, if anything). */
  readonly traffic: Omit<PolicySpec, 'podSelector'>;
  /** Why the traffic is what it is (the NetworkPolicy's lms.dev/why annotation). */
  readonly why: string;
}

export class StatefulService extends Construct {
  /** Name of the headless Service that governs the StatefulSet (stable pod DNS). */
  readonly headlessService: string;

  constructor(scope: Construct, id: string, p: StatefulServiceProps) {
    super(scope, id);
    const ns = p.namespace;
    const selector = { ...p.selector };
    this.headlessService = `${p.name}-headless`;
    if (!p.ports.some((x) => x.name === 'metrics')) {
      throw new Error(`StatefulService ${ns}/${p.name}: no port named "metrics" among ${p.ports.map((x) => x.name).join(', ')}; the ServiceMonitor scrapes that port`);
    }
    const servicePort = (x: { name: string; port: number }) =>
      ({ name: x.name, port: x.port, targetPort: kplus.k8s.IntOrString.fromString(x.name), protocol: 'TCP' });

    new kplus.k8s.KubeServiceAccount(this, 'sa', { metadata: { name: p.name, namespace: ns }, automountServiceAccountToken: false });
    // The Service clients connect to and Prometheus scrapes.
    new kplus.k8s.KubeService(this, 'svc', {
      metadata: { name: p.name, namespace: ns, labels: { ...selector, [metricsServiceLabel]: 'true' } },
      spec: { type: 'ClusterIP', selector, ports: p.ports.map(servicePort) },
    });
    new kplus.k8s.KubeService(this, 'svc-headless', {
      metadata: { name: this.headlessService, namespace: ns, labels: selector },
      spec: { clusterIp: 'None', selector, ports: [servicePort(p.ports[0])] },
    });
    // ApiObject (ADR 0003 case 3): the pod template comes from pod.ts, whose fields may be newer than
    // 1.27 (a preStop sleep); KubeStatefulSet's serializer would drop them.
    new ApiObject(this, 'statefulset', {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: p.name, namespace: ns },
      spec: {
        replicas: 1,
        serviceName: this.headlessService,
        selector: { matchLabels: selector },
        podManagementPolicy: 'OrderedReady',
        updateStrategy: { type: 'RollingUpdate' },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        template: { metadata: p.podMetadata, spec: podSpec({ serviceAccountName: p.name, ...p.pod }) },
        volumeClaimTemplates: [{ metadata: { name: p.volumeClaim.name }, spec: p.volumeClaim.spec }],
      },
    });
    metricsServiceMonitor(this, 'servicemonitor', { namespace: ns, name: p.name, selector });
    appNetworkPolicy(this, ns, p.name, { podSelector: selector, ...p.traffic }, p.why);
  }
}
