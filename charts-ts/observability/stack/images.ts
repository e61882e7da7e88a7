/**
 * The images each pinned chart version runs, read from the chart's values.yaml (and its subcharts')
 * at that version. The values set these tags explicitly, and the HelmReleases declare them for the
 * admission allow-list. Bumping a chart version without revisiting this list is a synth error.
 */
import type { ObservabilitySettings } from '../../config/sections/observability.ts';

export interface ImageRef { readonly registry: string; readonly repository: string; readonly tag: string }
export const imageString = (i: ImageRef): string => `${i.registry}/${i.repository}:${i.tag}`;

/** Chart version the image list below was read from, per chart. */
export const imagesReadFrom = {
  kubePrometheusStack: '88.5.3',
  loki: '18.11.0',
  tempo: '2.2.4',
  alloy: '1.11.1',
} as const;

export const chartImages = {
  kubePrometheusStack: {
    // kube-prometheus-stack 88.5.3 appVersion v0.93.1 (operator and config-reloader).
    operator: { registry: 'quay.io', repository: 'prometheus-operator/prometheus-operator', tag: 'v0.93.1' },
    configReloader: { registry: 'quay.io', repository: 'prometheus-operator/prometheus-config-reloader', tag: 'v0.93.1' },
    // Subchart kube-state-metrics 8.4.0, appVersion 2.20.0.
    kubeStateMetrics: { registry: 'registry.k8s.io', repository: 'kube-state-metrics/kube-state-metrics', tag: 'v2.20.0' },
    // Subchart prometheus-node-exporter 4.56.1, appVersion 1.12.1; kube-prometheus-stack selects the distroless variant.
    nodeExporter: { registry: 'quay.io', repository: 'prometheus/node-exporter', tag: 'v1.12.1-distroless' },
    // Subchart grafana 12.11.1 (grafana-community), appVersion 13.2.0, sidecar kiwigrid/k8s-sidecar 2.10.1.
    grafana: { registry: 'docker.io', repository: 'grafana/grafana', tag: '13.2.0' },
    grafanaSidecar: { registry: 'quay.io', repository: 'kiwigrid/k8s-sidecar', tag: '2.10.1' },
  },
  // loki 18.11.0 appVersion 3.7.6.
  loki: { registry: 'docker.io', repository: 'grafana/loki', tag: '3.7.6' },
  // tempo 2.2.4 appVersion 2.10.8.
  tempo: { registry: 'docker.io', repository: 'grafana/tempo', tag: '2.10.8' },
  alloy: {
    // alloy 1.11.1 appVersion v1.18.1.
    alloy: { registry: 'docker.io', repository: 'grafana/alloy', tag: 'v1.18.1' },
    // The chart pins its config-reloader by tag and digest.
    configReloader: {
      registry: 'quay.io',
      repository: 'prometheus-operator/prometheus-config-reloader',
      tag: 'v0.91.0@sha256:7d9e4eea5f1139e602508871f422b0116c60e87c662f3dcd234d5ab60cd0d8c1',
    },
  },
} as const satisfies Record<string, ImageRef | Record<string, ImageRef>>;

/** Throws when a chart was bumped in config but its image list here was not revisited. */
export function checkImageListsCurrent(charts: ObservabilitySettings['charts']): void {
  for (const [key, readFrom] of Object.entries(imagesReadFrom) as [keyof typeof imagesReadFrom, string][]) {
    if (charts[key].version !== readFrom) {
      throw new Error(
        `config: cluster.observability.charts.${key}.version: "${charts[key].version}" differs from ${readFrom}, the version the image list in `
        + 'charts-ts/observability/stack/images.ts was read from; read the new chart\'s values.yaml, update the images and imagesReadFrom',
      );
    }
  }
}
