/**
 * The weekly KPI and cost report: a CronJob in `monitoring` that queries Prometheus and posts the
 * week's figures for production to Slack (the epic's weekly cost reports), so reliability and cost
 * drift is noticed between the monthly reviews. The queries read the SLO and KPI recording rules;
 * test/operations/weekly-report.test.ts evaluates them with promtool on synthetic series. The edge
 * figures come from Cloudflare: the origin health check's events (what Traefik cannot see while the
 * node or Traefik is down), next to the month's planned-maintenance allowance.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import type { Config, Environment } from '../config/schema.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { plannedMaintenance } from '../lib/availability.ts';
import { names } from '../lib/names.ts';
import { kpiSeries } from './rules/kpi.ts';
import { sloSeries } from './rules/slo.ts';
import { httpOnly, traefikMetrics as T, traefikSelector, workloads } from './signals.ts';

export interface ReportQuery {
  /** Key in the report and in the recording-rule name used by the tests. */
  readonly key: string;
  readonly title: string;
  readonly unit: 'percent' | 'seconds' | 'rps' | 'usd' | 'count' | 'minutes';
  /** PromQL (source prometheus, the default). */
  readonly expr?: string;
  /** Where the figure comes from: Prometheus, the origin health check's events at Cloudflare, or config. */
  readonly source?: 'prometheus' | 'cloudflare-health-checks' | 'config';
  /** The figure itself, for source config. */
  readonly value?: number;
  /** Target shown next to the figure, in the same unit. */
  readonly target?: string;
}

/**
 * The edge figures (docs/observability/slo-sla.md "Availability at the edge"): the origin health
 * check seen from Cloudflare over the week, and the month's planned maintenance against the budget.
 */
export function edgeQueries(config: Config): ReportQuery[] {
  const edge = config.cluster.observability.slo.edge;
  const p = plannedMaintenance(config);
  const weekMinutes = Number(((1 - edge.objective) * 7 * 24 * 60).toFixed(2));
  return [
    { key: 'edge_uptime', source: 'cloudflare-health-checks', title: 'Edge-measured uptime (7d, Cloudflare health check of the origin)', unit: 'percent', target: `>= ${edge.objective * 100}` },
    { key: 'edge_downtime', source: 'cloudflare-health-checks', title: 'Origin unreachable from the edge (7d)', unit: 'minutes', target: `<= ${weekMinutes}` },
    {
      key: 'planned_maintenance',
      source: 'config',
      title: `Planned maintenance allowance (worst month: ${p.rebootsPerMonth} reboots, ${p.upgradesPerMonth} k3s upgrade(s); budget ${p.budgetMinutes} min)`,
      unit: 'minutes',
      value: p.plannedMinutes,
      target: `<= ${Number((edge.maxPlannedShare * p.budgetMinutes).toFixed(2))}`,
    },
  ];
}

/** The week's figures for one environment. */
export function weeklyQueries(config: Config, env: Environment): ReportQuery[] {
  const sel = (slo: string) => `{slo="${slo}", namespace="${env.namespace}"}`;
  const availability = (slo: string) =>
    `100 * sum_over_time(${sloSeries.goodRate5m}${sel(slo)}[7d]) / sum_over_time(${sloSeries.requestRate('5m')}${sel(slo)}[7d])`;
  const ns = `{namespace="${env.namespace}"}`;
  const o = config.cluster.observability.slo;
  return [
    { key: 'api_availability', title: 'API availability (7d)', unit: 'percent', expr: availability('api-availability'), target: `>= ${o.apiAvailability * 100}` },
    { key: 'web_availability', title: 'Web availability (7d)', unit: 'percent', expr: availability('web-availability'), target: `>= ${o.webAvailability * 100}` },
    { key: 'api_budget_remaining', title: 'API error budget left (30d)', unit: 'percent', expr: `100 * ${sloSeries.budgetRemaining}${sel('api-availability')}`, target: '> 0' },
    { key: 'deploy_success', title: 'Deploy success rate (30d)', unit: 'percent', expr: `100 * ${kpiSeries.successRatio30d}${ns}`, target: '>= 98' },
    { key: 'deploys', title: 'Deployments (30d)', unit: 'count', expr: `${kpiSeries.completed30d}${ns} + ${kpiSeries.aborted30d}${ns}` },
    { key: 'mttr', title: 'MTTR (30d)', unit: 'seconds', expr: `${kpiSeries.mttrSeconds30d}${ns}`, target: '<= 600' },
    {
      key: 'api_p95',
      title: 'API p95 latency (7d)',
      unit: 'seconds',
      expr: `histogram_quantile(0.95, sum by (le) (increase(${T.requestDurationBucket}${traefikSelector(env, workloads.api, httpOnly)}[7d])))`,
      target: '<= 0.3',
    },
    { key: 'peak_rps', title: 'Peak requests/s (5m avg, 7d)', unit: 'rps', expr: `max_over_time(sum(${kpiSeries.requestRate}${ns})[7d:5m])` },
    { key: 'cost_per_user', title: 'Cost per active user (month)', unit: 'usd', expr: `${kpiSeries.costPerActiveUser}${ns}`, target: `<= ${config.cluster.cost.targetPerActiveUserUsd}` },
  ];
}

/** Days of health-check events the report reads. */
export const edgeDays = 7;

const script = readFileSync(join(import.meta.dirname, 'weekly-report.py'), 'utf8');

export class WeeklyReportChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.observability, component: 'weekly-report', namespace: names.monitoring.namespace });
    const r = config.cluster.cost.weeklyReport;
    const env = config.environments.production;
    const slack = config.cluster.alerting.slackWebhook;
    const labels = { 'app.kubernetes.io/name': 'weekly-report' };
    new ApiObject(this, 'config', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'weekly-report' },
      data: {
        'report.py': script,
        'queries.json': `${JSON.stringify({
          environment: env.name,
          queries: [...weeklyQueries(config, env), ...edgeQueries(config)],
          cloudflare: { zone: config.cluster.bootstrap.cloudflare.zone, healthCheck: config.cluster.bootstrap.cloudflare.healthCheck.name, days: edgeDays },
        }, null, 2)}\n`,
      },
    });
    new ApiObject(this, 'job', {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'weekly-report' },
      spec: {
        schedule: r.schedule,
        timeZone: r.timeZone,
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 3600,
        successfulJobsHistoryLimit: 2,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          spec: {
            backoffLimit: 2,
            activeDeadlineSeconds: 600,
            ttlSecondsAfterFinished: 604800,
            template: {
              metadata: { labels },
              spec: {
                restartPolicy: 'Never',
                automountServiceAccountToken: false,
                securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
                containers: [{
                  name: 'report',
                  image: `${r.image.repository}:${r.image.tag}@${r.image.digest}`,
                  command: ['python3', '/report/report.py', '--queries', '/report/queries.json', '--webhook-file', '/secrets/slack/url', '--cloudflare-token-file', '/secrets/cloudflare/token'],
                  env: [
                    { name: 'PROMETHEUS_URL', value: names.monitoring.prometheusUrl },
                    { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
                  ],
                  resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
                  securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                  volumeMounts: [
                    { name: 'report', mountPath: '/report', readOnly: true },
                    { name: 'slack', mountPath: '/secrets/slack', readOnly: true },
                    { name: 'cloudflare', mountPath: '/secrets/cloudflare', readOnly: true },
                  ],
                }],
                volumes: [
                  { name: 'report', configMap: { name: 'weekly-report' } },
                  { name: 'slack', secret: { secretName: slack.name, items: [{ key: slack.key, path: 'url' }] } },
                  // Optional: without the token the edge lines read "no data", the rest is posted.
                  { name: 'cloudflare', secret: { secretName: r.cloudflareToken.name, items: [{ key: r.cloudflareToken.key, path: 'token' }], optional: true } },
                ],
              },
            },
          },
        },
      },
    });
  }
}
