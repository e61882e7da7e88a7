/**
 * Real git repositories for the publish tests: a bare "GitHub" remote and clones of it, each with a
 * committed dist/ tree on main (as CI has after `npm run synth`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.invalid',
  GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null',
};

export const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

export interface Fixture {
  root: string;
  remote: string;
  clone(name: string): string;
  /** Replace dist/ in a clone with these files (path -> content) and commit; returns the commit. */
  commitDist(clone: string, files: Record<string, string>, message?: string): string;
  /** Files of a branch on the remote: path -> content. */
  branchFiles(branch?: string): Record<string, string>;
  cleanup(): void;
}

export function makeFixture(): Fixture {
  const root = mkdtempSync(join(tmpdir(), 'publish-test-'));
  const remote = join(root, 'remote.git');
  git(root, 'init', '--quiet', '--bare', '--initial-branch=main', remote);
  const seed = join(root, 'seed');
  git(root, 'clone', '--quiet', remote, seed);
  writeFileSync(join(seed, 'README.md'), 'lms-gitops\n');
  git(seed, 'add', '-A');
  git(seed, 'commit', '--quiet', '-m', 'initial');
  git(seed, 'push', '--quiet', 'origin', 'HEAD:main');

  const clone = (name: string): string => {
    const dir = join(root, name);
    git(root, 'clone', '--quiet', remote, dir);
    return dir;
  };
  const commitDist = (dir: string, files: Record<string, string>, message = 'synth'): string => {
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    for (const [path, content] of Object.entries(files)) {
      const target = join(dir, 'dist', path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, content);
    }
    git(dir, 'add', '-A');
    git(dir, 'commit', '--quiet', '--allow-empty', '-m', message);
    return git(dir, 'rev-parse', 'HEAD');
  };
  const branchFiles = (branch = 'clusters'): Record<string, string> => {
    const out: Record<string, string> = {};
    const list = git(remote, 'ls-tree', '-r', '--name-only', branch);
    for (const path of list.split('\n').filter(Boolean)) out[path] = git(remote, 'show', `${branch}:${path}`);
    return out;
  };
  return { root, remote, clone, commitDist, branchFiles, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
