/**
 * flux: `flux bootstrap git` onto the clusters branch (what CI publishes dist/ to) and the sops-age
 * Secret Flux decrypts SOPS secrets with. Runs through an SSH tunnel to the API server; needs the
 * flux CLI at bootstrap.flux.version and kubectl, the kubeconfig from the k3s step, the age key
 * (SOPS_AGE_KEY_FILE), Flux's read-only deploy key (FLUX_GIT_SSH_KEY_FILE, whose public half is
 * github.deployKeys.flux, registered read-only by the github step) and GITHUB_ADMIN_TOKEN.
 *
 * Flux's key never has write access. `flux bootstrap git` commits flux-system/ to the branch, and
 * only deploy keys may push there (the github step's ruleset), so the push uses a temporary write
 * key this step adds for the bootstrap alone and deletes afterwards, whatever happens; then the
 * cluster's `flux-system` Secret is replaced with the read-only key (`flux create secret git`, the
 * documented key rotation). `flux bootstrap`, the Secret apply and the rotation are all idempotent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { $ } from 'zx';
import { BootstrapError, type StepContext } from '../lib/context.ts';
import { requireCredentials, sopsAgeCredentials } from '../lib/credentials.ts';
import { githubApiUrl, githubCalls, githubPlan, type DeployKey, type GitHubClient } from '../providers/github.ts';
import { githubClient, githubCredentials, keyMaterial } from './github.ts';
import { sshDestination, sshOptions, sshTarget, type SshTarget } from '../lib/ssh.ts';
import { waitFor } from '../lib/wait.ts';
import { hostPlanNote, serverAddress, type Step } from './common.ts';
import { defaultKubeconfig } from './k3s.ts';

const TUNNEL_PORT = 16443;

export function fluxBootstrapArgs(ctx: StepContext, kubeconfig: string, keyFile: string): string[] {
  const f = ctx.config.cluster.bootstrap.flux;
  return ['bootstrap', 'git', `--kubeconfig=${kubeconfig}`, `--url=${f.repositoryUrl}`, `--branch=${f.branch}`, `--path=${f.path}`, `--private-key-file=${keyFile}`, '--silent'];
}

/** The documented key rotation: the cluster's git Secret gets Flux's read-only key. */
export function fluxReadOnlySecretArgs(ctx: StepContext, kubeconfig: string, keyFile: string): string[] {
  const f = ctx.config.cluster.bootstrap.flux;
  return ['create', 'secret', 'git', 'flux-system', `--kubeconfig=${kubeconfig}`, `--url=${f.repositoryUrl}`, `--private-key-file=${keyFile}`];
}

export const temporaryKeyTitle = 'flux bootstrap (temporary; deleted by the flux step)';

/** FLUX_GIT_SSH_KEY_FILE must be the private half of github.deployKeys.flux (the read-only key). */
export async function checkFluxKey(ctx: StepContext, keyFile: string): Promise<void> {
  const pub = await $({ quiet: true, nothrow: true })`ssh-keygen -y -f ${keyFile}`;
  if (pub.exitCode !== 0) throw new BootstrapError(`FLUX_GIT_SSH_KEY_FILE (${keyFile}) is not a readable, passphrase-less SSH private key: ${pub.stderr.trim()}`, 'point it at Flux\'s private key (the password manager), without a passphrase');
  const want = keyMaterial(ctx.config.cluster.bootstrap.github.deployKeys.flux);
  if (keyMaterial(pub.stdout) !== want) {
    throw new BootstrapError('FLUX_GIT_SSH_KEY_FILE is not the private half of github.deployKeys.flux', 'use Flux\'s own key (read-only on the repository), or put its public half in charts-ts/config/sections/github.ts and run `npm run bootstrap -- github`');
  }
}

/**
 * Runs `use` with a fresh write deploy key (for flux bootstrap's push), and deletes that key from the
 * repository afterwards, also when `use` fails. The private half lives in `dir` only.
 */
export async function withTemporaryPushKey<T>(ctx: StepContext, client: GitHubClient, dir: string, use: (keyFile: string) => Promise<T>): Promise<T> {
  const repo = ctx.config.cluster.bootstrap.github.repository;
  // A key left by an interrupted run is removed first: it is a write credential nobody holds.
  for (const k of ((await client.call<DeployKey[]>(githubCalls.listDeployKeys(repo))) ?? []).filter((k) => k.title === temporaryKeyTitle)) {
    await client.call(githubCalls.deleteDeployKey(repo, k.id));
    ctx.out.warn(`deleted a temporary bootstrap key left by an earlier run (id ${k.id})`);
  }
  const keyFile = join(dir, 'bootstrap-push-key');
  const gen = await $({ quiet: true, nothrow: true })`ssh-keygen -q -t ed25519 -N ${''} -C ${temporaryKeyTitle} -f ${keyFile}`;
  if (gen.exitCode !== 0) throw new BootstrapError(`ssh-keygen failed: ${gen.stderr.trim()}`, 'install openssh-client');
  const created = await client.call<DeployKey>(githubCalls.createDeployKey(repo, { title: temporaryKeyTitle, key: keyMaterial(readFileSync(`${keyFile}.pub`, 'utf8')), read_only: false }));
  if (!created) throw new BootstrapError('GitHub did not create the temporary deploy key', 'run `npm run bootstrap -- github` first (the repository and token must be set up)');
  ctx.out.info(`✓ temporary write deploy key added for the bootstrap push (id ${created.id})`);
  try {
    return await use(keyFile);
  } finally {
    rmSync(keyFile, { force: true });
    await client.call(githubCalls.deleteDeployKey(repo, created.id));
    ctx.out.info(`✓ temporary deploy key ${created.id} deleted`);
  }
}

/** The sops-age Secret manifest (key `age.agekey`, the name Flux's SOPS decryption expects). */
export function sopsAgeSecret(ctx: StepContext, ageKey: string): string {
  if (!/^AGE-SECRET-KEY-1[0-9A-Z]+$/m.test(ageKey)) {
    throw new BootstrapError('SOPS_AGE_KEY_FILE does not contain an age private key (AGE-SECRET-KEY-1...)', 'point SOPS_AGE_KEY_FILE at the cluster age key file from the password manager');
  }
  return stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: ctx.config.cluster.bootstrap.flux.sopsAgeSecret, namespace: 'flux-system' },
    type: 'Opaque',
    stringData: { 'age.agekey': ageKey },
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

async function openTunnel(ctx: StepContext, t: SshTarget): Promise<ChildProcess> {
  const child = spawn('ssh', [...sshOptions(t, { multiplex: false }), '-o', 'ExitOnForwardFailure=yes', '-N', '-L', `127.0.0.1:${TUNNEL_PORT}:127.0.0.1:6443`, sshDestination(t)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  await waitFor(ctx, {
    what: `the SSH tunnel 127.0.0.1:${TUNNEL_PORT} -> ${t.host}:6443`,
    timeoutMs: 30_000,
    fix: 'check SSH access (see the k3s step) and that nothing else listens on 127.0.0.1:16443',
    check: async () => {
      if (child.exitCode !== null) throw new BootstrapError(`ssh tunnel exited: ${err.trim()}`, 'check SSH access to the server');
      return (await portOpen(TUNNEL_PORT)) ? { done: true, value: true } : { done: false, status: 'connecting' };
    },
  });
  return child;
}

export const flux: Step = {
  name: 'flux',
  summary: 'flux bootstrap git onto the clusters branch + the sops-age Secret',

  plan(ctx) {
    const f = ctx.config.cluster.bootstrap.flux;
    const kc = '<kubeconfig via tunnel>';
    return [
      hostPlanNote(ctx),
      { kind: 'exec', command: `flux version --client (must be ${f.version})` },
      { kind: 'exec', command: `ssh -N -L 127.0.0.1:${TUNNEL_PORT}:127.0.0.1:6443 ${ctx.config.cluster.bootstrap.admin.user}@<server> (tunnel; the API server is never public)` },
      { kind: 'exec', command: `flux check --pre --kubeconfig=${kc}` },
      { kind: 'exec', command: `kubectl --kubeconfig=${kc} apply --server-side -f <Namespace flux-system + Secret flux-system/${f.sopsAgeSecret} with age.agekey from $SOPS_AGE_KEY_FILE>` },
      { kind: 'exec', command: 'ssh-keygen -y -f $FLUX_GIT_SSH_KEY_FILE (must be github.deployKeys.flux, the read-only key)' },
      githubPlan(githubApiUrl(ctx.env), githubCalls.createDeployKey(ctx.config.cluster.bootstrap.github.repository, { title: temporaryKeyTitle, key: '<fresh ed25519 public key>', read_only: false }), 'temporary, for flux bootstrap\'s push'),
      { kind: 'exec', command: `flux ${fluxBootstrapArgs(ctx, kc, '<temporary key>').join(' ')}` },
      { kind: 'exec', command: `flux ${fluxReadOnlySecretArgs(ctx, kc, '$FLUX_GIT_SSH_KEY_FILE').join(' ')} (the cluster keeps only the read-only key)` },
      githubPlan(githubApiUrl(ctx.env), githubCalls.deleteDeployKey(ctx.config.cluster.bootstrap.github.repository, '<temporary key id>'), 'always, also when the bootstrap fails'),
      { kind: 'wait', what: 'Kustomization flux-system Ready (flux get kustomizations)' },
    ];
  },

  async run(ctx) {
    const f = ctx.config.cluster.bootstrap.flux;
    const creds = requireCredentials(ctx, 'flux', [...sopsAgeCredentials, ...githubCredentials, { name: 'FLUX_GIT_SSH_KEY_FILE', source: 'Flux\'s private key, whose public half is github.deployKeys.flux (a read-only deploy key)' }]);
    await checkFluxKey(ctx, creds.FLUX_GIT_SSH_KEY_FILE!);
    const kubeconfig = defaultKubeconfig(ctx);
    if (!existsSync(kubeconfig)) throw new BootstrapError(`no kubeconfig at ${kubeconfig}`, 'run `npm run bootstrap -- k3s` first (it fetches the kubeconfig), or pass --kubeconfig');
    const version = await $({ quiet: true, nothrow: true })`flux version --client`;
    if (version.exitCode !== 0) throw new BootstrapError('the flux CLI is not installed', `install flux ${f.version} (https://github.com/fluxcd/flux2/releases/tag/${f.version})`);
    if (!version.stdout.includes(f.version.replace(/^v/, ''))) throw new BootstrapError(`flux CLI is ${version.stdout.trim()}, bootstrap.flux.version is ${f.version}`, `install flux ${f.version} so the controllers match the pinned release`);

    const { ipv4 } = await serverAddress(ctx, 'flux');
    const tunnel = await openTunnel(ctx, sshTarget(ctx, ctx.config, ipv4));
    const dir = mkdtempSync(join(tmpdir(), 'lms-flux-'));
    try {
      const kc = parse(readFileSync(kubeconfig, 'utf8'));
      kc.clusters[0].cluster.server = `https://127.0.0.1:${TUNNEL_PORT}`;
      const tunnelled = join(dir, 'kubeconfig');
      writeFileSync(tunnelled, stringify(kc), { mode: 0o600 });
      const run = async (args: string[], input?: string) => {
        const r = await $({ quiet: true, nothrow: true, input })`flux ${args}`;
        if (r.exitCode !== 0) throw new BootstrapError(`flux ${args[0]} ${args[1] ?? ''} failed:\n${(r.stderr || r.stdout).trim()}`, 'fix the cause shown above and run the step again (it is idempotent)');
        return r.stdout;
      };
      await run(['check', '--pre', `--kubeconfig=${tunnelled}`]);
      ctx.out.info('✓ flux pre-checks passed');
      const secret = join(dir, 'sops-age.yaml');
      writeFileSync(secret, `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n---\n${sopsAgeSecret(ctx, readFileSync(creds.SOPS_AGE_KEY_FILE!, 'utf8').trim())}`, { mode: 0o600 });
      // Secrets are applied before bootstrap so the first reconciliation can already decrypt.
      const applied = await $({ quiet: true, nothrow: true })`kubectl --kubeconfig=${tunnelled} apply --server-side -f ${secret}`;
      if (applied.exitCode !== 0) throw new BootstrapError(`applying the ${f.sopsAgeSecret} Secret failed: ${applied.stderr.trim()}`, 'install kubectl and check the tunnel');
      ctx.out.info(`✓ Secret flux-system/${f.sopsAgeSecret} applied`);
      ctx.out.info(`… flux bootstrap git (${f.repositoryUrl}, branch ${f.branch}, path ${f.path})`);
      await withTemporaryPushKey(ctx, githubClient(ctx, 'flux'), dir, (pushKey) => run(fluxBootstrapArgs(ctx, tunnelled, pushKey)));
      await run(fluxReadOnlySecretArgs(ctx, tunnelled, creds.FLUX_GIT_SSH_KEY_FILE!));
      await run(['reconcile', 'source', 'git', 'flux-system', `--kubeconfig=${tunnelled}`]);
      ctx.out.info('✓ Secret flux-system/flux-system holds Flux\'s read-only key');
      await waitFor(ctx, {
        what: 'Kustomization flux-system to be Ready',
        timeoutMs: 15 * 60_000,
        fix: 'run `flux get kustomizations -A` and `flux logs` through the tunnel',
        check: async () => {
          const r = await $({ quiet: true, nothrow: true })`flux get kustomizations flux-system --kubeconfig=${tunnelled} --no-header`;
          return /\bTrue\b/.test(r.stdout) ? { done: true, value: true } : { done: false, status: r.stdout.trim().split(/\s{2,}/).slice(-1)[0] || 'not reconciled yet' };
        },
      });
      ctx.out.info('✓ Flux is reconciling the clusters branch');
    } finally {
      tunnel.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
