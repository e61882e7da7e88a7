/**
 * The dashboards as ConfigMaps for Grafana's dashboard sidecar (label `grafana_dashboard: "1"`),
 * in the "LMS" folder.
 */
import type { Construct } from 'constructs';
import type { Config } from '../../config/schema.ts';
import { LmsChart, layers } from '../../lib/chart.ts';
import { names } from '../../lib/names.ts';
import { kplus } from '../../lib/plus.ts';
import { grafanaDashboardLabel, grafanaFolderAnnotation } from '../stack/endpoints.ts';
import { lmsDashboards } from './dashboards.ts';

export const dashboardFolder = 'LMS';

export class DashboardsChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.observability, component: 'dashboards' });
    for (const d of lmsDashboards(config)) {
      new kplus.ConfigMap(this, d.uid!, {
        metadata: {
          name: `dashboard-${d.uid}`,
          namespace: names.monitoring.namespace,
          labels: { ...grafanaDashboardLabel },
          annotations: { [grafanaFolderAnnotation]: dashboardFolder },
        },
        data: { [`${d.uid}.json`]: `${JSON.stringify(d, null, 2)}\n` },
      });
    }
  }
}
