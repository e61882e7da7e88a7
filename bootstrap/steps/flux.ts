/**
 * flux: `flux bootstrap git` onto the clusters branch (what CI publishes dist/ to) and the sops-age
 * Secret Flux decrypts SOPS secrets with. Runs through an SSH tunnel to the API server; needs the
 * flux CLI at bootstrap.flux.version and kubectl, the kubeconfig from the k3s step, the age key
 * (SOPS_AGE_KEY_FILE) and the Git deploy key (FLUX_GIT_SSH_KEY_FILE, its public half added to the
 * repository as a deploy key). `flux bootstrap` and the Secret apply are both idempotent.
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
import { sshDestination, sshOptions, sshTarget, type SshTarget } from '../lib/ssh.ts';
import { waitFor } from '../lib/wait.ts';
import { hostPlanNote, serverAddress, type Step } from './common.ts';
import { defaultKubeconfig } from './k3s.ts';

const TUNNEL_PORT = 16443;

export function fluxBootstrapArgs(ctx: StepContext, kubeconfig: string, keyFile: string): string[] {
  const f = ctx.config.cluster.bootstrap.flux;
  return ['bootstrap', 'git', `--kubeconfig=${kubeconfig}`, `--url=${f.repositoryUrl}`, `--branch=${f.branch}`, `--path=${f.path}`, `--private-key-file=${keyFile}`, '--silent'];
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
      { kind: 'exec', command: `flux ${fluxBootstrapArgs(ctx, kc, '$FLUX_GIT_SSH_KEY_FILE').join(' ')}` },
      { kind: 'wait', what: 'Kustomization flux-system Ready (flux get kustomizations)' },
    ];
  },

  async run(ctx) {
    const f = ctx.config.cluster.bootstrap.flux;
    const creds = requireCredentials(ctx, 'flux', [...sopsAgeCredentials, { name: 'FLUX_GIT_SSH_KEY_FILE', source: 'private key whose public half is a read/write deploy key on the repository' }]);
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
      await run(fluxBootstrapArgs(ctx, tunnelled, creds.FLUX_GIT_SSH_KEY_FILE!));
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
