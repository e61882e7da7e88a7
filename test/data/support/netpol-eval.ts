/**
 * The real NetworkPolicy evaluator (test/data/netpol-eval: Cyclonus' policy matcher, built by
 * scripts/setup.d/42-netpol-eval.sh into .cache/bin) as a function: rendered NetworkPolicies and
 * traffic cases in, one verdict per case out. A missing binary is a setup error, never a skip.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../../charts-ts/lib/crds.ts';

export interface Endpoint {
  /** What the reader sees in a failure: `instance lms-db-1`, `CoreDNS`, `object storage`. */
  readonly name: string;
  readonly ip: string;
  /** A pod: its namespace, the namespace's labels and its own; none for an address outside the cluster. */
  readonly pod?: { readonly namespace: string; readonly namespaceLabels: Record<string, string>; readonly labels: Record<string, string> };
}

export interface Flow {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
  /** Why the flow exists (required) or must not (forbidden). */
  readonly why: string;
}

export interface Side { readonly allowed: boolean; readonly allowedBy: string[]; readonly selectedBy: string[] }
export interface Verdict { readonly name: string; readonly allowed: boolean; readonly egress: Side; readonly ingress: Side }

export const evaluatorPath = (): string => process.env.NETPOL_EVAL_BIN ?? join(repoRoot, '.cache/bin/netpol-eval');

export const flowName = (f: Flow): string => `${f.from.name} -> ${f.to.name} ${f.port}/${f.protocol}`;

const peer = (e: Endpoint) => ({
  ip: e.ip,
  ...(e.pod ? { internal: { namespace: e.pod.namespace, namespaceLabels: e.pod.namespaceLabels, podLabels: e.pod.labels } } : {}),
});

/** Evaluate every flow under exactly these policies (the ones applied in a layer state). */
export function evaluate(policies: readonly unknown[], flows: readonly Flow[]): Verdict[] {
  const input = JSON.stringify({
    policies,
    traffic: flows.map((f) => ({ name: flowName(f), protocol: f.protocol, port: f.port, source: peer(f.from), destination: peer(f.to) })),
  });
  const bin = evaluatorPath();
  const r = spawnSync(bin, [], { input, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${bin} could not run (${r.error.message}); run \`npm run setup\` (scripts/setup.d/42-netpol-eval.sh)`);
  if (r.status !== 0) throw new Error(`netpol-eval failed (${r.status}): ${r.stderr}`);
  const verdicts = JSON.parse(r.stdout) as Verdict[];
  if (verdicts.length !== flows.length) throw new Error(`netpol-eval answered ${verdicts.length} cases for ${flows.length}`);
  return verdicts;
}

/** A verdict as one line: which side refused, and the policies that isolate it. */
export function explain(f: Flow, v: Verdict): string {
  const side = (name: string, s: Side) => (s.allowed ? '' : ` ${name} denied (isolated by ${s.selectedBy.join(', ')})`);
  return `${flowName(f)}:${v.allowed ? ` allowed (egress by ${v.egress.allowedBy.join(', ') || 'no policy'}, ingress by ${v.ingress.allowedBy.join(', ') || 'no policy'})` : `${side('egress', v.egress)}${side('ingress', v.ingress)}`} [${f.why}]`;
}
