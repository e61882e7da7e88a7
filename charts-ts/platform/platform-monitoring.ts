/**
 * Scrape configuration for the platform's controllers and Traefik, as PodMonitors (kube-prometheus-
 * stack's Prometheus selects every PodMonitor). In the observability layer: the monitoring CRDs do
 * not exist when the controllers are installed, which is why the charts' own monitors stay off.
 */
import type { Construct } from 'constructs';
import type { Config } from '../config/schema.ts';
import { PodMonitor } from '../imports/podmonitor-monitoring.coreos.com.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { names } from '../lib/names.ts';
import { platformNs } from '../lib/namespaces.ts';
import { argoRolloutsPodLabels } from './argo-rollouts.ts';
import { certManagerPodLabels } from './cert-manager.ts';
import { cnpgOperatorPodLabels } from './cloudnative-pg.ts';
import { traefikMetricsPort } from './traefik.ts';

interface Target {
  readonly name: string;
  readonly namespace: string;
  readonly podLabels: Record<string, string>;
  /** Container port name serving /metrics. */
  readonly port: string;
  /**
   * Keep the exporter's own `namespace` label (the namespace of the object a series is about, e.g.
   * a Rollout or a Certificate) instead of renaming it `exported_namespace`.
   */
  readonly honorLabels?: boolean;
  /** Scrape interval; default the global one (cluster.observability.prometheus.scrapeInterval). */
  readonly interval?: (config: Config) => string;
}

export const platformScrapeTargets: Target[] = [
  // The canary analysis reads 1-minute rates of Traefik's series: 4 scrapes a window (config cross-checks).
  { name: 'traefik', namespace: names.ingress.namespace, podLabels: { ...names.ingress.podLabels }, port: traefikMetricsPort.name, interval: (c) => c.cluster.platform.traefik.scrapeInterval },
  { name: 'argo-rollouts', namespace: platformNs.argoRollouts, podLabels: { ...argoRolloutsPodLabels }, port: 'metrics', honorLabels: true },
  { name: 'cloudnative-pg', namespace: platformNs.cnpg, podLabels: { ...cnpgOperatorPodLabels }, port: 'metrics' },
  { name: 'cert-manager', namespace: platformNs.certManager, podLabels: { ...certManagerPodLabels }, port: 'http-metrics', honorLabels: true },
];

export class PlatformMonitoringChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.observability, component: 'platform-monitoring' });
    for (const t of platformScrapeTargets) {
      new PodMonitor(this, t.name, {
        // Next to the pods they scrape, so removing a controller removes its monitor.
        metadata: { name: t.name, namespace: t.namespace },
        spec: {
          selector: { matchLabels: t.podLabels },
          namespaceSelector: { matchNames: [t.namespace] },
          podMetricsEndpoints: [{
            port: t.port, path: '/metrics',
            interval: t.interval?.(config) ?? config.cluster.observability.prometheus.scrapeInterval,
            ...(t.honorLabels ? { honorLabels: true } : {}),
          }],
          jobLabel: 'app.kubernetes.io/name',
        },
      });
    }
  }
}
