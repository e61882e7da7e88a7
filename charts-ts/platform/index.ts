/**
 * Platform layer: namespaces, controllers, cluster configs, scrape targets and the Flux wiring. Each
 * chart names the dist/ layer it is written to; Flux applies the layers in the order of
 * flux-layers.ts (docs/architecture.md).
 */
import type { App } from 'cdk8s';
import type { Config } from '../config/schema.ts';
import { AdmissionPoliciesChart } from './admission-policies.ts';
import { ArgoRolloutsChart } from './argo-rollouts.ts';
import { CertManagerChart } from './cert-manager.ts';
import { CloudNativePgChart } from './cloudnative-pg.ts';
import { ClusterIssuersChart } from './cluster-issuers.ts';
import { FluxLayersChart } from './flux-layers.ts';
import { FluxNotificationsChart } from './flux-notifications.ts';
import { FluxWebhookChart } from './flux-webhook.ts';
import { NamespacesChart } from './namespaces.ts';
import { PlatformMonitoringChart } from './platform-monitoring.ts';
import { SystemUpgradeControllerChart } from './system-upgrade-controller.ts';
import { TraefikConfigChart } from './traefik.ts';
import { UpgradePlansChart } from './upgrade-plans.ts';

export function addPlatformCharts(app: App, config: Config): void {
  // platform/namespaces
  new NamespacesChart(app, 'namespaces', config);
  // platform/controllers
  new CertManagerChart(app, 'cert-manager', config);
  new CloudNativePgChart(app, 'cloudnative-pg', config);
  new ArgoRolloutsChart(app, 'argo-rollouts', config);
  new SystemUpgradeControllerChart(app, 'system-upgrade-controller', config);
  // platform/configs
  new ClusterIssuersChart(app, 'cluster-issuers', config);
  new AdmissionPoliciesChart(app, 'admission-policies', config);
  new TraefikConfigChart(app, 'traefik', config);
  new UpgradePlansChart(app, 'upgrade-plans', config);
  new FluxNotificationsChart(app, 'flux-notifications', config);
  new FluxWebhookChart(app, 'flux-webhook', config);
  // platform/observability
  new PlatformMonitoringChart(app, 'platform-monitoring', config);
  // clusters/production/layers
  new FluxLayersChart(app, 'layers', config);
}
