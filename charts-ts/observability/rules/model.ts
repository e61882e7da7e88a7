/**
 * Prometheus rules as typed data, and the PrometheusRule construct that emits them. Every alert must
 * carry a severity the Alertmanager routes know and a runbook_url into docs/runbooks/alerts/, so an
 * alert without a runbook is a synth error, not a surprise at 3 a.m.
 */
import { Construct } from 'constructs';
import { PrometheusRule, PrometheusRuleSpecGroupsRulesExpr } from '../../imports/prometheusrule-monitoring.coreos.com.ts';
import { names } from '../../lib/names.ts';

/** `critical` pages (PagerDuty + Slack), `warning` is a ticket (Slack), `none` is the Watchdog heartbeat. */
export type Severity = 'critical' | 'warning' | 'none';

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  /** How long the condition must hold before the alert fires. */
  readonly for?: string;
  readonly labels: Readonly<Record<string, string>> & { readonly severity: Severity };
  readonly annotations: {
    readonly summary: string;
    readonly description: string;
    /** `<runbookBaseUrl><file>.md`; the file exists under docs/runbooks/alerts/ (tested). */
    readonly runbook_url: string;
  };
}

export type Rule = RecordingRule | AlertingRule;
export const isAlert = (r: Rule): r is AlertingRule => 'alert' in r;

export interface RuleGroup {
  readonly name: string;
  /** Evaluation interval; the Prometheus default (config `prometheus.evaluationInterval`) when unset. */
  readonly interval?: string;
  readonly rules: readonly Rule[];
}

/** Runbook file name of an alert: `KubePodCrashLooping` -> `kube-pod-crash-looping`. */
export const runbookSlug = (alert: string): string =>
  alert.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2').toLowerCase();

/** The runbook URL of an alert, from the configured base. */
export const runbookUrl = (base: string, alert: string): string => `${base}${runbookSlug(alert)}.md`;

const recordName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const alertName = /^[A-Z][A-Za-z0-9]*$/;
const severities: readonly Severity[] = ['critical', 'warning', 'none'];

/** Throws with the group and rule named when a rule breaks the conventions above. */
export function checkGroups(groups: readonly RuleGroup[], runbookBase: string): void {
  const seen = new Set<string>();
  for (const g of groups) {
    if (seen.has(g.name)) throw new Error(`rule group "${g.name}" is defined twice; group names must be unique`);
    seen.add(g.name);
    if (g.rules.length === 0) throw new Error(`rule group "${g.name}" has no rules`);
    for (const r of g.rules) {
      const where = `rule group "${g.name}"`;
      if (!r.expr.trim()) throw new Error(`${where}: ${isAlert(r) ? r.alert : r.record} has an empty expr`);
      if (!isAlert(r)) {
        if (!recordName.test(r.record) || !r.record.includes(':')) {
          throw new Error(`${where}: recording rule "${r.record}" must be a level:metric:operations name (with ":")`);
        }
        continue;
      }
      if (!alertName.test(r.alert)) throw new Error(`${where}: alert "${r.alert}" must be UpperCamelCase`);
      if (!severities.includes(r.labels.severity)) {
        throw new Error(`${where}: alert ${r.alert} has severity "${r.labels.severity}"; use critical (pages), warning (ticket) or none`);
      }
      if (r.annotations.runbook_url !== runbookUrl(runbookBase, r.alert)) {
        throw new Error(`${where}: alert ${r.alert} must link its runbook ${runbookUrl(runbookBase, r.alert)}, not "${r.annotations.runbook_url}"`);
      }
    }
  }
}

/** A rule as Prometheus' rule-file YAML has it (also what `promtool` reads). */
export function toRuleFileRule(r: Rule): Record<string, unknown> {
  if (!isAlert(r)) return { record: r.record, expr: r.expr, ...(r.labels ? { labels: { ...r.labels } } : {}) };
  return {
    alert: r.alert,
    expr: r.expr,
    ...(r.for ? { for: r.for } : {}),
    labels: { ...r.labels },
    annotations: { ...r.annotations },
  };
}

/** Rule groups as a Prometheus rule file (`groups:`), for promtool and for the PrometheusRule spec. */
export const toRuleFile = (groups: readonly RuleGroup[]) => ({
  groups: groups.map((g) => ({ name: g.name, ...(g.interval ? { interval: g.interval } : {}), rules: g.rules.map(toRuleFileRule) })),
});

export interface LmsPrometheusRuleProps {
  readonly name: string;
  readonly groups: readonly RuleGroup[];
  readonly runbookBaseUrl: string;
  /** @default monitoring */
  readonly namespace?: string;
}

/** A PrometheusRule in the monitoring namespace; Prometheus selects rules from every namespace. */
export class LmsPrometheusRule extends Construct {
  readonly groups: readonly RuleGroup[];

  constructor(scope: Construct, id: string, props: LmsPrometheusRuleProps) {
    super(scope, id);
    checkGroups(props.groups, props.runbookBaseUrl);
    this.groups = props.groups;
    new PrometheusRule(this, 'rule', {
      metadata: { name: props.name, namespace: props.namespace ?? names.monitoring.namespace },
      spec: {
        groups: props.groups.map((g) => ({
          name: g.name,
          interval: g.interval,
          rules: g.rules.map((r) => (isAlert(r)
            ? { alert: r.alert, expr: PrometheusRuleSpecGroupsRulesExpr.fromString(r.expr), for: r.for, labels: { ...r.labels }, annotations: { ...r.annotations } }
            : { record: r.record, expr: PrometheusRuleSpecGroupsRulesExpr.fromString(r.expr), labels: r.labels ? { ...r.labels } : undefined })),
        })),
      },
    });
  }
}
