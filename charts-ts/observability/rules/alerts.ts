/**
 * The platform's alerts (the kube-prometheus-stack default rules are off: each alert here has a
 * runbook in docs/runbooks/alerts/ and a severity that means something on a single node).
 * critical = page (PagerDuty + Slack), warning = ticket (Slack). App-level alerts page only in the
 * environments listed in `slo.pagingEnvironments`.
 *
 * Metric sources (see ./../catalog.ts): node-exporter, kubelet, kube-state-metrics (incl. the Flux
 * custom-resource metrics), cert-manager, CloudNativePG + Barman Cloud plugin, redis_exporter, Argo
 * Rollouts, Prometheus, Alertmanager, prometheus-operator.
 */
import type { Config, Environment } from '../../config/schema.ts';
import { dataSignals, logicalDumpMaxAgeSeconds, workloads } from '../signals.ts';
import { runbookUrl, type AlertingRule, type RuleGroup, type Severity } from './model.ts';

interface AlertSpec {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly severity: Severity;
  readonly summary: string;
  readonly description: string;
  readonly labels?: Record<string, string>;
}

/** Label templating: the namespace of the object an alert is about (exporters differ in how they label it). */
const objectNamespace = '{{ or $labels.exported_namespace $labels.namespace }}';

/** What the alert groups read: the config and the values derived from it once. */
interface AlertContext {
  readonly config: Config;
  readonly obs: Config['cluster']['observability'];
  readonly envs: Environment[];
  /** critical (pages) where the environment pages, else warning. */
  readonly envSeverity: (env: Environment) => Severity;
  readonly baseBackup: typeof dataSignals.baseBackup;
  readonly logicalDump: typeof dataSignals.logicalDump;
  readonly walArchive: typeof dataSignals.walArchive;
  readonly dumpMaxAge: number;
  readonly hours: (s: number) => string;
}

export function alertRuleGroups(config: Config): RuleGroup[] {
  const obs = config.cluster.observability;
  const rule = (a: AlertSpec): AlertingRule => ({
    alert: a.alert,
    expr: a.expr,
    for: a.for,
    labels: { severity: a.severity, ...a.labels },
    annotations: { summary: a.summary, description: a.description, runbook_url: runbookUrl(obs.alerts.runbookBaseUrl, a.alert) },
  });
  const ctx: AlertContext = {
    config, obs,
    envs: Object.values(config.environments),
    envSeverity: (env) => (obs.slo.pagingEnvironments.includes(env.name) ? 'critical' : 'warning'),
    ...dataSignals,
    dumpMaxAge: logicalDumpMaxAgeSeconds(config),
    hours: (s) => `${Number((s / 3600).toFixed(1))} h`,
  };
  return [
    { name: 'lms-heartbeat', rules: heartbeatAlerts(ctx).map(rule) },
    { name: 'lms-node', rules: nodeAlerts(ctx).map(rule) },
    { name: 'lms-kubernetes', rules: kubernetesAlerts(ctx).map(rule) },
    { name: 'lms-certificates', rules: certificatesAlerts(ctx).map(rule) },
    { name: 'lms-data', rules: dataAlerts(ctx).map(rule) },
    { name: 'lms-delivery', rules: deliveryAlerts(ctx).map(rule) },
    { name: 'lms-monitoring', rules: monitoringAlerts(ctx).map(rule) },
  ];
}

/** The heartbeat that proves the alerting pipeline end to end. */
function heartbeatAlerts(_: AlertContext): AlertSpec[] {
  return [
    {
      alert: 'Watchdog',
      expr: 'vector(1)',
      severity: 'none',
      summary: 'Always firing: the heartbeat that proves the alerting pipeline works',
      description: 'Alertmanager sends this alert to the external heartbeat check every interval. '
        + 'When the heartbeat stops arriving, the check alerts on its own: the node, Prometheus or Alertmanager is down.',
    },
  ];
}

/** The node itself: CPU, memory, disk, reboots. */
function nodeAlerts(_: AlertContext): AlertSpec[] {
  return [
    {
      alert: 'NodeCPUSaturated',
      expr: '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) > 0.9',
      for: '15m',
      severity: 'warning',
      summary: 'Node {{ $labels.instance }} CPU is more than 90 % busy',
      description: 'CPU has been over 90 % busy for 15 minutes ({{ $value | humanizePercentage }}). Requests queue and latency grows.',
    },
    {
      alert: 'NodeMemoryLow',
      expr: 'node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.1',
      for: '10m',
      severity: 'warning',
      summary: 'Node {{ $labels.instance }} has less than 10 % memory available',
      description: 'Only {{ $value | humanizePercentage }} of memory is available. The kubelet starts evicting pods at its hard threshold.',
    },
    {
      alert: 'NodeMemoryPressure',
      expr: 'kube_node_status_condition{condition="MemoryPressure", status="true"} == 1',
      for: '2m',
      severity: 'critical',
      summary: 'Node {{ $labels.node }} reports MemoryPressure: pods are being evicted',
      description: 'The kubelet reports MemoryPressure; it evicts pods (lowest priority first) until memory is back above its threshold.',
    },
    {
      alert: 'NodeDiskPressure',
      expr: 'kube_node_status_condition{condition="DiskPressure", status="true"} == 1',
      for: '2m',
      severity: 'critical',
      summary: 'Node {{ $labels.node }} reports DiskPressure: images and pods are being removed',
      description: 'The kubelet reports DiskPressure; it garbage-collects images and evicts pods. PostgreSQL and Prometheus write to this disk.',
    },
    ...([['warning', 0.15, '30m'], ['critical', 0.05, '5m']] as const).map(([severity, free, forDuration]): AlertSpec => ({
      alert: 'NodeFilesystemSpaceLow',
      expr: `node_filesystem_avail_bytes{fstype!="", mountpoint="/"} / node_filesystem_size_bytes{fstype!="", mountpoint="/"} < ${free}`,
      for: forDuration,
      severity,
      summary: `Node root filesystem has less than ${free * 100} % free`,
      description: 'Only {{ $value | humanizePercentage }} of {{ $labels.mountpoint }} on {{ $labels.instance }} is free. '
        + 'Every PersistentVolume (local-path) lives on this filesystem.',
    })),
    {
      alert: 'NodeFilesystemFillingUp',
      expr: 'predict_linear(node_filesystem_avail_bytes{fstype!="", mountpoint="/"}[6h], 24 * 3600) < 0'
        + ' and node_filesystem_avail_bytes{fstype!="", mountpoint="/"} / node_filesystem_size_bytes{fstype!="", mountpoint="/"} < 0.4',
      for: '1h',
      severity: 'warning',
      summary: 'Node root filesystem will be full within 24 hours at the current rate',
      description: 'At the growth rate of the last 6 hours {{ $labels.mountpoint }} on {{ $labels.instance }} runs out of space within a day.',
    },
  ];
}

/** Workloads on the node: crash loops, unready pods, quotas, volumes. */
function kubernetesAlerts(_: AlertContext): AlertSpec[] {
  return [
    ...([['warning', 0.15], ['critical', 0.05]] as const).map(([severity, free]): AlertSpec => ({
      alert: 'PersistentVolumeFillingUp',
      expr: `kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < ${free}`
        + ' unless on (namespace, persistentvolumeclaim) kube_persistentvolumeclaim_access_mode{access_mode="ReadOnlyMany"} == 1',
      for: severity === 'critical' ? '5m' : '30m',
      severity,
      summary: `PVC {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} has less than ${free * 100} % free`,
      description: 'Only {{ $value | humanizePercentage }} of the volume is free. '
        + 'With the local-path storage class volumes share the node filesystem; see also NodeFilesystemSpaceLow.',
    })),
    {
      alert: 'KubePodCrashLooping',
      expr: 'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[5m]) >= 1',
      for: '15m',
      severity: 'warning',
      summary: 'Pod {{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is crash-looping',
      description: 'Container {{ $labels.container }} has been in CrashLoopBackOff for 15 minutes.',
    },
  ];
}

/** TLS certificates cert-manager manages. */
function certificatesAlerts({ obs }: AlertContext): AlertSpec[] {
  return [
    {
      alert: 'CertificateExpiringSoon',
      expr: `certmanager_certificate_expiration_timestamp_seconds - time() < ${obs.alerts.certificateExpiryDays} * 86400`,
      for: '1h',
      severity: 'warning',
      summary: `Certificate ${objectNamespace}/{{ $labels.name }} expires in less than ${obs.alerts.certificateExpiryDays} days`,
      description: 'cert-manager renews 30 days before expiry, so a certificate this close to expiring failed to renew. It expires in {{ $value | humanizeDuration }}.',
    },
    {
      alert: 'CertificateNotReady',
      expr: 'certmanager_certificate_ready_status{condition="False"} == 1',
      for: '30m',
      severity: 'warning',
      summary: `Certificate ${objectNamespace}/{{ $labels.name }} is not Ready`,
      description: 'cert-manager could not issue or renew this certificate for 30 minutes (DNS-01 challenge, issuer or rate limit).',
    },
  ];
}

/** PostgreSQL, its backups and dumps, and Redis, per environment. */
function dataAlerts({ envs, envSeverity, baseBackup, logicalDump, walArchive, dumpMaxAge, hours }: AlertContext): AlertSpec[] {
  return envs.flatMap((env): AlertSpec[] => {
    const ns = env.namespace;
    const severity = envSeverity(env);
    // One rule per environment: the namespace label keeps their label sets apart.
    const labels = { namespace: ns };
    return [
      {
        alert: 'PostgresDown',
        // No instance reports PostgreSQL up, or no instance is scraped at all.
        expr: `sum by (namespace) (cnpg_collector_up{namespace="${ns}"}) == 0 or absent(cnpg_collector_up{namespace="${ns}"})`,
        for: '2m',
        severity,
        labels,
        summary: `PostgreSQL (${workloads.database}) in ${ns} is down`,
        description: 'No CloudNativePG instance in the namespace reports PostgreSQL as up; the API cannot read or write.',
      },
      {
        alert: 'PostgresBaseBackupTooOld',
        // The Barman Cloud plugin reports the last successful base backup (0 before the first).
        expr: `time() - max by (namespace) (${baseBackup.lastAvailableMetric}{namespace="${ns}"}) > ${baseBackup.maxAgeSeconds}`,
        for: '15m',
        severity: 'warning',
        labels,
        summary: `The last base backup of ${workloads.database} in ${ns} is older than ${hours(baseBackup.maxAgeSeconds)}`,
        description: 'The nightly ScheduledBackup did not complete: point-in-time recovery needs a base backup plus every WAL since. '
          + 'Last successful backup {{ $value | humanizeDuration }} ago.',
      },
      {
        alert: 'PostgresWALArchivingFailing',
        // The last archive attempt failed, or WAL segments pile up waiting to be archived.
        expr: `(max by (namespace, pod) (cnpg_pg_stat_archiver_last_failed_time{namespace="${ns}"}) > max by (namespace, pod) (cnpg_pg_stat_archiver_last_archived_time{namespace="${ns}"}))`
          + ` and on (namespace, pod) (increase(${walArchive.failedCountMetric}{namespace="${ns}"}[15m]) > 0)`
          + ` or (max by (namespace, pod) (cnpg_collector_pg_wal_archive_status{namespace="${ns}", value="ready"}) > 10)`,
        for: '10m',
        severity,
        labels,
        summary: `WAL archiving of ${workloads.database} in ${ns} is failing`,
        description: 'WAL segments are not reaching the object store: the recovery point falls behind (RPO) and pg_wal grows on the node disk.',
      },
      {
        alert: 'PostgresLogicalDumpFailing',
        // Last successful run too long ago, or (never succeeded) the CronJob is older than that.
        expr: `time() - max by (namespace, cronjob) (${logicalDump.lastSuccessMetric}{namespace="${ns}", cronjob="${logicalDump.cronJob}"}) > ${dumpMaxAge}`
          + ` or (time() - max by (namespace, cronjob) (kube_cronjob_created{namespace="${ns}", cronjob="${logicalDump.cronJob}"}) > ${dumpMaxAge}`
          + ` unless on (namespace, cronjob) ${logicalDump.lastSuccessMetric}{namespace="${ns}", cronjob="${logicalDump.cronJob}"})`,
        for: '15m',
        severity: 'warning',
        labels,
        summary: `No successful logical dump of ${workloads.database} in ${ns} for ${hours(dumpMaxAge)}`,
        description: `The ${logicalDump.cronJob} CronJob has not completed successfully within ${hours(dumpMaxAge)}: `
          + 'the off-site, encrypted logical copy of the database is stale.',
      },
      {
        alert: 'RedisDown',
        expr: `max by (namespace) (redis_up{namespace="${ns}"}) == 0 or absent(redis_up{namespace="${ns}"})`,
        for: '2m',
        severity,
        labels,
        summary: `Redis in ${ns} is down`,
        description: 'redis_exporter cannot reach Redis (or is not scraped): sessions, cache and queues of the API are unavailable.',
      },
    ];
  });
}

/** Flux, Argo Rollouts and the release path. */
function deliveryAlerts({ envs }: AlertContext): AlertSpec[] {
  return [
    {
      alert: 'FluxReconciliationFailing',
      expr: 'max by (namespace, name, customresource_kind) (gotk_resource_info{ready="False", suspended!="true"}) == 1',
      for: '15m',
      severity: 'warning',
      summary: 'Flux {{ $labels.customresource_kind }} {{ $labels.namespace }}/{{ $labels.name }} is not Ready',
      description: 'The object has failed to reconcile for 15 minutes: what is in git is not what runs in the cluster.',
    },
    {
      alert: 'RolloutAborted',
      expr: `max by (namespace, name) (rollout_info{phase="Abort", namespace=~"${envs.map((e) => e.namespace).join('|')}"}) == 1`,
      severity: 'warning',
      summary: 'Rollout {{ $labels.namespace }}/{{ $labels.name }} was aborted',
      description: 'The canary failed its analysis (or was aborted by hand); traffic is back on the stable version. '
        + 'The release needs a fix or a retry.',
    },
  ];
}

/** The monitoring stack watching itself. */
function monitoringAlerts(_: AlertContext): AlertSpec[] {
  return [
    {
      alert: 'PrometheusBadConfig',
      expr: 'max_over_time(prometheus_config_last_reload_successful[5m]) == 0',
      for: '10m',
      severity: 'critical',
      summary: 'Prometheus {{ $labels.namespace }}/{{ $labels.pod }} failed to reload its configuration',
      description: 'Prometheus runs on its previous configuration: new scrape targets and rules are not applied.',
    },
    {
      alert: 'PrometheusRuleFailures',
      expr: 'increase(prometheus_rule_evaluation_failures_total[5m]) > 0',
      for: '15m',
      severity: 'critical',
      summary: 'Prometheus fails to evaluate rules in {{ $labels.rule_group }}',
      description: 'Recording or alerting rules fail to evaluate: SLO series and alerts from this group are missing.',
    },
    {
      alert: 'PrometheusNotificationsFailing',
      expr: 'rate(prometheus_notifications_errors_total[5m]) / rate(prometheus_notifications_sent_total[5m]) > 0.01',
      for: '15m',
      severity: 'critical',
      summary: 'Prometheus cannot deliver alerts to Alertmanager',
      description: 'More than 1 % of alert notifications from Prometheus to {{ $labels.alertmanager }} fail.',
    },
    {
      alert: 'PrometheusOperatorRejectedResources',
      expr: 'min_over_time(prometheus_operator_managed_resources{state="rejected"}[5m]) > 0',
      for: '5m',
      severity: 'warning',
      summary: 'prometheus-operator rejected {{ $value }} {{ $labels.resource }} object(s)',
      description: 'A PrometheusRule, ServiceMonitor, PodMonitor or AlertmanagerConfig is invalid and is ignored.',
    },
    {
      alert: 'AlertmanagerFailedReload',
      expr: 'max_over_time(alertmanager_config_last_reload_successful[5m]) == 0',
      for: '10m',
      severity: 'critical',
      summary: 'Alertmanager {{ $labels.namespace }}/{{ $labels.pod }} failed to reload its configuration',
      description: 'Alertmanager runs on its previous configuration; a broken receiver or route change is not applied.',
    },
    {
      alert: 'AlertmanagerNotificationsFailing',
      expr: 'rate(alertmanager_notifications_failed_total[5m]) / rate(alertmanager_notifications_total[5m]) > 0.01',
      for: '15m',
      severity: 'critical',
      summary: 'Alertmanager fails to send notifications to {{ $labels.integration }}',
      description: 'Notifications to {{ $labels.integration }} fail (bad credentials in the Secret, or the service is unreachable).',
    },
    {
      alert: 'TargetDown',
      expr: '100 * (count by (job, namespace) (up == 0) / count by (job, namespace) (up)) > 10',
      for: '15m',
      severity: 'warning',
      summary: '{{ $value | humanize }} % of the {{ $labels.job }} targets in {{ $labels.namespace }} are down',
      description: 'Prometheus cannot scrape these targets: their metrics, and the alerts built on them, are missing.',
    },
  ];
}
