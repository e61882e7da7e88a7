/**
 * kube-prometheus-stack values for one k3s node: Prometheus (retention by time and size, on a PVC),
 * Alertmanager (routes from ../alertmanager.ts, credentials mounted from Secrets), the operator,
 * kube-state-metrics (with Flux custom-resource metrics), node-exporter and Grafana with its
 * dashboard and datasource sidecars. Every container has requests and limits.
 *
 * k3s runs the API server, controller-manager, scheduler and kube-proxy in one process with one
 * metrics registry, so each of their /metrics endpoints (and the kubelet's) returns the same series
 * (k3s-io/k3s#2262, #12917). We scrape that registry once, through the kubelet, and switch off the
 * apiserver, controller-manager, scheduler, kube-proxy and etcd (k3s uses kine/SQLite) monitors.
 * The default rules and dashboards are off: ours replace them (each alert has a runbook here).
 */
import type { Config } from '../../config/schema.ts';
import { alertmanagerConfig, alertmanagerSecrets } from '../alertmanager.ts';
import { datasourceUids, endpoints, grafanaFolderAnnotation } from './endpoints.ts';
import { k8sResources, podFootprint } from './footprint.ts';
import { chartImages, imageString } from './images.ts';
import type { PodFootprint } from '../../lib/footprint.ts';

/** Flux objects whose readiness kube-state-metrics reports as `gotk_resource_info` (Flux monitoring guide). */
const fluxKinds = [
  { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', kind: 'Kustomization', plural: 'kustomizations' },
  { group: 'helm.toolkit.fluxcd.io', version: 'v2', kind: 'HelmRelease', plural: 'helmreleases' },
  { group: 'source.toolkit.fluxcd.io', version: 'v1', kind: 'GitRepository', plural: 'gitrepositories' },
  { group: 'source.toolkit.fluxcd.io', version: 'v1', kind: 'OCIRepository', plural: 'ocirepositories' },
  { group: 'source.toolkit.fluxcd.io', version: 'v1', kind: 'HelmRepository', plural: 'helmrepositories' },
  { group: 'source.toolkit.fluxcd.io', version: 'v1', kind: 'HelmChart', plural: 'helmcharts' },
] as const;

/**
 * Read access for kube-state-metrics to the kinds it reports. The chart's
 * rbac.customResourceState.createClusterRoleRules grants only the CRD list; without these rules
 * every list is forbidden and no gotk_resource_info series exists (found by the first-deploy test,
 * running kube-state-metrics with its chart's ServiceAccount).
 */
export const fluxResourceStateRules = [...new Set(fluxKinds.map((k) => k.group))].sort().map((group) => ({
  apiGroups: [group],
  resources: fluxKinds.filter((k) => k.group === group).map((k) => k.plural).sort(),
  verbs: ['list', 'watch'],
}));

/** kube-state-metrics custom-resource-state config: one info series per Flux object with its Ready status. */
export const fluxResourceStateConfig = {
  kind: 'CustomResourceStateMetrics',
  spec: {
    resources: fluxKinds.map((k) => ({
      groupVersionKind: { group: k.group, version: k.version, kind: k.kind },
      metricNamePrefix: 'gotk',
      metrics: [{
        name: 'resource_info',
        help: `The current state of a Flux ${k.kind}.`,
        each: { type: 'Info', info: { labelsFromPath: { name: ['metadata', 'name'] } } },
        labelsFromPath: {
          // kube-state-metrics is scraped with honorLabels, so this is the object's namespace.
          namespace: ['metadata', 'namespace'],
          ready: ['status', 'conditions', '[type=Ready]', 'status'],
          suspended: ['spec', 'suspend'],
        },
      }],
    })),
  },
};

/**
 * Expensive series from the shared k3s registry that nothing here reads: the apiserver and etcd
 * request histograms dominate the series count on a k3s node.
 */
const kubeletDrop = [
  'apiserver_request_duration_seconds_bucket', 'apiserver_request_sli_duration_seconds_bucket',
  'apiserver_request_body_size_bytes_bucket', 'apiserver_response_sizes_bucket',
  'apiserver_watch_events_sizes_bucket', 'apiserver_watch_list_duration_seconds_bucket',
  'etcd_request_duration_seconds_bucket', 'apiserver_flowcontrol_.+_bucket',
  'rest_client_.+_bucket', 'workqueue_.+_bucket', 'scheduler_.+_bucket', 'storage_operation_duration_seconds_bucket',
];

const img = chartImages.kubePrometheusStack;

/** Every image the release runs (Prometheus and Alertmanager at the versions promtool/amtool are built from). */
export const kubePrometheusStackImages = (config: Config): string[] => [
  imageString(img.operator),
  imageString(img.configReloader),
  `quay.io/prometheus/prometheus:${config.cluster.observability.prometheus.version}`,
  `quay.io/prometheus/alertmanager:${config.cluster.observability.alertmanager.version}`,
  imageString(img.kubeStateMetrics),
  imageString(img.nodeExporter),
  imageString(img.grafana),
  imageString(img.grafanaSidecar),
];

export function kubePrometheusStackValues(config: Config): Record<string, unknown> {
  const c = config.cluster;
  const o = c.observability;
  const storageClass = c.storageClass;
  return {
    // CRDs come from the prometheus-operator-crds release in the controllers layer.
    crds: { enabled: false },
    defaultRules: { create: false },
    kubeApiServer: { enabled: false },
    kubeControllerManager: { enabled: false },
    kubeScheduler: { enabled: false },
    kubeProxy: { enabled: false },
    kubeEtcd: { enabled: false },
    kubelet: {
      enabled: true,
      serviceMonitor: {
        metricRelabelings: [{ action: 'drop', sourceLabels: ['__name__'], regex: `(${kubeletDrop.join('|')})` }],
      },
    },
    windowsMonitoring: { enabled: false },

    prometheusOperator: {
      image: { ...img.operator },
      resources: k8sResources(o.operator),
      // Rules are validated by promtool in CI; without the webhook there are no cert-patch Jobs.
      // A rule the operator still rejects raises PrometheusOperatorRejectedResources.
      admissionWebhooks: { enabled: false, patch: { enabled: false } },
      // The chart's TLS listener mounts the `<release>-admission` Secret, which only the webhook's
      // cert Jobs (off above) or cert-manager create: with TLS on, the operator pod never starts
      // (ContainerCreating). Found by npm run test:e2e (pods must have every Secret they mount).
      tls: { enabled: false },
      prometheusConfigReloader: { image: { ...img.configReloader }, resources: k8sResources(o.prometheus.configReloader) },
    },

    prometheus: {
      prometheusSpec: {
        image: { registry: 'quay.io', repository: 'prometheus/prometheus', tag: o.prometheus.version },
        retention: o.prometheus.retention,
        retentionSize: o.prometheus.retentionSize,
        walCompression: true,
        scrapeInterval: o.prometheus.scrapeInterval,
        evaluationInterval: o.prometheus.evaluationInterval,
        resources: k8sResources(o.prometheus.resources),
        // Select ServiceMonitors, PodMonitors, Probes, ScrapeConfigs and PrometheusRules from every
        // namespace, not only those labelled with this release.
        ruleSelectorNilUsesHelmValues: false,
        serviceMonitorSelectorNilUsesHelmValues: false,
        podMonitorSelectorNilUsesHelmValues: false,
        probeSelectorNilUsesHelmValues: false,
        scrapeConfigSelectorNilUsesHelmValues: false,
        storageSpec: {
          volumeClaimTemplate: {
            spec: { storageClassName: storageClass, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: o.prometheus.storage } } },
          },
        },
      },
    },

    alertmanager: {
      config: alertmanagerConfig(c),
      alertmanagerSpec: {
        image: { registry: 'quay.io', repository: 'prometheus/alertmanager', tag: o.alertmanager.version },
        // Mounted at /etc/alertmanager/secrets/<name>/<key>; the receivers read them with *_file.
        secrets: alertmanagerSecrets(c),
        resources: k8sResources(o.alertmanager.resources),
        retention: '120h',
        storage: {
          volumeClaimTemplate: {
            spec: { storageClassName: storageClass, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: o.alertmanager.storage } } },
          },
        },
      },
    },

    'kube-state-metrics': {
      image: { ...img.kubeStateMetrics },
      resources: k8sResources(o.kubeStateMetrics),
      customResourceState: { enabled: true, config: fluxResourceStateConfig },
      rbac: { customResourceState: { createClusterRoleRules: true }, extraRules: fluxResourceStateRules },
    },

    'prometheus-node-exporter': {
      // The tag names the distroless variant itself.
      image: { ...img.nodeExporter, distroless: false },
      resources: k8sResources(o.nodeExporter),
    },

    grafana: {
      defaultDashboardsEnabled: false,
      image: { ...img.grafana },
      resources: k8sResources(o.grafana.resources),
      // Dashboards and datasources are code: nothing to persist, no chown init container.
      persistence: { enabled: false },
      initChownData: { enabled: false },
      testFramework: { enabled: false },
      'grafana.ini': {
        analytics: { reporting_enabled: false, check_for_updates: false, check_for_plugin_updates: false },
        users: { allow_sign_up: false },
        'auth.anonymous': { enabled: false },
      },
      sidecar: {
        image: { ...img.grafanaSidecar },
        resources: k8sResources(o.grafana.sidecar),
        dashboards: {
          enabled: true,
          label: 'grafana_dashboard',
          labelValue: '1',
          searchNamespace: 'ALL',
          folderAnnotation: grafanaFolderAnnotation,
          provider: { foldersFromFilesStructure: true, allowUiUpdates: false },
        },
        datasources: {
          enabled: true,
          defaultDatasourceEnabled: true,
          uid: datasourceUids.prometheus,
          // Exemplars (trace ids on histogram samples) open the trace in Tempo.
          exemplarTraceIdDestinations: { datasourceUid: datasourceUids.tempo, traceIdLabelName: 'trace_id' },
        },
      },
      additionalDataSources: grafanaDatasources(),
    },
  };
}

/**
 * Loki and Tempo datasources, linked both ways: a log line with a trace id opens the trace, a span
 * opens the logs of its service and namespace around the span. (`$$` is a literal `$` in Grafana
 * provisioning files.)
 */
export function grafanaDatasources(): Record<string, unknown>[] {
  return [
    {
      name: 'Loki',
      type: 'loki',
      uid: datasourceUids.loki,
      access: 'proxy',
      url: endpoints.loki,
      editable: false,
      jsonData: {
        maxLines: 1000,
        derivedFields: [
          // Alloy stores the trace id of JSON log lines as structured metadata.
          { name: 'TraceID', matcherType: 'label', matcherRegex: 'trace_id', datasourceUid: datasourceUids.tempo, url: '$${__value.raw}', urlDisplayLabel: 'Open trace' },
          { name: 'TraceIDInLine', matcherType: 'regex', matcherRegex: '"trace_?[iI]d":"(\\w+)"', datasourceUid: datasourceUids.tempo, url: '$${__value.raw}', urlDisplayLabel: 'Open trace' },
        ],
      },
    },
    {
      name: 'Tempo',
      type: 'tempo',
      uid: datasourceUids.tempo,
      access: 'proxy',
      url: endpoints.tempoQuery,
      editable: false,
      jsonData: {
        tracesToLogsV2: {
          datasourceUid: datasourceUids.loki,
          spanStartTimeShift: '-5m',
          spanEndTimeShift: '5m',
          filterByTraceID: true,
          filterBySpanID: false,
          // Span resource attributes -> Loki stream labels set by Alloy.
          tags: [{ key: 'service.name', value: 'app' }, { key: 'k8s.namespace.name', value: 'namespace' }],
        },
        tracesToMetrics: { datasourceUid: datasourceUids.prometheus },
        serviceMap: { datasourceUid: datasourceUids.prometheus },
        nodeGraph: { enabled: true },
        lokiSearch: { datasourceUid: datasourceUids.loki },
      },
    },
  ];
}

/** Every pod the release runs, from the same resources as the values above. */
export function kubePrometheusStackFootprint(config: Config): PodFootprint[] {
  const o = config.cluster.observability;
  return [
    podFootprint('prometheus (prometheus + config-reloader)', 1, [o.prometheus.resources, o.prometheus.configReloader]),
    podFootprint('alertmanager (alertmanager + config-reloader)', 1, [o.alertmanager.resources, o.prometheus.configReloader]),
    podFootprint('prometheus-operator', 1, [o.operator]),
    podFootprint('kube-state-metrics', 1, [o.kubeStateMetrics]),
    // A DaemonSet: one pod on the single node.
    podFootprint('node-exporter', 1, [o.nodeExporter]),
    podFootprint('grafana (grafana + dashboards and datasources sidecars)', 1, [o.grafana.resources, o.grafana.sidecar, o.grafana.sidecar]),
  ];
}
