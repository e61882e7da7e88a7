/**
 * A stand-in for the GitHub REST API (https://docs.github.com/rest, version 2022-11-28) for the
 * github step: bearer token; errors as {message, documentation_url, status[, errors]}; the
 * repository, Actions workflow permissions, environments (PUT creates or updates; reviewers and the
 * branch policy come back as protection_rules), deployment branch policies, environment and
 * repository secrets (metadata only), deploy keys (POST 201, DELETE 204, no update) and repository
 * rulesets (list without rules, GET one with rules, POST 201, PUT 200), with the validations the
 * documentation states (bypass actor types and modes, rule types and their required parameters,
 * both branch-policy flags true is 422, at most 6 reviewers, a key in use is 422).
 *
 * `push()` evaluates a ref update the way GitHub applies rulesets to it: every active ruleset whose
 * ref_name conditions match, unless the pusher is one of its bypass actors; a read-only deploy key
 * cannot push at all. It lets the tests check what the rules mean, not only what was sent.
 */
import { FakeApi, type RecordedRequest, type Reply } from './server.ts';

const docs = 'https://docs.github.com/rest';
const error = (status: number, message: string, errors?: unknown[]): Reply => ({ status, body: { message, documentation_url: docs, status: String(status), ...(errors ? { errors } : {}) } });
const ok = (body: unknown, status = 200): Reply => ({ status, body });
const noContent: Reply = { status: 204 };

const bypassTypes = ['Integration', 'OrganizationAdmin', 'RepositoryRole', 'Team', 'DeployKey'];
/** Rule types of branch rulesets and the parameters each requires (docs: "Repository Rule"). */
const ruleParams: Record<string, string[] | null> = {
  creation: null, update: [], deletion: null, required_linear_history: null, required_signatures: null, non_fast_forward: null,
  required_deployments: ['required_deployment_environments'],
  pull_request: ['dismiss_stale_reviews_on_push', 'require_code_owner_review', 'require_last_push_approval', 'required_approving_review_count', 'required_review_thread_resolution'],
  required_status_checks: ['required_status_checks', 'strict_required_status_checks_policy'],
  merge_queue: ['check_response_timeout_minutes', 'grouping_strategy', 'max_entries_to_build', 'max_entries_to_merge', 'merge_method', 'min_entries_to_merge', 'min_entries_to_merge_wait_minutes'],
};

/** A bypass actor of a ruleset, as sent (checked by validateRuleset) and stored. */
interface BypassActor { readonly actor_id?: number | null; readonly actor_type: string; readonly bypass_mode?: string }
/** A rule of a ruleset: its type and parameters (which depend on the type). */
interface RulesetRuleBody { readonly type: string; readonly parameters?: { readonly [name: string]: unknown } }
interface RefNameCondition { readonly include: string[]; readonly exclude: string[] }
/** A ruleset as a POST or PUT sends it: the fields checked and stored. */
interface RulesetBody {
  readonly name?: string;
  readonly target?: string;
  readonly enforcement: string;
  readonly bypass_actors?: BypassActor[];
  readonly conditions?: { readonly ref_name?: RefNameCondition };
  readonly rules?: RulesetRuleBody[];
}
/** A stored ruleset. */
export interface Ruleset {
  id: number; name: string; target: string; enforcement: string; bypass_actors: BypassActor[];
  conditions: { ref_name?: RefNameCondition }; rules: RulesetRuleBody[];
}

export type Pusher = { kind: 'deploy-key'; key: string } | { kind: 'github-actions' } | { kind: 'user'; login: string; admin?: boolean };
export interface PushResult { allowed: boolean; violations: string[] }

export class FakeGitHub extends FakeApi {
  readonly token = 'ghp-admin-token';
  readonly repo = { id: 4242, name: 'lms-gitops', full_name: 'lms-platform/lms-gitops', private: true, default_branch: 'main', owner: { login: 'lms-platform', id: 99, type: 'Organization' } };
  readonly users: Record<string, number> = { alice: 1001, bob: 1002 };
  readonly teams: Record<string, number> = { platform: 501 };
  workflowPermissions = { default_workflow_permissions: 'write', can_approve_pull_request_reviews: true };
  readonly environments: Record<string, { id: number; name: string; wait_timer: number; prevent_self_review: boolean; reviewers: { type: string; id: number }[]; deployment_branch_policy: { protected_branches: boolean; custom_branch_policies: boolean } | null; policies: { id: number; name: string; type: string }[]; secrets: string[] }> = {};
  readonly repoSecrets: string[] = [];
  readonly keys: { id: number; key: string; title: string; read_only: boolean; verified: boolean; created_at: string }[] = [];
  readonly rulesets: Ruleset[] = [];
  private seq = 100;

  private get base(): string { return `/repos/${this.repo.full_name}`; }

  protected handle(r: RecordedRequest): Reply {
    if (String(r.headers.authorization) !== `Bearer ${this.token}`) return error(401, 'Bad credentials');
    if (r.headers['x-github-api-version'] && r.headers['x-github-api-version'] !== '2022-11-28') return error(400, `Invalid API version ${String(r.headers['x-github-api-version'])}`);
    const m = r.method;
    let a: RegExpExecArray | null;
    if ((a = /^\/users\/([^/]+)$/.exec(r.path)) && m === 'GET') {
      const id = this.users[a[1]!];
      return id ? ok({ login: a[1], id, type: 'User' }) : error(404, 'Not Found');
    }
    if ((a = /^\/orgs\/([^/]+)\/teams\/([^/]+)$/.exec(r.path)) && m === 'GET') {
      const id = a[1] === this.repo.owner.login ? this.teams[a[2]!] : undefined;
      return id ? ok({ id, slug: a[2], name: a[2], privacy: 'closed' }) : error(404, 'Not Found');
    }
    if (!r.path.startsWith(this.base)) return error(404, 'Not Found');
    const p = r.path.slice(this.base.length);
    if (p === '' && m === 'GET') return ok(this.repo);
    if (p === '/actions/permissions/workflow') {
      if (m === 'GET') return ok(this.workflowPermissions);
      if (m === 'PUT') {
        const b = (r.json ?? {}) as { default_workflow_permissions?: string; can_approve_pull_request_reviews?: unknown };
        if (b.default_workflow_permissions !== undefined && !['read', 'write'].includes(b.default_workflow_permissions)) return error(422, 'Invalid request.', [{ message: 'default_workflow_permissions must be read or write' }]);
        if (b.can_approve_pull_request_reviews !== undefined && typeof b.can_approve_pull_request_reviews !== 'boolean') return error(422, 'Invalid request.');
        Object.assign(this.workflowPermissions, b);
        return noContent;
      }
    }
    if ((a = /^\/actions\/secrets\/([^/]+)$/.exec(p)) && m === 'GET') {
      return this.repoSecrets.includes(a[1]!) ? ok({ name: a[1], created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' }) : error(404, 'Not Found');
    }
    if ((a = /^\/environments\/([^/]+)(\/.*)?$/.exec(p))) return this.environment(r, decodeURIComponent(a[1]!), a[2] ?? '');
    if (p === '/keys' || p.startsWith('/keys/')) return this.deployKeys(r, p.slice('/keys'.length));
    if (p === '/rulesets' || p.startsWith('/rulesets/')) return this.ruleset(r, p.slice('/rulesets'.length));
    return error(404, 'Not Found');
  }

  private envView(e: FakeGitHub['environments'][string]) {
    const rules: Record<string, unknown>[] = [];
    if (e.reviewers.length) {
      rules.push({
        id: e.id * 10 + 1, node_id: 'GA_r', type: 'required_reviewers', prevent_self_review: e.prevent_self_review,
        reviewers: e.reviewers.map((x) => ({ type: x.type, reviewer: x.type === 'Team' ? { id: x.id, slug: Object.keys(this.teams).find((k) => this.teams[k] === x.id) } : { id: x.id, login: Object.keys(this.users).find((k) => this.users[k] === x.id) } })),
      });
    }
    if (e.wait_timer) rules.push({ id: e.id * 10 + 2, node_id: 'GA_w', type: 'wait_timer', wait_timer: e.wait_timer });
    if (e.deployment_branch_policy) rules.push({ id: e.id * 10 + 3, node_id: 'GA_b', type: 'branch_policy' });
    return {
      id: e.id, node_id: `EN_${e.id}`, name: e.name, url: `https://api.github.com${this.base}/environments/${e.name}`, html_url: `https://github.com/${this.repo.full_name}/deployments/activity_log?environments_filter=${e.name}`,
      created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', protection_rules: rules, deployment_branch_policy: e.deployment_branch_policy,
    };
  }

  private environment(r: RecordedRequest, name: string, rest: string): Reply {
    const e = this.environments[name];
    if (rest === '') {
      if (r.method === 'GET') return e ? ok(this.envView(e)) : error(404, 'Not Found');
      if (r.method === 'PUT') {
        const b = (r.json ?? {}) as {
          deployment_branch_policy?: { protected_branches: unknown; custom_branch_policies: unknown } | null;
          reviewers?: { type: string; id: number }[];
          wait_timer?: number;
          prevent_self_review?: boolean;
        };
        const dbp = b.deployment_branch_policy;
        if (dbp && dbp.protected_branches && dbp.custom_branch_policies) return error(422, 'Validation Failed', [{ message: 'Only one of protected_branches and custom_branch_policies can be true' }]);
        if (dbp && (typeof dbp.protected_branches !== 'boolean' || typeof dbp.custom_branch_policies !== 'boolean')) return error(422, 'Validation Failed', [{ message: 'deployment_branch_policy needs protected_branches and custom_branch_policies' }]);
        const reviewers = b.reviewers ?? [];
        if (reviewers.length > 6) return error(422, 'Validation Failed', [{ message: 'reviewers: at most 6' }]);
        for (const x of reviewers) {
          if (!['User', 'Team'].includes(x.type) || typeof x.id !== 'number') return error(422, 'Validation Failed', [{ message: 'reviewers: type must be User or Team, id a number' }]);
          if (!(x.type === 'Team' ? Object.values(this.teams) : Object.values(this.users)).includes(x.id)) return error(422, 'Validation Failed', [{ message: `reviewer ${x.type} ${x.id} not found` }]);
        }
        if (b.wait_timer !== undefined && (b.wait_timer < 0 || b.wait_timer > 43200)) return error(422, 'Validation Failed', [{ message: 'wait_timer must be 0..43200' }]);
        const next = e ?? { id: this.seq++, name, wait_timer: 0, prevent_self_review: false, reviewers: [], deployment_branch_policy: null, policies: [], secrets: [] };
        Object.assign(next, {
          wait_timer: b.wait_timer ?? next.wait_timer,
          prevent_self_review: b.prevent_self_review ?? next.prevent_self_review,
          reviewers: b.reviewers === undefined ? next.reviewers : reviewers,
          deployment_branch_policy: dbp === undefined ? next.deployment_branch_policy : dbp,
        });
        // Custom policies go away when the environment stops using them.
        if (!next.deployment_branch_policy?.custom_branch_policies) next.policies = [];
        this.environments[name] = next;
        return ok(this.envView(next));
      }
    }
    if (!e) return error(404, 'Not Found');
    let a: RegExpExecArray | null;
    if (rest === '/deployment-branch-policies') {
      if (r.method === 'GET') return ok({ total_count: e.policies.length, branch_policies: e.policies.map((x) => ({ ...x, node_id: `MDE2_${x.id}` })) });
      if (r.method === 'POST') {
        if (!e.deployment_branch_policy?.custom_branch_policies) return error(404, 'Not Found');
        const b = (r.json ?? {}) as { name?: unknown; type?: string };
        if (typeof b.name !== 'string' || !b.name) return error(422, 'Validation Failed', [{ message: 'name is required' }]);
        if (b.type !== undefined && !['branch', 'tag'].includes(b.type)) return error(422, 'Validation Failed', [{ message: 'type must be branch or tag' }]);
        if (e.policies.some((x) => x.name === b.name && x.type === (b.type ?? 'branch'))) return error(303, 'policy already exists');
        const policy = { id: this.seq++, name: b.name, type: b.type ?? 'branch' };
        e.policies.push(policy);
        return ok({ ...policy, node_id: `MDE2_${policy.id}` });
      }
    }
    if ((a = /^\/deployment-branch-policies\/(\d+)$/.exec(rest)) && r.method === 'DELETE') {
      const at = e.policies.findIndex((x) => x.id === Number(a![1]));
      if (at < 0) return error(404, 'Not Found');
      e.policies.splice(at, 1);
      return noContent;
    }
    if ((a = /^\/secrets\/([^/]+)$/.exec(rest)) && r.method === 'GET') {
      return e.secrets.includes(a[1]!) ? ok({ name: a[1], created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' }) : error(404, 'Not Found');
    }
    return error(404, 'Not Found');
  }

  private deployKeys(r: RecordedRequest, rest: string): Reply {
    if (rest === '' && r.method === 'GET') return ok(this.keys);
    if (rest === '' && r.method === 'POST') {
      const b = (r.json ?? {}) as { key?: unknown; title?: string; read_only?: unknown };
      if (typeof b.key !== 'string' || !/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/]+=*$/.test(b.key.trim().split(/\s+/).slice(0, 2).join(' '))) return error(422, 'Validation Failed', [{ resource: 'PublicKey', code: 'custom', field: 'key', message: 'key is invalid. You must supply a key in OpenSSH public key format' }]);
      const material = b.key.trim().split(/\s+/).slice(0, 2).join(' ');
      if (this.keys.some((k) => k.key === material)) return error(422, 'Validation Failed', [{ resource: 'PublicKey', code: 'custom', field: 'key', message: 'key is already in use' }]);
      const key = { id: this.seq++, key: material, title: b.title ?? '', read_only: b.read_only === true, verified: true, created_at: '2026-01-01T00:00:00Z' };
      this.keys.push(key);
      return ok({ ...key, url: `https://api.github.com${this.base}/keys/${key.id}`, added_by: 'admin', last_used: null, enabled: true }, 201);
    }
    const a = /^\/(\d+)$/.exec(rest);
    if (a && r.method === 'DELETE') {
      const at = this.keys.findIndex((k) => k.id === Number(a[1]));
      if (at < 0) return error(404, 'Not Found');
      this.keys.splice(at, 1);
      return noContent;
    }
    return error(404, 'Not Found');
  }

  private validateRuleset(b: RulesetBody): Reply | undefined {
    const invalid = (message: string) => error(422, 'Invalid request.', [message]);
    if (typeof b.name !== 'string' || !b.name) return invalid('name is required');
    if (!['disabled', 'active', 'evaluate'].includes(b.enforcement)) return invalid('enforcement must be one of disabled, active, evaluate');
    if (b.target !== undefined && !['branch', 'tag', 'push'].includes(b.target)) return invalid('target must be one of branch, tag, push');
    for (const x of b.bypass_actors ?? []) {
      if (!bypassTypes.includes(x.actor_type)) return invalid(`Invalid actor_type ${x.actor_type}`);
      if (x.bypass_mode !== undefined && !['always', 'pull_request'].includes(x.bypass_mode)) return invalid(`Invalid bypass_mode ${x.bypass_mode}`);
      if (x.actor_type === 'DeployKey' && x.actor_id !== null && x.actor_id !== undefined) return invalid('actor_id must be null for DeployKey');
      if (x.actor_type === 'DeployKey' && x.bypass_mode === 'pull_request') return invalid('pull_request bypass mode is not applicable for DeployKey');
      if (['Integration', 'RepositoryRole', 'Team'].includes(x.actor_type) && typeof x.actor_id !== 'number') return invalid(`actor_id is required for ${x.actor_type}`);
      if (x.actor_type === 'OrganizationAdmin' && this.repo.owner.type !== 'Organization') return invalid('OrganizationAdmin is not applicable for personal repositories');
    }
    const rn = b.conditions?.ref_name;
    if (rn && (!Array.isArray(rn.include) || !Array.isArray(rn.exclude))) return invalid('conditions.ref_name needs include and exclude arrays');
    for (const rule of b.rules ?? []) {
      if (!(rule.type in ruleParams)) return invalid(`Invalid rule type ${rule.type}`);
      const need = ruleParams[rule.type];
      if (need === null && rule.parameters !== undefined) return invalid(`${rule.type} takes no parameters`);
      for (const k of need ?? []) if (rule.parameters?.[k] === undefined) return invalid(`${rule.type}: parameters.${k} is required`);
      if (rule.type === 'required_status_checks' && !(rule.parameters!.required_status_checks as { context?: unknown }[]).every((c) => typeof c.context === 'string')) return invalid('required_status_checks: each check needs a context');
    }
    const types = (b.rules ?? []).map((x) => x.type);
    if (new Set(types).size !== types.length) return invalid('a rule type may appear once per ruleset');
    return undefined;
  }

  private rulesetView(x: Ruleset, full: boolean) {
    const common = { id: x.id, name: x.name, target: x.target, source_type: 'Repository', source: this.repo.full_name, enforcement: x.enforcement, node_id: `RRS_${x.id}`, _links: { self: { href: `https://api.github.com${this.base}/rulesets/${x.id}` } }, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' };
    return full ? { ...common, bypass_actors: x.bypass_actors, conditions: x.conditions, rules: x.rules, current_user_can_bypass: 'always' } : common;
  }

  private ruleset(r: RecordedRequest, rest: string): Reply {
    if (rest === '' && r.method === 'GET') return ok(this.rulesets.map((x) => this.rulesetView(x, false)));
    if (rest === '' && r.method === 'POST') {
      const b = (r.json ?? {}) as RulesetBody;
      const bad = this.validateRuleset(b);
      if (bad) return bad;
      if (this.rulesets.some((x) => x.name === b.name)) return error(422, 'Validation Failed', ['Name must be unique']);
      const x = { id: this.seq++, name: b.name!, target: b.target ?? 'branch', enforcement: b.enforcement, bypass_actors: (b.bypass_actors ?? []).map((y) => ({ actor_id: y.actor_id ?? null, actor_type: y.actor_type, bypass_mode: y.bypass_mode ?? 'always' })), conditions: b.conditions ?? { ref_name: { include: [], exclude: [] } }, rules: b.rules ?? [] };
      this.rulesets.push(x);
      return ok(this.rulesetView(x, true), 201);
    }
    const a = /^\/(\d+)$/.exec(rest);
    const x = a ? this.rulesets.find((y) => y.id === Number(a[1])) : undefined;
    if (!x) return error(404, 'Not Found');
    if (r.method === 'GET') return ok(this.rulesetView(x, true));
    if (r.method === 'PUT') {
      const b: RulesetBody = { ...this.rulesetView(x, true), ...((r.json ?? {}) as RulesetBody) };
      const bad = this.validateRuleset(b);
      if (bad) return bad;
      Object.assign(x, { name: b.name, target: b.target, enforcement: b.enforcement, bypass_actors: b.bypass_actors!.map((y) => ({ actor_id: y.actor_id ?? null, actor_type: y.actor_type, bypass_mode: y.bypass_mode ?? 'always' })), conditions: b.conditions, rules: b.rules });
      return ok(this.rulesetView(x, true));
    }
    if (r.method === 'DELETE') {
      this.rulesets.splice(this.rulesets.indexOf(x), 1);
      return noContent;
    }
    return error(404, 'Not Found');
  }

  /** Whether a push updating `ref` is accepted, and which rules refuse it. */
  push(who: Pusher, ref: string, change: { create?: boolean; delete?: boolean; force?: boolean } = {}): PushResult {
    if (who.kind === 'deploy-key') {
      const key = this.keys.find((k) => k.key === who.key.trim().split(/\s+/).slice(0, 2).join(' '));
      if (!key) return { allowed: false, violations: ['Permission denied (publickey)'] };
      if (key.read_only) return { allowed: false, violations: ['The key you are authenticating with has been marked as read only.'] };
    }
    const matches = (pattern: string) => {
      if (pattern === '~ALL') return true;
      if (pattern === '~DEFAULT_BRANCH') return ref === `refs/heads/${this.repo.default_branch}`;
      // fnmatch as rulesets use it: ** crosses "/", * does not.
      const re = new RegExp(`^${pattern.split('**').map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')).join('.*')}$`);
      return re.test(ref);
    };
    const violations: string[] = [];
    for (const rs of this.rulesets) {
      if (rs.enforcement !== 'active' || rs.target !== 'branch') continue;
      const rn = rs.conditions?.ref_name ?? { include: [], exclude: [] };
      if (!rn.include.some(matches) || rn.exclude.some(matches)) continue;
      const bypass = rs.bypass_actors.some((b) => (b.actor_type === 'DeployKey' && who.kind === 'deploy-key')
        || (b.actor_type === 'RepositoryRole' && who.kind === 'user' && who.admin && b.actor_id === 5));
      if (bypass) continue;
      for (const rule of rs.rules) {
        const t = rule.type;
        if ((t === 'creation' && change.create) || (t === 'deletion' && change.delete) || (t === 'non_fast_forward' && change.force)
          || (t === 'update' && !change.create && !change.delete) || (t === 'pull_request' && !change.delete) || (t === 'required_status_checks' && !change.delete)) {
          violations.push(`${rs.name}: ${t}`);
        }
      }
    }
    return { allowed: violations.length === 0, violations };
  }

  env(): Record<string, string> {
    return { GITHUB_API_URL: this.url, GITHUB_ADMIN_TOKEN: this.token };
  }
}
