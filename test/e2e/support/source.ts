/**
 * The commit CI publishes from, made from this work tree: dist/ and clusters/ as they are here,
 * committed to a throw-away repository, so `npm run publish` runs on it exactly as in the deploy
 * workflow (content from the commit, not the work tree). Two changes, both stated in the test:
 *
 * - SOPS: the committed Secrets are encrypted for the team's age key, whose private half is never
 *   in git. They are scaffolded anew (same inventory and encryption rule, what
 *   `npm run secrets -- scaffold` writes) for a throw-away age key, whose private half becomes the
 *   flux-system/sops-age Secret, so kustomize-controller decrypts them as it does in production.
 * - Charts: every HelmRepository URL points at the loopback chart repository serving the pinned
 *   packages of ../shared/charts (no internet here). Nothing else in any object changes.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../../charts-ts/config/load.ts';
import { values } from '../../../charts-ts/config/values.ts';
import { placeholderManifest } from '../../../charts-ts/platform/secrets-cli.ts';
import { secretFile, secretInventory } from '../../../charts-ts/platform/secrets.ts';
import { repoRoot } from '../../cluster/support/components.ts';
import { distDir } from '../../cluster/support/dist.ts';

export interface AgeKey { readonly publicKey: string; readonly privateKey: string }

export function ageKeygen(): AgeKey {
  const privateKey = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const publicKey = execFileSync('age-keygen', ['-y'], { input: privateKey, encoding: 'utf8' }).trim();
  return { publicKey, privateKey };
}

const encryptedRegex = '^(data|stringData)$';

function git(cwd: string, args: string[], input?: string): string {
  return execFileSync('git', args, { cwd, input, encoding: 'utf8', stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] }).trim();
}

/** Rewrites `spec.url` of every HelmRepository in the YAML files under `dir`; returns how many. */
export function pointHelmRepositoriesAt(dir: string, url: string): number {
  let count = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) { walk(p); continue; }
      if (!e.name.endsWith('.yaml')) continue;
      const text = readFileSync(p, 'utf8');
      if (!text.includes('kind: HelmRepository')) continue;
      const docs = parseAllDocuments(text);
      let changed = false;
      for (const doc of docs) {
        if (doc.get('kind') !== 'HelmRepository') continue;
        doc.setIn(['spec', 'url'], url);
        changed = true;
        count++;
      }
      if (changed) writeFileSync(p, docs.map((d) => String(d)).join(''));
    }
  };
  walk(dir);
  return count;
}

export interface SourceRepo {
  readonly dir: string;
  readonly commit: string;
  readonly helmRepositories: number;
  cleanup(): void;
}

/** A committed copy of dist/ and clusters/ ready for `publish()`, as described above. */
export function sourceRepo(opts: { age: AgeKey; chartRepoUrl: string }): SourceRepo {
  const dir = mkdtempSync(join(tmpdir(), 'lms-e2e-source-'));
  cpSync(distDir, join(dir, 'dist'), { recursive: true });
  cpSync(join(repoRoot, 'clusters'), join(dir, 'clusters'), { recursive: true });
  const config = parseConfig(values);
  for (const s of secretInventory(config)) {
    const file = join(dir, secretFile(s));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, placeholderManifest(s));
    execFileSync('sops', ['--disable-version-check', 'encrypt', '--in-place', '--age', opts.age.publicKey, '--encrypted-regex', encryptedRegex, file],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  const helmRepositories = pointHelmRepositoriesAt(join(dir, 'dist'), opts.chartRepoUrl);
  git(dir, ['init', '--quiet', '--initial-branch=main']);
  git(dir, ['config', 'user.name', 'github-actions[bot]']);
  git(dir, ['config', 'user.email', '41898282+github-actions[bot]@users.noreply.github.com']);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '--quiet', '-m', 'Release under test (e2e source snapshot)']);
  return { dir, commit: git(dir, ['rev-parse', 'HEAD']), helmRepositories, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
