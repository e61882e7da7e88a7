/**
 * The release path without a way into the cluster (docs/delivery.md, "Status without a way in"):
 *
 * 1. Argo Rollouts' notifications, rendered and sent by the controller's own code (argo-eval notify:
 *    notifications-engine with utils/record's settings) from our chart values and our Rollouts,
 *    reach a stand-in for GitHub's API at api.github.com:443 (through an HTTPS proxy, over TLS) and
 *    a stand-in Slack webhook.
 * 2. The repository_dispatch they send is what canary-events.yml hands to `npm run release --
 *    canary-event`, which records it as the commit status canary/<rollout> on the release.
 * 3. `npm run release -- wait` follows those statuses and Flux's flux/<layer> ones; `plan` names
 *    the canaries of a clusters commit.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { canaryEventTypes, canaryStatusContext, rolloutsNotificationSecret, templateHash, templateHashAnnotation } from '../../charts-ts/lib/canary-events.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { githubRepository } from '../../charts-ts/platform/rollouts-notifications.ts';
import { judge, plan, type CommitStatus } from '../../charts-ts/tools/release.ts';
import { ConnectProxy, GitHubApi, TlsFront, type GitHubApiOptions } from '../support/github-api.ts';
import type { RolloutJson } from '../support/kinds.ts';
import { renderAll, type Rendered } from '../support/render.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const execFileAsync = promisify(execFile);
const argoEval = join(repoRoot, '.cache/bin/argo-eval');
const tsx = join(repoRoot, 'node_modules/.bin/tsx');
const release = join(repoRoot, 'charts-ts/tools/release.ts');
const sha = (c: string) => c.repeat(40);

let r: Rendered;
let repo: string;
const commits = new Set<string>();
/** The repositories the stand-in knows (filled in beforeAll). */
const repos: GitHubApiOptions['repos'] = {};
const api = new GitHubApi({ repos, tokens: () => ['gh-token'] });
let front: TlsFront;
let proxy: ConnectProxy;
let slack: Server;
/** What the Slack stand-in received: the JSON body, or the body it could not parse. */
const slackMessages: { path?: string; json?: { text: string }; invalid?: string }[] = [];
let dir: string;

const listen = async (s: Server) => { await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok)); return (s.address() as AddressInfo).port; };

beforeAll(async () => {
  r = renderAll();
  repo = githubRepository(r.config);
  repos[repo] = (s: string) => commits.has(s);
  dir = mkdtempSync(join(tmpdir(), 'release-test-'));
  await api.start();
  await api.refreshTokens();
  front = await new TlsFront(dir, 'api.github.com', () => api.port).start();
  // An HTTPS proxy that knows one host: CONNECT api.github.com:443 -> the TLS front.
  proxy = await new ConnectProxy({ 'api.github.com:443': () => front.port }).start();
  slack = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      try { slackMessages.push({ path: req.url, json: JSON.parse(body) }); res.writeHead(200).end('ok'); } catch { slackMessages.push({ path: req.url, invalid: body }); res.writeHead(400).end('invalid_payload'); }
    });
  });
  await listen(slack);
}, 300_000);

afterAll(async () => {
  await proxy?.stop();
  slack?.close();
  await front?.stop();
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** argo-rollouts-notification-configmap as the chart's template renders it from our values (notifiers, templates, triggers). */
function notificationConfigMap(): object {
  type Notifications = { secret: { create: boolean }; notifiers: object; templates: object; triggers: object };
  const hr = r.getOf<{ spec: { values: { notifications: Notifications } } }>('helm.toolkit.fluxcd.io', 'HelmRelease', 'argo-rollouts', 'argo-rollouts');
  const n = hr.spec.values.notifications;
  expect(n.secret.create).toBe(false);
  return { metadata: { name: 'argo-rollouts-notification-configmap', namespace: 'argo-rollouts' }, data: { ...n.notifiers, ...n.templates, ...n.triggers } };
}

function notificationSecret(token: string): object {
  const b64 = (v: string) => Buffer.from(v).toString('base64');
  return {
    metadata: { name: rolloutsNotificationSecret.name, namespace: 'argo-rollouts' },
    data: {
      [rolloutsNotificationSecret.githubTokenKey]: b64(token),
      [rolloutsNotificationSecret.slackWebhookKey]: b64(`http://127.0.0.1:${(slack.address() as AddressInfo).port}/services/T000/B000/XXXX`),
    },
  };
}

/** A rendered Rollout with the status the controller has when it records the event. */
function rolloutAt(namespace: string, name: string, status: Record<string, unknown>) {
  return { ...structuredClone(r.getOf<RolloutJson>('argoproj.io', 'Rollout', name, namespace)), status };
}

const approvalStep = (ro: RolloutJson): number => ro.spec.strategy.canary.steps.findIndex((s) => s.pause && s.pause.duration === undefined);

/** Sends the notifications of one controller event with Argo Rollouts' own code. */
async function notify(rollout: object, reason: string, token = 'gh-token'): Promise<{ trigger: string; service: string; error?: string }[]> {
  // Asynchronously: the stand-ins answer from this process's event loop.
  const child = spawn(argoEval, ['notify'], {
    env: { ...process.env, HTTPS_PROXY: proxy.url, SSL_CERT_FILE: front.caFile, NO_PROXY: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  child.stdin.end(JSON.stringify({ configMap: notificationConfigMap(), secret: notificationSecret(token), rollout, reason }));
  const code = await new Promise<number | null>((ok) => child.on('close', ok));
  if (code !== 0) throw new Error(`argo-eval notify exited ${code}: ${stderr}`);
  return JSON.parse(stdout);
}

const lastDispatch = () => api.dispatches.get(repo)?.at(-1);

describe('canary events from the Argo Rollouts notification engine', () => {
  it('every Rollout carries the hash of its published pod template; only production subscribes to the events', () => {
    for (const ro of r.findOf<RolloutJson>('argoproj.io', 'Rollout')) {
      expect(ro.metadata.annotations![templateHashAnnotation], ro.metadata.name).toBe(templateHash(ro.spec.template));
      const subscribed = Object.keys(ro.metadata.annotations!).filter((k) => k.startsWith('notifications.argoproj.io/subscribe.'));
      const production = ro.metadata.namespace === r.config.environments.production.namespace;
      expect(subscribed.length > 0, ro.metadata.namespace).toBe(production && r.config.environments.production.canary.manualApproval);
    }
  });

  it('at the approval pause: a repository_dispatch canary-paused naming the Rollout, its template and approval, and Slack gets the promote and abort commands', async () => {
    const ns = r.config.environments.production.namespace;
    const ro = rolloutAt(ns, names.apps.api, { currentStepIndex: approvalStep(r.getOf<RolloutJson>('argoproj.io', 'Rollout', names.apps.api, ns)), phase: 'Progressing' });
    const results = await notify(ro, 'RolloutPaused');
    expect(results.map((x) => `${x.trigger} ${x.service} ${x.error ?? 'sent'}`).sort()).toEqual(['on-rollout-paused github sent', 'on-rollout-paused slack-deploys sent']);
    const d = lastDispatch()!;
    expect(d.event_type).toBe(canaryEventTypes.paused);
    expect(d.client_payload).toEqual({ namespace: ns, rollout: names.apps.api, templateHash: ro.metadata.annotations![templateHashAnnotation], step: approvalStep(ro), approval: true });
    // Sent with the token from the Secret, through the proxy, over TLS to api.github.com.
    const req = api.requests.at(-1)!;
    expect(req.headers.authorization).toBe('Bearer gh-token');
    expect(req.headers['x-github-api-version']).toBe('2022-11-28');
    const text = slackMessages.at(-1)!.json!.text as string;
    expect(text).toContain(`kubectl argo rollouts promote ${names.apps.api} -n ${ns}`);
    expect(text).toContain(`kubectl argo rollouts abort ${names.apps.api} -n ${ns}`);
  });

  it('a pause at another step (inconclusive analysis) says approval false, and Slack does not offer a promote', async () => {
    const ns = r.config.environments.production.namespace;
    const ro = rolloutAt(ns, names.apps.web, { currentStepIndex: 0 });
    await notify(ro, 'RolloutPaused');
    expect(lastDispatch()!.client_payload).toMatchObject({ rollout: names.apps.web, step: 0, approval: false });
    expect(slackMessages.at(-1)!.json!.text).not.toContain('promote');
  });

  it('aborted and completed become canary-aborted and canary-completed', async () => {
    const ns = r.config.environments.production.namespace;
    const ro = rolloutAt(ns, names.apps.api, { currentStepIndex: 3, abort: true });
    await notify(ro, 'RolloutAborted');
    expect(lastDispatch()!.event_type).toBe(canaryEventTypes.aborted);
    expect(slackMessages.at(-1)!.json!.text).toMatch(/aborted/);
    await notify(rolloutAt(ns, names.apps.api, { currentStepIndex: ro.spec.strategy.canary.steps.length }), 'RolloutCompleted');
    expect(lastDispatch()!.event_type).toBe(canaryEventTypes.completed);
    expect(slackMessages.at(-1)!.json!.text).toContain(ro.spec.template.spec.containers[0].image);
  });

  it('staging Rollouts send nothing; a wrong token is refused by GitHub (401) and reported', async () => {
    const before = api.requests.length;
    const staging = rolloutAt(r.config.environments.staging.namespace, names.apps.api, { currentStepIndex: 1 });
    expect(await notify(staging, 'RolloutPaused')).toEqual([]);
    expect(api.requests.length).toBe(before);
    const ns = r.config.environments.production.namespace;
    const results = await notify(rolloutAt(ns, names.apps.api, { currentStepIndex: 1 }), 'RolloutAborted', 'revoked-token');
    expect(results.find((x) => x.service === 'github')?.error).toMatch(/401/);
  });
});

/** `npm run release -- ...` against the stand-in. */
async function releaseCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return execFileAsync(tsx, [release, ...args], {
    cwd: repoRoot, timeout: 120_000,
    env: { ...process.env, GITHUB_API_URL: api.url, GITHUB_REPOSITORY: repo, GH_TOKEN: 'gh-token' },
  }).then((x) => ({ code: 0, stdout: x.stdout, stderr: x.stderr }), (e) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
}

describe('npm run release: canary events become commit statuses; the deploy waits on them', () => {
  it('records the dispatched event on the deployment that published that template, and ignores one nobody published', async () => {
    const ns = r.config.environments.production.namespace;
    const clusters = sha('c');
    commits.add(clusters);
    const hash = r.getOf<RolloutJson>('argoproj.io', 'Rollout', names.apps.api, ns).metadata.annotations![templateHashAnnotation];
    const older = api.addDeployment(repo, { sha: sha('1'), environment: 'production', payload: { clustersCommit: sha('b'), namespace: ns, canaries: { [names.apps.api]: 'ffffffffffffffff' } } });
    const d = api.addDeployment(repo, { sha: sha('2'), environment: 'production', payload: { clustersCommit: clusters, namespace: ns, canaries: { [names.apps.api]: hash } } });
    // What canary-events.yml passes from the client_payload of the dispatch above.
    const paused = await releaseCli(['canary-event', '--event', 'paused', '--namespace', ns, '--rollout', names.apps.api, '--template-hash', hash, '--approval']);
    expect(paused.code, paused.stderr).toBe(0);
    const status = api.latestByContext(repo, clusters).get(canaryStatusContext(names.apps.api))!;
    expect(status).toMatchObject({ state: 'pending', description: `awaiting approval: kubectl argo rollouts promote ${names.apps.api} -n ${ns}` });
    expect(d.statuses.at(-1)).toMatchObject({ state: 'in_progress' });
    expect(older.statuses).toEqual([]);

    const aborted = await releaseCli(['canary-event', '--event', 'aborted', '--namespace', ns, '--rollout', names.apps.api, '--template-hash', hash]);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(api.latestByContext(repo, clusters).get(canaryStatusContext(names.apps.api))!.state).toBe('failure');
    expect(d.statuses.at(-1)).toMatchObject({ state: 'failure' });

    const unknown = await releaseCli(['canary-event', '--event', 'completed', '--namespace', ns, '--rollout', names.apps.api, '--template-hash', '0123456789abcdef']);
    expect(unknown.code).toBe(0);
    expect(unknown.stdout).toMatch(/no deployment published/);
  }, 300_000);

  it('refuses a malformed event before calling GitHub, naming the flag', async () => {
    const bad = await releaseCli(['canary-event', '--event', 'paused', '--namespace', 'x', '--rollout', 'y', '--template-hash', 'nothex']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--template-hash must be 16 hex digits/);
  }, 120_000);

  it('wait: succeeds once every layer reports success (apps-production\'s health check is the approval pause); fails at once on an aborted canary', async () => {
    const ns = r.config.environments.production.namespace;
    const clusters = sha('d');
    commits.add(clusters);
    const d = api.addDeployment(repo, { sha: sha('3'), environment: 'production', payload: { clustersCommit: clusters, namespace: ns, canaries: { [names.apps.api]: 'aaaaaaaaaaaaaaaa', [names.apps.web]: 'bbbbbbbbbbbbbbbb' } } });
    // Flux's status alone: the canary events (a workflow run later) are not waited for.
    api.addStatus(repo, clusters, 'success', 'flux/apps-production', 'Health check passed');
    const ok = await releaseCli(['wait', '--commit', clusters, '--deployment', String(d.id), '--layer', 'apps-production', '--timeout', '1']);
    expect(ok.code, ok.stderr).toBe(0);

    api.addStatus(repo, clusters, 'failure', canaryStatusContext(names.apps.web), 'canary aborted and rolled back');
    const failed = await releaseCli(['wait', '--commit', clusters, '--deployment', String(d.id), '--layer', 'apps-production', '--timeout', '1']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`${canaryStatusContext(names.apps.web)}: canary aborted and rolled back`);
  }, 300_000);

  it('judge: waits for missing and progressing contexts, tolerates a layer failure Flux may still retry, fails once it stands', () => {
    const at = (state: CommitStatus['state'], context: string, minutesAgo = 0, description = ''): [string, CommitStatus] =>
      [context, { state, context, description, created_at: new Date(Date.UTC(2026, 0, 1, 12) - minutesAgo * 60_000).toISOString() }];
    const now = Date.UTC(2026, 0, 1, 12);
    const o = { layers: ['platform-data', 'apps-staging'], canaries: [], failureGraceMs: 5 * 60_000 };
    expect(judge(new Map([at('success', 'flux/platform-data')]), o, now)).toEqual({ done: false, waitingFor: ['flux/apps-staging'] });
    expect(judge(new Map([at('success', 'flux/platform-data'), at('failure', 'flux/apps-staging', 1, 'health check failed')]), o, now))
      .toEqual({ done: false, waitingFor: ['flux/apps-staging (failure: health check failed)'] });
    const stood = judge(new Map([at('success', 'flux/platform-data'), at('failure', 'flux/apps-staging', 6, 'health check failed')]), o, now);
    expect(stood.done === false && stood.failed).toMatch(/flux\/apps-staging: health check failed/);
    expect(judge(new Map([at('success', 'flux/platform-data'), at('success', 'flux/apps-staging')]), o, now)).toEqual({ done: true });
    // Canary events neither hold the wait nor end it, except an abort, which fails it at once
    // (Flux's own failure of the layer would wait out the grace).
    const c = { layers: ['apps-production'], canaries: ['lms-api'], failureGraceMs: 5 * 60_000 };
    const paused = at('pending', 'canary/lms-api', 0, 'paused (timed pause or inconclusive analysis)');
    expect(judge(new Map([paused]), c, now)).toEqual({ done: false, waitingFor: ['flux/apps-production'] });
    expect(judge(new Map([paused, at('success', 'flux/apps-production')]), c, now)).toEqual({ done: true });
    const abort = judge(new Map([at('failure', 'canary/lms-api', 0, 'canary aborted and rolled back'), at('success', 'flux/apps-production')]), c, now);
    expect(abort.done === false && abort.failed).toBe('canary/lms-api: canary aborted and rolled back');
  });
});

describe('npm run release -- plan', () => {
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim();
  const rolloutYaml = (name: string, hash: string) => stringify({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name, namespace: 'lms-production', annotations: { [templateHashAnnotation]: hash } } });

  it('names the Rollouts whose template hash changed since the parent commit; the first commit canaries them all', () => {
    const work = mkdtempSync(join(tmpdir(), 'release-plan-'));
    try {
      git(work, 'init', '-q', '-b', 'clusters');
      mkdirSync(join(work, 'apps/production'), { recursive: true });
      writeFileSync(join(work, 'apps/production/lms-api.yaml'), `${stringify({ kind: 'ConfigMap', metadata: { name: 'x' } })}---\n${rolloutYaml('lms-api', '1111111111111111')}`);
      writeFileSync(join(work, 'apps/production/lms-web.yaml'), rolloutYaml('lms-web', '2222222222222222'));
      git(work, 'add', '.');
      git(work, 'commit', '-q', '-m', 'first');
      const first = git(work, 'rev-parse', 'HEAD');
      expect(plan(work, first, 'production')).toEqual({ namespace: 'lms-production', canaries: { 'lms-api': '1111111111111111', 'lms-web': '2222222222222222' } });
      writeFileSync(join(work, 'apps/production/lms-web.yaml'), rolloutYaml('lms-web', '3333333333333333'));
      git(work, 'commit', '-q', '-am', 'web changes');
      expect(plan(work, git(work, 'rev-parse', 'HEAD'), 'production')).toEqual({ namespace: 'lms-production', canaries: { 'lms-web': '3333333333333333' } });
      writeFileSync(join(work, 'README'), 'x');
      git(work, 'add', '.');
      git(work, 'commit', '-q', '-m', 'nothing for the apps');
      expect(plan(work, git(work, 'rev-parse', 'HEAD'), 'production').canaries).toEqual({});
      // A dist/ from before the annotation cannot be planned: said, with the fix.
      writeFileSync(join(work, 'apps/production/lms-web.yaml'), stringify({ kind: 'Rollout', metadata: { name: 'lms-web', namespace: 'lms-production' } }));
      git(work, 'commit', '-q', '-am', 'old synth');
      expect(() => plan(work, git(work, 'rev-parse', 'HEAD'), 'production')).toThrow(/lms-web has no lms\.dev\/template-hash annotation; publish a dist\/ synthesized by this version/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('the dist/ production folder plans every Rollout it renders', () => {
    const files = ['lms-api.yaml', 'lms-web.yaml'].map((f) => readFileSync(join(repoRoot, 'dist/apps/production', f), 'utf8'));
    expect(files.every((t) => t.includes(templateHashAnnotation))).toBe(true);
  });
});
