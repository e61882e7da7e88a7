/**
 * `npm run secrets -- <command>`: the SOPS-encrypted Secrets under clusters/production/secrets/.
 *
 *   check              verify every file is encrypted for .sops.yaml's recipients and matches the
 *                      inventory (charts-ts/platform/secrets.ts); exit 1 with the problems otherwise
 *   scaffold [--force] create missing files (all with --force) with placeholder values, encrypted
 *                      with `sops` for the recipients in .sops.yaml, and rewrite the kustomization
 *
 * Placeholders: `random` keys get a fresh random value (a usable password or token); `external`
 * keys get "REPLACE-ME" until an operator runs `sops edit <file>` (docs/secrets.md).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { stringify } from 'yaml';
import { $ } from 'zx';
import { loadConfig } from '../config/load.ts';
import { repoRoot } from '../lib/crds.ts';
import { commandLine, failUsage, flag } from '../tools/cli.ts';
import { secretsPath } from './flux-layers.ts';
import { secretFile, secretInventory, type SopsSecret } from './secrets.ts';
import { checkSecretFiles } from './sops-files.ts';

export const placeholder = 'REPLACE-ME';

/** The plaintext manifest of a Secret with placeholder values (never written to disk). */
export function placeholderManifest(s: SopsSecret): string {
  const stringData = Object.fromEntries(s.keys.map((k) => [k.name, k.value === 'random' ? randomBytes(32).toString('base64url') : placeholder]));
  return stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: s.name,
      namespace: s.namespace,
      labels: { 'app.kubernetes.io/part-of': 'lms', 'app.kubernetes.io/managed-by': 'sops' },
      annotations: { 'lms.dev/used-by': s.usedBy },
    },
    type: 'Opaque',
    stringData,
  });
}

/** Encrypt `plaintext` with sops into `root/path`, using root/.sops.yaml (plaintext via stdin only). */
export async function sopsEncryptTo(root: string, path: string, plaintext: string, sopsBin = 'sops'): Promise<void> {
  const target = join(root, path);
  mkdirSync(dirname(target), { recursive: true });
  await $({ cwd: root, input: plaintext, quiet: true })`${sopsBin} --config ${join(root, '.sops.yaml')} encrypt --filename-override ${target} --input-type yaml --output-type yaml --output ${target}`;
}

export function kustomizationFor(inventory: SopsSecret[]): string {
  const resources = inventory.map((s) => relative(secretsPath, secretFile(s))).sort();
  return `# Written by \`npm run secrets -- scaffold\` from charts-ts/platform/secrets.ts.\n${stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources })}`;
}

const cliSpec = {
  script: 'secrets',
  summary: 'The SOPS-encrypted Secrets under clusters/production/secrets/: check them against the inventory, or scaffold missing ones.',
  positionals: { usage: 'check | scaffold', description: 'check: encrypted for .sops.yaml and matching the inventory; scaffold: create missing files with placeholders', min: 1, max: 1 },
  options: { force: flag('scaffold: rewrite every file, not only the missing ones') },
  config: true,
};

async function main(argv: string[]): Promise<number> {
  process.env.PATH = `${repoRoot}/.cache/bin:${process.env.PATH}`;
  const cli = commandLine(cliSpec, argv);
  const [command] = cli.positionals;
  if (command !== 'check' && command !== 'scaffold') failUsage(cliSpec, `unknown command "${command}"; use check or scaffold`);
  if (cli.options.force && command !== 'scaffold') failUsage(cliSpec, '--force only applies to scaffold');
  const inventory = secretInventory(loadConfig(cli.valuesFile));
  if (command === 'check') {
    const problems = checkSecretFiles(repoRoot, inventory);
    for (const p of problems) console.error(`secrets: ${p}`);
    if (!problems.length) console.log(`secrets: ${inventory.length} encrypted Secrets match the inventory and .sops.yaml`);
    return problems.length ? 1 : 0;
  }
  // scaffold
  for (const s of inventory) {
    const path = secretFile(s);
    if (existsSync(join(repoRoot, path)) && !cli.options.force) continue;
    await sopsEncryptTo(repoRoot, path, placeholderManifest(s));
    console.log(`secrets: wrote ${path} (placeholders; set real values with: sops edit ${path})`);
  }
  writeFileSync(join(repoRoot, secretsPath, 'kustomization.yaml'), kustomizationFor(inventory));
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error(`secrets: ${(e as Error).message}`);
    process.exit(1);
  });
}
