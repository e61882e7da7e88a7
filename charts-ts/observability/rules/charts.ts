/**
 * The PrometheusRules: SLOs per environment, delivery KPIs, and the platform's alerts. All live in
 * the monitoring namespace (Prometheus selects rules from every namespace) in the observability
 * layer, after the CRDs (controllers layer) and the data layer whose signals they read.
 */
import type { Construct } from 'constructs';
import type { Config } from '../../config/schema.ts';
import { LmsChart, layers } from '../../lib/chart.ts';
import { slosFor } from '../slos.ts';
import { alertRuleGroups } from './alerts.ts';
import { kpiRuleGroups } from './kpi.ts';
import { LmsPrometheusRule, type RuleGroup } from './model.ts';
import { sloRuleGroup } from './slo.ts';

/** Every rule group we deploy, by PrometheusRule name (what the charts below emit; tests use it too). */
export function lmsRuleSets(config: Config): { name: string; groups: RuleGroup[] }[] {
  const base = config.cluster.observability.alerts.runbookBaseUrl;
  return [
    ...Object.values(config.environments).map((env) => ({
      name: `slo-${env.name}`,
      groups: slosFor(config, env).map((s) => sloRuleGroup(s, base)),
    })),
    { name: 'delivery-kpis', groups: kpiRuleGroups(config) },
    { name: 'platform-alerts', groups: alertRuleGroups(config) },
  ];
}

export class RulesChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.observability, component: 'rules' });
    for (const set of lmsRuleSets(config)) {
      new LmsPrometheusRule(this, set.name, { name: set.name, groups: set.groups, runbookBaseUrl: config.cluster.observability.alerts.runbookBaseUrl });
    }
  }
}
