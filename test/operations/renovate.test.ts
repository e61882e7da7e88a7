/**
 * The Renovate configuration is valid (real renovate-config-validator) and its custom managers
 * actually find every pin: each `renovate:` annotation in the repo yields a version, and each CRD URL
 * in cdk8s.yaml yields a repository and tag.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../charts-ts/lib/crds.ts';

process.env.PATH = `${repoRoot}/.cache/bin:${process.env.PATH}`;
const config = JSON.parse(readFileSync(join(repoRoot, 'renovate.json'), 'utf8'));

function validate(file: string) {
  return spawnSync('renovate-config-validator', ['--strict', file], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'info' } });
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (['node_modules', '.cache', 'imports', 'dist', '.git'].includes(name)) return [];
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

describe('renovate.json', () => {
  it('passes renovate-config-validator', () => {
    const r = validate(join(repoRoot, 'renovate.json'));
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('the validator rejects a broken configuration (the check bites)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'renovate-'));
    const bad = join(dir, 'renovate.json');
    writeFileSync(bad, JSON.stringify({ ...config, minimumReleaseAge: 'seven days', packageRules: [{ matchPackageNames: ['x'], groupNme: 'typo' }] }));
    const r = validate(bad);
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/groupNme|minimumReleaseAge/);
  });

  it('every renovate: annotation is matched by the custom manager and yields a version', () => {
    const manager = config.customManagers[0];
    const fileRes: RegExp[] = manager.fileMatch.map((f: string) => new RegExp(f));
    const files = walk(repoRoot).map((p) => relative(repoRoot, p)).filter((f) => fileRes.some((r) => r.test(f)));
    let annotations = 0;
    const unmatched: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(repoRoot, file), 'utf8');
      const found = (text.match(/(\/\/|#)\s*renovate:/g) ?? []).length;
      if (!found) continue;
      annotations += found;
      const matches = manager.matchStrings.flatMap((re: string) => [...text.matchAll(new RegExp(re, 'g'))]);
      for (const m of matches) expect(m.groups?.currentValue, `${file}: ${m[0]}`).toMatch(/^v?\d|^[a-z0-9]/);
      if (matches.length !== found) unmatched.push(`${file}: ${found} annotations, ${matches.length} matched`);
    }
    expect(unmatched).toEqual([]);
    expect(annotations).toBeGreaterThan(3);
  });

  it('finds every CRD pin in cdk8s.yaml', () => {
    const manager = config.customManagers[1];
    const text = readFileSync(join(repoRoot, 'cdk8s.yaml'), 'utf8');
    const pins = [...text.matchAll(new RegExp(manager.matchStrings[0], 'g'))];
    const urls = text.match(/https:\/\/raw\.githubusercontent\.com\/\S+/g) ?? [];
    expect(pins.length).toBe(urls.length);
    expect(new Set(pins.map((p) => `${p.groups!.depName}@${p.groups!.currentValue}`))).toContain('argoproj/argo-rollouts@v1.9.1');
  });
});
