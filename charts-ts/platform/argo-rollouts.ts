/**
 * Argo Rollouts controller: progressive delivery (canary with Prometheus analysis) for the apps.
 * One replica (the chart defaults to two; a single node gains nothing from a standby), no dashboard,
 * RBAC only for the traffic router the apps use (Traefik).
 */
import type { Construct } from 'constructs';
import type { Config } from '../config/schema.ts';
import { taggedImageRef } from '../config/sections/platform.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { FluxHelmRelease } from '../lib/helm-release.ts';
import { platformNs } from '../lib/namespaces.ts';
import { chartSource, pod, splitRegistry } from './controller-helpers.ts';
import { rolloutsNotificationValues } from './rollouts-notifications.ts';

export const argoRolloutsRelease = { name: 'argo-rollouts', namespace: platformNs.argoRollouts } as const;
/** Pod labels of the controller (chart selector labels plus its component label). */
export const argoRolloutsPodLabels = { 'app.kubernetes.io/name': 'argo-rollouts', 'app.kubernetes.io/component': 'rollouts-controller' } as const;

export class ArgoRolloutsChart extends LmsChart {
  readonly release: FluxHelmRelease;

  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.controllers, component: 'argo-rollouts' });
    const c = config.cluster.platform.controllers.argoRollouts;
    this.release = new FluxHelmRelease(this, 'release', {
      ...argoRolloutsRelease,
      chart: c.chart.name,
      version: c.chart.version,
      source: chartSource(c.chart),
      images: [taggedImageRef(c.image)],
      providesApiGroups: ['argoproj.io'],
      footprint: [pod('argo-rollouts controller', c.replicas, c.resources)],
      values: {
        installCRDs: true,
        // Deleting the release must never delete every Rollout with its CRD.
        keepCRDs: true,
        controller: {
          replicas: c.replicas,
          image: { ...splitRegistry(c.image), tag: c.image.tag },
          resources: c.resources,
          // Metrics are scraped by a PodMonitor (platform-monitoring), not the chart's ServiceMonitor,
          // whose CRD does not exist yet when this layer is installed.
          metrics: { enabled: false },
          logging: { format: 'json' },
          // v1.9.1 still defaults to Traefik's retired traefik.containo.us group; k3s's Traefik v3
          // serves TraefikServices only as traefik.io (utils/defaults/defaults.go).
          extraArgs: ['--traefik-api-group=traefik.io', '--traefik-api-version=traefik.io/v1alpha1'],
        },
        dashboard: { enabled: false },
        // Canary paused/aborted/completed -> GitHub repository_dispatch and Slack (rollouts-notifications.ts).
        notifications: rolloutsNotificationValues(config),
        // Least privilege: the apps route canary traffic through Traefik only.
        providerRBAC: {
          enabled: true,
          providers: {
            istio: false, smi: false, ambassador: false, awsLoadBalancerController: false, awsAppMesh: false,
            traefik: true, apisix: false, contour: false, glooPlatform: false, gatewayAPI: false,
          },
          // The chart's Traefik rule covers only the old traefik.containo.us group.
          additionalRules: [{ apiGroups: ['traefik.io'], resources: ['traefikservices'], verbs: ['get', 'list', 'watch', 'update', 'patch'] }],
        },
      },
    });
  }
}
