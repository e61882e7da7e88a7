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
import type { V1PodSpec } from '@kubernetes/client-node';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { Environment } from '../config/schema.ts';
import type { AppsEnvironment } from '../config/sections/apps.ts';
import { durationSeconds } from '../config/sections/apps.ts';
import { Rollout } from '../imports/rollout-argoproj.io.ts';
import { TraefikService, TraefikServiceSpecWeightedServicesPort } from '../imports/traefik-service-traefik.io.ts';
import { canarySubscriptions, templateHash, templateHashAnnotation } from '../lib/canary-events.ts';
import { kplus } from '../lib/plus.ts';
import { canaryServiceNames, servicePort } from './metrics.ts';
import { disruptionBudget, horizontalAutoscaler, metricsServiceLabel, metricsServiceMonitor } from './scaling.ts';
import type { ArgoStep } from './steps.ts';

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
  readonly template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: V1PodSpec };
  /** HPA bounds (from the environment's workload config). */
  readonly hpa: { min: number; max: number };
  readonly metricsPort: number;
  /** Argo steps (steps.ts) and where the background analysis starts. */
  readonly steps: readonly ArgoStep[];
  readonly guardTemplate: string;
  readonly guardStartingStep: number;
}

export class CanaryWorkload extends Construct {
  readonly services: ReturnType<typeof canaryServiceNames>;

  constructor(scope: Construct, id: string, p: CanaryWorkloadProps) {
    super(scope, id);
    const ns = p.env.namespace;
    const svc = canaryServiceNames(p.name);
    this.services = svc;
    this.addServices(p, svc);
    this.addTraefikServices(p, svc);
    const rollout = this.addRollout(p, svc);
    horizontalAutoscaler(this, 'hpa', { namespace: ns, name: p.name, target: rollout, hpa: p.hpa, autoscaling: p.apps.autoscaling });
    disruptionBudget(this, 'pdb', { namespace: ns, name: p.name, selector: p.selector });
    metricsServiceMonitor(this, 'servicemonitor', { namespace: ns, name: p.name, selector: p.selector, podTargetLabels: [trackLabel] });
  }

  /** Stable, canary and metrics Services. */
  private addServices(p: CanaryWorkloadProps, svc: ReturnType<typeof canaryServiceNames>): void {
    const ns = p.env.namespace;

    // Stable and canary Services: identical at rest; Argo Rollouts adds the revision's
    // rollouts-pod-template-hash to each selector during an update.
    for (const [role, name] of [['stable', svc.stable], ['canary', svc.canary]] as const) {
      new kplus.k8s.KubeService(this, `svc-${role}`, {
        metadata: { name, namespace: ns, labels: { ...p.selector, [trackLabel]: role } },
        spec: {
          type: 'ClusterIP',
          selector: p.selector,
          ports: [{ name: 'http', port: servicePort, targetPort: kplus.k8s.IntOrString.fromString('http'), protocol: 'TCP' }],
        },
      });
    }
    // Every pod of the app, stable and canary, for Prometheus.
    new kplus.k8s.KubeService(this, 'svc-metrics', {
      metadata: { name: svc.metrics, namespace: ns, labels: { ...p.selector, [metricsServiceLabel]: 'true' } },
      spec: {
        clusterIp: 'None',
        selector: p.selector,
        ports: [{ name: 'metrics', port: p.metricsPort, targetPort: kplus.k8s.IntOrString.fromString('metrics'), protocol: 'TCP' }],
      },
    });

  }

  /** The weighted TraefikService Argo Rollouts shifts, and the probe's canary-only one. */
  private addTraefikServices(p: CanaryWorkloadProps, svc: ReturnType<typeof canaryServiceNames>): void {
    const ns = p.env.namespace;
    new TraefikService(this, 'traefikservice', {
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

    // The probe's route goes through a TraefikService of the canary Service alone (metrics.ts
    // canaryServiceNames): its requests are recorded under the canary's label, its router series
    // tell them apart. Argo Rollouts never touches it, so Flux owns it like any object.
    if (p.apps.probe.enabled) new TraefikService(this, 'probe-traefikservice', {
      metadata: { name: svc.probeTraefikService, namespace: ns },
      spec: {
        weighted: {
          services: [{ name: svc.canary, port: TraefikServiceSpecWeightedServicesPort.fromNumber(servicePort), weight: 1 }],
        },
      },
    });

  }

  /** The Rollout: traffic-routed canary with dynamic stable scaling, the guard analysis from the first traffic step. */
  private addRollout(p: CanaryWorkloadProps, svc: ReturnType<typeof canaryServiceNames>): ApiObject {
    const ns = p.env.namespace;
    return new ApiObject(this, 'rollout', {
      apiVersion: Rollout.GVK.apiVersion,
      kind: Rollout.GVK.kind,
      metadata: {
        name: p.name,
        namespace: ns,
        annotations: {
          'lms.dev/manual-approval': String(p.env.canary.manualApproval),
          'lms.dev/docs': 'docs/delivery.md, docs/runbooks/failed-rollout.md',
          // Which pod template this is (the canary events name it); metadata, so no new revision.
          [templateHashAnnotation]: templateHash(p.template),
          // A canary a human approves reports its pause, abort and completion (lib/canary-events.ts).
          ...(p.env.canary.manualApproval ? canarySubscriptions() : {}),
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
  }
}
