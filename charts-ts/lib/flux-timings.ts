/**
 * Flux timings the first-deploy test records with `E2E_RECORD=1 npm run test:e2e`
 * (test/e2e/support/timings.ts writes them), measured through the real dependsOn chain, requeue
 * interval and health checks, with no image pulls (kwok runs the pods):
 *
 * - `release` (bench/results/flux-release.json): seconds from `git push` of a release to each layer
 *   applied at that revision; `npm run lead-time` reads it in place of its estimate.
 * - `first-deploy` (bench/results/flux-first-deploy.json): seconds from the first push to each layer
 *   Ready on an empty cluster; the whole-VPS RTO (charts-ts/data/rto.ts) reads it for the platform
 *   before the restore.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './crds.ts';

export interface FluxTimings {
  readonly measuredAt: string;
  /** Seconds from the push to each layer, by Kustomization name. */
  readonly secondsFromPush: Record<string, number>;
}

export type FluxTimingsKind = 'release' | 'first-deploy';

export const recordedFluxTimingsPath = (kind: FluxTimingsKind): string => join(repoRoot, 'bench', 'results', `flux-${kind}.json`);

/** The recorded timings, or undefined when none were recorded; a malformed file throws. */
export function readFluxTimings(kind: FluxTimingsKind, path = recordedFluxTimingsPath(kind)): FluxTimings | undefined {
  if (!existsSync(path)) return undefined;
  const data = JSON.parse(readFileSync(path, 'utf8')) as Partial<FluxTimings>;
  if (!data.secondsFromPush || typeof data.secondsFromPush !== 'object' || typeof data.measuredAt !== 'string') {
    throw new Error(`${path} has no "secondsFromPush"/"measuredAt"; re-run \`E2E_RECORD=1 npm run test:e2e\``);
  }
  return data as FluxTimings;
}
