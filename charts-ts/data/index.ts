/** Data layer: CloudNativePG clusters, object stores, backups. */
import type { App } from 'cdk8s';
import type { Config } from '../config/schema.ts';

export function addDataCharts(_app: App, _config: Config): void {}
