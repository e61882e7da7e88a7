/**
 * Flux timings as the first-deploy test measures them, through the real dependsOn chain, requeue
 * interval and health checks (no image pulls: kwok runs the pods). Written to .cache/e2e/ on every
 * run; with E2E_RECORD=1 also to bench/results/ (commit them like the synth benchmark):
 *
 * - `release` (flux-release.json): seconds from `git push` of a release to each layer applied at
 *   that revision; `npm run lead-time` reads it in place of its estimate.
 * - `first-deploy` (flux-first-deploy.json): seconds from the first push to each layer Ready on an
 *   empty cluster (controllers installed, issuers registered, the ACME certificate issued); the
 *   whole-VPS RTO (charts-ts/data/rto.ts) reads it for the platform before the restore.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../../cluster/support/components.ts';

export interface FluxTimings {
  readonly measuredAt: string;
  readonly secondsFromPush: Record<string, number>;
}

const files = {
  release: { run: 'flux-timings.json', recorded: 'flux-release.json' },
  'first-deploy': { run: 'flux-first-deploy.json', recorded: 'flux-first-deploy.json' },
} as const;

export const recordedFluxTimings = join(repoRoot, 'bench', 'results', files.release.recorded);

export function writeFluxTimings(t: FluxTimings, kind: keyof typeof files = 'release'): void {
  const text = `${JSON.stringify({ ...t, machine: `${process.platform} ${process.arch}, measured by npm run test:e2e` }, null, 2)}\n`;
  const run = join(repoRoot, '.cache', 'e2e', files[kind].run);
  const recorded = join(repoRoot, 'bench', 'results', files[kind].recorded);
  for (const file of process.env.E2E_RECORD === '1' ? [run, recorded] : [run]) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
}
