/**
 * The metrics each exporter produces that rules, dashboards and canary analyses may use, with where
 * each list was read and which scrape target collects it. An expression using a metric that is in
 * no list here and no recording rule produces is a test failure: it would silently return nothing.
 *
 * The lists are the metrics this repository relies on (not every metric an exporter has); add a name
 * here, with its source, before using it.
 */
import type { Config } from '../config/schema.ts';
import { traefikMetrics } from './signals.ts';

export interface Exporter {
  readonly name: string;
  /** Where the names come from (source file at the pinned version). */
  readonly source: string;
  /** How Prometheus scrapes it (checked against the rendered output by the tests). */
  readonly scrapedBy: string;
  readonly metrics: readonly string[];
}

const histogram = (base: string) => [`${base}_bucket`, `${base}_count`, `${base}_sum`];

export function metricCatalog(config: Config): Exporter[] {
  return [
    {
      name: 'prometheus',
      source: 'Prometheus itself: `up` per target, `ALERTS`/`ALERTS_FOR_STATE` from alerting rules, and its own /metrics',
      scrapedBy: 'kube-prometheus-stack prometheus.serviceMonitor.selfMonitor',
      metrics: [
        'up', 'ALERTS', 'ALERTS_FOR_STATE', 'scrape_samples_scraped',
        'prometheus_config_last_reload_successful', 'prometheus_rule_evaluation_failures_total',
        'prometheus_notifications_errors_total', 'prometheus_notifications_sent_total',
        'prometheus_notifications_alertmanagers_discovered', 'prometheus_tsdb_head_series',
        'prometheus_tsdb_storage_blocks_bytes', 'prometheus_tsdb_size_retentions_total',
      ],
    },
    {
      name: 'alertmanager',
      source: 'prometheus/alertmanager v0.35.0 (config/coordinator.go, notify/notify.go)',
      scrapedBy: 'kube-prometheus-stack alertmanager.serviceMonitor.selfMonitor',
      metrics: ['alertmanager_config_last_reload_successful', 'alertmanager_notifications_total', 'alertmanager_notifications_failed_total'],
    },
    {
      name: 'prometheus-operator',
      source: 'prometheus-operator v0.93.1 (pkg/operator/operator.go managed resources)',
      scrapedBy: 'kube-prometheus-stack prometheusOperator.serviceMonitor.selfMonitor',
      metrics: ['prometheus_operator_managed_resources', 'prometheus_operator_reconcile_errors_total'],
    },
    {
      name: 'kubelet',
      source: 'Kubernetes 1.36 kubelet (/metrics: the shared k3s registry; /metrics/cadvisor)',
      scrapedBy: 'kube-prometheus-stack kubelet ServiceMonitor (the only scrape of the k3s process registry)',
      metrics: [
        'container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_cpu_cfs_throttled_periods_total',
        'container_cpu_cfs_periods_total', 'kubelet_volume_stats_available_bytes', 'kubelet_volume_stats_capacity_bytes',
        'kubelet_volume_stats_used_bytes', 'kubelet_running_pods',
      ],
    },
    {
      name: 'kube-state-metrics',
      source: 'kube-state-metrics v2.20.0 (docs/metrics/*), plus the Flux custom-resource config (gotk_resource_info)',
      scrapedBy: 'kube-prometheus-stack kube-state-metrics ServiceMonitor (honorLabels)',
      metrics: [
        'kube_node_status_condition', 'kube_pod_container_status_waiting_reason', 'kube_pod_container_status_restarts_total',
        'kube_pod_status_ready', 'kube_persistentvolumeclaim_access_mode', 'kube_persistentvolumeclaim_resource_requests_storage_bytes',
        'kube_cronjob_created', 'kube_cronjob_status_last_successful_time', 'kube_cronjob_status_last_schedule_time',
        'kube_job_status_failed', 'kube_job_status_succeeded',
        'kube_horizontalpodautoscaler_status_current_replicas', 'kube_horizontalpodautoscaler_status_desired_replicas',
        'kube_horizontalpodautoscaler_spec_max_replicas', 'kube_horizontalpodautoscaler_spec_min_replicas',
        'gotk_resource_info',
      ],
    },
    {
      name: 'node-exporter',
      source: 'prometheus/node_exporter v1.12.1 (collector/cpu_linux.go, meminfo.go, filesystem_common.go)',
      scrapedBy: 'kube-prometheus-stack prometheus-node-exporter ServiceMonitor',
      metrics: [
        'node_cpu_seconds_total', 'node_memory_MemAvailable_bytes', 'node_memory_MemTotal_bytes',
        'node_filesystem_avail_bytes', 'node_filesystem_size_bytes', 'node_load1',
      ],
    },
    {
      name: 'traefik',
      source: 'Traefik v3 pkg/observability/metrics/prometheus.go (names in charts-ts/apps/metrics.ts)',
      scrapedBy: 'PodMonitor kube-system/traefik (platform layer)',
      metrics: [traefikMetrics.requestsTotal, traefikMetrics.routerRequestsTotal, ...histogram(traefikMetrics.requestDuration), ...histogram(traefikMetrics.routerRequestDuration), 'traefik_entrypoint_requests_total'],
    },
    {
      name: 'argo-rollouts',
      source: 'argoproj/argo-rollouts v1.9.1 controller/metrics/prommetrics.go',
      scrapedBy: 'PodMonitor argo-rollouts/argo-rollouts (platform layer), honorLabels so `namespace` is the Rollout\'s',
      metrics: [
        'rollout_info', 'rollout_info_replicas_available', 'rollout_info_replicas_unavailable', 'rollout_info_replicas_desired',
        'rollout_info_replicas_updated', 'rollout_events_total', 'rollout_phase', 'analysis_run_info', 'analysis_run_phase',
        'analysis_run_metric_phase', 'analysis_run_metric_type',
      ],
    },
    {
      name: 'cloudnative-pg',
      source: 'cloudnative-pg v1.30.0 pkg/management/postgres/webserver/metricserver/pg_collector.go and config/manager/default-monitoring.yaml',
      scrapedBy: 'PodMonitor <app namespace>/lms-db (data layer)',
      metrics: [
        'cnpg_collector_up', 'cnpg_collector_pg_wal_archive_status', 'cnpg_collector_pg_wal', 'cnpg_collector_last_collection_error',
        'cnpg_backends_total', 'cnpg_backends_max_tx_duration_seconds', 'cnpg_backends_waiting_total',
        'cnpg_pg_database_size_bytes', 'cnpg_pg_database_xid_age', 'cnpg_pg_replication_lag',
        'cnpg_pg_stat_archiver_archived_count', 'cnpg_pg_stat_archiver_failed_count',
        'cnpg_pg_stat_archiver_seconds_since_last_archival', 'cnpg_pg_stat_archiver_seconds_since_last_failure',
        'cnpg_pg_stat_archiver_last_archived_time', 'cnpg_pg_stat_archiver_last_failed_time',
        'cnpg_pg_stat_database_xact_commit', 'cnpg_pg_stat_database_xact_rollback', 'cnpg_pg_stat_database_blks_hit',
        'cnpg_pg_stat_database_blks_read', 'cnpg_pg_stat_database_deadlocks',
      ],
    },
    {
      name: 'barman-cloud-plugin',
      source: 'cloudnative-pg/plugin-barman-cloud v0.14.0 internal/cnpgi/instance/metrics.go (exposed through the instance\'s exporter)',
      scrapedBy: 'PodMonitor <app namespace>/lms-db (data layer)',
      metrics: [
        'barman_cloud_cloudnative_pg_io_first_recoverability_point', 'barman_cloud_cloudnative_pg_io_last_available_backup_timestamp',
        'barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp',
      ],
    },
    {
      name: 'cert-manager',
      source: 'cert-manager v1.21 pkg/metrics/certificates.go',
      scrapedBy: 'PodMonitor cert-manager/cert-manager (platform layer)',
      metrics: ['certmanager_certificate_expiration_timestamp_seconds', 'certmanager_certificate_ready_status', 'certmanager_certificate_renewal_timestamp_seconds'],
    },
    {
      name: 'redis_exporter',
      source: 'oliver006/redis_exporter (exporter/exporter.go metric map)',
      scrapedBy: 'ServiceMonitor <app namespace>/redis (apps layer)',
      metrics: ['redis_up', 'redis_connected_clients', 'redis_memory_used_bytes', 'redis_memory_max_bytes', 'redis_evicted_keys_total'],
    },
    {
      name: 'lms-api',
      source: 'the API\'s own /metrics (config cluster.cost.activeUsersMetric)',
      scrapedBy: 'ServiceMonitor/PodMonitor <app namespace>/lms-api (apps layer)',
      metrics: [config.cluster.cost.activeUsersMetric],
    },
  ];
}

/** Every metric name in the catalog. */
export const catalogMetrics = (config: Config): Set<string> => new Set(metricCatalog(config).flatMap((e) => e.metrics));
