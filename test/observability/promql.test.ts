/**
 * Every PromQL expression the cluster runs or shows (PrometheusRules, Grafana dashboards, Argo
 * Rollouts analyses) parses (the real promtool, through a rules file) and only uses metrics that a
 * recording rule or a scraped exporter produces (the catalog, one list per exporter), and each
 * exporter in the catalog is actually scraped by something in the output.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { metricCatalog } from '../../charts-ts/observability/catalog.ts';
import { lmsDashboards } from '../../charts-ts/observability/dashboards/dashboards.ts';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboardExpressions } from '../../charts-ts/observability/dashboards/panels.ts';
import type { MonitorEndpointJson, MonitorJson } from '../support/kinds.ts';
import { analysisQueries, concreteQuery, metricNames, rendered, renderedRules, run, tempDir, writeYaml } from './support.ts';

const r = rendered();
const config = r.config;
const envs = Object.values(config.environments);
const prodNs = config.environments.production.namespace;

interface Expression { readonly where: string; readonly expr: string }

const ruleExpressions: Expression[] = renderedRules().flatMap((f) => f.groups.flatMap((g) =>
  g.rules.map((x) => ({ where: `PrometheusRule ${f.name}/${g.name}/${x.record ?? x.alert}`, expr: String(x.expr) }))));

/** Dashboards as Grafana gets them: the JSON in the sidecar ConfigMaps. */
const dashboardConfigMaps = r.findOf<V1ConfigMap>('', 'ConfigMap', { namespace: 'monitoring' }).filter((c) => c.metadata.labels?.grafana_dashboard === '1');
const dashboardQueries: Expression[] = dashboardConfigMaps.flatMap((c) => Object.values<string>(c.data!).flatMap((json) => {
  const d = JSON.parse(json) as Dashboard & { uid: string };
  return dashboardExpressions(d).map((x) => ({ where: `dashboard ${d.uid} panel "${x.panel}"`, expr: concreteQuery(x.expr, prodNs) }));
}));

const analyses: Expression[] = analysisQueries().map((a) => ({ where: a.where, expr: concreteQuery(a.expr, a.namespace) }));

const recorded = new Set(renderedRules().flatMap((f) => f.groups.flatMap((g) => g.rules.filter((x) => x.record).map((x) => x.record as string))));
const catalog = metricCatalog(config);
const known = new Set([...catalog.flatMap((e) => e.metrics), ...recorded]);

describe('PromQL in rules, dashboards and analyses', () => {
  it('the dashboards in the output are the four dashboards built in code', () => {
    expect(dashboardConfigMaps.map((c) => c.metadata.name).sort()).toEqual(lmsDashboards(config).map((d) => `dashboard-${d.uid}`).sort());
    expect(lmsDashboards(config).map((d) => d.uid).sort()).toEqual(['lms-api-red', 'lms-delivery-kpis', 'lms-postgres-backups', 'lms-slo-overview']);
    expect(dashboardQueries.length).toBeGreaterThan(40);
  });

  it('there are canary analyses to check', () => {
    // The apps layer renders AnalysisTemplates with Prometheus queries (success rate, p95).
    expect(analyses.length).toBeGreaterThanOrEqual(2);
  });

  it('every dashboard and analysis expression parses (promtool check rules)', () => {
    const all = [...dashboardQueries, ...analyses];
    const dir = tempDir('promql');
    const file = writeYaml(dir, 'expressions.rules.yaml', {
      groups: [{ name: 'expressions', rules: all.map((x, i) => ({ record: `lms_check:expression_${i}:value`, expr: x.expr })) }],
    });
    const result = run('promtool', ['check', 'rules', file]);
    expect(result.status, `${result.output}\n${all.map((x, i) => `${i}: ${x.where}: ${x.expr}`).join('\n')}`).toBe(0);
  });

  it('promtool catches an unparsable dashboard query (the check bites)', () => {
    const dir = tempDir('promql-bad');
    const file = writeYaml(dir, 'bad.rules.yaml', { groups: [{ name: 'x', rules: [{ record: 'lms_check:bad:value', expr: concreteQuery('sum by (pod) (rate(x{namespace="$namespace"}[$__rate_interval])', prodNs) }] }] });
    expect(run('promtool', ['check', 'rules', file]).status).not.toBe(0);
  });

  it('every expression uses only metrics from a recording rule or a cataloged exporter', () => {
    const unknown: string[] = [];
    for (const x of [...ruleExpressions, ...dashboardQueries, ...analyses]) {
      const names = metricNames(x.expr);
      for (const n of names) if (!known.has(n)) unknown.push(`${x.where}: ${n}`);
    }
    expect(unknown).toEqual([]);
  });

  it('the metric extraction sees through functions, aggregations and __name__ matchers', () => {
    expect(metricNames('sum by (le) (rate(a_bucket{x="y"}[5m])) / on() group_left b or {__name__="c"} unless label_replace(d, "a", "b", "", "")'))
      .toEqual(['a_bucket', 'b', 'c', 'd']);
  });

  it('each cataloged metric list names its source and scrape path', () => {
    for (const e of catalog) {
      expect(e.source.length, e.name).toBeGreaterThan(10);
      expect(e.scrapedBy.length, e.name).toBeGreaterThan(5);
      expect(new Set(e.metrics).size, e.name).toBe(e.metrics.length);
    }
  });
});

describe('every cataloged exporter is scraped', () => {
  const monitors = [...r.findOf<MonitorJson>('monitoring.coreos.com', 'PodMonitor'), ...r.findOf<MonitorJson>('monitoring.coreos.com', 'ServiceMonitor')];
  /** The kube-prometheus-stack values read: which built-in monitors are on. */
  type SelfMonitored = { serviceMonitor?: { selfMonitor?: boolean } };
  type Values = { prometheus?: SelfMonitored; alertmanager?: SelfMonitored; prometheusOperator?: SelfMonitored; kubelet?: { enabled?: boolean }; kubeStateMetrics?: { enabled?: boolean }; nodeExporter?: { enabled?: boolean } };
  const kps = r.getOf<{ spec: { values: Values } }>('helm.toolkit.fluxcd.io', 'HelmRelease', 'kube-prometheus-stack', 'monitoring').spec.values;
  const selects = (m: MonitorJson, key: string, value?: string) => {
    const labels = m.spec.selector?.matchLabels ?? {};
    return Object.entries(labels).some(([k, v]) => k === key && (value === undefined || v === value));
  };
  const endpoints = (m: MonitorJson): MonitorEndpointJson[] => m.spec.podMetricsEndpoints ?? m.spec.endpoints ?? [];
  const inNamespace = (ns: string) => monitors.filter((m) => m.metadata.namespace === ns || m.spec.namespaceSelector?.matchNames?.includes(ns));

  const checks: Record<string, () => string[]> = {
    prometheus: () => (kps.prometheus?.serviceMonitor?.selfMonitor === false ? ['kube-prometheus-stack: prometheus selfMonitor is off'] : []),
    alertmanager: () => (kps.alertmanager?.serviceMonitor?.selfMonitor === false ? ['alertmanager selfMonitor is off'] : []),
    'prometheus-operator': () => (kps.prometheusOperator?.serviceMonitor?.selfMonitor === false ? ['operator selfMonitor is off'] : []),
    kubelet: () => (kps.kubelet?.enabled === true ? [] : ['kube-prometheus-stack kubelet monitor is not enabled']),
    'kube-state-metrics': () => (kps.kubeStateMetrics?.enabled === false ? ['kube-state-metrics is off'] : []),
    'node-exporter': () => (kps.nodeExporter?.enabled === false ? ['node-exporter is off'] : []),
    traefik: () => (inNamespace('kube-system').some((m) => selects(m, 'app.kubernetes.io/name', 'traefik')) ? [] : ['no monitor selects the Traefik pods in kube-system']),
    'argo-rollouts': () => {
      const m = inNamespace('argo-rollouts');
      if (m.length === 0) return ['no monitor in argo-rollouts'];
      // rollout_* carry the Rollout's namespace as `namespace`: only with honorLabels does it survive.
      return m.every((x) => endpoints(x).every((e) => e.honorLabels === true)) ? [] : ['the argo-rollouts monitor must set honorLabels: true (rules group by the Rollout\'s namespace)'];
    },
    'cert-manager': () => (inNamespace('cert-manager').length ? [] : ['no monitor in cert-manager']),
    'cloudnative-pg': () => envs.filter((e) => !inNamespace(e.namespace).some((m) => selects(m, 'cnpg.io/cluster'))).map((e) => `no PodMonitor selects cnpg.io/cluster in ${e.namespace}`),
    'barman-cloud-plugin': () => envs.filter((e) => !inNamespace(e.namespace).some((m) => selects(m, 'cnpg.io/cluster'))).map((e) => `no PodMonitor for the PostgreSQL instances in ${e.namespace}`),
    redis_exporter: () => envs.filter((e) => !inNamespace(e.namespace).some((m) => JSON.stringify(m.spec.selector ?? {}).includes('redis') || m.metadata.name.includes('redis')))
      .map((e) => `no monitor for Redis in ${e.namespace}`),
    'lms-api': () => envs.filter((e) => !inNamespace(e.namespace).some((m) => JSON.stringify(m.spec.selector ?? {}).includes('lms-api') || m.metadata.name.includes('lms-api')))
      .map((e) => `no monitor for the API in ${e.namespace}`),
  };

  it('has a check for every exporter in the catalog', () => {
    expect(Object.keys(checks).sort()).toEqual(catalog.map((e) => e.name).sort());
  });

  for (const e of metricCatalog(rendered().config)) {
    it(`${e.name} (${e.scrapedBy})`, () => {
      expect(checks[e.name]()).toEqual([]);
    });
  }
});
