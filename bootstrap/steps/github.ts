/**
 * github: the repository's rules as code (cluster.bootstrap.github, charts-ts/config/sections/github.ts).
 *
 *   1. Actions' job token defaults to read and cannot approve pull requests.
 *   2. Environments: `production` (required reviewers, no self-review, `main` only) holds the
 *      publisher's private key; `contabo` (`main` only) the Contabo credentials. The publisher secret
 *      must exist in `production` and nowhere at repository level (where every workflow reads it).
 *   3. Deploy keys: Flux's key read-only, the publisher's key with write access, and no other key with
 *      write access (any would pass the `clusters` rule, whose bypass is "deploy keys"). A key whose
 *      access is wrong is deleted and added again (GitHub cannot change a deploy key's access).
 *   4. Rulesets: `clusters` can be created and updated only by a deploy key, and by nobody deleted or
 *      force-pushed; `main` changes only through reviewed pull requests with green checks.
 *
 * Every resource is read first and written only when it differs (idempotent); --dry-run prints the
 * calls. Private keys never pass through this step: the publisher's is set with `gh secret set`
 * (docs/runbooks/server-rebuild.md, "GitHub").
 */
import type { Config } from '../../charts-ts/config/schema.ts';
import { BootstrapError, type StepContext } from '../lib/context.ts';
import { requireCredentials, type CredentialSpec } from '../lib/credentials.ts';
import type { PlanItem } from '../lib/plan.ts';
import {
  GitHubClient, githubApiUrl, githubCalls, githubPlan, githubTokenScopes,
  type BranchPolicy, type DeployKey, type Environment, type EnvironmentRequest, type EnvironmentReviewer, type Repository, type Ruleset, type WorkflowPermissions,
} from '../providers/github.ts';
import type { Step } from './common.ts';

type GitHubConfig = Config['cluster']['bootstrap']['github'];

export const githubCredentials: readonly CredentialSpec[] = [
  { name: 'GITHUB_ADMIN_TOKEN', source: `${githubTokenScopes} (https://github.com/settings/personal-access-tokens)` },
];

export const workflowPermissions: WorkflowPermissions = { default_workflow_permissions: 'read', can_approve_pull_request_reviews: false };

/** Titles of the deploy keys this step owns (matched by key material, the title is informative). */
export const deployKeyTitles = { flux: 'flux (read-only)', publisher: 'clusters publisher (production environment)' } as const;

export const rulesetNames = {
  clustersPush: 'clusters: only the publisher deploy key',
  clustersHistory: 'clusters: no force-push, no deletion',
  main: 'main: reviewed pull requests',
} as const;

/** The rulesets, as the API takes them. */
export function desiredRulesets(config: Config): Ruleset[] {
  const g = config.cluster.bootstrap.github;
  const clusters = `refs/heads/${config.cluster.delivery.clustersBranch}`;
  return [
    {
      // Restrict creations/updates: only bypass actors pass, and the only bypass is deploy keys (with
      // write access: the publisher alone, checked below). The job token of any workflow is refused.
      name: rulesetNames.clustersPush,
      target: 'branch',
      enforcement: 'active',
      bypass_actors: [{ actor_id: null, actor_type: 'DeployKey', bypass_mode: 'always' }],
      conditions: { ref_name: { include: [clusters], exclude: [] } },
      rules: [{ type: 'creation' }, { type: 'update', parameters: { update_allows_fetch_and_merge: false } }],
    },
    {
      // No bypass at all: the publisher only ever fast-forwards (charts-ts/tools/publish.ts).
      name: rulesetNames.clustersHistory,
      target: 'branch',
      enforcement: 'active',
      bypass_actors: [],
      conditions: { ref_name: { include: [clusters], exclude: [] } },
      rules: [{ type: 'deletion' }, { type: 'non_fast_forward' }],
    },
    {
      name: rulesetNames.main,
      target: 'branch',
      enforcement: 'active',
      bypass_actors: [],
      conditions: { ref_name: { include: [`refs/heads/${g.mainBranch}`], exclude: [] } },
      rules: [
        { type: 'deletion' },
        { type: 'non_fast_forward' },
        {
          type: 'pull_request',
          parameters: {
            required_approving_review_count: g.requiredApprovals,
            dismiss_stale_reviews_on_push: true,
            require_code_owner_review: false,
            require_last_push_approval: true,
            required_review_thread_resolution: true,
          },
        },
        {
          type: 'required_status_checks',
          parameters: { strict_required_status_checks_policy: true, required_status_checks: g.requiredChecks.map((context) => ({ context })) },
        },
      ],
    },
  ];
}

/** The parts of a ruleset this step sets, in a stable order (the API adds ids, links, timestamps). */
export function normalizeRuleset(r: Ruleset): unknown {
  const sortBy = <T>(xs: T[], key: (x: T) => string) => [...xs].sort((a, b) => key(a).localeCompare(key(b)));
  const params = (p: Record<string, unknown> | undefined) => {
    if (!p) return undefined;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(p).sort()) {
      const v = p[k];
      out[k] = k === 'required_status_checks' ? sortBy((v as { context: string }[]).map((c) => ({ context: c.context })), (c) => c.context) : v;
    }
    return out;
  };
  return {
    name: r.name,
    target: r.target,
    enforcement: r.enforcement,
    bypass_actors: sortBy((r.bypass_actors ?? []).map((b) => ({ actor_id: b.actor_id ?? null, actor_type: b.actor_type, bypass_mode: b.bypass_mode ?? 'always' })), (b) => `${b.actor_type}/${b.actor_id}`),
    conditions: { ref_name: { include: [...(r.conditions?.ref_name?.include ?? [])].sort(), exclude: [...(r.conditions?.ref_name?.exclude ?? [])].sort() } },
    rules: sortBy((r.rules ?? []).map((x) => ({ type: x.type, parameters: params(x.parameters) })), (x) => x.type),
  };
}
export const sameRuleset = (a: Ruleset, b: Ruleset): boolean => JSON.stringify(normalizeRuleset(a)) === JSON.stringify(normalizeRuleset(b));

/** The key type and base64 body: what GitHub compares (the comment is not part of the key). */
export const keyMaterial = (k: string): string => k.trim().split(/\s+/).slice(0, 2).join(' ');

const environmentRequest = (e: GitHubConfig['environments']['production'], reviewers: EnvironmentReviewer[]): EnvironmentRequest => ({
  wait_timer: 0,
  prevent_self_review: e.preventSelfReview,
  reviewers,
  deployment_branch_policy: { protected_branches: false, custom_branch_policies: true },
});

/** Whether an environment as GitHub reports it has the protection this step sets. */
export function environmentMatches(have: Environment, want: EnvironmentRequest): boolean {
  const rules = have.protection_rules ?? [];
  const reviewersRule = rules.find((r) => r.type === 'required_reviewers');
  const haveReviewers = (reviewersRule?.reviewers ?? []).map((r) => `${r.type}:${r.reviewer.id}`).sort();
  const wantReviewers = (want.reviewers ?? []).map((r) => `${r.type}:${r.id}`).sort();
  if (JSON.stringify(haveReviewers) !== JSON.stringify(wantReviewers)) return false;
  if (wantReviewers.length && Boolean(reviewersRule?.prevent_self_review) !== Boolean(want.prevent_self_review)) return false;
  const timer = rules.find((r) => r.type === 'wait_timer')?.wait_timer ?? 0;
  if (timer !== (want.wait_timer ?? 0)) return false;
  return JSON.stringify(have.deployment_branch_policy ?? null) === JSON.stringify(want.deployment_branch_policy);
}

const ownerOf = (repository: string): string => repository.split('/')[0]!;

async function reviewerIds(client: GitHubClient, g: GitHubConfig, env: GitHubConfig['environments']['production']): Promise<EnvironmentReviewer[]> {
  const out: EnvironmentReviewer[] = [];
  for (const r of env.reviewers) {
    if ('team' in r) {
      const t = await client.must<{ id: number }>(githubCalls.getTeam(ownerOf(g.repository), r.team), `team ${ownerOf(g.repository)}/${r.team}`, 'create the team, or fix environments.*.reviewers (teams exist only in organizations)');
      out.push({ type: 'Team', id: t.id });
    } else {
      const u = await client.must<{ id: number }>(githubCalls.getUser(r.user), `user ${r.user}`, 'fix environments.*.reviewers');
      out.push({ type: 'User', id: u.id });
    }
  }
  return out;
}

export const github: Step = {
  name: 'github',
  summary: 'branch rulesets (clusters: publisher key only; main: reviewed PRs), environments, deploy keys (GitHub API)',

  plan(ctx) {
    const api = githubApiUrl(ctx.env);
    const g = ctx.config.cluster.bootstrap.github;
    const r = g.repository;
    const items: PlanItem[] = [
      githubPlan(api, githubCalls.getRepository(r)),
      githubPlan(api, githubCalls.getWorkflowPermissions(r)),
      githubPlan(api, githubCalls.setWorkflowPermissions(r, workflowPermissions), 'job token may write or approve pull requests'),
    ];
    for (const [name, env] of Object.entries(g.environments)) {
      for (const rv of env.reviewers) items.push(githubPlan(api, 'team' in rv ? githubCalls.getTeam(ownerOf(r), rv.team) : githubCalls.getUser(rv.user), `reviewer of ${name}`));
      items.push(githubPlan(api, githubCalls.getEnvironment(r, name)));
      items.push(githubPlan(api, githubCalls.putEnvironment(r, name, environmentRequest(env, env.reviewers.map((rv) => ({ type: 'team' in rv ? 'Team' : 'User', id: 0 })))), 'environment missing or its protection differs (reviewer ids looked up above)'));
      items.push(githubPlan(api, githubCalls.listBranchPolicies(r, name)));
      for (const b of env.branches) items.push(githubPlan(api, githubCalls.createBranchPolicy(r, name, b), `branch policy ${b} missing`));
      items.push({ kind: 'note', text: `DELETE .../environments/${name}/deployment-branch-policies/<id> for any other branch policy` });
    }
    items.push(githubPlan(api, githubCalls.getEnvironmentSecret(r, 'production', g.publisherSecret)));
    items.push(githubPlan(api, githubCalls.getRepositorySecret(r, g.publisherSecret), 'must be absent: a repository secret is readable by every workflow'));
    items.push(githubPlan(api, githubCalls.listDeployKeys(r)));
    items.push(githubPlan(api, githubCalls.createDeployKey(r, { title: deployKeyTitles.flux, key: keyMaterial(g.deployKeys.flux), read_only: true }), 'missing; a copy with write access is deleted first'));
    items.push(githubPlan(api, githubCalls.createDeployKey(r, { title: deployKeyTitles.publisher, key: keyMaterial(g.deployKeys.publisher), read_only: false }), 'missing; a read-only copy is deleted first'));
    items.push({ kind: 'note', text: 'any other deploy key with write access stops the step before it changes anything (it would pass the clusters rule)' });
    items.push(githubPlan(api, githubCalls.listRulesets(r)));
    for (const rs of desiredRulesets(ctx.config)) {
      items.push(githubPlan(api, githubCalls.createRuleset(r, rs), `no repository ruleset named "${rs.name}"; PUT .../rulesets/<id> when it differs`));
    }
    return items;
  },

  async run(ctx) {
    const g = ctx.config.cluster.bootstrap.github;
    const r = g.repository;
    const { GITHUB_ADMIN_TOKEN: token } = requireCredentials(ctx, 'github', githubCredentials);
    const client = new GitHubClient(ctx, token!);

    const repository = await client.must<Repository>(githubCalls.getRepository(r), `repository ${r}`, 'fix cluster.bootstrap.github.repository, or give the token access to it');
    if (repository.default_branch !== g.mainBranch) {
      throw new BootstrapError(`${r}'s default branch is ${repository.default_branch}, but github.mainBranch is ${g.mainBranch}`, 'set github.mainBranch to the default branch (deploy.yml runs on pushes to it)');
    }

    // Deploy keys are checked before anything is written: an unknown key with write access would pass
    // the clusters rule, and the operator has to decide about it.
    const want = [
      { role: 'flux' as const, key: keyMaterial(g.deployKeys.flux), readOnly: true },
      { role: 'publisher' as const, key: keyMaterial(g.deployKeys.publisher), readOnly: false },
    ];
    const keys = (await client.call<DeployKey[]>(githubCalls.listDeployKeys(r))) ?? [];
    const strangers = keys.filter((k) => !k.read_only && !want.some((w) => w.key === keyMaterial(k.key)));
    if (strangers.length) {
      throw new BootstrapError(
        `${strangers.length} deploy key(s) with write access besides the publisher: ${strangers.map((k) => `"${k.title}" (id ${k.id})`).join(', ')}; each could push to the ${ctx.config.cluster.delivery.clustersBranch} branch`,
        `delete them (Settings -> Deploy keys, or DELETE /repos/${r}/keys/<id>), or add them read-only; then run the step again`,
      );
    }
    for (const o of keys.filter((k) => k.read_only && !want.some((w) => w.key === keyMaterial(k.key)))) ctx.out.warn(`deploy key "${o.title}" (id ${o.id}) is not in config; it is read-only, so it is left alone`);

    // 1. The job token.
    const perms = await client.call<WorkflowPermissions>(githubCalls.getWorkflowPermissions(r));
    if (perms?.default_workflow_permissions === workflowPermissions.default_workflow_permissions && perms.can_approve_pull_request_reviews === workflowPermissions.can_approve_pull_request_reviews) {
      ctx.out.info('✓ Actions job token already read-only by default, cannot approve pull requests');
    } else {
      await client.call(githubCalls.setWorkflowPermissions(r, workflowPermissions));
      ctx.out.info(`✓ Actions job token: default ${perms?.default_workflow_permissions ?? '?'} -> read, approving pull requests off`);
    }

    // 2. Environments and their branch policies.
    for (const [name, env] of Object.entries(g.environments)) {
      const body = environmentRequest(env, await reviewerIds(client, g, env));
      const have = await client.call<Environment>(githubCalls.getEnvironment(r, name));
      if (have && environmentMatches(have, body)) {
        ctx.out.info(`✓ environment ${name} already protected (${env.reviewers.length} reviewer(s), custom branch policies)`);
      } else {
        await client.call(githubCalls.putEnvironment(r, name, body));
        ctx.out.info(`✓ environment ${name} ${have ? 'updated' : 'created'}: ${env.reviewers.length} reviewer(s)${env.preventSelfReview ? ', no self-review' : ''}, branches ${env.branches.join(', ')}`);
      }
      const policies = (await client.call<{ branch_policies: BranchPolicy[] }>(githubCalls.listBranchPolicies(r, name)))?.branch_policies ?? [];
      for (const b of env.branches) {
        if (policies.some((p) => p.name === b && (p.type ?? 'branch') === 'branch')) continue;
        await client.call(githubCalls.createBranchPolicy(r, name, b));
        ctx.out.info(`✓ environment ${name}: branch policy ${b} added`);
      }
      for (const p of policies.filter((p) => !env.branches.includes(p.name) || (p.type ?? 'branch') !== 'branch')) {
        await client.call(githubCalls.deleteBranchPolicy(r, name, p.id));
        ctx.out.info(`✓ environment ${name}: ${p.type ?? 'branch'} policy ${p.name} removed (not in config)`);
      }
    }

    // 3. Deploy keys.
    for (const w of want) {
      const title = deployKeyTitles[w.role];
      const found = keys.filter((k) => keyMaterial(k.key) === w.key);
      const right = found.find((k) => k.read_only === w.readOnly);
      for (const k of found.filter((k) => k !== right)) {
        await client.call(githubCalls.deleteDeployKey(r, k.id));
        ctx.out.info(`✓ deploy key "${k.title}" (id ${k.id}) deleted: it had ${k.read_only ? 'read-only' : 'write'} access, the ${w.role} key needs ${w.readOnly ? 'read-only' : 'write'} access`);
      }
      if (right) {
        ctx.out.info(`✓ deploy key ${w.role} already ${w.readOnly ? 'read-only' : 'with write access'} ("${right.title}")`);
      } else {
        await client.call(githubCalls.createDeployKey(r, { title, key: w.key, read_only: w.readOnly }));
        ctx.out.info(`✓ deploy key ${w.role} added ${w.readOnly ? 'read-only' : 'with write access'} ("${title}")`);
      }
    }

    // 4. Rulesets.
    const list = ((await client.call<Ruleset[]>(githubCalls.listRulesets(r))) ?? []).filter((x) => (x.source_type ?? 'Repository') === 'Repository');
    for (const rs of desiredRulesets(ctx.config)) {
      const same = list.filter((x) => x.name === rs.name);
      if (same.length > 1) throw new BootstrapError(`${same.length} rulesets are named "${rs.name}"`, 'delete the extra ones (Settings -> Rules -> Rulesets); the step finds its rulesets by name');
      const cur = same[0];
      if (!cur) {
        await client.call(githubCalls.createRuleset(r, rs));
        ctx.out.info(`✓ ruleset "${rs.name}" created`);
        continue;
      }
      const full = await client.must<Ruleset>(githubCalls.getRuleset(r, cur.id!), `ruleset ${cur.id}`, 'run the step again');
      if (sameRuleset(full, rs)) {
        ctx.out.info(`✓ ruleset "${rs.name}" already in place`);
      } else {
        await client.call(githubCalls.updateRuleset(r, cur.id!, rs));
        ctx.out.info(`✓ ruleset "${rs.name}" updated`);
      }
    }

    // 5. The publisher's private key: in the production environment, and only there. Checked last, so
    //    a first run sets up everything else before asking for it.
    const secret = g.publisherSecret;
    if (await client.call(githubCalls.getRepositorySecret(r, secret))) {
      throw new BootstrapError(`${secret} is a repository secret: every workflow on every branch can read it`, `delete it (gh secret delete ${secret} --repo ${r}) and keep only the production environment's copy`);
    }
    if (!(await client.call(githubCalls.getEnvironmentSecret(r, 'production', secret)))) {
      throw new BootstrapError(
        `the production environment has no secret ${secret} (the publisher's private key; deploy.yml pushes with it)`,
        `gh secret set ${secret} --env production --repo ${r} < <private half of github.deployKeys.publisher>, then delete the local copy and run the step again`,
      );
    }
    ctx.out.info(`✓ ${secret} is a secret of the production environment only`);
  },
};

/** What a step context needs to talk to GitHub (the flux step uses it for the temporary key). */
export const githubClient = (ctx: StepContext, step: string): GitHubClient => {
  const { GITHUB_ADMIN_TOKEN: token } = requireCredentials(ctx, step, githubCredentials);
  return new GitHubClient(ctx, token!);
};
