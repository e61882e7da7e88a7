/**
 * `npm run release -- <plan|canary-event|wait> ...`: the deploy workflow's view of a release, built
 * only from what the cluster pushes out to GitHub (docs/delivery.md, "Status without a way in").
 * Nothing here talks to the Kubernetes API.
 *
 * - `plan --commit <clusters commit> [--environment production]`: which Rollouts of the environment
 *   get a new pod template in this clusters commit (compared with its parent): those run a canary,
 *   the rest have nothing to wait for. Prints `{"namespace":..,"canaries":{"<rollout>":"<template hash>"}}`
 *   and writes it to $GITHUB_OUTPUT as `plan`.
 * - `canary-event --event paused|aborted|completed --namespace <ns> --rollout <name> --template-hash <h>
 *   [--approval]`: run by .github/workflows/canary-events.yml on the repository_dispatch the Rollouts
 *   controller sends; finds the deployment that published this template and records the event as the
 *   commit status `canary/<rollout>` on its clusters commit, plus a deployment status.
 * - `wait --commit <clusters commit> [--layer <name>]... [--deployment <id>] [--timeout <minutes>]`:
 *   polls the commit's statuses until every named Flux layer reports success (`flux/<layer>`,
 *   posted by Flux's notification-controller). apps-production reports success only when each of
 *   its Rollouts is Healthy or stopped at its manual approval at this revision (its health check,
 *   charts-ts/platform/flux-layers.ts), so that status is the signal; it arrives straight from the
 *   cluster, without a workflow run in between. Fails at once on an aborted canary of the
 *   deployment (`canary/<rollout>`, from canary-events.yml), on a layer failure that stays the
 *   latest state for --failure-grace minutes (Flux retries transient ones), and on the timeout.
 *
 * GitHub: $GITHUB_API_URL (default https://api.github.com), $GITHUB_REPOSITORY, token $GH_TOKEN or
 * $GITHUB_TOKEN (statuses: write, deployments: write for canary-event; read for wait).
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { canaryStatusContext, templateHashAnnotation, type CanaryEvent } from '../lib/canary-events.ts';
import { commitStatusContext } from '../platform/flux-notifications.ts';
import { commandLine, failUsage, flag, integer, list, text } from './cli.ts';

export class ReleaseError extends Error {
  constructor(message: string) {
    super(`release: ${message}`);
    this.name = 'ReleaseError';
  }
}

// ---------------------------------------------------------------------------------------------
// GitHub REST API (https://docs.github.com/rest): commit statuses and deployments.

export interface GitHub {
  readonly repo: string;
  /** The response's JSON (undefined for an empty body), as GitHub documents it for `path`. */
  request(method: string, path: string, body?: unknown): Promise<unknown>;
}

/**
 * A deployment as GitHub returns it: the fields read. The payload of the deploy workflow's deployments
 * (.github/scripts/github-deployment.sh) holds the clusters commit and the release plan; other
 * deployments' payloads need not.
 */
interface GitHubDeployment {
  readonly id: number;
  readonly payload?: { readonly namespace?: string; readonly canaries?: Readonly<Record<string, string>>; readonly clustersCommit?: string };
}

export function gitHubFromEnv(env: NodeJS.ProcessEnv = process.env): GitHub {
  const base = (env.GITHUB_API_URL || 'https://api.github.com').replace(/\/$/, '');
  const token = env.GH_TOKEN || env.GITHUB_TOKEN;
  const repo = env.GITHUB_REPOSITORY;
  if (!token) throw new ReleaseError('GH_TOKEN (or GITHUB_TOKEN) is not set; the workflow passes github.token');
  if (!repo || !/^[\w.-]+\/[\w.-]+$/.test(repo)) throw new ReleaseError(`GITHUB_REPOSITORY must be owner/repo, got "${repo ?? ''}"`);
  return {
    repo,
    async request(method, path, body) {
      // Retries only what GitHub documents as transient (5xx, secondary rate limits) and network errors.
      for (let attempt = 1; ; attempt++) {
        let res: Response | undefined;
        try {
          res = await fetch(`${base}/repos/${repo}/${path.replace(/^\//, '')}`, {
            method,
            headers: {
              accept: 'application/vnd.github+json', authorization: `Bearer ${token}`, 'x-github-api-version': '2022-11-28',
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
        } catch (e) {
          if (attempt >= 4) throw new ReleaseError(`${method} ${path}: ${(e as Error).message}`);
        }
        if (res) {
          const text = await res.text();
          if (res.ok) return text ? JSON.parse(text) : undefined;
          const transient = res.status >= 500 || res.status === 429 || (res.status === 403 && /rate limit/i.test(text));
          if (!transient || attempt >= 4) throw new ReleaseError(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
        }
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      }
    },
  };
}

export interface CommitStatus { state: 'error' | 'failure' | 'pending' | 'success'; context: string; description: string | null; created_at: string }

/** The latest status per context (GET .../commits/{ref}/statuses lists newest first; all pages). */
export async function latestStatuses(gh: GitHub, commit: string): Promise<Map<string, CommitStatus>> {
  const out = new Map<string, CommitStatus>();
  for (let page = 1; page <= 10; page++) {
    const batch = await gh.request('GET', `commits/${commit}/statuses?per_page=100&page=${page}`) as CommitStatus[];
    for (const s of batch) if (!out.has(s.context)) out.set(s.context, s);
    if (batch.length < 100) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// plan

export interface ReleasePlan {
  readonly namespace: string;
  /** Rollout -> template hash it rolls out, for the Rollouts whose template changed. */
  readonly canaries: Record<string, string>;
}

/** Rollouts (name -> { namespace, template hash }) in the `apps/<environment>` folder of a commit. */
export function rolloutsAt(repo: string, commit: string, environment: string): Map<string, { namespace: string; hash: string }> {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = new Map<string, { namespace: string; hash: string }>();
  const files = git('ls-tree', '-r', '--name-only', commit, '--', `apps/${environment}/`).split('\n').filter((f) => f.endsWith('.yaml'));
  for (const f of files) {
    for (const doc of parseAllDocuments(git('show', `${commit}:${f}`))) {
      const o = doc.toJS();
      if (o?.kind !== 'Rollout') continue;
      const hash = o.metadata?.annotations?.[templateHashAnnotation];
      if (!hash) throw new ReleaseError(`${commit.slice(0, 12)}:${f}: Rollout ${o.metadata?.name} has no ${templateHashAnnotation} annotation; publish a dist/ synthesized by this version`);
      out.set(o.metadata.name, { namespace: o.metadata.namespace, hash });
    }
  }
  return out;
}

export function plan(repo: string, commit: string, environment: string): ReleasePlan {
  const now = rolloutsAt(repo, commit, environment);
  if (now.size === 0) throw new ReleaseError(`${commit.slice(0, 12)} has no Rollouts under apps/${environment}/`);
  let parent: string | undefined;
  try {
    parent = execFileSync('git', ['rev-parse', '--verify', '--quiet', `${commit}^1`], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch { parent = undefined; } // the first clusters commit: every Rollout is new
  const before = parent ? rolloutsAt(repo, parent, environment) : new Map();
  const namespaces = new Set([...now.values()].map((r) => r.namespace));
  if (namespaces.size !== 1) throw new ReleaseError(`apps/${environment} has Rollouts in ${[...namespaces].join(', ')}; expected one namespace`);
  const canaries: Record<string, string> = {};
  for (const [name, r] of [...now].sort(([a], [b]) => a.localeCompare(b))) if (before.get(name)?.hash !== r.hash) canaries[name] = r.hash;
  return { namespace: [...namespaces][0]!, canaries };
}

// ---------------------------------------------------------------------------------------------
// canary-event

export interface CanaryEventInput {
  readonly event: CanaryEvent;
  readonly namespace: string;
  readonly rollout: string;
  readonly templateHash: string;
  /** The pause is the manual-approval step (paused events only). */
  readonly approval: boolean;
}

const promoteCommand = (e: CanaryEventInput) => `kubectl argo rollouts promote ${e.rollout} -n ${e.namespace}`;

/** The commit status a canary event becomes (descriptions: at most 140 characters). */
export function canaryStatus(e: CanaryEventInput): { state: CommitStatus['state']; description: string } {
  if (e.event === 'aborted') return { state: 'failure', description: 'canary aborted and rolled back' };
  if (e.event === 'completed') return { state: 'success', description: 'canary completed: new revision is stable' };
  return e.approval
    ? { state: 'pending', description: `awaiting approval: ${promoteCommand(e)}`.slice(0, 140) }
    : { state: 'pending', description: 'paused (timed pause or inconclusive analysis)' };
}

/** Returns the deployment it recorded the event on, or undefined when no deploy run published that template. */
export async function recordCanaryEvent(gh: GitHub, e: CanaryEventInput, log: (l: string) => void = console.log): Promise<number | undefined> {
  const deployments = await gh.request('GET', 'deployments?per_page=50') as GitHubDeployment[];
  const d = deployments.find((x) => x.payload?.namespace === e.namespace && x.payload?.canaries?.[e.rollout] === e.templateHash);
  if (!d) {
    log(`no deployment published ${e.namespace}/${e.rollout} at template ${e.templateHash} (a rollback or a change outside the deploy workflow): nothing to record`);
    return undefined;
  }
  // Its payload matched a release plan: the deploy workflow's, which names the clusters commit.
  const commit = d.payload!.clustersCommit!;
  const s = canaryStatus(e);
  await gh.request('POST', `statuses/${commit}`, { state: s.state, context: canaryStatusContext(e.rollout), description: s.description });
  // The deployment's own state: an abort fails it even after the run ended at the approval pause.
  const deploymentState = e.event === 'aborted' ? 'failure' : e.event === 'completed' ? 'success' : 'in_progress';
  await gh.request('POST', `deployments/${d.id}/statuses`, { state: deploymentState, description: `${e.rollout}: ${s.description}`.slice(0, 140) });
  log(`${e.namespace}/${e.rollout} ${e.event}: ${canaryStatusContext(e.rollout)}=${s.state} on ${commit.slice(0, 12)} (deployment ${d.id})`);
  return d.id;
}

// ---------------------------------------------------------------------------------------------
// wait

export interface WaitOptions {
  readonly commit: string;
  readonly layers: readonly string[];
  /** Rollouts of the deployment: an abort reported for one of them fails the wait at once. */
  readonly canaries: readonly string[];
  readonly timeoutMs: number;
  /** How long a layer failure may stay the latest state before the wait fails (Flux retries). */
  readonly failureGraceMs: number;
  readonly pollMs?: number;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

export type Verdict = { done: true } | { done: false; failed?: string; waitingFor: string[] };

/** One look at the statuses: finished, failed (with the reason), or still waiting (for what). */
export function judge(statuses: Map<string, CommitStatus>, o: Pick<WaitOptions, 'layers' | 'canaries' | 'failureGraceMs'>, now: number): Verdict {
  const waitingFor: string[] = [];
  // Whether a canary reached its approval is the apps layer's own health check; its events only
  // shorten a failure (an abort is final, Flux's failure status waits out the grace).
  for (const rollout of o.canaries) {
    const context = canaryStatusContext(rollout);
    const s = statuses.get(context);
    if (s?.state === 'failure' || s?.state === 'error') return { done: false, failed: `${context}: ${s.description ?? s.state}`, waitingFor };
  }
  for (const layer of o.layers) {
    const context = commitStatusContext(layer);
    const s = statuses.get(context);
    if ((s?.state === 'failure' || s?.state === 'error') && now - Date.parse(s.created_at) >= o.failureGraceMs) {
      return { done: false, failed: `${context}: ${s.description ?? s.state} (still the latest status after ${Math.round(o.failureGraceMs / 60_000)} min)`, waitingFor };
    }
    if (s?.state !== 'success') waitingFor.push(s ? `${context} (${s.state}: ${s.description})` : context);
  }
  return waitingFor.length ? { done: false, waitingFor } : { done: true };
}

/**
 * How often `wait` reads the commit's statuses: one request (100 statuses a page) every 5 s is
 * ~720 an hour, inside the 1,000 an hour a workflow's GITHUB_TOKEN may make per repository.
 */
export const releasePollMs = 5_000;

export async function waitForRelease(gh: GitHub, o: WaitOptions): Promise<void> {
  const now = o.now ?? Date.now;
  const log = o.log ?? console.log;
  const deadline = now() + o.timeoutMs;
  let last = '';
  for (;;) {
    const v = judge(await latestStatuses(gh, o.commit), o, now());
    if (v.done) {
      log(`${o.commit.slice(0, 12)}: ${o.layers.map(commitStatusContext).join(', ') || 'nothing'} reported`);
      return;
    }
    if (v.failed) throw new ReleaseError(`${o.commit.slice(0, 12)}: ${v.failed}`);
    const waiting = v.waitingFor.join(', ');
    if (waiting !== last) log(`${o.commit.slice(0, 12)}: waiting for ${waiting}`);
    last = waiting;
    if (now() >= deadline) throw new ReleaseError(`${o.commit.slice(0, 12)}: timed out after ${Math.round(o.timeoutMs / 60_000)} min waiting for ${waiting}`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? releasePollMs));
  }
}

// ---------------------------------------------------------------------------------------------
// command line

const commands = ['plan', 'canary-event', 'wait'] as const;
const events: readonly CanaryEvent[] = ['paused', 'aborted', 'completed'];

export const releaseCli = {
  script: 'release',
  summary: 'The deploy workflow\'s view of a release from the statuses the cluster posts to GitHub: plan the canaries of a clusters commit, record a canary event, wait for layers and canaries.',
  positionals: { usage: '<plan|canary-event|wait>', min: 1, max: 1, description: 'what to do (see charts-ts/tools/release.ts)' },
  options: {
    commit: text('<sha>', 'clusters-branch commit (plan, wait)'),
    environment: text('<name>', 'environment whose apps folder is planned (plan)', { default: 'production' }),
    event: text('<paused|aborted|completed>', 'what the canary did (canary-event)'),
    namespace: text('<ns>', 'the Rollout\'s namespace (canary-event)'),
    rollout: text('<name>', 'the Rollout (canary-event)'),
    templateHash: text('<hash>', `the Rollout's ${templateHashAnnotation} (canary-event)`),
    approval: flag('the pause is the manual-approval step (canary-event)'),
    layer: list('<kustomization>', 'Flux layer that must report success (wait)'),
    deployment: integer('<id>', 'GitHub deployment whose canaries fail the wait at once when aborted (wait)', { min: 1 }),
    timeout: integer('<minutes>', 'give up after this long (wait)', { min: 1, max: 360, default: 30 }),
    failureGrace: integer('<minutes>', 'a layer failure fails the wait once it has been the latest status this long (wait)', { min: 0, max: 60, default: 5 }),
  },
};

async function main(): Promise<void> {
  const { options: o, positionals } = commandLine(releaseCli);
  const command = positionals[0] as (typeof commands)[number];
  if (!commands.includes(command)) failUsage(releaseCli, `unknown command "${positionals[0]}"; expected one of ${commands.join(', ')}`);
  const need = <T>(v: T | undefined, f: string): T => (v === undefined ? failUsage(releaseCli, `${command} needs --${f}`) : v);
  if (command === 'plan') {
    const p = plan(process.cwd(), need(o.commit, 'commit'), o.environment);
    const json = JSON.stringify(p);
    console.log(json);
    if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, `plan=${json}\n`);
    return;
  }
  const gh = gitHubFromEnv();
  if (command === 'canary-event') {
    const event = need(o.event, 'event') as CanaryEvent;
    if (!events.includes(event)) failUsage(releaseCli, `--event must be one of ${events.join(', ')}, got "${event}"`);
    const hash = need(o.templateHash, 'template-hash');
    if (!/^[0-9a-f]{16}$/.test(hash)) failUsage(releaseCli, `--template-hash must be 16 hex digits (the Rollout's ${templateHashAnnotation}), got "${hash}"`);
    await recordCanaryEvent(gh, { event, namespace: need(o.namespace, 'namespace'), rollout: need(o.rollout, 'rollout'), templateHash: hash, approval: o.approval });
    return;
  }
  let canaries: string[] = [];
  if (o.deployment !== undefined) {
    const d = await gh.request('GET', `deployments/${o.deployment}`) as GitHubDeployment;
    canaries = Object.keys(d.payload?.canaries ?? {});
  }
  await waitForRelease(gh, {
    commit: need(o.commit, 'commit'), layers: o.layer, canaries,
    timeoutMs: o.timeout * 60_000, failureGraceMs: o.failureGrace * 60_000,
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(e instanceof ReleaseError ? e.message : `release failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
