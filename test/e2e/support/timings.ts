/**
 * Writes the Flux timings the first-deploy test measures (charts-ts/lib/flux-timings.ts says what
 * each kind is and who reads it): to .cache/e2e/ on every run; with E2E_RECORD=1 also to
 * bench/results/, where `npm run lead-time` and the RTO read them (commit them like the synth
 * benchmark).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { recordedFluxTimingsPath, type FluxTimings, type FluxTimingsKind } from '../../../charts-ts/lib/flux-timings.ts';
import { repoRoot } from '../../cluster/support/components.ts';

export function writeFluxTimings(t: FluxTimings, kind: FluxTimingsKind = 'release'): void {
  const text = `${JSON.stringify({ ...t, machine: `${process.platform} ${process.arch}, measured by npm run test:e2e` }, null, 2)}\n`;
  const run = join(repoRoot, '.cache', 'e2e', `flux-${kind}.json`);
  for (const file of process.env.E2E_RECORD === '1' ? [run, recordedFluxTimingsPath(kind)] : [run]) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
}
