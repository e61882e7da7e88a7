/**
 * Loki (logs), Tempo (traces) and Grafana Alloy (the collector) values, sized for one node.
 *
 * - Loki runs monolithic (one `-target=all` pod) on a local-path volume. Its chart enables a
 *   memcached chunks cache and results cache by default that ask for about 10 GB of memory; both
 *   are off, as are the gateway (nginx), the canary DaemonSet, the Helm test and the rules sidecar.
 *   Retention is enforced by the compactor.
 * - Tempo runs monolithic with only the OTLP receivers (gRPC 4317, HTTP 4318) on a local volume.
 * - Alloy (Promtail is end of life) tails every container's log through the Kubernetes API (no
 *   hostPath, no root), adds Kubernetes events, and forwards OTLP traces it receives to Tempo.
 */
import type { Config } from '../../config/schema.ts';
import type { PodFootprint } from '../../lib/footprint.ts';
import { names } from '../../lib/names.ts';
import { MiB, memoryBytes } from '../../lib/quantity.ts';
import { stringify } from 'yaml';
import { endpoints, releases } from './endpoints.ts';
import { k8sResources, podFootprint } from './footprint.ts';
import { chartImages, imageString } from './images.ts';

const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

export function lokiValues(config: Config): Record<string, unknown> {
  const l = config.cluster.observability.loki;
  return {
    deploymentMode: 'Monolithic',
    loki: {
      image: { ...chartImages.loki },
      auth_enabled: false,
      commonConfig: { replication_factor: 1, path_prefix: '/var/loki' },
      storage: { type: 'filesystem' },
      schemaConfig: {
        configs: [{ from: '2024-04-01', store: 'tsdb', object_store: 'filesystem', schema: 'v13', index: { prefix: 'index_', period: '24h' } }],
      },
      limits_config: {
        retention_period: l.retention,
        reject_old_samples: true,
        reject_old_samples_max_age: '168h',
        allow_structured_metadata: true,
        volume_enabled: true,
        ingestion_rate_mb: 4,
        ingestion_burst_size_mb: 8,
        max_query_parallelism: 4,
        split_queries_by_interval: '1h',
      },
      compactor: {
        retention_enabled: true,
        delete_request_store: 'filesystem',
        working_directory: '/var/loki/compactor',
      },
      querier: { max_concurrent: 2 },
      analytics: { reporting_enabled: false },
    },
    singleBinary: {
      replicas: 1,
      resources: k8sResources(l.resources),
      persistence: { enabled: true, size: l.storage, storageClass: config.cluster.storageClass },
    },
    // The other deployment modes' targets: none (the chart rejects a mix).
    read: { replicas: 0 },
    write: { replicas: 0 },
    backend: { replicas: 0 },
    chunksCache: { enabled: false },
    resultsCache: { enabled: false },
    gateway: { enabled: false },
    lokiCanary: { enabled: false },
    test: { enabled: false },
    sidecar: { rules: { enabled: false } },
    monitoring: { serviceMonitor: { enabled: true } },
  };
}

export const lokiImages = (): string[] => [imageString(chartImages.loki)];
export const tempoImages = (): string[] => [imageString(chartImages.tempo)];
export const alloyImages = (): string[] => [imageString(chartImages.alloy.alloy), imageString(chartImages.alloy.configReloader)];

export const lokiFootprint = (config: Config): PodFootprint[] =>
  [podFootprint('loki (monolithic)', 1, [config.cluster.observability.loki.resources])];

export function tempoValues(config: Config): Record<string, unknown> {
  const t = config.cluster.observability.tempo;
  return {
    replicas: 1,
    tempo: {
      registry: chartImages.tempo.registry,
      repository: chartImages.tempo.repository,
      tag: chartImages.tempo.tag,
      resources: k8sResources(t.resources),
      reportingEnabled: false,
      // The Go ballast is obsolete with GOMEMLIMIT; keep the process inside its limit instead.
      memBallastSizeMbs: 0,
      extraEnv: [{ name: 'GOMEMLIMIT', value: `${Math.floor((memoryBytes(t.resources.limits.memory) * 0.85) / MiB)}MiB` }],
      // Read-only root filesystem: data on the volume, scratch space here.
      extraVolumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
      securityContext: restrictedContainer,
    },
    // The whole tempo.yaml, instead of the chart's template: OTLP receivers only (the chart's
    // default adds Jaeger, and Helm values cannot delete a default map key), local storage, retention.
    config: stringify(tempoConfig(config), { lineWidth: 0 }),
    extraVolumes: [{ name: 'tmp', emptyDir: { sizeLimit: '128Mi' } }],
    persistence: { enabled: true, size: t.storage, storageClassName: config.cluster.storageClass },
    serviceMonitor: { enabled: true },
  };
}

export function tempoConfig(config: Config): Record<string, unknown> {
  const t = config.cluster.observability.tempo;
  return {
    stream_over_http_enabled: false,
    multitenancy_enabled: false,
    usage_report: { reporting_enabled: false },
    memberlist: { cluster_label: `${releases.tempo}.${names.monitoring.namespace}` },
    server: { http_listen_port: 3200 },
    distributor: {
      receivers: {
        otlp: {
          protocols: {
            grpc: { endpoint: `0.0.0.0:${names.monitoring.tempo.otlpGrpcPort}` },
            http: { endpoint: `0.0.0.0:${names.monitoring.tempo.otlpHttpPort}` },
          },
        },
      },
    },
    compactor: { compaction: { block_retention: t.retention } },
    storage: { trace: { backend: 'local', local: { path: '/var/tempo/traces' }, wal: { path: '/var/tempo/wal' } } },
    // The chart mounts the per-tenant overrides file here.
    overrides: { defaults: {}, per_tenant_override_config: '/conf/overrides.yaml' },
  };
}

export const tempoFootprint = (config: Config): PodFootprint[] =>
  [podFootprint('tempo (monolithic)', 1, [config.cluster.observability.tempo.resources])];

/** The Alloy pipeline (Alloy configuration syntax). */
export function alloyConfig(): string {
  const { otlpGrpcPort, otlpHttpPort } = names.monitoring.tempo;
  return `// Generated by charts-ts/observability/stack/logs-traces.ts. Do not edit.

// ---- Logs: every container's output, tailed through the Kubernetes API.
discovery.kubernetes "pods" {
  role = "pod"
}

discovery.relabel "pods" {
  targets = discovery.kubernetes.pods.targets

  // A pod that has not started has nothing to tail.
  rule {
    source_labels = ["__meta_kubernetes_pod_phase"]
    regex         = "Pending"
    action        = "drop"
  }
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    target_label  = "app"
  }
  rule {
    source_labels = ["namespace", "container"]
    separator     = "/"
    target_label  = "job"
  }
}

loki.source.kubernetes "pods" {
  targets    = discovery.relabel.pods.output
  forward_to = [loki.process.pods.receiver]
}

loki.process "pods" {
  // JSON log lines (the API) carry the trace id: keep it as structured metadata so Grafana links
  // the line to its trace in Tempo.
  stage.json {
    expressions = { trace_id = "trace_id" }
  }
  stage.structured_metadata {
    values = { trace_id = "" }
  }
  forward_to = [loki.write.default.receiver]
}

loki.source.kubernetes_events "events" {
  job_name   = "kubernetes-events"
  log_format = "logfmt"
  forward_to = [loki.write.default.receiver]
}

loki.write "default" {
  endpoint {
    url = "${endpoints.loki}/loki/api/v1/push"
  }
}

// ---- Traces: OTLP in, Kubernetes metadata added, batched, forwarded to Tempo.
otelcol.receiver.otlp "default" {
  grpc {
    endpoint = "0.0.0.0:${otlpGrpcPort}"
  }
  http {
    endpoint = "0.0.0.0:${otlpHttpPort}"
  }
  output {
    traces = [otelcol.processor.k8sattributes.default.input]
  }
}

otelcol.processor.k8sattributes "default" {
  output {
    traces = [otelcol.processor.batch.default.input]
  }
}

otelcol.processor.batch "default" {
  output {
    traces = [otelcol.exporter.otlp.tempo.input]
  }
}

otelcol.exporter.otlp "tempo" {
  client {
    endpoint = "${endpoints.tempoOtlpGrpc}"
    tls {
      insecure = true
    }
  }
}
`;
}

export function alloyValues(config: Config): Record<string, unknown> {
  const a = config.cluster.observability.alloy;
  const { otlpGrpcPort, otlpHttpPort } = names.monitoring.tempo;
  return {
    // No PodLogs CRD: logs are discovered from pods directly.
    crds: { create: false },
    image: { ...chartImages.alloy.alloy },
    alloy: {
      configMap: { create: true, content: alloyConfig() },
      enableReporting: false,
      storagePath: '/var/lib/alloy/data',
      resources: k8sResources(a.resources),
      securityContext: { ...restrictedContainer, runAsNonRoot: true, runAsUser: 473, runAsGroup: 473 },
      mounts: { varlog: false, dockercontainers: false, extra: [{ name: 'storage', mountPath: '/var/lib/alloy' }] },
      extraPorts: [
        { name: 'otlp-grpc', port: otlpGrpcPort, targetPort: otlpGrpcPort, protocol: 'TCP' },
        { name: 'otlp-http', port: otlpHttpPort, targetPort: otlpHttpPort, protocol: 'TCP' },
      ],
    },
    configReloader: { image: { ...chartImages.alloy.configReloader }, resources: k8sResources(a.configReloader) },
    // API-based tailing: one collector for the whole cluster, not one per node.
    controller: {
      type: 'deployment',
      replicas: 1,
      volumes: { extra: [{ name: 'storage', emptyDir: { sizeLimit: '256Mi' } }] },
    },
    // Only what the pipeline reads: pods and their logs, namespaces, events, and the owners the
    // k8sattributes processor resolves. (The chart default also reads every Secret and ConfigMap.)
    rbac: {
      create: true,
      rules: [
        { apiGroups: [''], resources: ['pods', 'pods/log', 'namespaces', 'events'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
      ],
      clusterRules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }],
    },
    serviceMonitor: { enabled: true },
  };
}

export const alloyFootprint = (config: Config): PodFootprint[] => {
  const a = config.cluster.observability.alloy;
  return [podFootprint('alloy (alloy + config-reloader)', 1, [a.resources, a.configReloader])];
};
