/**
 * A canaried web workload: an Argo Rollout whose traffic Traefik splits between a stable and a
 * canary Service through a weighted TraefikService, autoscaled by an HPA, protected by a
 * PodDisruptionBudget, scraped through a ServiceMonitor.
 *
 * - No `spec.replicas`: the HPA owns the scale (Flux applies server-side and never sets it, so the
 *   two never fight).
 * - `dynamicStableScale`: the stable ReplicaSet shrinks as the canary grows. Argo Rollouts reports
 *   stable + canary pods to the HPA (status.HPAReplicas); with the stable set left at 100 % the
 *   HPA adopts that inflated count and grows the stable set during every canary (argo-rollouts
 *   #2857, #3849). With dynamic scaling the pod total stays at spec.replicas (+1 from rounding),
 *   so the HPA sees the real fleet, and the node never has to hold two full fleets.
 * - The TraefikService lists both Services without `weight`; Argo Rollouts writes the weights.
 *   Flux creates it once and leaves it alone (`ssa: IfNotPresent`): its services list is atomic,
 *   so re-applying the git version would wipe the weights in the middle of a canary.
 */
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import type { Environment } from '../config/schema.ts';
import type { AppsEnvironment } from '../config/sections/apps.ts';
import { durationSeconds } from '../config/sections/apps.ts';
import { Rollout } from '../imports/rollout-argoproj.io.ts';
import { ServiceMonitor } from '../imports/servicemonitor-monitoring.coreos.com.ts';
import { TraefikService, TraefikServiceSpecWeightedServicesPort } from '../imports/traefik-service-traefik.io.ts';
import { kplus } from '../lib/plus.ts';
import { canaryServiceNames, servicePort } from './metrics.ts';

/** Pod label Argo Rollouts sets per revision; Services and spreading use it. */
export const podTemplateHashLabel = 'rollouts-pod-template-hash';
/** Ephemeral pod label: which side of the canary a pod is on (stable/canary), kept on metrics. */
export const trackLabel = 'lms.dev/track';

export interface CanaryWorkloadProps {
  readonly env: Environment;
  readonly apps: AppsEnvironment;
  /** Rollout name (names.apps.*). */
  readonly name: string;
  /** Labels that select exactly this app's pods. */
  readonly selector: Record<string, string>;
  /** The pod template (metadata + spec, from pod.ts). */
  readonly template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: any };
  /** HPA bounds (from the environment's workload config). */
  readonly hpa: { min: number; max: number };
  readonly metricsPort: number;
  /** Argo steps (steps.ts) and where the background analysis starts. */
  readonly steps: any[];
  readonly guardTemplate: string;
  readonly guardStartingStep: number;
}

export class CanaryWorkload {
  readonly services: ReturnType<typeof canaryServiceNames>;

  constructor(scope: Construct, id: string, p: CanaryWorkloadProps) {
    const ns = p.env.namespace;
    const svc = canaryServiceNames(p.name);
    this.services = svc;

    // Stable and canary Services: identical at rest; Argo Rollouts adds the revision's
    // rollouts-pod-template-hash to each selector during an update.
    for (const [role, name] of [['stable', svc.stable], ['canary', svc.canary]] as const) {
      new kplus.k8s.KubeService(scope, `${id}-svc-${role}`, {
        metadata: { name, namespace: ns, labels: { ...p.selector, [trackLabel]: role } },
        spec: {
          type: 'ClusterIP',
          selector: p.selector,
          ports: [{ name: 'http', port: servicePort, targetPort: kplus.k8s.IntOrString.fromString('http'), protocol: 'TCP' }],
        },
      });
    }
    // Every pod of the app, stable and canary, for Prometheus.
    new kplus.k8s.KubeService(scope, `${id}-svc-metrics`, {
      metadata: { name: svc.metrics, namespace: ns, labels: { ...p.selector, 'lms.dev/metrics': 'true' } },
      spec: {
        clusterIp: 'None',
        selector: p.selector,
        ports: [{ name: 'metrics', port: p.metricsPort, targetPort: kplus.k8s.IntOrString.fromString('metrics'), protocol: 'TCP' }],
      },
    });

    new TraefikService(scope, `${id}-traefikservice`, {
      metadata: {
        name: svc.traefikService,
        namespace: ns,
        annotations: {
          // Argo Rollouts owns the weights; Flux only creates the object (see the file comment).
          'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent',
        },
      },
      spec: {
        weighted: {
          services: [
            { name: svc.stable, port: TraefikServiceSpecWeightedServicesPort.fromNumber(servicePort) },
            { name: svc.canary, port: TraefikServiceSpecWeightedServicesPort.fromNumber(servicePort) },
          ],
        },
      },
    });

    const rollout = new ApiObject(scope, `${id}-rollout`, {
      apiVersion: Rollout.GVK.apiVersion,
      kind: Rollout.GVK.kind,
      metadata: {
        name: p.name,
        namespace: ns,
        annotations: {
          'lms.dev/manual-approval': String(p.env.canary.manualApproval),
          'lms.dev/docs': 'docs/delivery.md, docs/runbooks/failed-rollout.md',
        },
      },
      spec: {
        // No replicas: the HorizontalPodAutoscaler below owns the scale.
        selector: { matchLabels: p.selector },
        template: p.template,
        revisionHistoryLimit: 3,
        minReadySeconds: p.apps.lifecycle.minReadySeconds,
        progressDeadlineSeconds: durationSeconds(p.apps.lifecycle.progressDeadline),
        progressDeadlineAbort: true,
        // Going back to one of the last 3 revisions (a revert) skips the steps: that code ran here before.
        rollbackWindow: { revisions: 3 },
        strategy: {
          canary: {
            stableService: svc.stable,
            canaryService: svc.canary,
            trafficRouting: { traefik: { weightedTraefikServiceName: svc.traefikService } },
            dynamicStableScale: true,
            // No maxSurge/maxUnavailable: with trafficRouting Argo Rollouts sizes both ReplicaSets
            // from the traffic weights (utils/replicaset/canary.go
            // CalculateReplicaCountsForTrafficRoutedCanary) and never reads them, so setting them
            // would only promise something that does not happen.
            // No scaleDownDelaySeconds: Argo Rollouts rejects it with dynamicStableScale. The stable
            // set only shrinks as its traffic weight does, and preStop covers endpoint propagation.
            stableMetadata: { labels: { [trackLabel]: 'stable' } },
            canaryMetadata: { labels: { [trackLabel]: 'canary' } },
            analysis: {
              templates: [{ templateName: p.guardTemplate }],
              startingStep: p.guardStartingStep,
            },
            steps: p.steps,
          },
        },
        analysis: { successfulRunHistoryLimit: 5, unsuccessfulRunHistoryLimit: 5 },
      },
    });

    new kplus.k8s.KubeHorizontalPodAutoscalerV2(scope, `${id}-hpa`, {
      metadata: { name: p.name, namespace: ns },
      spec: {
        scaleTargetRef: { apiVersion: rollout.apiVersion, kind: rollout.kind, name: p.name },
        minReplicas: p.hpa.min,
        maxReplicas: p.hpa.max,
        metrics: [{
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: p.apps.autoscaling.cpuUtilization } },
        }],
        behavior: {
          // Scale up at once on load, at most doubling (or +2 pods) per minute.
          scaleUp: {
            stabilizationWindowSeconds: 0,
            selectPolicy: 'Max',
            policies: [{ type: 'Percent', value: 100, periodSeconds: 60 }, { type: 'Pods', value: 2, periodSeconds: 60 }],
          },
          // Scale down only after load stayed low for the window, one pod a minute.
          scaleDown: {
            stabilizationWindowSeconds: durationSeconds(p.apps.autoscaling.scaleDownStabilization),
            selectPolicy: 'Min',
            policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
          },
        },
      },
    });

    new ApiObject(scope, `${id}-pdb`, {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: p.name, namespace: ns },
      spec: {
        // One pod at a time may be evicted voluntarily (drains, upgrades); never all of them.
        maxUnavailable: 1,
        selector: { matchLabels: p.selector },
        // A crash-looping pod must not block a node drain.
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });

    new ServiceMonitor(scope, `${id}-servicemonitor`, {
      metadata: { name: p.name, namespace: ns },
      spec: {
        selector: { matchLabels: { ...p.selector, 'lms.dev/metrics': 'true' } },
        endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }],
        podTargetLabels: [trackLabel],
      },
    });
  }
}
