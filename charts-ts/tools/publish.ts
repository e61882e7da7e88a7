/**
 * `npm run publish -- <path>... [--repo-path <path>]...`: copy dist/ subtrees of a commit into the
 * `clusters` branch (same paths at the branch root, e.g. dist/apps/staging -> apps/staging/) and push
 * it; Flux reads that branch. `--repo-path` adds hand-written files or folders from the repository
 * root (the Flux entry point and SOPS Secrets under clusters/production/, docs/architecture.md).
 *
 * - Content comes from the source commit (default HEAD), not the work tree, so what is published is
 *   exactly what was reviewed and what the commit message names.
 * - Only the requested paths change: everything else on the branch is kept as it is; inside a
 *   requested path the branch gets exactly the source's files (files deleted in dist/ are removed).
 * - Nothing changed -> no commit, no push.
 * - A concurrent push (another deploy won the race) is handled by fetching the new tip, re-applying
 *   the requested paths on top of it (a rebase of this one change) and pushing again.
 *
 * Options: --repo-path <path> (repeatable), --remote <name> (origin), --branch <name> (clusters),
 * --dist <dir> (dist), --source <rev> (HEAD), --attempts <n> (5). In GitHub Actions it also writes
 * `commit`, `changed` and `source` to $GITHUB_OUTPUT.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { $, type ProcessOutput } from 'zx';
import { commandLine, integer, list, text } from './cli.ts';

export interface PublishOptions {
  /** A git work tree (or any directory inside one) that holds the source commit. */
  readonly repo: string;
  /** Subtrees (or files) of dist/ to publish, e.g. `apps/staging`, `platform/controllers`. */
  readonly paths: readonly string[];
  /** Files or folders taken from the repository root instead of dist/ (same path on the branch). */
  readonly repoPaths?: readonly string[];
  readonly remote?: string;
  readonly branch?: string;
  /** Where the generated tree lives inside the source commit. */
  readonly distDir?: string;
  /** Commit (or any revision) whose dist/ is published. */
  readonly source?: string;
  /** Push attempts before giving up when other pushes keep winning the race. */
  readonly attempts?: number;
  /** Called right before each push; tests use it to make another clone win the race. */
  readonly beforePush?: (attempt: number) => Promise<void>;
  readonly log?: (line: string) => void;
}

export interface PublishResult {
  /** Tip of the branch after publishing (the new commit, or the unchanged tip). */
  readonly commit: string;
  readonly changed: boolean;
  readonly sourceCommit: string;
  readonly attempts: number;
}

export class PublishError extends Error {
  constructor(message: string) {
    super(`publish: ${message}`);
    this.name = 'PublishError';
  }
}

/** Push failures that mean "the branch moved under us": fetch, re-apply and try again. */
const racePattern = /non-fast-forward|fetch first|failed to update ref|cannot lock ref|failed to lock|incorrect old value|stale info/i;

/** A path on the branch and where it comes from inside the source commit. */
export interface PublishedPath {
  /** Path on the branch (and below the source root). */
  readonly path: string;
  /** Directory inside the source commit it is taken from: dist/ or the repository root (''). */
  readonly root: string;
}

/** Validate and normalise the requested paths (relative to dist/ or the repository root, no overlaps). */
export function normalisePaths(paths: readonly string[], distDir = 'dist', repoPaths: readonly string[] = []): PublishedPath[] {
  if (paths.length === 0 && repoPaths.length === 0) {
    throw new PublishError(`name at least one dist/ subtree to publish, e.g. \`npm run publish -- apps/staging\``);
  }
  const check = (raw: string, fromRepo: boolean): PublishedPath => {
    const p = raw.replace(/\/+$/, '');
    const hint = `give paths relative to ${distDir}/, such as platform/controllers or apps/staging`;
    if (p === '' || p === '.') throw new PublishError(`path "${raw}" would publish all of ${distDir}/; ${hint}`);
    if (p.startsWith('/') || p.includes('\\')) throw new PublishError(`path "${raw}" must be relative; ${hint}`);
    if (p.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new PublishError(`path "${raw}" must not contain empty, "." or ".." segments; ${hint}`);
    if (!fromRepo && (p === distDir || p.startsWith(`${distDir}/`))) throw new PublishError(`path "${raw}" includes the "${distDir}/" prefix; ${hint}`);
    if (fromRepo && (p === distDir || p.startsWith(`${distDir}/`))) throw new PublishError(`--repo-path "${raw}" is inside ${distDir}/; list it as a plain path instead`);
    return { path: p, root: fromRepo ? '' : distDir };
  };
  const all = [...paths.map((p) => check(p, false)), ...repoPaths.map((p) => check(p, true))];
  const byPath = new Map<string, PublishedPath>();
  for (const p of all) {
    const seen = byPath.get(p.path);
    if (seen && seen.root !== p.root) throw new PublishError(`path "${p.path}" is requested both from ${distDir}/ and from the repository root; publish it from one`);
    byPath.set(p.path, p);
  }
  const sorted = [...byPath.values()].sort((a, b) => a.path.localeCompare(b.path));
  for (const a of sorted) {
    const parent = sorted.find((b) => b !== a && a.path.startsWith(`${b.path}/`));
    if (parent) throw new PublishError(`paths "${parent.path}" and "${a.path}" overlap; publish "${parent.path}" alone or list its subdirectories`);
  }
  return sorted;
}

const sourcePath = (p: PublishedPath): string => (p.root ? `${p.root}/${p.path}` : p.path);

function commitMessage(paths: string[], source: string, subject: string): string {
  return [
    `publish ${paths.join(', ')} from ${source.slice(0, 12)}`,
    '',
    `Source commit: ${subject}`,
    '',
    `Source-Commit: ${source}`,
    ...paths.map((p) => `Published-Path: ${p}`),
    '',
  ].join('\n');
}

export async function publish(opts: PublishOptions): Promise<PublishResult> {
  const remote = opts.remote ?? 'origin';
  const branch = opts.branch ?? 'clusters';
  const distDir = (opts.distDir ?? 'dist').replace(/\/+$/, '');
  const maxAttempts = opts.attempts ?? 5;
  const log = opts.log ?? ((line: string) => console.log(line));
  const published = normalisePaths(opts.paths, distDir, opts.repoPaths);
  const paths = published.map((p) => p.path);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new PublishError(`--attempts must be a whole number >= 1, got ${maxAttempts}`);

  const top = (await $({ cwd: opts.repo, quiet: true })`git rev-parse --show-toplevel`.nothrow());
  if (top.exitCode !== 0) throw new PublishError(`${opts.repo} is not inside a git work tree: ${top.stderr.trim()}`);
  const work = mkdtempSync(join(tmpdir(), 'lms-publish-'));
  // A private index: building the tree never touches the caller's index or work tree.
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_INDEX_FILE: join(work, 'index') };
  const git = $({ cwd: top.stdout.trim(), env, quiet: true, verbose: false });
  const run = async (pieces: TemplateStringsArray, ...args: unknown[]): Promise<string> => {
    const r: ProcessOutput = await git(pieces, ...args).nothrow();
    if (r.exitCode !== 0) throw new PublishError(`git ${String.raw(pieces, ...args.map(String))} failed: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  };
  const trackingRef = `refs/publish/${branch}`;

  try {
    const sourceRev = opts.source ?? 'HEAD';
    const resolved = await git`git rev-parse --verify --quiet ${`${sourceRev}^{commit}`}`.nothrow();
    if (resolved.exitCode !== 0) throw new PublishError(`source revision "${sourceRev}" is not a commit in this repository`);
    const source = resolved.stdout.trim();
    for (const p of published) {
      const type = (await git`git cat-file -t ${`${source}:${sourcePath(p)}`}`.nothrow()).stdout.trim();
      if (type !== 'tree' && type !== 'blob') {
        if (!p.root) throw new PublishError(`--repo-path ${p.path} does not exist in ${source.slice(0, 12)}; commit it first`);
        const have = (await git`git ls-tree -d -r --name-only ${`${source}:${distDir}`}`.nothrow()).stdout.trim().split('\n').filter((d) => d.split('/').length <= 2);
        throw new PublishError(`${distDir}/${p.path} is not a directory in ${source.slice(0, 12)}; run \`npm run synth\`, commit ${distDir}/, and publish one of: ${have.join(', ') || '(none)'}`);
      }
    }
    const subject = (await run`git log -1 --format=%s ${source}`).trim();
    const identity = (await git`git config user.email`.nothrow()).exitCode === 0;
    if (!identity) {
      env.GIT_AUTHOR_NAME ??= 'lms-publish';
      env.GIT_AUTHOR_EMAIL ??= 'publish@lms.invalid';
      env.GIT_COMMITTER_NAME ??= env.GIT_AUTHOR_NAME;
      env.GIT_COMMITTER_EMAIL ??= env.GIT_AUTHOR_EMAIL;
    }
    const shallow = (await run`git rev-parse --is-shallow-repository`).trim() === 'true';

    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      // 1. The branch as it is now on the remote (absent on the very first publish).
      const listed = (await run`git ls-remote --heads ${remote} ${`refs/heads/${branch}`}`).trim();
      let base: string | undefined;
      if (listed) {
        const fetched = await git`git fetch --no-tags --quiet ${shallow ? ['--depth=1'] : []} ${remote} ${`+refs/heads/${branch}:${trackingRef}`}`.nothrow();
        if (fetched.exitCode !== 0) throw new PublishError(`cannot fetch ${remote}/${branch}: ${fetched.stderr.trim()}`);
        base = (await run`git rev-parse ${trackingRef}`).trim();
      }

      // 2. Its tree with the requested paths replaced by the source's dist/ subtrees.
      const kept = base
        ? (await run`git ls-tree -r -z --full-tree ${base}`).split('\0').filter((e) => {
          const path = e.slice(e.indexOf('\t') + 1);
          return e && !paths.some((p) => path === p || path.startsWith(`${p}/`));
        })
        : [];
      const added: string[] = [];
      for (const p of published) {
        // `-r --full-tree <commit> -- <path>` lists a file or every file below a folder, by full path.
        for (const e of (await run`git ls-tree -r -z --full-tree ${source} -- ${sourcePath(p)}`).split('\0')) {
          if (!e) continue;
          const tab = e.indexOf('\t');
          const from = e.slice(tab + 1);
          added.push(`${e.slice(0, tab)}\t${p.path}${from.slice(sourcePath(p).length)}`);
        }
      }
      await run`git read-tree --empty`;
      await git({ input: [...kept, ...added].map((e) => `${e}\0`).join('') })`git update-index -z --index-info`;
      const tree = (await run`git write-tree`).trim();

      if (base && tree === (await run`git rev-parse ${`${base}^{tree}`}`).trim()) {
        log(`publish: ${branch} already has ${paths.join(', ')} from ${source.slice(0, 12)}; nothing to commit`);
        return { commit: base, changed: false, sourceCommit: source, attempts: attempt };
      }

      // 3. One commit on top of the tip, naming the source commit.
      const commit = (await git({ input: commitMessage(paths, source, subject) })`git commit-tree ${tree} ${base ? ['-p', base] : []}`).stdout.trim();

      // 4. Push without force: if someone else pushed meanwhile, git refuses and we go round again.
      await opts.beforePush?.(attempt);
      const pushed = await git`git push --porcelain ${remote} ${`${commit}:refs/heads/${branch}`}`.nothrow();
      if (pushed.exitCode === 0) {
        log(`publish: pushed ${commit.slice(0, 12)} to ${remote}/${branch} (${paths.join(', ')} from ${source.slice(0, 12)}, attempt ${attempt})`);
        return { commit, changed: true, sourceCommit: source, attempts: attempt };
      }
      const output = `${pushed.stdout}\n${pushed.stderr}`.trim();
      if (!racePattern.test(output)) throw new PublishError(`push to ${remote}/${branch} failed: ${output}`);
      if (attempt === maxAttempts) {
        throw new PublishError(`push to ${remote}/${branch} was rejected ${maxAttempts} times because other pushes kept moving the branch; last error: ${output}`);
      }
      log(`publish: ${remote}/${branch} moved while publishing (attempt ${attempt}); fetching the new tip and re-applying ${paths.join(', ')}`);
      await new Promise((r) => setTimeout(r, 100 * attempt + Math.floor(Math.random() * 200)));
    }
    throw new PublishError('unreachable');
  } finally {
    await git`git update-ref -d ${trackingRef}`.nothrow();
    rmSync(work, { recursive: true, force: true });
  }
}

export const publishCli = {
  script: 'publish',
  summary: 'Copy dist/ subtrees of a commit into the clusters branch (same paths at its root) and push it; Flux reads that branch.',
  positionals: { usage: '<path>...', description: 'dist/ subtrees to publish, e.g. apps/staging platform/controllers' },
  options: {
    repoPath: list('<path>', 'a file or folder from the repository root (e.g. clusters/production/secrets)'),
    remote: text('<name>', 'the remote to push to (default origin)'),
    branch: text('<name>', 'the branch Flux reads (default clusters)'),
    dist: text('<dir>', 'where the generated tree is in the source commit (default dist)'),
    source: text('<rev>', 'the commit whose dist/ is published (default HEAD)'),
    attempts: integer('<n>', 'push attempts when other pushes keep winning the race', { min: 1, default: 5 }),
  },
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { options: o, positionals } = commandLine(publishCli);
  try {
    const result = await publish({
      repo: process.cwd(),
      paths: positionals,
      repoPaths: o.repoPath,
      remote: o.remote,
      branch: o.branch,
      distDir: o.dist,
      source: o.source,
      attempts: o.attempts,
    });
    if (process.env.GITHUB_OUTPUT) {
      appendFileSync(process.env.GITHUB_OUTPUT, `commit=${result.commit}\nchanged=${result.changed}\nsource=${result.sourceCommit}\n`);
    }
  } catch (e) {
    console.error(e instanceof PublishError ? e.message : `publish failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  }
}
