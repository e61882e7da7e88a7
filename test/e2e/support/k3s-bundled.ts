/**
 * CRDs k3s installs itself before anything of ours: its bundled Traefik's `traefik-crd` chart
 * (k3s v1.36 ships traefik chart 39.0.x; ../shared/charts/traefik-39.0.7.tgz stands in for it,
 * see its SOURCES.md). Read from the chart package, never copied into the repository.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../cluster/support/components.ts';
import type { KubeObject } from '../../cluster/support/kube.ts';

/** The pinned chart packages (CHARTS_DIR, default ../shared/charts next to the repository). */
export const chartsDir = () => resolve(process.env.CHARTS_DIR ?? join(repoRoot, '..', 'shared', 'charts'));

export const k3sTraefikChart = 'traefik-39.0.7.tgz';

export function traefikCrdObjects(): KubeObject[] {
  const tgz = join(chartsDir(), k3sTraefikChart);
  if (!existsSync(tgz)) throw new Error(`${tgz} is missing: set CHARTS_DIR to the pinned chart packages (../shared/charts)`);
  const names = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).split('\n')
    .filter((f) => /^traefik\/crds\/traefik\.io_.*\.yaml$/.test(f));
  return names.flatMap((name) => parseAllDocuments(execFileSync('tar', ['-xzOf', tgz, name], { encoding: 'utf8', maxBuffer: 64 << 20 }))
    .map((d) => d.toJS() as KubeObject)).filter((o) => o?.kind === 'CustomResourceDefinition');
}
