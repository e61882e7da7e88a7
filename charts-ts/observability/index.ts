/** Observability layer: metrics, logs, traces, SLO rules, alert routing, dashboards. */
import type { App } from 'cdk8s';
import type { Config } from '../config/schema.ts';
import { DashboardsChart } from './dashboards/chart.ts';
import { RulesChart } from './rules/charts.ts';
import { CollectorChart, LogsChart, MetricsChart, MonitoringCrdsChart, TracesChart } from './stack/charts.ts';

export function addObservabilityCharts(app: App, config: Config): void {
  // platform/controllers: the CRDs every layer's monitors and rules need.
  new MonitoringCrdsChart(app, 'monitoring-crds', config);
  // platform/observability
  new MetricsChart(app, 'metrics', config);
  new LogsChart(app, 'logs', config);
  new TracesChart(app, 'traces', config);
  new CollectorChart(app, 'collector', config);
  new RulesChart(app, 'rules', config);
  new DashboardsChart(app, 'dashboards', config);
}
