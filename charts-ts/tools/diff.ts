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
import { commandLine, flag, text } from './cli.ts';

const cli = commandLine({
  script: 'diff',
  summary: 'What would change in the cluster, per object, between the clusters branch (what Flux applies now) and dist/.',
  options: {
    base: text('<git-ref>', 'compare against this ref (default origin/clusters, else clusters)'),
    beforeDir: text('<dir>', 'compare against a directory instead of a git ref'),
    afterDir: text('<dir>', 'the new output (default dist/)'),
    markdown: flag('Markdown for the pull-request comment'),
  },
});

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

const beforeDir = cli.options.beforeDir;
const base = cli.options.base ?? defaultBase();
const afterDir = cli.options.afterDir ?? join(repoRoot, 'dist');
let before: Located[] = [];
if (beforeDir) before = fromDir(beforeDir);
else if (base) before = fromGit(base);
else console.error('diff: no clusters branch found (fetch it, or pass --base <ref>); showing everything as added');

const diffs = diffManifests(before, fromDir(afterDir));
console.log(cli.options.markdown ? formatMarkdown(diffs) : formatTerminal(diffs));
