/**
 * A plain autoscaled Deployment: the shape of a workload without public traffic or canary (a
 * background worker). It owns everything around its pods: the Deployment, the metrics Service and
 * ServiceMonitor, the HPA and PodDisruptionBudget (charts-ts/apps/scaling.ts, the same as the
 * canaried Rollouts'), and the NetworkPolicy of its own traffic. Shared services it reaches admit
 * it themselves from the workload list (charts-ts/apps/workload-list.ts), so nothing else is edited.
 *
 * - No `spec.replicas`: the HPA owns the scale (Flux would reset it on every reconcile).
 * - Rolling updates add `workerRolloutSurge` pods and never remove a ready one first
 *   (`maxUnavailable: 0`); the connection budget counts that extra pod's pool.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { Hpa } from '../config/fields.ts';
import type { AppsEnvironment } from '../config/sections/apps.ts';
import { kplus } from '../lib/plus.ts';
import { appNetworkPolicy, type PolicySpec } from './network-policies.ts';
import { disruptionBudget, horizontalAutoscaler, metricsServiceLabel, metricsServiceMonitor } from './scaling.ts';
import { workerRolloutSurge } from './workload-list.ts';

export interface AutoscaledDeploymentProps {
  readonly namespace: string;
  /** Deployment name (and of its HPA, PDB, ServiceMonitor and NetworkPolicy). */
  readonly name: string;
  /** Labels that select exactly this workload's pods. */
  readonly selector: Readonly<Record<string, string>>;
  /** The pod template (metadata + a spec from pod.ts `podSpec`); its `metrics` port is scraped. */
  readonly template: { readonly metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; readonly spec: unknown };
  readonly hpa: Hpa;
  readonly autoscaling: AppsEnvironment['autoscaling'];
  /** The container port named `metrics` (Prometheus scrapes it; the metrics Service points at it). */
  readonly metricsPort: number;
  readonly minReadySeconds: number;
  /** Its own traffic: who may reach its pods, and what they reach (DNS comes from allow-dns). */
  readonly traffic: Omit<PolicySpec, 'podSelector'>;
  /** Why the traffic is what it is (the NetworkPolicy's lms.dev/why annotation). */
  readonly why: string;
}

export class AutoscaledDeployment extends Construct {
  constructor(scope: Construct, id: string, p: AutoscaledDeploymentProps) {
    super(scope, id);
    const ns = p.namespace;
    // ApiObject (ADR 0003 case 3): the pod template comes from pod.ts, whose fields may be newer than
    // 1.27 (a preStop sleep); KubeDeployment's serializer would drop them.
    const deployment = new ApiObject(this, 'deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: p.name, namespace: ns },
      spec: {
        // No replicas: the HorizontalPodAutoscaler below owns the scale.
        selector: { matchLabels: { ...p.selector } },
        template: p.template,
        revisionHistoryLimit: 3,
        minReadySeconds: p.minReadySeconds,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: workerRolloutSurge, maxUnavailable: 0 } },
      },
    });
    new kplus.k8s.KubeService(this, 'svc-metrics', {
      metadata: { name: `${p.name}-metrics`, namespace: ns, labels: { ...p.selector, [metricsServiceLabel]: 'true' } },
      spec: {
        clusterIp: 'None',
        selector: { ...p.selector },
        ports: [{ name: 'metrics', port: p.metricsPort, targetPort: kplus.k8s.IntOrString.fromString('metrics'), protocol: 'TCP' }],
      },
    });
    horizontalAutoscaler(this, 'hpa', { namespace: ns, name: p.name, target: deployment, hpa: p.hpa, autoscaling: p.autoscaling });
    disruptionBudget(this, 'pdb', { namespace: ns, name: p.name, selector: p.selector });
    metricsServiceMonitor(this, 'servicemonitor', { namespace: ns, name: p.name, selector: p.selector });
    appNetworkPolicy(this, ns, p.name, { podSelector: p.selector, ...p.traffic }, p.why);
  }
}
