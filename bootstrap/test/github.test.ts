/** The github step against a local stand-in for the GitHub REST API (127.0.0.1). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployKeyTitles, desiredRulesets, github, keyMaterial, rulesetNames } from '../steps/github.ts';
import { formatPlanItem } from '../lib/plan.ts';
import { repoRoot, testConfig } from './support/config.ts';
import { testContext } from './support/context.ts';
import { FakeGitHub } from './fakes/github.ts';

let fake: FakeGitHub;
beforeEach(async () => {
  fake = await new FakeGitHub().start();
  // The operator has set the publisher's private key as the production environment's secret.
  fake.environments.production = { id: 1, name: 'production', wait_timer: 0, prevent_self_review: false, reviewers: [], deployment_branch_policy: null, policies: [], secrets: ['CLUSTERS_DEPLOY_KEY'] };
});
afterEach(async () => { await fake.stop(); });

const config = testConfig();
const g = config.cluster.bootstrap.github;
const ctxFor = (env: Record<string, string> = {}, dryRun = false) => testContext({ env: { ...fake.env(), ...env }, dryRun });
const flux = { kind: 'deploy-key' as const, key: g.deployKeys.flux };
const publisher = { kind: 'deploy-key' as const, key: g.deployKeys.publisher };
const actions = { kind: 'github-actions' as const };
const admin = { kind: 'user' as const, login: 'alice', admin: true };

describe('github step', () => {
  it('on a fresh repository: only the publisher key can move clusters, main needs reviewed PRs, Flux reads only', async () => {
    // Before: a workflow's token (contents: write) could push to clusters.
    expect(fake.push(actions, 'refs/heads/clusters').allowed).toBe(true);
    const ctx = ctxFor();
    await github.run(ctx);

    // What the rules mean, evaluated as GitHub evaluates rulesets for a push:
    expect(fake.push(publisher, 'refs/heads/clusters')).toEqual({ allowed: true, violations: [] });
    expect(fake.push(publisher, 'refs/heads/clusters', { create: true }).allowed).toBe(true); // the first publish
    expect(fake.push(actions, 'refs/heads/clusters').violations).toEqual([`${rulesetNames.clustersPush}: update`]);
    expect(fake.push(admin, 'refs/heads/clusters').allowed).toBe(false);
    expect(fake.push(flux, 'refs/heads/clusters').violations).toEqual(['The key you are authenticating with has been marked as read only.']);
    // Nobody rewrites or deletes what Flux applies, the publisher included.
    expect(fake.push(publisher, 'refs/heads/clusters', { force: true }).violations).toEqual([`${rulesetNames.clustersHistory}: non_fast_forward`]);
    expect(fake.push(publisher, 'refs/heads/clusters', { delete: true }).violations).toEqual([`${rulesetNames.clustersHistory}: deletion`]);
    // main: no direct push by anyone (pull requests with approvals and the CI check), no bypass.
    for (const who of [publisher, actions, admin]) {
      expect(fake.push(who, 'refs/heads/main').violations).toEqual([`${rulesetNames.main}: pull_request`, `${rulesetNames.main}: required_status_checks`]);
    }

    // What was set:
    expect(fake.workflowPermissions).toEqual({ default_workflow_permissions: 'read', can_approve_pull_request_reviews: false });
    expect(fake.keys.map((k) => [k.title, k.read_only]).sort()).toEqual([[deployKeyTitles.publisher, false], [deployKeyTitles.flux, true]].sort());
    const prod = fake.environments.production!;
    expect(prod.reviewers).toEqual([{ type: 'Team', id: fake.teams.platform }]);
    expect(prod.prevent_self_review).toBe(true);
    expect(prod.deployment_branch_policy).toEqual({ protected_branches: false, custom_branch_policies: true });
    expect(prod.policies.map((p) => [p.name, p.type])).toEqual([['main', 'branch']]);
    expect(fake.environments.contabo!.policies.map((p) => p.name)).toEqual(['main']);
    expect(fake.environments.contabo!.reviewers).toEqual([]);
    const mainRs = fake.rulesets.find((r) => r.name === rulesetNames.main)!;
    expect(mainRs.rules.find((r) => r.type === 'pull_request')!.parameters!.required_approving_review_count).toBe(1);
    expect(ctx.out.text).toContain('✓ CLUSTERS_DEPLOY_KEY is a secret of the production environment only');
    // The API's headers, as documented.
    for (const r of fake.requests) {
      expect(r.headers.accept).toBe('application/vnd.github+json');
      expect(r.headers['x-github-api-version']).toBe('2022-11-28');
    }
  });

  it('is idempotent: a second run only reads', async () => {
    await github.run(ctxFor());
    const before = fake.writes().length;
    const ctx = ctxFor();
    await github.run(ctx);
    expect(fake.writes().length).toBe(before);
    expect(ctx.out.text).toContain(`✓ ruleset "${rulesetNames.clustersPush}" already in place`);
    expect(ctx.out.text).toContain('✓ environment production already protected');
    expect(ctx.out.text).toContain('✓ deploy key flux already read-only');
  });

  it('Flux\'s deploy key with write access (as flux bootstrap git used to leave it) is replaced by a read-only one', async () => {
    fake.keys.push({ id: 7, key: keyMaterial(g.deployKeys.flux), title: 'flux-system-main-flux-system-./clusters/production', read_only: false, verified: true, created_at: '2025-01-01T00:00:00Z' });
    expect(fake.push(flux, 'refs/heads/clusters').allowed).toBe(true);
    const ctx = ctxFor();
    await github.run(ctx);
    expect(fake.count('DELETE', /\/keys\/7$/)).toBe(1);
    expect(fake.keys.filter((k) => k.key === keyMaterial(g.deployKeys.flux))).toEqual([expect.objectContaining({ read_only: true, title: deployKeyTitles.flux })]);
    expect(fake.push(flux, 'refs/heads/clusters').allowed).toBe(false);
    expect(ctx.out.text).toContain('it had write access, the flux key needs read-only access');
  });

  it('stops before any change when another deploy key can write (it would pass the clusters rule)', async () => {
    fake.keys.push({ id: 8, key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', title: 'old ci key', read_only: false, verified: true, created_at: '2025-01-01T00:00:00Z' });
    const err = await github.run(ctxFor()).catch((e) => e);
    expect(err.message).toContain('1 deploy key(s) with write access besides the publisher: "old ci key" (id 8)');
    expect(err.message).toContain('DELETE /repos/lms-platform/lms-gitops/keys/<id>');
    expect(fake.writes()).toEqual([]);
  });

  it('corrects drift: a ruleset loosened by hand is put back; an environment opened to every branch is closed again', async () => {
    await github.run(ctxFor());
    const rs = fake.rulesets.find((r) => r.name === rulesetNames.clustersPush)!;
    rs.bypass_actors.push({ actor_id: 5, actor_type: 'RepositoryRole', bypass_mode: 'always' }); // admins
    rs.enforcement = 'evaluate';
    fake.environments.production!.deployment_branch_policy = null;
    fake.environments.production!.policies = [];
    fake.environments.production!.reviewers = [];
    expect(fake.push(actions, 'refs/heads/clusters').allowed).toBe(true);
    await github.run(ctxFor());
    expect(fake.count('PUT', new RegExp(`/rulesets/${rs.id}$`))).toBe(1);
    expect(rs.enforcement).toBe('active');
    expect(rs.bypass_actors).toEqual([{ actor_id: null, actor_type: 'DeployKey', bypass_mode: 'always' }]);
    expect(fake.push(actions, 'refs/heads/clusters').allowed).toBe(false);
    expect(fake.push(admin, 'refs/heads/clusters').allowed).toBe(false);
    expect(fake.environments.production!.policies.map((p) => p.name)).toEqual(['main']);
    expect(fake.environments.production!.reviewers).toHaveLength(1);
  });

  it('removes branch policies not in config (a feature branch could read the production key)', async () => {
    await github.run(ctxFor());
    fake.environments.production!.policies.push({ id: 999, name: 'feature/*', type: 'branch' });
    const ctx = ctxFor();
    await github.run(ctx);
    expect(fake.count('DELETE', /deployment-branch-policies\/999$/)).toBe(1);
    expect(ctx.out.text).toContain('branch policy feature/* removed (not in config)');
  });

  it('refuses the publisher key as a repository secret, and names the command when the environment lacks it', async () => {
    fake.repoSecrets.push('CLUSTERS_DEPLOY_KEY');
    let err = await github.run(ctxFor()).catch((e) => e);
    expect(err.message).toContain('CLUSTERS_DEPLOY_KEY is a repository secret: every workflow on every branch can read it');
    fake.repoSecrets.length = 0;
    fake.environments.production!.secrets = [];
    err = await github.run(ctxFor()).catch((e) => e);
    expect(err.message).toContain('the production environment has no secret CLUSTERS_DEPLOY_KEY');
    expect(err.message).toContain('gh secret set CLUSTERS_DEPLOY_KEY --env production --repo lms-platform/lms-gitops');
  });

  it('a rejected token fails with the permissions to grant, after one request', async () => {
    const err = await github.run(ctxFor({ GITHUB_ADMIN_TOKEN: 'nope' })).catch((e) => e);
    expect(err.message).toContain('GitHub rejected GITHUB_ADMIN_TOKEN');
    expect(err.message).toContain('Bad credentials');
    expect(err.message).toContain('Administration: read and write');
    expect(fake.requests).toHaveLength(1);
  });

  it('the stand-in refuses what GitHub documents as invalid (so the step\'s bodies are checked)', async () => {
    const bad = desiredRulesets(config)[0]!;
    const send = (body: unknown) => fetch(`${fake.url}/repos/lms-platform/lms-gitops/rulesets`, { method: 'POST', headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await send({ ...bad, bypass_actors: [{ actor_id: 3, actor_type: 'DeployKey', bypass_mode: 'always' }] })).status).toBe(422);
    expect((await send({ ...bad, bypass_actors: [{ actor_id: null, actor_type: 'DeployKey', bypass_mode: 'pull_request' }] })).status).toBe(422);
    expect((await send({ ...bad, rules: [{ type: 'pull_request', parameters: { required_approving_review_count: 1 } }] })).status).toBe(422);
    expect((await send({ ...bad, rules: [{ type: 'restrict_pushes' }] })).status).toBe(422);
    expect((await send(bad)).status).toBe(201);
  });

  it('the dry run names every call and sends nothing', () => {
    const ctx = ctxFor({}, true);
    const plan = github.plan(ctx).map(formatPlanItem).join('\n');
    expect(plan).toContain(`GitHub: PUT ${fake.url}/repos/lms-platform/lms-gitops/actions/permissions/workflow {"default_workflow_permissions":"read","can_approve_pull_request_reviews":false}`);
    expect(plan).toContain(`GitHub: POST ${fake.url}/repos/lms-platform/lms-gitops/rulesets {"name":"${rulesetNames.clustersPush}"`);
    expect(plan).toContain('"read_only":true');
    expect(fake.requests).toEqual([]);
  });

  it('the required check is the name of ci.yml\'s checks job, and main is the branch deploy.yml runs on', () => {
    const ci = parse(readFileSync(join(repoRoot, '.github/workflows/ci.yml'), 'utf8'));
    const deploy = parse(readFileSync(join(repoRoot, '.github/workflows/deploy.yml'), 'utf8'));
    expect(g.requiredChecks).toEqual([ci.jobs.checks.name]);
    expect(deploy.on.push.branches).toEqual([g.mainBranch]);
    expect(deploy.jobs.production.environment.name).toBe('production');
    expect(JSON.stringify(deploy.jobs.production)).toContain(`secrets.${g.publisherSecret}`);
    // The repository Flux pulls is the one whose rules this step sets.
    expect(config.cluster.bootstrap.flux.repositoryUrl).toBe(`ssh://git@github.com/${g.repository}.git`);
  });

  it('config refuses one key for both roles and a production environment nobody approves', () => {
    expect(() => testConfig({ cluster: { bootstrap: { github: { deployKeys: { publisher: g.deployKeys.flux } } } } })).toThrow(/is the same key as deployKeys\.flux/);
    expect(() => testConfig({ cluster: { bootstrap: { github: { environments: { production: { reviewers: [] } } } } } })).toThrow(/needs at least one reviewer/);
  });
});

describe('flux step: Flux\'s key stays read-only; the bootstrap push uses a temporary key', () => {
  it('the temporary key can push to clusters only while flux bootstrap runs, and is deleted after a failure too', async () => {
    await github.run(ctxFor());
    const { withTemporaryPushKey, temporaryKeyTitle } = await import('../steps/flux.ts');
    const { GitHubClient } = await import('../providers/github.ts');
    const ctx = ctxFor();
    const client = new GitHubClient(ctx, fake.token);
    const dir = mkdtempSync(join(tmpdir(), 'flux-key-'));
    try {
      let during: boolean | undefined;
      let pub = '';
      await withTemporaryPushKey(ctx, client, dir, async (keyFile) => {
        pub = readFileSync(`${keyFile}.pub`, 'utf8');
        during = fake.push({ kind: 'deploy-key', key: pub }, 'refs/heads/clusters').allowed;
      });
      expect(during).toBe(true);
      expect(fake.keys.some((k) => k.title === temporaryKeyTitle)).toBe(false);
      expect(fake.push({ kind: 'deploy-key', key: pub }, 'refs/heads/clusters').allowed).toBe(false);
      expect(readdirSync(dir)).not.toContain('bootstrap-push-key');
      // A failing bootstrap still removes it.
      const err = await withTemporaryPushKey(ctx, client, dir, async () => { throw new Error('flux bootstrap failed'); }).catch((e) => e);
      expect(err.message).toBe('flux bootstrap failed');
      expect(fake.keys.map((k) => k.title).sort()).toEqual([deployKeyTitles.publisher, deployKeyTitles.flux].sort());
      // One left behind by a killed run is removed before a new one is made.
      fake.keys.push({ id: 77, key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', title: temporaryKeyTitle, read_only: false, verified: true, created_at: '2026-01-01T00:00:00Z' });
      await withTemporaryPushKey(ctx, client, dir, async () => undefined);
      expect(fake.count('DELETE', /\/keys\/77$/)).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('FLUX_GIT_SSH_KEY_FILE must be the private half of github.deployKeys.flux', async () => {
    const { checkFluxKey } = await import('../steps/flux.ts');
    const dir = mkdtempSync(join(tmpdir(), 'flux-key-'));
    try {
      const key = join(dir, 'id');
      expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]).status).toBe(0);
      const pub = readFileSync(`${key}.pub`, 'utf8').trim();
      const ctx = (flux: string) => testContext({ config: testConfig({ cluster: { bootstrap: { github: { deployKeys: { flux } } } } }) });
      await expect(checkFluxKey(ctx(pub), key)).resolves.toBeUndefined();
      await expect(checkFluxKey(ctx(g.deployKeys.flux), key)).rejects.toThrow(/not the private half of github\.deployKeys\.flux/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the plan: temporary key in, bootstrap, read-only key into the cluster, temporary key out', async () => {
    const { flux } = await import('../steps/flux.ts');
    const plan = flux.plan(testContext({ dryRun: true, env: { LMS_HOST: '203.0.113.10' } })).map(formatPlanItem);
    const at = (re: RegExp) => plan.findIndex((l) => re.test(l));
    const order = [/POST .*\/keys .*"read_only":false/, /flux bootstrap git .*--private-key-file=<temporary key>/, /flux create secret git flux-system .*--private-key-file=\$FLUX_GIT_SSH_KEY_FILE/, /DELETE .*\/keys\/<temporary key id>/];
    const idx = order.map(at);
    expect(idx.every((i) => i >= 0), plan.join('\n')).toBe(true);
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
  });
});
