/**
 * `npm run diff [-- --base <git-ref>] [--markdown]`: what would change in the cluster, per object,
 * between the `clusters` branch (what Flux applies now) and the current dist/. The clusters branch
 * holds dist/ subtrees at the same paths at its root. Default base: origin/clusters, else clusters.
 * `--before-dir <dir>` compares against a directory instead of a git ref (used by tests).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../lib/crds.ts';
import { diffManifests, formatMarkdown, formatTerminal, type Located } from '../lib/diff.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const isManifest = (f: string): boolean => /\.ya?ml$/.test(f) && !f.endsWith('kustomization.yaml');

function parse(file: string, text: string): Located[] {
  return parseAllDocuments(text).map((d) => d.toJS()).filter((o) => o?.kind).map((object) => ({ file, object }));
}

function fromDir(dir: string): Located[] {
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
  return walk(dir).filter(isManifest).sort().flatMap((p) => parse(relative(dir, p), readFileSync(p, 'utf8')));
}

function fromGit(ref: string): Located[] {
  const git = (...a: string[]) => execFileSync('git', a, { cwd: repoRoot, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  const files = git('ls-tree', '-r', '--name-only', ref).split('\n').filter(isManifest)
    .filter((f) => /^(platform|apps|clusters)\//.test(f));
  return files.flatMap((f) => parse(f, git('show', `${ref}:${f}`)));
}

function defaultBase(): string | undefined {
  for (const ref of ['origin/clusters', 'clusters']) {
    try {
      execFileSync('git', ['rev-parse', '--verify', '--quiet', ref], { cwd: repoRoot, stdio: 'ignore' });
      return ref;
    } catch { /* try the next */ }
  }
  return undefined;
}

const beforeDir = arg('--before-dir');
const base = arg('--base') ?? defaultBase();
const afterDir = arg('--after-dir') ?? join(repoRoot, 'dist');
let before: Located[] = [];
if (beforeDir) before = fromDir(beforeDir);
else if (base) before = fromGit(base);
else console.error('diff: no clusters branch found (fetch it, or pass --base <ref>); showing everything as added');

const diffs = diffManifests(before, fromDir(afterDir));
console.log(process.argv.includes('--markdown') ? formatMarkdown(diffs) : formatTerminal(diffs));
