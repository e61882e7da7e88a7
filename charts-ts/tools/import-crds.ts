/**
 * `npm run import`: regenerate charts-ts/imports/ from the CRDs pinned in cdk8s.yaml.
 * Offline it reads CRD_DIR; `--download` first fetches each pinned URL into CRD_DIR (sha256-checked).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { $ } from 'zx';
import { crdDir, crdFile, pinnedCrds, repoRoot } from '../lib/crds.ts';
import { commandLine, flag } from './cli.ts';

const cli = commandLine({
  script: 'import',
  summary: 'Regenerate charts-ts/imports/ from the CRDs pinned in cdk8s.yaml (read from CRD_DIR).',
  options: { download: flag('first fetch each pinned URL into CRD_DIR (sha256-checked)') },
});
const out = resolve(repoRoot, 'charts-ts/imports');
const crds = pinnedCrds();

if (cli.options.download) {
  for (const crd of crds) {
    const res = await fetch(crd.url);
    if (!res.ok) throw new Error(`download ${crd.url}: HTTP ${res.status}`);
    const target = resolve(crdDir(), crd.relPath);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, Buffer.from(await res.arrayBuffer()));
  }
}

rmSync(out, { recursive: true, force: true });
$.cwd = repoRoot;
$.verbose = false;
for (const crd of crds) {
  // --no-save: cdk8s would otherwise append the local file path to cdk8s.yaml's imports.
  await $`npx cdk8s import --no-save --language typescript --output ${out} ${`${crd.name}:=${crdFile(crd)}`}`;
  console.log(`imported ${crd.name} (${crd.relPath})`);
}
