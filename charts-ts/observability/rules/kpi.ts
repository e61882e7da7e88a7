/**
 * Delivery KPIs from the epic as recording rules, per app namespace:
 *
 * - deployment success rate over 30 days (target >= 98 %): Argo Rollouts' `rollout_events_total`
 *   counts `RolloutCompleted` and `RolloutAborted` events (argo-rollouts v1.9.1,
 *   controller/metrics/prommetrics.go and utils/record/record.go); success = completed / (completed
 *   + aborted). The counter series only appears at the first event, and `increase()` cannot see
 *   the step from "absent" to 1, so the counts are first recorded with a 0 for every Rollout known
 *   from `rollout_info`: every later event, including the first, is then an increase.
 * - time to recover (target <= 10 min): an incident is open while a critical alert fires in the
 *   namespace or a Rollout there is aborted (phase Abort, until a new revision is healthy). MTTR =
 *   time open / number of recoveries (1 -> 0 transitions, `resets()`), over 30 days.
 * - time a release spends in the cluster (migration, canary steps, analysis): seconds Rollouts
 *   spent Progressing per completed deployment, plus the timed pause steps of the environment's
 *   canary, the in-cluster part of the lead time (the CI part is measured by the pipeline). Not the
 *   `Paused` phase: Argo Rollouts reports every pause as Paused (`rollout_info` phase), and in our
 *   Rollouts those are the wait for manual approval and an inconclusive analysis waiting for a
 *   human, neither of which is delivery time (the lead-time budget stops at the approval pause).
 *   Timed pauses are Paused too but part of the release, so they count at their configured length.
 * - requests per second and p95 latency at the ingress, per app.
 * - cost per active user: the configured monthly price (charts-ts/lib/cost.ts) divided by the
 *   active-users gauge the API exposes (metric name in config `cost.activeUsersMetric`).
 */
import type { Config, Environment } from '../../config/schema.ts';
import { durationSeconds } from '../../config/sections/apps.ts';
import { costReport } from '../../lib/cost.ts';
import { httpOnly, traefikMetrics as T, traefikSelector, workloads } from '../signals.ts';
import type { RecordingRule, RuleGroup } from './model.ts';

export const kpiSeries = {
  rolloutEvents: 'lms:rollout_events:count',
  completed30d: 'lms:deployments_completed:increase30d',
  aborted30d: 'lms:deployments_aborted:increase30d',
  successRatio30d: 'lms:deployments:success_ratio30d',
  incidentOpen: 'lms:incident:open',
  recoveries30d: 'lms:incident_recoveries:count30d',
  openSeconds30d: 'lms:incident_open:seconds30d',
  mttrSeconds30d: 'lms:incident:mttr_seconds30d',
  rolloutSeconds30d: 'lms:rollout_in_progress:seconds30d',
  deployDuration30d: 'lms:deployment_duration:avg_seconds30d',
  requestRate: 'lms:requests:rate5m',
  p95: 'lms:request_duration_seconds:p95_5m',
  activeUsers: 'lms:active_users:max',
  monthlyCost: 'lms:cost:monthly_usd',
  costPerActiveUser: 'lms:cost_per_active_user:usd_month',
} as const;

const seconds = (d: string): number => {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(d);
  if (!m) throw new Error(`"${d}" is not a single-unit duration`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
};

const nsRegex = (envs: Environment[]) => envs.map((e) => e.namespace).join('|');
/** A constant per namespace (`label_replace(vector(v), "namespace", ...)` for each environment). */
const perNamespace = (envs: Environment[], value: (e: Environment) => number) =>
  envs.map((e) => `label_replace(vector(${value(e)}), "namespace", "${e.namespace}", "", "")`).join(' or ');
/** A constant 0 for each namespace, so a KPI series exists (and starts at 0) before its first event. */
const zeroPerNamespace = (envs: Environment[]) => perNamespace(envs, () => 0);

/** Seconds of timed pause steps a release of the environment goes through (config steps have no indefinite pause). */
export const timedPauseSeconds = (env: Environment): number =>
  env.canary.steps.reduce((sum, step) => sum + ('pause' in step && step.pause.duration ? durationSeconds(step.pause.duration) : 0), 0);

export function kpiRuleGroups(config: Config): RuleGroup[] {
  const envs = Object.values(config.environments);
  const ns = nsRegex(envs);
  const step = seconds(config.cluster.observability.prometheus.evaluationInterval);
  const scrape = seconds(config.cluster.observability.prometheus.scrapeInterval);
  const eventReasons = ['RolloutCompleted', 'RolloutAborted'];

  const signals: RecordingRule[] = [
    {
      record: kpiSeries.rolloutEvents,
      expr: [
        `sum by (namespace, name, reason) (rollout_events_total{reason=~"${eventReasons.join('|')}", namespace=~"${ns}"})`,
        ...eventReasons.map((r) => `or label_replace(0 * group by (namespace, name) (rollout_info{namespace=~"${ns}"}), "reason", "${r}", "", "")`),
      ].join('\n'),
    },
    {
      record: kpiSeries.incidentOpen,
      expr: [
        `max by (namespace) (`,
        `  ALERTS{alertstate="firing", severity="critical", namespace=~"${ns}"}`,
        `  or rollout_info{phase="Abort", namespace=~"${ns}"}`,
        `)`,
        `or ${zeroPerNamespace(envs)}`,
      ].join('\n'),
    },
  ];

  const traffic: RecordingRule[] = envs.flatMap((env) => [workloads.api, workloads.web].flatMap((app) => {
    const labels = { namespace: env.namespace, environment: env.name, service: app };
    return [
      { record: kpiSeries.requestRate, expr: `sum(rate(${T.requestsTotal}${traefikSelector(env, app)}[5m]))`, labels },
      {
        record: kpiSeries.p95,
        expr: `histogram_quantile(0.95, sum by (le) (rate(${T.requestDurationBucket}${traefikSelector(env, app, httpOnly)}[5m])))`,
        labels,
      },
    ];
  }));

  const cost = config.cluster.cost;
  const production = config.environments.production;
  const monthly = costReport(cost, 1).totalUsd;
  const costRules: RecordingRule[] = [
    ...envs.map((env) => ({
      record: kpiSeries.activeUsers,
      // Every API replica reports the same gauge; one value per namespace.
      expr: `max(${cost.activeUsersMetric}{namespace="${env.namespace}"})`,
      labels: { namespace: env.namespace, environment: env.name },
    })),
    { record: kpiSeries.monthlyCost, expr: `vector(${monthly})` },
    {
      record: kpiSeries.costPerActiveUser,
      expr: `${kpiSeries.monthlyCost} / on () (${kpiSeries.activeUsers}{namespace="${production.namespace}"} > 0)`,
      labels: { namespace: production.namespace, environment: production.name },
    },
  ];

  const thirtyDays: RecordingRule[] = [
    ...([['RolloutCompleted', kpiSeries.completed30d], ['RolloutAborted', kpiSeries.aborted30d]] as const).map(([reason, record]) => ({
      record,
      // Whole deployments: increase() extrapolates a hair past the last sample.
      expr: `round(sum by (namespace) (increase(${kpiSeries.rolloutEvents}{reason="${reason}"}[30d])))`,
    })),
    {
      record: kpiSeries.successRatio30d,
      // No deployments in 30 days: no value (not 100 %, not NaN).
      expr: `${kpiSeries.completed30d} / ((${kpiSeries.completed30d} + ${kpiSeries.aborted30d}) > 0)`,
    },
    { record: kpiSeries.recoveries30d, expr: `resets(${kpiSeries.incidentOpen}[30d])` },
    // incident:open is 0/1 sampled every evaluation interval: the sum times the step is the time open.
    { record: kpiSeries.openSeconds30d, expr: `sum_over_time(${kpiSeries.incidentOpen}[30d]) * ${step}` },
    { record: kpiSeries.mttrSeconds30d, expr: `${kpiSeries.openSeconds30d} / (${kpiSeries.recoveries30d} > 0)` },
    {
      record: kpiSeries.rolloutSeconds30d,
      // rollout_info is scraped every scrape interval: samples in a phase times the interval.
      // Progressing only: Paused is the approval wait (and inconclusive pauses), see the module comment.
      expr: `sum by (namespace) (count_over_time(rollout_info{phase="Progressing", namespace=~"${ns}"}[30d])) * ${scrape}`,
    },
    {
      record: kpiSeries.deployDuration30d,
      expr: `${kpiSeries.rolloutSeconds30d} / (${kpiSeries.completed30d} > 0) + on (namespace) (${perNamespace(envs, timedPauseSeconds)})`,
    },
  ];

  return [
    { name: 'lms-kpi-signals', rules: signals },
    { name: 'lms-kpi-traffic', rules: [...traffic, ...costRules] },
    // 30-day aggregates change slowly; every 5 minutes is plenty and keeps the 30d range reads cheap.
    { name: 'lms-kpi-30d', interval: '5m', rules: thirtyDays },
  ];
}
