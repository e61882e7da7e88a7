/** Builds the whole cdk8s App from a Config: one chart per concern, composed per environment. */
import { App } from 'cdk8s';
import { addAppCharts } from './apps/index.ts';
import type { Config } from './config/schema.ts';
import { addDataCharts } from './data/index.ts';
import { addObservabilityCharts } from './observability/index.ts';
import { WeeklyReportChart } from './observability/weekly-report.ts';
import { addPlatformCharts } from './platform/index.ts';

export function buildApp(config: Config): App {
  const app = new App({ outdir: 'dist' });
  addPlatformCharts(app, config);
  addDataCharts(app, config);
  addObservabilityCharts(app, config);
  new WeeklyReportChart(app, 'weekly-report', config);
  for (const env of Object.values(config.environments)) addAppCharts(app, config, env);
  return app;
}
