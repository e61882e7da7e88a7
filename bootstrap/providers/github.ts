/**
 * GitHub REST API client (https://docs.github.com/rest, API version 2022-11-28): bearer token,
 * JSON bodies, errors as {message, errors?, documentation_url, status}. Only what the repository's
 * rules need: the repository, Actions' default token permissions, environments and their branch
 * policies and secrets (existence only), deploy keys, repository rulesets, and the user/team ids
 * that environment reviewers are given by.
 */
import { BootstrapError, type StepContext } from '../lib/context.ts';
import { HttpClient, type HttpResponse, type Method } from '../lib/http.ts';
import type { PlanItem } from '../lib/plan.ts';

export const githubDefaults = { apiUrl: 'https://api.github.com', apiVersion: '2022-11-28' } as const;
/** GITHUB_API_URL is also what GitHub Actions sets for the API of the server a run is on. */
export const githubApiUrl = (env: StepContext['env']): string => (env.GITHUB_API_URL ?? githubDefaults.apiUrl).replace(/\/$/, '');

export interface Repository { id: number; full_name: string; default_branch: string; private: boolean; owner: { login: string; type: 'User' | 'Organization' } }
export interface WorkflowPermissions { default_workflow_permissions: 'read' | 'write'; can_approve_pull_request_reviews: boolean }
export interface EnvironmentReviewer { type: 'User' | 'Team'; id: number }
export interface EnvironmentRequest {
  wait_timer?: number;
  prevent_self_review?: boolean;
  reviewers: EnvironmentReviewer[] | null;
  deployment_branch_policy: { protected_branches: boolean; custom_branch_policies: boolean } | null;
}
export interface ProtectionRule { id: number; type: 'required_reviewers' | 'wait_timer' | 'branch_policy'; prevent_self_review?: boolean; wait_timer?: number; reviewers?: { type: 'User' | 'Team'; reviewer: { id: number; login?: string; slug?: string } }[] }
export interface Environment { id: number; name: string; protection_rules?: ProtectionRule[]; deployment_branch_policy: { protected_branches: boolean; custom_branch_policies: boolean } | null }
export interface BranchPolicy { id: number; name: string; type?: 'branch' | 'tag' }
export interface DeployKey { id: number; key: string; title: string; read_only: boolean; verified?: boolean; created_at?: string }
export interface BypassActor { actor_id: number | null; actor_type: 'Integration' | 'OrganizationAdmin' | 'RepositoryRole' | 'Team' | 'DeployKey'; bypass_mode: 'always' | 'pull_request' }
export interface RulesetRule { type: string; parameters?: Record<string, unknown> }
export interface Ruleset {
  id?: number;
  name: string;
  target: 'branch' | 'tag' | 'push';
  enforcement: 'disabled' | 'active' | 'evaluate';
  bypass_actors: BypassActor[];
  conditions: { ref_name: { include: string[]; exclude: string[] } };
  rules: RulesetRule[];
  source_type?: 'Repository' | 'Organization' | 'Enterprise';
  source?: string;
}

const repo = (r: string) => `/repos/${r}`;
const enc = encodeURIComponent;

type Call = { method: Method; path: string; body?: unknown };
/** Requests shared by the client and the dry-run plan. */
export const githubCalls = {
  getRepository: (r: string): Call => ({ method: 'GET', path: repo(r) }),
  getUser: (login: string): Call => ({ method: 'GET', path: `/users/${enc(login)}` }),
  getTeam: (org: string, slug: string): Call => ({ method: 'GET', path: `/orgs/${enc(org)}/teams/${enc(slug)}` }),
  getWorkflowPermissions: (r: string): Call => ({ method: 'GET', path: `${repo(r)}/actions/permissions/workflow` }),
  setWorkflowPermissions: (r: string, p: WorkflowPermissions): Call => ({ method: 'PUT', path: `${repo(r)}/actions/permissions/workflow`, body: p }),
  getEnvironment: (r: string, env: string): Call => ({ method: 'GET', path: `${repo(r)}/environments/${enc(env)}` }),
  putEnvironment: (r: string, env: string, body: EnvironmentRequest): Call => ({ method: 'PUT', path: `${repo(r)}/environments/${enc(env)}`, body }),
  listBranchPolicies: (r: string, env: string): Call => ({ method: 'GET', path: `${repo(r)}/environments/${enc(env)}/deployment-branch-policies?per_page=100` }),
  createBranchPolicy: (r: string, env: string, name: string): Call => ({ method: 'POST', path: `${repo(r)}/environments/${enc(env)}/deployment-branch-policies`, body: { name, type: 'branch' } }),
  deleteBranchPolicy: (r: string, env: string, id: number | string): Call => ({ method: 'DELETE', path: `${repo(r)}/environments/${enc(env)}/deployment-branch-policies/${id}` }),
  getEnvironmentSecret: (r: string, env: string, name: string): Call => ({ method: 'GET', path: `${repo(r)}/environments/${enc(env)}/secrets/${enc(name)}` }),
  getRepositorySecret: (r: string, name: string): Call => ({ method: 'GET', path: `${repo(r)}/actions/secrets/${enc(name)}` }),
  listDeployKeys: (r: string): Call => ({ method: 'GET', path: `${repo(r)}/keys?per_page=100` }),
  createDeployKey: (r: string, key: { title: string; key: string; read_only: boolean }): Call => ({ method: 'POST', path: `${repo(r)}/keys`, body: key }),
  deleteDeployKey: (r: string, id: number | string): Call => ({ method: 'DELETE', path: `${repo(r)}/keys/${id}` }),
  listRulesets: (r: string): Call => ({ method: 'GET', path: `${repo(r)}/rulesets?includes_parents=false&per_page=100` }),
  getRuleset: (r: string, id: number | string): Call => ({ method: 'GET', path: `${repo(r)}/rulesets/${id}` }),
  createRuleset: (r: string, rs: Ruleset): Call => ({ method: 'POST', path: `${repo(r)}/rulesets`, body: rs }),
  updateRuleset: (r: string, id: number | string, rs: Ruleset): Call => ({ method: 'PUT', path: `${repo(r)}/rulesets/${id}`, body: rs }),
};

export const githubPlan = (apiUrl: string, call: Call, when?: string): PlanItem =>
  ({ kind: 'http', service: 'GitHub', method: call.method, url: `${apiUrl}${call.path}`, body: call.body, when });

const messageOf = (res: HttpResponse): string => {
  const b = res.body as { message?: string; errors?: unknown[] } | undefined;
  if (!b?.message) return res.text.slice(0, 200) || `HTTP ${res.status}`;
  const details = (b.errors ?? []).map((e) => (typeof e === 'string' ? e : (e as { message?: string }).message ?? JSON.stringify(e)));
  return details.length ? `${b.message}: ${details.join('; ')}` : b.message;
};

export const githubTokenScopes = 'a fine-grained token for this repository with Administration: read and write, Environments: read and write, Secrets: read, Actions: read and write (and Members: read on the organization for team reviewers)';

export class GitHubClient {
  private readonly http: HttpClient;
  constructor(ctx: StepContext, private readonly token: string, readonly apiUrl: string = githubApiUrl(ctx.env)) {
    this.http = new HttpClient(ctx, 'GitHub');
  }

  /** One call; undefined for 404 (absent environment, secret, ruleset). */
  async call<T>(call: Call): Promise<T | undefined> {
    const res = await this.http.send({
      method: call.method,
      url: `${this.apiUrl}${call.path}`,
      headers: { accept: 'application/vnd.github+json', authorization: `Bearer ${this.token}`, 'x-github-api-version': githubDefaults.apiVersion },
      json: call.body,
    });
    if (res.status === 401) {
      throw new BootstrapError(`GitHub rejected GITHUB_ADMIN_TOKEN on ${call.method} ${call.path} (HTTP 401: ${messageOf(res)})`, `create ${githubTokenScopes}`);
    }
    if (res.status === 403) {
      throw new BootstrapError(`GitHub refused ${call.method} ${call.path} (HTTP 403: ${messageOf(res)})`, `the token needs ${githubTokenScopes}; rulesets on a private repository also need a paid plan`);
    }
    if (res.status === 404) return undefined;
    if (res.status >= 400) {
      throw new BootstrapError(`GitHub rejected ${call.method} ${call.path} (HTTP ${res.status}: ${messageOf(res)})`, 'check cluster.bootstrap.github in charts-ts/config/sections/github.ts');
    }
    return res.body as T;
  }

  /** Like call, but a 404 is an error naming what is missing. */
  async must<T>(call: Call, what: string, fix: string): Promise<T> {
    const r = await this.call<T>(call);
    if (r === undefined) throw new BootstrapError(`GitHub: ${what} not found (${call.method} ${call.path})`, fix);
    return r;
  }
}
