/**
 * CloudNativePG operator and its Barman Cloud plugin (backups to object storage, CNPG-I). The plugin
 * must run in the operator's namespace (the operator discovers plugins by Service there) and needs
 * cert-manager for its mTLS certificates, so its release waits for both.
 */
import type { Construct } from 'constructs';
import type { Config } from '../config/schema.ts';
import { taggedImageRef } from '../config/sections/platform.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { FluxHelmRelease } from '../lib/helm-release.ts';
import { platformNs } from '../lib/namespaces.ts';
import { certManagerRelease } from './cert-manager.ts';
import { chartSource, pod, splitRegistry } from './controller-helpers.ts';

export const cnpgRelease = { name: 'cloudnative-pg', namespace: platformNs.cnpg } as const;
export const barmanCloudRelease = { name: 'plugin-barman-cloud', namespace: platformNs.cnpg } as const;
export const cnpgOperatorPodLabels = { 'app.kubernetes.io/name': 'cloudnative-pg' } as const;

export class CloudNativePgChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.controllers, component: 'cloudnative-pg' });
    const { cloudnativePg: op, barmanCloudPlugin: plugin } = config.cluster.platform.controllers;

    new FluxHelmRelease(this, 'operator', {
      ...cnpgRelease,
      chart: op.chart.name,
      version: op.chart.version,
      source: chartSource(op.chart),
      images: [taggedImageRef(op.image)],
      providesApiGroups: ['postgresql.cnpg.io'],
      footprint: [pod('cloudnative-pg operator', 1, op.resources)],
      values: {
        replicaCount: 1,
        image: { repository: op.image.repository, tag: op.image.tag },
        crds: { create: true },
        config: { clusterWide: true },
        resources: op.resources,
        // Scraped by a PodMonitor in the observability layer (the chart's needs the CRD at install).
        monitoring: { podMonitorEnabled: false, grafanaDashboard: { create: false } },
      },
    });

    new FluxHelmRelease(this, 'barman-cloud', {
      ...barmanCloudRelease,
      chart: plugin.chart.name,
      version: plugin.chart.version,
      source: chartSource(plugin.chart),
      images: [taggedImageRef(plugin.image), taggedImageRef(plugin.sidecarImage)],
      providesApiGroups: ['barmancloud.cnpg.io'],
      // The sidecar runs inside each PostgreSQL pod; the data layer declares it with the Cluster.
      footprint: [pod('barman-cloud plugin', 1, plugin.resources)],
      dependsOn: [cnpgRelease, certManagerRelease],
      values: {
        replicaCount: 1,
        image: { ...splitRegistry(plugin.image), tag: plugin.image.tag },
        sidecarImage: { ...splitRegistry(plugin.sidecarImage), tag: plugin.sidecarImage.tag },
        crds: { create: true },
        resources: plugin.resources,
      },
    });
  }
}
