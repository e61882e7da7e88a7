/** App workloads of one environment (issue: LMS workloads). Adds its charts to the app. */
import type { App } from 'cdk8s';
import type { Config, Environment } from '../config/schema.ts';

export function addAppCharts(_app: App, _config: Config, _env: Environment): void {}
