/**
 * Test support for the observability layer: the real promtool and amtool (built by
 * scripts/setup.d/20-prometheus-tools.sh into .cache/bin), the rendered PrometheusRules as rule
 * files, and PromQL metric-name extraction with Prometheus' own lezer grammar.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { stringify } from 'yaml';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import type { AnalysisTemplateJson, PrometheusRuleGroupJson, PrometheusRuleJson } from '../support/kinds.ts';
import { renderAll, type Rendered } from '../support/render.ts';

process.env.PATH = `${repoRoot}/.cache/bin:${process.env.PATH}`;

export { repoRoot };

export interface ToolResult { readonly status: number | null; readonly output: string }

/** Run a tool from PATH (with .cache/bin first); a missing tool is an error, not a skip. */
export function run(tool: string, args: string[], cwd?: string): ToolResult {
  const r = spawnSync(tool, args, { encoding: 'utf8', cwd, timeout: 300_000 });
  if (r.error) throw new Error(`${tool} could not run (${r.error.message}); run \`npm run setup\` (scripts/setup.d/20-prometheus-tools.sh)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `lms-obs-${prefix}-`));

export const writeYaml = (dir: string, name: string, value: unknown): string => {
  const file = join(dir, name);
  writeFileSync(file, stringify(value, { lineWidth: 0 }));
  return file;
};

let cached: Rendered | undefined;
/** The whole output rendered once with the repository's values. */
export const rendered = (): Rendered => (cached ??= renderAll());

export interface RenderedRuleFile {
  readonly name: string;
  readonly namespace: string;
  readonly groups: PrometheusRuleGroupJson[];
}

/** Every PrometheusRule in the output (ours and other layers'), as Prometheus rule-file content. */
export const renderedRules = (r: Rendered = rendered()): RenderedRuleFile[] =>
  r.findOf<PrometheusRuleJson>('monitoring.coreos.com', 'PrometheusRule').map((o) => ({ name: o.metadata.name, namespace: o.metadata.namespace!, groups: o.spec.groups }));

/** One rendered PrometheusRule as a rule file on disk. */
export function ruleFile(dir: string, name: string, r: Rendered = rendered()): string {
  const rule = renderedRules(r).find((x) => x.name === name);
  if (!rule) throw new Error(`no PrometheusRule ${name} in the output`);
  return writeYaml(dir, `${name}.rules.yaml`, { groups: rule.groups });
}

/** Only the named groups of one rendered PrometheusRule, as a rule file (promtool evaluates every group of a file). */
export function ruleGroupsFile(dir: string, name: string, groups: string[], r: Rendered = rendered()): string {
  const rule = renderedRules(r).find((x) => x.name === name);
  if (!rule) throw new Error(`no PrometheusRule ${name} in the output`);
  const picked = rule.groups.filter((g) => groups.includes(g.name));
  if (picked.length !== groups.length) throw new Error(`PrometheusRule ${name} lacks some of the groups ${groups.join(', ')}`);
  return writeYaml(dir, `${name}-${groups.join('-')}.rules.yaml`, { groups: picked });
}

/** Names of every metric selected in a PromQL expression (VectorSelector identifiers and __name__ matchers). */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  const tree = parser.parse(expr);
  tree.iterate({
    enter(node) {
      if (node.name !== 'VectorSelector') return;
      const id = node.node.getChild('Identifier');
      if (id) names.add(expr.slice(id.from, id.to));
      const matchers = node.node.getChild('LabelMatchers');
      for (const m of matchers?.getChildren('UnquotedLabelMatcher') ?? []) {
        const label = m.getChild('LabelName');
        const value = m.getChild('StringLiteral');
        if (label && value && expr.slice(label.from, label.to) === '__name__' && m.getChild('MatchOp')?.getChild('EqlSingle')) {
          names.add(expr.slice(value.from + 1, value.to - 1));
        }
      }
    },
  });
  return [...names].sort();
}

/** Grafana/Argo template variables replaced by values PromQL can parse. */
export function concreteQuery(expr: string, namespace: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1d')
    .replaceAll('${namespace}', namespace)
    .replaceAll('$namespace', namespace)
    .replace(/\{\{\s*args\.[A-Za-z0-9_-]+\s*\}\}/g, 'placeholder');
}

/** Every PromQL query of the Argo Rollouts AnalysisTemplates in the output. */
export function analysisQueries(r: Rendered = rendered()): { where: string; namespace: string; expr: string }[] {
  return [...r.findOf<AnalysisTemplateJson>('argoproj.io', 'AnalysisTemplate'), ...r.findOf<AnalysisTemplateJson>('argoproj.io', 'ClusterAnalysisTemplate')].flatMap((t) =>
    (t.spec.metrics ?? []).filter((m) => m.provider?.prometheus?.query).map((m) => ({
      where: `${t.kind} ${t.metadata.namespace ?? ''}/${t.metadata.name} metric ${m.name}`,
      namespace: t.metadata.namespace ?? 'default',
      expr: m.provider.prometheus!.query,
    })));
}
