/**
 * k3s: install or upgrade k3s over SSH at cluster.k3s.version with the generated configuration,
 * wait for the node to be Ready, and fetch the admin kubeconfig (mode 0600) pointing at
 * https://127.0.0.1:6443: the API server is reached only through an SSH tunnel
 * (`ssh -N -L 6443:127.0.0.1:6443 <admin>@<server>`), never over the internet.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import { parse, stringify } from 'yaml';
import { BootstrapError, type StepContext } from '../lib/context.ts';
import { sshDestination, sshRun, sshTarget } from '../lib/ssh.ts';
import { waitFor } from '../lib/wait.ts';
import { k3sInstallScript, k3sPaths } from '../host/k3s.ts';
import { hostPlanNote, serverAddress, type Step } from './common.ts';

export const defaultKubeconfig = (ctx: StepContext): string =>
  ctx.options.kubeconfig ?? ctx.env.LMS_KUBECONFIG ?? `${homedir()}/.kube/${ctx.config.cluster.node.hostname}.yaml`;

/** The node's kubeconfig with names that say which cluster it is; the server stays 127.0.0.1 (tunnel). */
export function localKubeconfig(raw: string, name: string): string {
  const kc = parse(raw) as { clusters: { name: string; cluster: { server: string } }[]; users: { name: string }[]; contexts: { name: string; context: { cluster: string; user: string } }[]; 'current-context': string };
  if (!kc?.clusters?.[0] || !kc.users?.[0] || !kc.contexts?.[0]) throw new BootstrapError('the node returned an unexpected kubeconfig', `check ${k3sPaths.kubeconfig} on the node`);
  kc.clusters[0].name = name;
  kc.clusters[0].cluster.server = 'https://127.0.0.1:6443';
  kc.users[0].name = `${name}-admin`;
  kc.contexts[0] = { name, context: { cluster: name, user: `${name}-admin` } };
  kc['current-context'] = name;
  return stringify(kc);
}

export const readyCommand = (node: string): string =>
  `sudo k3s kubectl get node ${node} -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'`;

export const k3s: Step = {
  name: 'k3s',
  summary: 'install/upgrade k3s over SSH with the generated config, fetch the kubeconfig',

  plan(ctx) {
    const target = ctx.options.host ?? ctx.env.LMS_HOST ?? '<server IPv4>';
    const dest = `${ctx.config.cluster.bootstrap.admin.user}@${target}`;
    const script = k3sInstallScript(ctx.config);
    return [
      hostPlanNote(ctx),
      { kind: 'ssh', target: dest, command: 'cloud-init status --wait' },
      { kind: 'ssh', target: dest, command: `sudo bash -s < k3s-install.sh (${script.length} bytes: refuses unless the firewall is verifiably active (lms-firewall-check); writes ${k3sPaths.config}, ${k3sPaths.psa}, ${k3sPaths.eventRateLimit}, ${k3sPaths.auditPolicy}; installs k3s ${ctx.config.cluster.k3s.version} when another version runs, with the installer ${ctx.config.cluster.k3s.installScript ? `sha256 ${ctx.config.cluster.k3s.installScript.sha256}` : 'NOT PINNED (cluster.k3s.installScript): it will refuse to install'}; restarts k3s when the config changed)` },
      { kind: 'wait', what: `node ${ctx.config.cluster.node.hostname} Ready (ssh: ${readyCommand(ctx.config.cluster.node.hostname)})` },
      { kind: 'ssh', target: dest, command: `sudo cat ${k3sPaths.kubeconfig} -> ${defaultKubeconfig(ctx)} (mode 0600, server https://127.0.0.1:6443 via SSH tunnel)` },
    ];
  },

  async run(ctx) {
    const { ipv4 } = await serverAddress(ctx, 'k3s');
    const t = sshTarget(ctx, ctx.config, ipv4);
    const node = ctx.config.cluster.node.hostname;
    ctx.out.info(`… waiting for cloud-init to finish on ${sshDestination(t)}`);
    // `cloud-init status --wait` exits 1 when first boot failed (lms-first-boot stops at its first error).
    const ci = await sshRun(ctx, t, 'cloud-init status --wait').catch((e: Error) => `error: ${e.message}`);
    if (!/status: done/.test(ci)) {
      throw new BootstrapError(`cloud-init did not finish cleanly on ${ipv4}, so k3s is not installed: ${ci.trim()}`,
        'ssh in and read /var/log/cloud-init-output.log (lms-first-boot names the step that failed); fix the cause in the config, then reinstall the host (docs/runbooks/server-rebuild.md): a half-hardened first boot is not repaired in place');
    }
    ctx.out.info('✓ cloud-init done');

    // Streamed: the k3s download and first start take minutes.
    await sshRun(ctx, t, 'sudo bash -s', k3sInstallScript(ctx.config), { stream: true });

    await waitFor(ctx, {
      what: `node ${node} to be Ready`,
      timeoutMs: 10 * 60_000,
      fix: `ssh in and run: sudo journalctl -u k3s -n 200 (protect-kernel-defaults refuses to start when /etc/sysctl.d/90-lms-kubelet.conf was not applied)`,
      check: async () => {
        const s = await sshRun(ctx, t, readyCommand(node)).catch((e: Error) => `error: ${e.message.split('\n')[0]}`);
        return s.trim() === 'True' ? { done: true, value: true } : { done: false, status: s.trim() || 'not registered yet' };
      },
    });

    const file = defaultKubeconfig(ctx);
    const raw = await sshRun(ctx, t, `sudo cat ${k3sPaths.kubeconfig}`);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, localKubeconfig(raw, node), { mode: 0o600 });
    chmodSync(file, 0o600);
    ctx.out.info(`✓ kubeconfig written to ${file} (0600); open the tunnel first: ssh -N -L 6443:127.0.0.1:6443 ${sshDestination(t)}`);
  },
};
