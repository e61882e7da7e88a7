/**
 * The Flux segment of the lead time as the first-deploy test measures it: seconds from `git push`
 * (the publish of a release) to each layer applied at that revision, through the real dependsOn
 * chain and requeue interval. Written to .cache/e2e/flux-timings.json on every run; with
 * E2E_RECORD=1 also to bench/results/flux-release.json, which `npm run lead-time` reads in place
 * of its estimate (commit it like the synth benchmark).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../../cluster/support/components.ts';

export interface FluxTimings {
  readonly measuredAt: string;
  readonly secondsFromPush: Record<string, number>;
}

export const recordedFluxTimings = join(repoRoot, 'bench', 'results', 'flux-release.json');

export function writeFluxTimings(t: FluxTimings): void {
  const text = `${JSON.stringify({ ...t, machine: `${process.platform} ${process.arch}, measured by npm run test:e2e` }, null, 2)}\n`;
  const run = join(repoRoot, '.cache', 'e2e', 'flux-timings.json');
  for (const file of process.env.E2E_RECORD === '1' ? [run, recordedFluxTimings] : [run]) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
}
