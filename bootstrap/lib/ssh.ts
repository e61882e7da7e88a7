/**
 * Remote commands over SSH (zx + the OpenSSH client), as the admin user with sudo. Host keys are
 * trusted on first use and pinned in ~/.ssh/known_hosts after (a rebuilt VPS has new host keys: the
 * runbook says to remove the old entry). Never used in dry-run mode.
 */
import { tmpdir } from 'node:os';
import { $ } from 'zx';
import type { Config } from '../../charts-ts/config/schema.ts';
import { BootstrapError, type StepContext } from './context.ts';

export interface SshTarget { host: string; user: string; port: number; identityFile?: string }

export const sshTarget = (ctx: StepContext, config: Config, host: string): SshTarget => ({
  host,
  user: config.cluster.bootstrap.admin.user,
  port: 22,
  identityFile: ctx.env.LMS_SSH_KEY_FILE,
});

export const sshOptions = (t: SshTarget): string[] => [
  '-o', 'BatchMode=yes',
  '-o', 'StrictHostKeyChecking=accept-new',
  '-o', 'ConnectTimeout=10',
  '-o', 'ServerAliveInterval=15',
  // One multiplexed connection for a step's many commands: UFW rate-limits new SSH connections
  // (6 per 30 s per source) when SSH is open to everyone.
  '-o', 'ControlMaster=auto',
  '-o', `ControlPath=${tmpdir()}/lms-ssh-%C`,
  '-o', 'ControlPersist=120',
  ...(t.identityFile ? ['-i', t.identityFile, '-o', 'IdentitiesOnly=yes'] : []),
  '-p', String(t.port),
];

export const sshDestination = (t: SshTarget): string => `${t.user}@${t.host}`;

/** Runs `command` on the host; `input` goes to its stdin. Returns stdout; fails with stderr. */
export async function sshRun(ctx: StepContext, t: SshTarget, command: string, input?: string): Promise<string> {
  if (ctx.dryRun) throw new Error(`internal: dry-run tried to run "${command}" on ${t.host}`);
  const r = await $({ input, quiet: true, nothrow: true })`ssh ${sshOptions(t)} ${sshDestination(t)} ${command}`;
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
