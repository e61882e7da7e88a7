/**
 * Data layer (dist/platform/data): per environment, in its app namespace, the CloudNativePG
 * database with continuous backup (./database-chart.ts) and the daily encrypted logical dump.
 * Runbook: docs/runbooks/disaster-recovery.md.
 */
import type { App } from 'cdk8s';
import type { Config } from '../config/schema.ts';
import { DatabaseChart, LogicalDumpChart } from './database-chart.ts';
import { checkBucketLayout } from './object-store.ts';

export function addDataCharts(app: App, config: Config): void {
  checkBucketLayout(config);
  for (const env of Object.values(config.environments)) {
    new DatabaseChart(app, `database-${env.name}`, { config, env });
    new LogicalDumpChart(app, `logical-dump-${env.name}`, { config, env });
  }
}
