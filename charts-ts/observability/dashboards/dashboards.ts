/**
 * The LMS dashboards, as code: SLO overview, delivery KPIs, API RED, Postgres and backups. They read
 * the SLO and KPI recording rules (../rules) where one exists, so a dashboard and an alert never
 * disagree about a number.
 */
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { Config } from '../../config/schema.ts';
import { names } from '../../lib/names.ts';
import { kpiSeries } from '../rules/kpi.ts';
import { sloSeries } from '../rules/slo.ts';
import { dataSignals, httpOnly, logicalDumpMaxAgeSeconds, traefikMetrics as T, traefikServiceRegexForVariable, workloads } from '../signals.ts';
import { dashboard, namespaceVariable, row, stat, text, timeseries, type Steps } from './panels.ts';

const ns = 'namespace="$namespace"';
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

/** Red below the objective, green at or above it. */
const atLeast = (target: number): Steps => [[null, 'red'], [target, 'green']];
/** Green below the target, red above it. */
const atMost = (target: number): Steps => [[null, 'green'], [target, 'red']];

export function sloOverviewDashboard(config: Config): Dashboard {
  const o = config.cluster.observability.slo;
  const slos = [
    { name: 'api-availability', title: 'API availability', objective: o.apiAvailability },
    { name: 'api-latency', title: `API latency (< ${o.apiLatency.thresholdSeconds * 1000} ms)`, objective: o.apiLatency.objective },
    { name: 'web-availability', title: 'Web availability', objective: o.webAvailability },
  ];
  let d = dashboard('lms-slo-overview', 'LMS / SLO overview',
    'SLIs, objectives, error budget remaining and burn rates of every SLO (30-day window). Alerts: docs/observability/slo-sla.md.')
    .withVariable(namespaceVariable(Object.values(config.environments)));
  for (const s of slos) {
    const sel = `{slo="${s.name}", ${ns}}`;
    d = d.withRow(row(`${s.title}: objective ${pct(s.objective)}`))
      .withPanel(stat('SLI, 30 days', [{ expr: `1 - ${sloSeries.errorRatio('30d')}${sel}` }], { unit: 'percentunit', decimals: 3, steps: atLeast(s.objective), width: 6 }))
      .withPanel(stat('Objective', [{ expr: `${sloSeries.objective}${sel}` }], { unit: 'percentunit', decimals: 2, width: 6 }))
      .withPanel(stat('Error budget remaining', [{ expr: `${sloSeries.budgetRemaining}${sel}` }], {
        unit: 'percentunit', decimals: 1, steps: [[null, 'red'], [0, 'orange'], [0.25, 'green']], width: 6,
        description: '1 = untouched, 0 = spent, below 0 = overspent over the last 30 days.',
      }))
      .withPanel(stat('Requests, 30 days', [{ expr: `${sloSeries.requestRate('30d')}${sel} * 2592000` }], { unit: 'short', decimals: 0, width: 6 }))
      .withPanel(timeseries('Burn rate (1 = budget lasts exactly 30 days)', (['1h', '6h', '1d', '3d'] as const).map((w) => ({
        expr: `${sloSeries.errorRatio(w)}${sel} / ${sloSeries.errorBudget}${sel}`, legend: w,
      })), { width: 16, min: 0, steps: [[null, 'green'], [1, 'yellow'], [6, 'orange'], [14.4, 'red']], thresholdLines: true }))
      .withPanel(timeseries('Error ratio, 5m', [
        { expr: `${sloSeries.errorRatio('5m')}${sel}`, legend: 'error ratio' },
        { expr: `${sloSeries.errorBudget}${sel}`, legend: 'budget-neutral' },
      ], { width: 8, unit: 'percentunit', min: 0 }));
  }
  return d.build();
}

export function deliveryKpiDashboard(config: Config): Dashboard {
  const k = config.cluster.observability.kpi;
  const o = config.cluster.observability.slo;
  const cost = config.cluster.cost;
  const prod = config.environments.production.namespace;
  return dashboard('lms-delivery-kpis', 'LMS / Delivery KPIs',
    'The epic\'s success metrics: availability, deployment success rate, MTTR, lead time, throughput and p95, cost per active user.')
    .withVariable(namespaceVariable(Object.values(config.environments)))
    .withRow(row('Reliability (30 days)'))
    .withPanel(stat('API availability', [{ expr: `1 - ${sloSeries.errorRatio('30d')}{slo="api-availability", ${ns}}` }], { unit: 'percentunit', decimals: 3, steps: atLeast(o.apiAvailability) }))
    .withPanel(stat('Web availability', [{ expr: `1 - ${sloSeries.errorRatio('30d')}{slo="web-availability", ${ns}}` }], { unit: 'percentunit', decimals: 3, steps: atLeast(o.webAvailability) }))
    .withPanel(stat('Deployment success rate', [{ expr: `${kpiSeries.successRatio30d}{${ns}}` }], {
      unit: 'percentunit', decimals: 1, steps: atLeast(k.deploySuccessTarget), description: `Target >= ${pct(k.deploySuccessTarget)}: completed / (completed + aborted) Rollouts.`,
    }))
    .withPanel(stat('Deployments completed / aborted', [
      { expr: `${kpiSeries.completed30d}{${ns}}`, legend: 'completed' },
      { expr: `${kpiSeries.aborted30d}{${ns}}`, legend: 'aborted' },
    ], { decimals: 0 }))
    .withPanel(stat('MTTR', [{ expr: `${kpiSeries.mttrSeconds30d}{${ns}}` }], {
      unit: 's', steps: atMost(k.mttrTargetMinutes * 60), description: `Target <= ${k.mttrTargetMinutes} min: time a critical alert or an aborted Rollout stays open, per recovery.`,
    }))
    .withPanel(stat('Time in cluster per release', [{ expr: `${kpiSeries.deployDuration30d}{${ns}}` }], {
      unit: 's', description: 'Canary steps, analysis and the manual approval: the in-cluster part of the lead time (average per completed deployment).',
    }))
    .withPanel(timeseries('Incident open (critical alert or aborted Rollout)', [{ expr: `${kpiSeries.incidentOpen}{${ns}}`, legend: 'open' }], { width: 24, min: 0 }))
    .withPanel(text('Lead time, merge to production',
      'The full lead time (merge to production, target <= 15 min) is measured by the pipeline: `npm run lead-time` and the '
      + 'deploy workflow summary (docs/delivery.md). The panel above shows the in-cluster part.'))
    .withRow(row('Throughput and latency at the ingress'))
    .withPanel(timeseries('Requests per second', [{ expr: `${kpiSeries.requestRate}{${ns}}`, legend: '{{service}}' }], {
      unit: 'reqps', min: 0, steps: [[null, 'green'], [k.throughputTargetRps, 'blue']], thresholdLines: true,
      description: `Load-test target: sustained ${k.throughputTargetRps} RPS at p95 <= ${k.p95TargetSeconds * 1000} ms.`,
    }))
    .withPanel(timeseries('p95 latency', [{ expr: `${kpiSeries.p95}{${ns}}`, legend: '{{service}}' }], {
      unit: 's', min: 0, steps: atMost(k.p95TargetSeconds), thresholdLines: true,
    }))
    .withRow(row('Cost'))
    .withPanel(stat('Cost per active user (production)', [{ expr: `${kpiSeries.costPerActiveUser}{namespace="${prod}"}` }], {
      unit: 'currencyUSD', decimals: 3, steps: atMost(cost.targetPerActiveUserUsd), width: 8,
      description: `Monthly price / ${cost.activeUsersMetric}. Target <= ${cost.targetPerActiveUserUsd} USD per month (after the first 3 months).`,
    }))
    .withPanel(stat('Active users (30 days)', [{ expr: `${kpiSeries.activeUsers}{${ns}}` }], { decimals: 0, width: 8 }))
    .withPanel(stat('Monthly price', [{ expr: kpiSeries.monthlyCost }], { unit: 'currencyUSD', decimals: 2, width: 8 }))
    .build();
}

export function apiRedDashboard(config: Config): Dashboard {
  const api = `service=~"${traefikServiceRegexForVariable('$namespace', workloads.api)}"`;
  const rate = (extra = '') => `rate(${T.requestsTotal}{${api}${extra}}[$__rate_interval])`;
  const buckets = `rate(${T.requestDurationBucket}{${api}, ${httpOnly}}[$__rate_interval])`;
  const pods = `namespace="$namespace", pod=~"${workloads.api}-.+", container!="", container!="POD"`;
  return dashboard('lms-api-red', 'LMS / API RED',
    'Rate, errors and duration of the API at the ingress (Traefik), split by stable and canary, with the pods\' saturation.')
    .withVariable(namespaceVariable(Object.values(config.environments)))
    .withRow(row('Rate'))
    .withPanel(timeseries('Requests per second by status', [{ expr: `sum by (code) (${rate()})`, legend: '{{code}}' }], { unit: 'reqps', min: 0 }))
    .withPanel(timeseries('Requests per second, stable vs canary', [{ expr: `sum by (service) (${rate()})`, legend: '{{service}}' }], { unit: 'reqps', min: 0 }))
    .withRow(row('Errors'))
    .withPanel(timeseries('5xx ratio', [{ expr: `sum(${rate(', code=~"5.."')}) / sum(${rate()})`, legend: '5xx' }], {
      unit: 'percentunit', min: 0, steps: atMost(1 - config.cluster.observability.slo.apiAvailability), thresholdLines: true,
    }))
    .withPanel(timeseries('4xx ratio', [{ expr: `sum(${rate(', code=~"4.."')}) / sum(${rate()})`, legend: '4xx' }], { unit: 'percentunit', min: 0 }))
    .withRow(row('Duration'))
    .withPanel(timeseries('Latency quantiles (plain HTTP)', [0.5, 0.95, 0.99].map((q) => ({
      expr: `histogram_quantile(${q}, sum by (le) (${buckets}))`, legend: `p${q * 100}`,
    })), { unit: 's', min: 0, steps: atMost(config.cluster.observability.kpi.p95TargetSeconds), thresholdLines: true }))
    .withPanel(timeseries('p95 by version', [{ expr: `histogram_quantile(0.95, sum by (service, le) (${buckets}))`, legend: '{{service}}' }], { unit: 's', min: 0 }))
    .withRow(row('Saturation'))
    .withPanel(timeseries('CPU per pod', [{ expr: `sum by (pod) (rate(container_cpu_usage_seconds_total{${pods}}[$__rate_interval]))`, legend: '{{pod}}' }], { unit: 'cores', min: 0, width: 8 }))
    .withPanel(timeseries('Memory per pod', [{ expr: `sum by (pod) (container_memory_working_set_bytes{${pods}})`, legend: '{{pod}}' }], { unit: 'bytes', min: 0, width: 8 }))
    .withPanel(timeseries('Replicas (HPA)', [
      { expr: `kube_horizontalpodautoscaler_status_current_replicas{${ns}, horizontalpodautoscaler=~"${workloads.api}.*"}`, legend: 'current' },
      { expr: `kube_horizontalpodautoscaler_status_desired_replicas{${ns}, horizontalpodautoscaler=~"${workloads.api}.*"}`, legend: 'desired' },
      { expr: `kube_horizontalpodautoscaler_spec_max_replicas{${ns}, horizontalpodautoscaler=~"${workloads.api}.*"}`, legend: 'max' },
    ], { min: 0, width: 8 }))
    .withPanel(timeseries('Redis clients', [
      { expr: `sum(redis_connected_clients{${ns}})`, legend: 'clients' },
    ], { min: 0, width: 12 }))
    .withPanel(timeseries('Redis memory', [
      { expr: `sum(redis_memory_used_bytes{${ns}})`, legend: 'used' },
      { expr: `sum(redis_memory_max_bytes{${ns}})`, legend: 'maxmemory' },
    ], { unit: 'bytes', min: 0, width: 12 }))
    .build();
}

export function postgresBackupsDashboard(config: Config): Dashboard {
  const { baseBackup, logicalDump, walArchive } = dataSignals;
  const db = `datname="${names.database.name}"`;
  return dashboard('lms-postgres-backups', 'LMS / Postgres and backups',
    'PostgreSQL health (CloudNativePG), WAL archiving, base backups (Barman Cloud plugin) and the nightly logical dump.')
    .withVariable(namespaceVariable(Object.values(config.environments)))
    .withRow(row('Backups'))
    .withPanel(stat('Last base backup', [{ expr: `time() - max(${baseBackup.lastAvailableMetric}{${ns}})` }], {
      unit: 's', steps: atMost(baseBackup.maxAgeSeconds), description: `Age of the newest base backup; alert after ${baseBackup.maxAgeSeconds / 3600} h.`,
    }))
    .withPanel(stat('Recovery window', [{ expr: `time() - max(${baseBackup.firstRecoverabilityMetric}{${ns}})` }], {
      unit: 's', description: 'How far back point-in-time recovery can go (first recoverability point).',
    }))
    .withPanel(stat('Last failed base backup', [{ expr: `max(${baseBackup.lastFailedMetric}{${ns}}) * 1000` }], { unit: 'dateTimeFromNow' }))
    .withPanel(stat('Last archived WAL', [{ expr: `max(${walArchive.secondsSinceLastArchivalMetric}{${ns}})` }], { unit: 's' }))
    .withPanel(stat('WAL segments waiting', [{ expr: `max(cnpg_collector_pg_wal_archive_status{${ns}, value="ready"})` }], { decimals: 0, steps: atMost(10) }))
    .withPanel(stat('Last logical dump', [{ expr: `time() - max(${logicalDump.lastSuccessMetric}{${ns}, cronjob="${logicalDump.cronJob}"})` }], {
      unit: 's', steps: atMost(logicalDumpMaxAgeSeconds(config)),
    }))
    .withPanel(timeseries('WAL archiving', [
      { expr: `sum(rate(cnpg_pg_stat_archiver_archived_count{${ns}}[$__rate_interval]))`, legend: 'archived / s' },
      { expr: `sum(rate(${walArchive.failedCountMetric}{${ns}}[$__rate_interval]))`, legend: 'failed / s' },
    ], { min: 0, width: 24 }))
    .withRow(row('PostgreSQL'))
    .withPanel(stat('Instances up', [{ expr: `sum(cnpg_collector_up{${ns}})` }], { decimals: 0, steps: [[null, 'red'], [1, 'green']] }))
    .withPanel(stat('Database size', [{ expr: `max(cnpg_pg_database_size_bytes{${ns}, ${db}})` }], { unit: 'bytes' }))
    .withPanel(stat('Connections', [{ expr: `sum(cnpg_backends_total{${ns}})` }], { decimals: 0 }))
    .withPanel(stat('Longest transaction', [{ expr: `max(cnpg_backends_max_tx_duration_seconds{${ns}})` }], { unit: 's', steps: atMost(300) }))
    .withPanel(stat('Transaction ID age', [{ expr: `max(cnpg_pg_database_xid_age{${ns}})` }], { decimals: 0, steps: atMost(300000000) }))
    .withPanel(stat('Deadlocks (24h)', [{ expr: `sum(increase(cnpg_pg_stat_database_deadlocks{${ns}}[24h]))` }], { decimals: 0, steps: atMost(1) }))
    .withPanel(timeseries('Transactions per second', [
      { expr: `sum(rate(cnpg_pg_stat_database_xact_commit{${ns}, ${db}}[$__rate_interval]))`, legend: 'commit' },
      { expr: `sum(rate(cnpg_pg_stat_database_xact_rollback{${ns}, ${db}}[$__rate_interval]))`, legend: 'rollback' },
    ], { min: 0 }))
    .withPanel(timeseries('Connections by state', [{ expr: `sum by (state) (cnpg_backends_total{${ns}})`, legend: '{{state}}' }], { min: 0 }))
    .withPanel(timeseries('Cache hit ratio', [{
      expr: `sum(rate(cnpg_pg_stat_database_blks_hit{${ns}, ${db}}[$__rate_interval])) / (sum(rate(cnpg_pg_stat_database_blks_hit{${ns}, ${db}}[$__rate_interval])) + sum(rate(cnpg_pg_stat_database_blks_read{${ns}, ${db}}[$__rate_interval])))`,
      legend: 'hit ratio',
    }], { unit: 'percentunit', width: 24 }))
    .build();
}

/** Unique panel ids in grid order (the builders leave them unset, rows at 0), so links to a panel are stable. */
function numberPanels(d: Dashboard): Dashboard {
  let id = 0;
  for (const p of (d.panels ?? []) as { id?: number }[]) p.id = ++id;
  return d;
}

/** All dashboards. */
export function lmsDashboards(config: Config): Dashboard[] {
  return [sloOverviewDashboard(config), deliveryKpiDashboard(config), apiRedDashboard(config), postgresBackupsDashboard(config)].map(numberPanels);
}
