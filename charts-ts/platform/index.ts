/** Platform layer: namespaces, controllers, cluster configs, Flux wiring. */
import type { App } from 'cdk8s';
import type { Config } from '../config/schema.ts';
import { NamespacesChart } from './namespaces.ts';

export function addPlatformCharts(app: App, config: Config): void {
  new NamespacesChart(app, 'namespaces', config);
}
