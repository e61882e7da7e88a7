/**
 * Small wrappers over @grafana/grafana-foundation-sdk so the dashboards read as a list of panels:
 * every panel queries the Prometheus datasource by UID and sits on a 24-column grid.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import { CustomVariableBuilder, DashboardBuilder, RowBuilder, ThresholdsConfigBuilder, ThresholdsMode } from '@grafana/grafana-foundation-sdk/dashboard';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TextPanel } from '@grafana/grafana-foundation-sdk/text';
import { TextMode } from '@grafana/grafana-foundation-sdk/text';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import type { Environment } from '../../config/schema.ts';
import { datasourceUids } from '../stack/endpoints.ts';

export const prometheus = { type: 'prometheus', uid: datasourceUids.prometheus };

export interface Query { readonly expr: string; readonly legend?: string }

/** [value, color] steps, lowest first; the first step's value is the base (-Infinity). */
export type Steps = readonly (readonly [number | null, string])[];

const thresholds = (steps: Steps) => new ThresholdsConfigBuilder()
  .mode(ThresholdsMode.Absolute)
  .steps(steps.map(([value, color]) => ({ value, color })));

const target = (q: Query, i: number, instant = false) => {
  const b = new DataqueryBuilder().expr(q.expr).refId(String.fromCharCode(65 + i)).legendFormat(q.legend ?? '__auto');
  return instant ? b.instant() : b.range();
};

export interface StatOptions {
  readonly unit?: string;
  readonly decimals?: number;
  readonly steps?: Steps;
  readonly width?: number;
  readonly description?: string;
}

export function stat(title: string, queries: readonly Query[], o: StatOptions = {}) {
  let p = new StatPanel()
    .title(title)
    .datasource(prometheus)
    .span(o.width ?? 4)
    .height(5)
    .unit(o.unit ?? 'short')
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  if (o.decimals !== undefined) p = p.decimals(o.decimals);
  if (o.steps) p = p.thresholds(thresholds(o.steps));
  if (o.description) p = p.description(o.description);
  queries.forEach((q, i) => { p = p.withTarget(target(q, i, true)); });
  return p;
}

export interface TimeseriesOptions extends StatOptions {
  readonly min?: number;
  /** Draw the thresholds as lines (targets, SLO thresholds). */
  readonly thresholdLines?: boolean;
}

export function timeseries(title: string, queries: readonly Query[], o: TimeseriesOptions = {}) {
  let p = new TimeseriesPanel()
    .title(title)
    .datasource(prometheus)
    .span(o.width ?? 12)
    .height(8)
    .unit(o.unit ?? 'short')
    .lineWidth(1)
    .fillOpacity(10);
  if (o.min !== undefined) p = p.min(o.min);
  if (o.decimals !== undefined) p = p.decimals(o.decimals);
  if (o.steps) p = p.thresholds(thresholds(o.steps));
  if (o.thresholdLines) p = p.thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line));
  if (o.description) p = p.description(o.description);
  queries.forEach((q, i) => { p = p.withTarget(target(q, i)); });
  return p;
}

export const text = (title: string, markdown: string, width = 24) =>
  new TextPanel().title(title).mode(TextMode.Markdown).content(markdown).span(width).height(4);

export const row = (title: string) => new RowBuilder(title);

/** The environment picker: `$namespace`, production first. */
export function namespaceVariable(envs: readonly Environment[]) {
  const ordered = [...envs].sort((a, b) => (a.name === 'production' ? -1 : b.name === 'production' ? 1 : a.name.localeCompare(b.name)));
  return new CustomVariableBuilder('namespace')
    .label('Environment')
    .values(ordered.map((e) => e.namespace).join(','))
    .current({ selected: true, text: ordered[0].namespace, value: ordered[0].namespace });
}

export function dashboard(uid: string, title: string, description: string) {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['lms', 'generated'])
    .editable()
    .refresh('1m')
    .time({ from: 'now-24h', to: 'now' })
    .timezone('utc');
}

/** Every PromQL expression of a built dashboard, with the panel title (tests parse each one). */
export function dashboardExpressions(d: Dashboard): { panel: string; expr: string }[] {
  const out: { panel: string; expr: string }[] = [];
  interface PanelJson { title?: string; targets?: { expr?: string }[]; panels?: PanelJson[] }
  const visit = (panels: PanelJson[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title ?? '', expr: t.expr });
      visit(p.panels);
    }
  };
  visit(d.panels as PanelJson[] | undefined);
  return out;
}
