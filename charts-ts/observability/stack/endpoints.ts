/** Release names, in-cluster endpoints and Grafana datasource UIDs of the observability stack. */
import { names } from '../../lib/names.ts';

const ns = names.monitoring.namespace;

/**
 * Helm release names. `kube-prometheus-stack` makes the Prometheus Service
 * `kube-prometheus-stack-prometheus` (names.monitoring.prometheusUrl); `tempo` makes the Service
 * `tempo` (names.monitoring.tempo.host); `loki` makes `loki`.
 */
export const releases = {
  crds: 'prometheus-operator-crds',
  kubePrometheusStack: 'kube-prometheus-stack',
  loki: 'loki',
  tempo: 'tempo',
  alloy: 'alloy',
} as const;

export const endpoints = {
  prometheus: names.monitoring.prometheusUrl,
  loki: `http://${releases.loki}.${ns}.svc.cluster.local:3100`,
  tempoQuery: `http://${names.monitoring.tempo.host}:3200`,
  tempoOtlpGrpc: `${names.monitoring.tempo.host}:${names.monitoring.tempo.otlpGrpcPort}`,
} as const;

export const datasourceUids = { prometheus: 'prometheus', loki: 'loki', tempo: 'tempo', alertmanager: 'alertmanager' } as const;

/** Label and annotation the Grafana sidecar loads dashboards by (kube-prometheus-stack defaults). */
export const grafanaDashboardLabel = { grafana_dashboard: '1' } as const;
export const grafanaFolderAnnotation = 'grafana_folder';
