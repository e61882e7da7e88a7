/**
 * `npm run publish` against real git: a bare remote standing in for GitHub, clones standing in for
 * CI runners. Covers the first publish, no-op publishes, path isolation, deletions, a lost race
 * (fetch, re-apply, retry) and two processes racing for real.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publish, PublishError } from '../../charts-ts/tools/publish.ts';
import { git, gitEnv, makeFixture, type Fixture } from './git-fixture.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const quiet = { log: () => {} };

const dist = {
  'platform/controllers/namespaces.yaml': 'kind: Namespace\n',
  'platform/controllers/kustomization.yaml': 'resources: [namespaces.yaml]\n',
  'apps/staging/api.yaml': 'image: api@sha256:1\n',
  'apps/staging/kustomization.yaml': 'resources: [api.yaml]\n',
  'apps/production/api.yaml': 'image: api@sha256:0\n',
  'apps/production/kustomization.yaml': 'resources: [api.yaml]\n',
};

let fx: Fixture;
beforeEach(() => { fx = makeFixture(); });
afterEach(() => fx.cleanup());

const clustersLog = (): string[] => git(fx.remote, 'log', '--format=%s', 'clusters').split('\n');

describe('publish', () => {
  it('creates the clusters branch with only the requested paths, at the branch root, naming the source commit', async () => {
    const a = fx.clone('a');
    const source = fx.commitDist(a, dist);
    const r = await publish({ repo: a, paths: ['platform/controllers', 'apps/staging'], ...quiet });
    expect(r.changed).toBe(true);
    expect(r.sourceCommit).toBe(source);
    expect(fx.branchFiles()).toEqual({
      'platform/controllers/namespaces.yaml': 'kind: Namespace',
      'platform/controllers/kustomization.yaml': 'resources: [namespaces.yaml]',
      'apps/staging/api.yaml': 'image: api@sha256:1',
      'apps/staging/kustomization.yaml': 'resources: [api.yaml]',
    });
    const message = git(fx.remote, 'log', '-1', '--format=%B', 'clusters');
    expect(message.split('\n')[0]).toBe(`publish apps/staging, platform/controllers from ${source.slice(0, 12)}`);
    expect(message).toContain(`Source-Commit: ${source}`);
    expect(git(fx.remote, 'rev-parse', 'clusters')).toBe(r.commit);
    // main is untouched and the caller's index/work tree stay clean.
    expect(git(a, 'status', '--porcelain')).toBe('');
  });

  it('makes no commit when nothing changed', async () => {
    const a = fx.clone('a');
    fx.commitDist(a, dist);
    const first = await publish({ repo: a, paths: ['apps/staging'], ...quiet });
    // A new source commit that does not touch dist/apps/staging publishes nothing.
    fx.commitDist(a, { ...dist, 'apps/production/api.yaml': 'image: api@sha256:2\n' });
    const second = await publish({ repo: a, paths: ['apps/staging'], ...quiet });
    expect(second).toMatchObject({ changed: false, commit: first.commit });
    expect(clustersLog()).toHaveLength(1);
  });

  it('changes only the requested paths and keeps everything else on the branch', async () => {
    const a = fx.clone('a');
    fx.commitDist(a, dist);
    await publish({ repo: a, paths: ['apps/staging', 'apps/production', 'platform/controllers'], ...quiet });
    // Someone keeps a file on the branch that dist/ does not have (e.g. Flux's bootstrap).
    const other = fx.clone('other');
    git(other, 'fetch', '--quiet', 'origin', 'clusters');
    git(other, 'checkout', '--quiet', '-b', 'clusters', 'FETCH_HEAD');
    writeFileSync(join(other, 'README.md'), 'the clusters branch\n');
    git(other, 'add', 'README.md');
    git(other, 'commit', '--quiet', '-m', 'readme');
    git(other, 'push', '--quiet', 'origin', 'clusters');

    const source = fx.commitDist(a, {
      ...dist,
      'apps/staging/api.yaml': 'image: api@sha256:3\n',
      'apps/production/api.yaml': 'image: api@sha256:3\n',
      'platform/controllers/namespaces.yaml': 'kind: Namespace # changed\n',
    });
    const r = await publish({ repo: a, paths: ['apps/staging'], ...quiet });
    expect(r.sourceCommit).toBe(source);
    const files = fx.branchFiles();
    expect(files['apps/staging/api.yaml']).toBe('image: api@sha256:3');
    expect(files['apps/production/api.yaml']).toBe('image: api@sha256:0');
    expect(files['platform/controllers/namespaces.yaml']).toBe('kind: Namespace');
    expect(files['README.md']).toBe('the clusters branch');
    expect(git(fx.remote, 'diff', '--name-only', 'clusters~1', 'clusters').split('\n')).toEqual(['apps/staging/api.yaml']);
  });

  it('removes files that were deleted from a requested path', async () => {
    const a = fx.clone('a');
    fx.commitDist(a, { ...dist, 'apps/staging/old-job.yaml': 'kind: Job\n' });
    await publish({ repo: a, paths: ['apps/staging'], ...quiet });
    expect(fx.branchFiles()).toHaveProperty(['apps/staging/old-job.yaml']);
    fx.commitDist(a, dist);
    await publish({ repo: a, paths: ['apps/staging'], ...quiet });
    expect(Object.keys(fx.branchFiles()).sort()).toEqual(['apps/staging/api.yaml', 'apps/staging/kustomization.yaml']);
  });

  it('publishes a path exactly: a sibling that shares its prefix is not included', async () => {
    const a = fx.clone('a');
    fx.commitDist(a, { ...dist, 'apps/staging-old/api.yaml': 'image: old\n' });
    await publish({ repo: a, paths: ['apps/staging'], ...quiet });
    expect(Object.keys(fx.branchFiles()).sort()).toEqual(['apps/staging/api.yaml', 'apps/staging/kustomization.yaml']);
  });

  it('adds hand-written files and folders from the repository root with --repo-path, keeping what bootstrap wrote', async () => {
    const a = fx.clone('a');
    // flux bootstrap commits clusters/production/flux-system/ to the branch itself.
    const boot = fx.clone('boot');
    git(boot, 'checkout', '--quiet', '--orphan', 'clusters');
    git(boot, 'rm', '-r', '--quiet', '--cached', '.');
    mkdirSync(join(boot, 'clusters/production/flux-system'), { recursive: true });
    writeFileSync(join(boot, 'clusters/production/flux-system/gotk-sync.yaml'), 'kind: GitRepository\n');
    git(boot, 'add', 'clusters/production/flux-system');
    git(boot, 'commit', '--quiet', '-m', 'flux bootstrap');
    git(boot, 'push', '--quiet', 'origin', 'clusters');

    mkdirSync(join(a, 'clusters/production/secrets'), { recursive: true });
    writeFileSync(join(a, 'clusters/production/kustomization.yaml'), 'resources: [flux-system, layers.yaml]\n');
    writeFileSync(join(a, 'clusters/production/secrets/redis.sops.yaml'), 'sops: {}\n');
    writeFileSync(join(a, 'clusters/production/notes.md'), 'not published\n');
    fx.commitDist(a, { ...dist, 'clusters/production/layers/apps.yaml': 'kind: Kustomization\n' });
    await publish({
      repo: a, paths: ['clusters/production/layers'],
      repoPaths: ['clusters/production/kustomization.yaml', 'clusters/production/secrets'], ...quiet,
    });
    expect(Object.keys(fx.branchFiles()).sort()).toEqual([
      'clusters/production/flux-system/gotk-sync.yaml',
      'clusters/production/kustomization.yaml',
      'clusters/production/layers/apps.yaml',
      'clusters/production/secrets/redis.sops.yaml',
    ]);
    await expect(publish({ repo: a, paths: [], repoPaths: ['clusters/staging'], ...quiet })).rejects.toThrow(/--repo-path clusters\/staging does not exist in [0-9a-f]{12}; commit it first/);
    await expect(publish({ repo: a, paths: ['clusters/production/secrets'], repoPaths: ['clusters/production/secrets'], ...quiet })).rejects.toThrow(/requested both from dist\/ and from the repository root/);
  });

  it('publishes the committed dist/, not uncommitted edits in the work tree', async () => {
    const a = fx.clone('a');
    fx.commitDist(a, dist);
    writeFileSync(join(a, 'dist/apps/staging/api.yaml'), 'image: uncommitted\n');
    await publish({ repo: a, paths: ['apps/staging'], ...quiet });
    expect(fx.branchFiles()['apps/staging/api.yaml']).toBe('image: api@sha256:1');
  });

  it('loses a race, fetches the new tip, re-applies its paths on top and pushes (linear history, both changes kept)', async () => {
    const a = fx.clone('a');
    const b = fx.clone('b');
    fx.commitDist(a, dist);
    await publish({ repo: a, paths: ['apps/staging', 'apps/production'], ...quiet });
    const sourceA = fx.commitDist(a, { ...dist, 'apps/staging/api.yaml': 'image: api@sha256:A\n' }, 'staging change');
    git(b, 'pull', '--quiet', '--no-rebase', 'origin', 'main');
    fx.commitDist(b, { ...dist, 'apps/production/api.yaml': 'image: api@sha256:B\n' }, 'production change');

    const lines: string[] = [];
    let raced = false;
    const r = await publish({
      repo: a,
      paths: ['apps/staging'],
      log: (l) => lines.push(l),
      // Between A's fetch and A's push, B publishes: A's first push must be rejected.
      beforePush: async () => {
        if (raced) return;
        raced = true;
        await publish({ repo: b, paths: ['apps/production'], ...quiet });
      },
    });
    expect(r.attempts).toBe(2);
    expect(lines.join('\n')).toMatch(/moved while publishing \(attempt 1\)/);
    const files = fx.branchFiles();
    expect(files['apps/staging/api.yaml']).toBe('image: api@sha256:A');
    expect(files['apps/production/api.yaml']).toBe('image: api@sha256:B');
    // Linear: A's commit sits on top of B's, and names A's source commit.
    expect(git(fx.remote, 'rev-list', '--merges', '--count', 'clusters')).toBe('0');
    expect(clustersLog()).toHaveLength(3);
    expect(git(fx.remote, 'log', '-1', '--format=%B', 'clusters')).toContain(`Source-Commit: ${sourceA}`);
    expect(clustersLog()[1]).toMatch(/^publish apps\/production from /);
  });

  it('two processes publishing at the same moment both land (real concurrent pushes)', async () => {
    const a = fx.clone('a');
    const b = fx.clone('b');
    const base = fx.commitDist(a, dist);
    git(a, 'push', '--quiet', 'origin', 'HEAD:main');
    git(b, 'pull', '--quiet', '--no-rebase', 'origin', 'main');
    expect(git(b, 'rev-parse', 'HEAD')).toBe(base);
    fx.commitDist(a, { ...dist, 'apps/staging/api.yaml': 'image: api@sha256:A\n' });
    fx.commitDist(b, { ...dist, 'apps/production/api.yaml': 'image: api@sha256:B\n' });
    // A pre-receive hook holds the first two pushes until both have arrived, so they are on the
    // remote at the same time and exactly one of them loses the ref update.
    const hook = join(fx.remote, 'hooks', 'pre-receive');
    writeFileSync(hook, [
      '#!/bin/sh',
      'cat >/dev/null',
      'arrivals="$GIT_DIR/arrivals"',
      'echo x >> "$arrivals"',
      '[ "$(wc -l < "$arrivals")" -gt 2 ] && exit 0',
      'i=0; while [ "$(wc -l < "$arrivals")" -lt 2 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done',
      'exit 0',
      '',
    ].join('\n'));
    chmodSync(hook, 0o755);

    const cli = (cwd: string, path: string) => new Promise<{ code: number | null; out: string }>((done) => {
      const child = spawn(join(repoRoot, 'node_modules/.bin/tsx'), [join(repoRoot, 'charts-ts/tools/publish.ts'), path], { cwd, env: gitEnv });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      child.on('close', (code) => done({ code, out }));
    });
    const [ra, rb] = await Promise.all([cli(a, 'apps/staging'), cli(b, 'apps/production')]);
    expect(ra.code, ra.out).toBe(0);
    expect(rb.code, rb.out).toBe(0);
    const files = fx.branchFiles();
    expect(files['apps/staging/api.yaml']).toBe('image: api@sha256:A');
    expect(files['apps/production/api.yaml']).toBe('image: api@sha256:B');
    expect(git(fx.remote, 'rev-list', '--merges', '--count', 'clusters')).toBe('0');
    // One push lost the ref update, fetched the winner's commit and re-applied its path on top.
    const outputs = [ra.out, rb.out];
    expect(outputs.filter((o) => /moved while publishing \(attempt 1\)/.test(o)), outputs.join('\n')).toHaveLength(1);
    expect(outputs.every((o) => /pushed [0-9a-f]{12}/.test(o))).toBe(true);
    expect(clustersLog().length).toBe(2);
  });
});

describe('publish input errors', () => {
  it.each([
    [[], /name at least one dist\/ subtree/],
    [['../secrets'], /must not contain empty, "\." or "\.\." segments/],
    [['/etc'], /must be relative/],
    [['dist/apps/staging'], /includes the "dist\/" prefix/],
    [['apps', 'apps/staging'], /paths "apps" and "apps\/staging" overlap/],
  ])('rejects %j', async (paths, message) => {
    const a = fx.clone('a');
    fx.commitDist(a, dist);
    await expect(publish({ repo: a, paths, ...quiet })).rejects.toThrow(message);
  });

  it('names the missing path and lists what can be published', async () => {
    const a = fx.clone('a');
    fx.commitDist(a, dist);
    const err = await publish({ repo: a, paths: ['apps/stagin'], ...quiet }).catch((e) => e);
    expect(err).toBeInstanceOf(PublishError);
    expect(err.message).toMatch(/dist\/apps\/stagin is not a directory in [0-9a-f]{12}; run `npm run synth`, commit dist\/, and publish one of: .*apps\/staging/);
  });

  it('fails without retrying when the push fails for another reason than a race', async () => {
    const hook = join(fx.remote, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "branch protected" >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    const a = fx.clone('a');
    fx.commitDist(a, dist);
    const err = await publish({ repo: a, paths: ['apps/staging'], ...quiet }).catch((e) => e);
    expect(err.message).toMatch(/push to origin\/clusters failed: .*branch protected/s);
  });
});
