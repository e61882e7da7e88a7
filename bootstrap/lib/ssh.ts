/**
 * Remote commands over SSH (zx + the OpenSSH client), as the admin user with sudo. Host keys are
 * trusted on first use and pinned in ~/.ssh/known_hosts after (a rebuilt VPS has new host keys: the
 * runbook says to remove the old entry). Never used in dry-run mode.
 */
import { tmpdir } from 'node:os';
import { $ } from 'zx';
import type { Config } from '../../charts-ts/config/schema.ts';
import { BootstrapError, type StepContext } from './context.ts';

export interface SshTarget { host: string; user: string; port: number; identityFile?: string; knownHostsFile?: string }

export const sshTarget = (ctx: StepContext, config: Config, host: string): SshTarget => ({
  host,
  user: config.cluster.bootstrap.admin.user,
  port: 22,
  identityFile: ctx.env.LMS_SSH_KEY_FILE,
  knownHostsFile: ctx.env.LMS_SSH_KNOWN_HOSTS,
});

/** `multiplex: false` for long-lived tunnels, whose forwardings must end with their process. */
export const sshOptions = (t: SshTarget, { multiplex = true } = {}): string[] => [
  '-o', 'BatchMode=yes',
  '-o', 'StrictHostKeyChecking=accept-new',
  '-o', 'ConnectTimeout=10',
  '-o', 'ServerAliveInterval=15',
  // One multiplexed connection for a step's many commands: UFW rate-limits new SSH connections
  // (6 per 30 s per source) when SSH is open to everyone.
  ...(multiplex ? ['-o', 'ControlMaster=auto', '-o', `ControlPath=${tmpdir()}/lms-ssh-%C`, '-o', 'ControlPersist=120'] : ['-o', 'ControlPath=none']),
  ...(t.identityFile ? ['-i', t.identityFile, '-o', 'IdentitiesOnly=yes'] : []),
  ...(t.knownHostsFile ? ['-o', `UserKnownHostsFile=${t.knownHostsFile}`] : []),
  '-p', String(t.port),
];

export const sshDestination = (t: SshTarget): string => `${t.user}@${t.host}`;

/**
 * Runs `command` on the host; `input` goes to its stdin. Returns stdout; fails with stderr.
 * `stream` prints the remote output line by line as it comes (progress for long commands).
 */
export async function sshRun(ctx: StepContext, t: SshTarget, command: string, input?: string, { stream = false } = {}): Promise<string> {
  if (ctx.dryRun) throw new Error(`internal: dry-run tried to run "${command}" on ${t.host}`);
  const p = $({ input, quiet: true, nothrow: true })`ssh ${sshOptions(t)} ${sshDestination(t)} ${command}`;
  if (stream) {
    let partial = '';
    p.stdout.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) ctx.out.info(`  ${t.host}: ${l}`);
    });
  }
  const r = await p;
  if (r.exitCode === 255) {
    throw new BootstrapError(
      `ssh ${sshDestination(t)}: cannot connect or log in (${r.stderr.trim().split('\n').pop()})`,
      'check that the VPS is up, your key is in bootstrap.admin.sshPublicKeys (or LMS_SSH_KEY_FILE points at it), and port 22 is open to you (bootstrap.admin.sshCidrs); after a rebuild run `ssh-keygen -R <host>`',
    );
  }
  if (r.exitCode !== 0) {
    throw new BootstrapError(`ssh ${sshDestination(t)} "${command}" failed (exit ${r.exitCode}):\n${r.stderr.trim() || r.stdout.trim()}`, 'read the output above; the step is idempotent and can be re-run after fixing the cause');
  }
  return r.stdout;
}
