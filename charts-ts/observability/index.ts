/** Observability layer: metrics, logs, traces, SLO rules, alert routing, dashboards. */
import type { App } from 'cdk8s';
import type { Config } from '../config/schema.ts';

export function addObservabilityCharts(_app: App, _config: Config): void {}
