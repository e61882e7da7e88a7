/**
 * The pull-request comment of ci.yml (.github/scripts/dist-diff-comment.sh), run in a copy of this
 * repository whose `origin` is a real bare remote with a `clusters` branch, as in GitHub Actions.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from './git-fixture.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
let root: string;
let work: string;
const run = (env: Record<string, string> = {}) => {
  const out = join(root, `comment-${Math.random().toString(36).slice(2)}.md`);
  execFileSync('bash', [join(work, '.github/scripts/dist-diff-comment.sh'), out], { cwd: work, env: { ...process.env, ...env }, stdio: 'pipe' });
  return readFileSync(out, 'utf8');
};

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'dist-diff-'));
  git(root, 'init', '--quiet', '--bare', 'remote.git');
  work = join(root, 'work');
  git(root, 'init', '--quiet', '--initial-branch=main', work);
  for (const p of ['charts-ts', 'package.json', 'dist', '.github']) cpSync(join(repoRoot, p), join(work, p), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(work, 'node_modules'));
  writeFileSync(join(work, '.gitignore'), 'node_modules\n');
  git(work, 'add', '-A');
  git(work, 'commit', '--quiet', '-m', 'main');
  git(work, 'remote', 'add', 'origin', join(root, 'remote.git'));
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('ci.yml dist/ diff comment', () => {
  it('says everything is new when there is no clusters branch yet', () => {
    const md = run();
    expect(md.split('\n')[0]).toBe('<!-- lms:dist-diff -->');
    expect(md).toContain('The `clusters` branch does not exist yet');
  });

  it('lists changed objects and fields, the files and the unified diff against the clusters branch', () => {
    // The clusters branch: dist/ at the root, with one value the pull request changes.
    const rollout = readFileSync(join(work, 'dist/apps/production/lms-api.yaml'), 'utf8');
    const [, cpu] = /requests:\n\s+cpu: (\S+)/.exec(rollout)!;
    const tree = join(root, 'clusters-tree');
    cpSync(join(work, 'dist'), tree, { recursive: true });
    // The first CPU request in the file (whichever object holds it) differs on the branch.
    writeFileSync(join(tree, 'apps/production/lms-api.yaml'), rollout.replace(/(requests:\n\s+cpu: )\S+/, '$1999m'));
    git(work, '--work-tree', tree, 'checkout', '--quiet', '--orphan', 'clusters-src');
    git(work, '--work-tree', tree, 'add', '-A', '.');
    git(work, '--work-tree', tree, 'commit', '--quiet', '-m', 'clusters');
    git(work, 'push', '--quiet', 'origin', 'clusters-src:clusters');
    git(work, 'checkout', '--quiet', '-f', 'main');

    const md = run();
    expect(md).toContain('**0 added, 1 changed, 0 removed**');
    expect(md).toContain(`.resources.requests.cpu\` | \`999m\` | \`${cpu}\` |`);
    expect(md).toContain(' apps/production/lms-api.yaml | 2 +-');
    expect(md).toMatch(new RegExp(`\n-\\s+cpu: 999m\n\\+\\s+cpu: ${cpu}\n`));

    const truncated = run({ DIFF_LIMIT: '200' });
    expect(truncated).toContain('_Truncated at 200 characters');
    expect(truncated.length).toBeLessThan(md.length + 200);
  });
});
