/**
 * Flux's own verdict on an object under a Kustomization's healthCheckExprs: flux-health, built from
 * kustomize-controller v1.9.4's module set (fluxcd/pkg/runtime cel.StatusEvaluator) by
 * scripts/setup.d/90-cluster-components.sh into .cache/bin.
 */
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../../charts-ts/lib/crds.ts';

export type FluxHealth = 'Current' | 'InProgress' | 'Failed';

export interface HealthCheckExprs {
  readonly current: string;
  readonly inProgress?: string;
  readonly failed?: string;
}

/** One verdict per object, as kustomize-controller's health check would reach it; an evaluation error throws. */
export function fluxHealth(exprs: HealthCheckExprs, objects: readonly object[]): FluxHealth[] {
  const bin = `${repoRoot}/.cache/bin/flux-health`;
  const r = spawnSync(bin, [], { encoding: 'utf8', input: JSON.stringify({ exprs, objects }), timeout: 60_000 });
  if (r.error) throw new Error(`flux-health could not run (${r.error.message}); run \`npm run setup\` (scripts/setup.d/90-cluster-components.sh)`);
  if (r.status !== 0) throw new Error(`flux-health failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { status?: FluxHealth; error?: string }[];
  return out.map((o, i) => {
    if (o.error || !o.status) throw new Error(`flux-health: object ${i}: ${o.error ?? 'no status'}`);
    return o.status;
  });
}
