/**
 * What every autoscaled app workload carries around its pods, whatever makes them (the canaried
 * Rollouts of charts-ts/apps/canary.ts, the plain Deployments of charts-ts/apps/autoscaled-deployment.ts):
 * the HorizontalPodAutoscaler, the PodDisruptionBudget and the ServiceMonitor. One definition, so a
 * new workload shape gets the same scaling behaviour and drain rules instead of a copy.
 */
import type { Construct } from 'constructs';
import type { Hpa } from '../config/fields.ts';
import type { AppsEnvironment } from '../config/sections/apps.ts';
import { durationSeconds } from '../config/sections/apps.ts';
import { ServiceMonitor } from '../imports/servicemonitor-monitoring.coreos.com.ts';
import { kplus } from '../lib/plus.ts';

/** Label of the Service Prometheus scrapes (the ServiceMonitor selects it). */
export const metricsServiceLabel = 'lms.dev/metrics';

export interface AutoscalerProps {
  readonly namespace: string;
  readonly name: string;
  /** The workload the HPA scales (it sets no spec.replicas: the HPA owns the scale). */
  readonly target: { readonly apiVersion: string; readonly kind: string };
  readonly hpa: Hpa;
  readonly autoscaling: AppsEnvironment['autoscaling'];
}

/** CPU-driven HPA: scale up at once (at most doubling or +2 pods a minute), down one pod a minute after the window. */
export function horizontalAutoscaler(scope: Construct, id: string, p: AutoscalerProps): void {
  new kplus.k8s.KubeHorizontalPodAutoscalerV2(scope, id, {
    metadata: { name: p.name, namespace: p.namespace },
    spec: {
      scaleTargetRef: { apiVersion: p.target.apiVersion, kind: p.target.kind, name: p.name },
      minReplicas: p.hpa.min,
      maxReplicas: p.hpa.max,
      metrics: [{
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: p.autoscaling.cpuUtilization } },
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
          stabilizationWindowSeconds: durationSeconds(p.autoscaling.scaleDownStabilization),
          selectPolicy: 'Min',
          policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
        },
      },
    },
  });
}

/** One pod at a time may be evicted voluntarily (drains, upgrades); a crash-looping pod never blocks a drain. */
export function disruptionBudget(scope: Construct, id: string, p: { namespace: string; name: string; selector: Readonly<Record<string, string>> }): void {
  new kplus.k8s.KubePodDisruptionBudget(scope, id, {
    metadata: { name: p.name, namespace: p.namespace },
    spec: {
      // One pod at a time may be evicted voluntarily (drains, upgrades); never all of them.
      maxUnavailable: kplus.k8s.IntOrString.fromNumber(1),
      selector: { matchLabels: { ...p.selector } },
      // A crash-looping pod must not block a node drain.
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  });
}

/** Prometheus scrapes `/metrics` on the port named `metrics` of the Service labelled for it. */
export function metricsServiceMonitor(scope: Construct, id: string, p: { namespace: string; name: string; selector: Readonly<Record<string, string>>; podTargetLabels?: string[] }): void {
  new ServiceMonitor(scope, id, {
    metadata: { name: p.name, namespace: p.namespace },
    spec: {
      selector: { matchLabels: { ...p.selector, [metricsServiceLabel]: 'true' } },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }],
      ...(p.podTargetLabels ? { podTargetLabels: p.podTargetLabels } : {}),
    },
  });
}
