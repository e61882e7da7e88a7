/**
 * SLOs as code. An SLO is a ratio of good to total events over a 30-day window; from its definition
 * we generate (Google SRE Workbook, "Alerting on SLOs", multiwindow multi-burn-rate):
 *
 * - recording rules for the error ratio over 5m, 30m, 1h, 2h, 6h, 1d and 3d from the raw counters,
 *   and over 30d from the recorded 5m rates (traffic-weighted, cheap: no 30-day raw range query);
 * - the request rate of each window (for the low-traffic guard);
 * - the objective, the error budget and the error budget remaining as series (dashboards, reports);
 * - burn-rate alerts: page at 14.4x over 1h and 5m and at 6x over 6h and 30m; ticket at 3x over 1d
 *   and 2h and at 1x over 3d and 6h. The short window makes an alert stop soon after the burn stops.
 *
 * Low-traffic guard: an alert also needs its long window to have seen `minRequestsPerHour` on
 * average, so two failed requests out of five at night page nobody (the ratio is still recorded).
 */
import { runbookUrl, type AlertingRule, type RecordingRule, type RuleGroup, type Severity } from './model.ts';

export interface SloDefinition {
  /** Stable id and the `slo` label: lower-case words, like `api-availability`. */
  readonly name: string;
  /** The service the SLO is about, the `service` label (e.g. lms-api). */
  readonly service: string;
  readonly environment: string;
  readonly namespace: string;
  /** One sentence: what "good" means, for the docs, alerts and dashboards. */
  readonly description: string;
  /** Share of good events, 0 < objective < 1 (0.999 = 99.9 %). */
  readonly objective: number;
  readonly window: '30d';
  /**
   * PromQL for the per-second rate of good and of all events, with `$window` where the range goes,
   * e.g. `sum(rate(http_requests_total{code!~"5.."}[$window]))`. Each must return one series.
   */
  readonly good: string;
  readonly total: string;
  /** Fast burn pages (critical) when true; otherwise it opens a ticket (warning) like a slow burn. */
  readonly page: boolean;
  /** Low-traffic guard, see the module comment. */
  readonly minRequestsPerHour: number;
}

/** Windows with their length in seconds; 30d is computed from the recorded 5m rates. */
export const sloWindows = { '5m': 300, '30m': 1800, '1h': 3600, '2h': 7200, '6h': 21600, '1d': 86400, '3d': 259200, '30d': 2592000 } as const;
export type SloWindow = keyof typeof sloWindows;
const rawWindows: SloWindow[] = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];

export interface BurnRateAlert {
  readonly long: SloWindow;
  readonly short: SloWindow;
  /** Multiple of the budget-neutral error rate: 14.4 spends 2 % of a 30-day budget in one hour. */
  readonly factor: number;
  readonly kind: 'page' | 'ticket';
  /** `for` of the alert: a little patience on pages, none needed on the slow windows. */
  readonly for: string;
}

/** The SRE Workbook's recommended pairs for a 30-day SLO. */
export const burnRateAlerts: readonly BurnRateAlert[] = [
  { long: '1h', short: '5m', factor: 14.4, kind: 'page', for: '2m' },
  { long: '6h', short: '30m', factor: 6, kind: 'page', for: '5m' },
  { long: '1d', short: '2h', factor: 3, kind: 'ticket', for: '15m' },
  { long: '3d', short: '6h', factor: 1, kind: 'ticket', for: '1h' },
];

/** Series names (one set for all SLOs; the `slo` label tells them apart). */
export const sloSeries = {
  errorRatio: (w: SloWindow) => `slo:sli_error:ratio_rate${w}`,
  requestRate: (w: SloWindow) => `slo:sli_total:rate${w}`,
  goodRate5m: 'slo:sli_good:rate5m',
  objective: 'slo:objective:ratio',
  errorBudget: 'slo:error_budget:ratio',
  budgetRemaining: 'slo:error_budget_remaining:ratio',
} as const;

export const sloAlertName = 'SLOErrorBudgetBurn';

const sloName = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Labels every series of one SLO carries. */
export const sloLabels = (s: SloDefinition) => ({
  slo: s.name,
  service: s.service,
  namespace: s.namespace,
  environment: s.environment,
});

/** Selector for one SLO's recorded series. */
export const sloSelector = (s: Pick<SloDefinition, 'name' | 'namespace'>): string => `{slo="${s.name}", namespace="${s.namespace}"}`;

/** `0.001` rather than `0.0010000000000000009` (1 - 0.999 in floating point). */
export const errorBudget = (objective: number): number => Number((1 - objective).toPrecision(12));

function validate(s: SloDefinition): void {
  const where = `SLO ${s.name} (${s.environment})`;
  if (!sloName.test(s.name)) throw new Error(`${where}: name must be lower-case words joined by "-", like api-availability`);
  if (!(s.objective > 0 && s.objective < 1)) throw new Error(`${where}: objective ${s.objective} must be strictly between 0 and 1 (0.999 = 99.9 %)`);
  for (const [field, q] of [['good', s.good], ['total', s.total]] as const) {
    if (!q.includes('[$window]')) throw new Error(`${where}: ${field} must contain "[$window]" where the range goes, got: ${q}`);
  }
  if (!(s.minRequestsPerHour >= 1)) throw new Error(`${where}: minRequestsPerHour must be at least 1`);
}

const at = (q: string, w: SloWindow) => q.replaceAll('$window', w);

/** Recording rules of one SLO: per-window error ratio and request rate, objective, budget, budget left. */
export function sloRecordingRules(s: SloDefinition): RecordingRule[] {
  validate(s);
  const labels = sloLabels(s);
  const sel = sloSelector(s);
  const rules: RecordingRule[] = [];
  for (const w of rawWindows) {
    rules.push({ record: sloSeries.requestRate(w), expr: at(s.total, w), labels });
    // 0/0 (no traffic in the window) is NaN: no ratio, so no alert and no false "100 % good".
    rules.push({ record: sloSeries.errorRatio(w), expr: `1 - (${at(s.good, w)}) / (${at(s.total, w)})`, labels });
  }
  rules.push({ record: sloSeries.goodRate5m, expr: at(s.good, '5m'), labels });
  // 30 days, traffic-weighted: the sum of the recorded 5m rates is proportional to the event counts.
  rules.push({
    record: sloSeries.requestRate('30d'),
    expr: `avg_over_time(${sloSeries.requestRate('5m')}${sel}[30d])`,
    labels,
  });
  rules.push({
    record: sloSeries.errorRatio('30d'),
    expr: `1 - sum_over_time(${sloSeries.goodRate5m}${sel}[30d]) / sum_over_time(${sloSeries.requestRate('5m')}${sel}[30d])`,
    labels,
  });
  rules.push({ record: sloSeries.objective, expr: `vector(${s.objective})`, labels });
  rules.push({ record: sloSeries.errorBudget, expr: `vector(${errorBudget(s.objective)})`, labels });
  // 1 = untouched, 0 = spent, negative = overspent.
  rules.push({
    record: sloSeries.budgetRemaining,
    expr: `1 - ${sloSeries.errorRatio('30d')}${sel} / ${sloSeries.errorBudget}${sel}`,
    labels,
  });
  return rules;
}

export function sloSeverity(s: SloDefinition, kind: BurnRateAlert['kind']): Severity {
  return kind === 'page' && s.page ? 'critical' : 'warning';
}

/** The four burn-rate alerts of one SLO. */
export function sloAlertRules(s: SloDefinition, runbookBase: string): AlertingRule[] {
  validate(s);
  const sel = sloSelector(s);
  const budget = errorBudget(s.objective);
  return burnRateAlerts.map((b) => {
    const threshold = Number((b.factor * budget).toPrecision(12));
    const minRequests = s.minRequestsPerHour * (sloWindows[b.long] / 3600);
    return {
      alert: sloAlertName,
      expr: [
        `(${sloSeries.errorRatio(b.long)}${sel} > ${threshold})`,
        `and (${sloSeries.errorRatio(b.short)}${sel} > ${threshold})`,
        // Low-traffic guard: enough requests in the long window for the ratio to mean something.
        `and (${sloSeries.requestRate(b.long)}${sel} * ${sloWindows[b.long]} >= ${minRequests})`,
      ].join('\n'),
      for: b.for,
      // The SLO's labels are also on the series; repeating them keeps each rule's label set unique.
      labels: {
        ...sloLabels(s),
        severity: sloSeverity(s, b.kind),
        long_window: b.long,
        short_window: b.short,
        burn_rate: String(b.factor),
      },
      annotations: {
        summary: `${s.service} in ${s.environment} is burning its ${s.name} error budget ${b.factor}x too fast`,
        description:
          `SLO ${s.name} (${s.description}; objective ${(s.objective * 100).toFixed(2)} % over ${s.window}): `
          + `the error ratio over the last ${b.long} and ${b.short} is above ${b.factor}x the budget-neutral ${budget}. `
          + (b.kind === 'page'
            ? `At this rate ${((b.factor * sloWindows[b.long]) / sloWindows['30d'] * 100).toFixed(0)} % of the 30-day budget is gone within ${b.long}.`
            : `At this rate the 30-day budget is spent in ${(30 / b.factor).toFixed(0)} days.`),
        runbook_url: runbookUrl(runbookBase, sloAlertName),
      },
    };
  });
}

/** One rule group per SLO: the recordings first (evaluated in order), then the alerts that read them. */
export function sloRuleGroup(s: SloDefinition, runbookBase: string): RuleGroup {
  return { name: `slo-${s.environment}-${s.name}`, rules: [...sloRecordingRules(s), ...sloAlertRules(s, runbookBase)] };
}
