/**
 * Test support for the app workloads: the whole output rendered once, the real tools (promtool
 * from scripts/setup.d/20-prometheus-tools.sh, argo-eval from scripts/setup.d/25-apps-argo-eval.sh)
 * on PATH with .cache/bin first, and small accessors for the objects of one environment.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Environment } from '../../charts-ts/config/schema.ts';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { renderAll, type Rendered } from '../support/render.ts';

process.env.PATH = `${repoRoot}/.cache/bin:${process.env.PATH}`;

export interface ToolResult { readonly status: number | null; readonly output: string; readonly stdout: string }

/** Run a tool from PATH; a missing tool is a setup error, never a skip. */
export function run(tool: string, args: string[], input?: string): ToolResult {
  const r = spawnSync(tool, args, { encoding: 'utf8', input, timeout: 120_000 });
  if (r.error) throw new Error(`${tool} could not run (${r.error.message}); run \`npm run setup\` (scripts/setup.d/20-prometheus-tools.sh, 25-apps-argo-eval.sh)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `lms-apps-${prefix}-`));

export function writeYaml(dir: string, name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, stringify(value, { lineWidth: 0 }));
  return file;
}

let cached: Rendered | undefined;
/** The whole output rendered once with the repository's values. */
export const rendered = (): Rendered => (cached ??= renderAll());

export const environments = (r: Rendered = rendered()): Environment[] => Object.values(r.config.environments);

/** The Argo Rollouts phase of each case, from Argo Rollouts' own evaluator (argo-eval). */
export function argoPhases(cases: { successCondition?: string; failureCondition?: string; result: (number | string)[] }[]): { phase: string; error?: string }[] {
  const r = run('argo-eval', [], JSON.stringify(cases));
  if (r.status !== 0) throw new Error(`argo-eval failed:\n${r.output}`);
  return JSON.parse(r.stdout);
}

/** An abort with trafficRouting and dynamicStableScale replayed on Argo Rollouts' own replica and weight code (argo-eval abort). */
export function argoAbort(cases: { steps: number[]; weight: number; replicas: number }[]): { stableBefore: number; canaryBefore: number; rounds: number; weights: number[]; peakPods: number; error?: string }[] {
  const r = run('argo-eval', ['abort'], JSON.stringify(cases));
  if (r.status !== 0) throw new Error(`argo-eval abort failed:\n${r.output}`);
  return JSON.parse(r.stdout);
}

/** Argo Rollouts' own validation of each Rollout with its AnalysisTemplates and Services (argo-eval validate). */
export function argoValidate(cases: { rollout: unknown; analysisTemplates: unknown[]; services: unknown[] }[]): string[][] {
  const r = run('argo-eval', ['validate'], JSON.stringify(cases));
  if (r.status !== 0) throw new Error(`argo-eval validate failed:\n${r.output}`);
  return JSON.parse(r.stdout);
}
