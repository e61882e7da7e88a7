/**
 * The dashboards Grafana loads (ConfigMaps for the sidecar): labelled and foldered, valid panel
 * layout, and each shows what the issue asks of it, reading the SLO and KPI recording rules.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kpiSeries } from '../../charts-ts/observability/rules/kpi.ts';
import { sloSeries } from '../../charts-ts/observability/rules/slo.ts';
import { datasourceUids } from '../../charts-ts/observability/stack/endpoints.ts';
import { rendered } from './support.ts';

const r = rendered();
/** A Grafana dashboard (JSON model): the fields read. */
interface Dashboard {
  uid: string;
  panels: { id: number; title: string; gridPos: { x: number; w: number }; datasource?: unknown; targets?: { expr: string }[] }[];
  templating: { list: { name: string; query: string }[] };
}
const maps = r.findOf<V1ConfigMap>('', 'ConfigMap', { namespace: 'monitoring' }).filter((c) => c.metadata.labels?.grafana_dashboard === '1');
const dashboards = Object.fromEntries(maps.map((c) => {
  const d = JSON.parse(Object.values<string>(c.data!)[0]) as Dashboard;
  return [d.uid, d];
}));
const exprs = (uid: string): string => JSON.stringify(dashboards[uid].panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)));
const titles = (uid: string): string[] => dashboards[uid].panels.map((p) => p.title);

describe('dashboards', () => {
  it('are ConfigMaps the Grafana sidecar loads into the LMS folder, one dashboard each', () => {
    expect(maps).toHaveLength(4);
    for (const c of maps) {
      expect(c.metadata.annotations!.grafana_folder).toBe('LMS');
      expect(Object.keys(c.data!)).toEqual([`${c.metadata.name.replace(/^dashboard-/, '')}.json`]);
    }
  });

  it('have unique panel ids, panels inside the 24-column grid, and query Prometheus by UID', () => {
    for (const d of Object.values(dashboards)) {
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, d.uid).toBe(ids.length);
      for (const p of d.panels) {
        expect(p.gridPos.x + p.gridPos.w, `${d.uid}/${p.title}`).toBeLessThanOrEqual(24);
        if (p.targets) expect(p.datasource, `${d.uid}/${p.title}`).toEqual({ type: 'prometheus', uid: datasourceUids.prometheus });
      }
      expect(d.templating.list.map((v) => v.name)).toEqual(['namespace']);
      expect(d.templating.list[0].query.split(',')).toEqual(expect.arrayContaining(Object.values(r.config.environments).map((e) => e.namespace)));
    }
  });

  it('SLO overview: SLI, objective, budget remaining and burn rates of every SLO', () => {
    for (const slo of ['api-availability', 'api-latency', 'web-availability']) {
      expect(exprs('lms-slo-overview')).toContain(`slo=\\"${slo}\\"`);
    }
    for (const series of [sloSeries.errorRatio('30d'), sloSeries.objective, sloSeries.budgetRemaining, sloSeries.errorRatio('1h'), sloSeries.errorRatio('3d')]) {
      expect(exprs('lms-slo-overview')).toContain(series);
    }
    expect(titles('lms-slo-overview').filter((t) => t.startsWith('Burn rate'))).toHaveLength(3);
  });

  it('delivery KPIs: availability, deploy success, MTTR, lead time, RPS and p95, cost per active user', () => {
    const e = exprs('lms-delivery-kpis');
    for (const series of [sloSeries.errorRatio('30d'), kpiSeries.successRatio30d, kpiSeries.mttrSeconds30d, kpiSeries.deployDuration30d,
      kpiSeries.requestRate, kpiSeries.p95, kpiSeries.costPerActiveUser]) expect(e).toContain(series);
    expect(titles('lms-delivery-kpis')).toContain('Lead time, merge to production');
  });

  it('API RED: rate, errors and duration at the ingress, and the pods\' saturation', () => {
    const e = exprs('lms-api-red');
    for (const m of ['traefik_service_requests_total', 'traefik_service_request_duration_seconds_bucket', 'container_cpu_usage_seconds_total', 'kube_horizontalpodautoscaler_status_current_replicas']) {
      expect(e).toContain(m);
    }
  });

  it('Postgres and backups: instances, base backups, WAL archiving and the logical dump', () => {
    const e = exprs('lms-postgres-backups');
    for (const m of ['cnpg_collector_up', 'barman_cloud_cloudnative_pg_io_last_available_backup_timestamp', 'cnpg_pg_stat_archiver_archived_count', 'kube_cronjob_status_last_successful_time']) {
      expect(e).toContain(m);
    }
  });
});
