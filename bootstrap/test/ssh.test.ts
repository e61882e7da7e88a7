/**
 * The SSH runner the k3s and flux steps use, against a real sshd on 127.0.0.1 (a throw-away daemon
 * with its own host key and authorized key; nothing of the machine's SSH setup is used or changed).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootstrapError } from '../lib/context.ts';
import { sshRun, type SshTarget } from '../lib/ssh.ts';
import { localKubeconfig } from '../steps/k3s.ts';
import { testContext } from './support/context.ts';

const dir = mkdtempSync(join(tmpdir(), 'lms-ssh-'));
const port = 30000 + (process.pid % 9000);
let sshd: ChildProcess;
let target: SshTarget;

beforeAll(async () => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other_key')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'StrictModes no', 'UsePAM no', `AllowUsers ${process.env.USER ?? 'root'}`, '',
  ].join('\n'), { mode: 0o600 });
  mkdirSync('/run/sshd', { recursive: true });
  sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  sshd.stderr!.on('data', (d) => { log += d; });
  for (let i = 0; i < 50 && !log.includes('Server listening'); i++) await new Promise((r) => setTimeout(r, 100));
  if (!log.includes('Server listening')) throw new Error(`sshd did not start: ${log}`);
  target = { host: '127.0.0.1', port, user: process.env.USER ?? 'root', identityFile: join(dir, 'client_key'), knownHostsFile: join(dir, 'known_hosts') };
});
/** Ends the multiplexed master connection sshRun leaves for reuse (ControlPersist). */
const closeMaster = () => {
  try { execFileSync('ssh', ['-O', 'exit', '-o', `ControlPath=${tmpdir()}/lms-ssh-%C`, '-p', String(port), `${target.user}@127.0.0.1`], { stdio: 'ignore' }); } catch { /* none open */ }
};
afterAll(() => {
  closeMaster();
  sshd?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('sshRun against a local sshd', () => {
  it('runs a command, feeds stdin, trusts the host key on first use and pins it', async () => {
    const ctx = testContext();
    expect(await sshRun(ctx, target, 'echo hello')).toBe('hello\n');
    expect(await sshRun(ctx, target, 'bash -s', 'echo from-stdin; echo "$((6 * 7))"')).toBe('from-stdin\n42\n');
    // Known hosts may be hashed (Debian's default): look the entry up the way ssh does.
    expect(execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${port}`, '-f', join(dir, 'known_hosts')], { encoding: 'utf8' })).toContain('ssh-ed25519');
  });

  it('streams remote output line by line (progress for the k3s install)', async () => {
    const ctx = testContext();
    await sshRun(ctx, target, 'bash -s', 'echo step one; sleep 0.2; echo step two', { stream: true });
    expect(ctx.out.lines).toEqual(['  127.0.0.1: step one', '  127.0.0.1: step two']);
  });

  it('a failing remote command fails with its output and exit code', async () => {
    const err = await sshRun(testContext(), target, 'bash -s', 'echo boom >&2; exit 3').catch((e) => e);
    expect(err).toBeInstanceOf(BootstrapError);
    expect(err.message).toContain('failed (exit 3)');
    expect(err.message).toContain('boom');
  });

  it('a key the server does not accept fails with what to check', async () => {
    closeMaster(); // a live master connection would be reused without authenticating again
    const err = await sshRun(testContext(), { ...target, identityFile: join(dir, 'other_key') }, 'true').catch((e) => e);
    expect(err.message).toContain('cannot connect or log in');
    expect(err.message).toContain('bootstrap.admin.sshPublicKeys');
  });
});

describe('fetched kubeconfig', () => {
  it('is renamed after the node and points at the SSH tunnel (127.0.0.1:6443)', () => {
    const raw = 'apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://127.0.0.1:6443\n  name: default\ncontexts:\n- context:\n    cluster: default\n    user: default\n  name: default\ncurrent-context: default\nkind: Config\npreferences: {}\nusers:\n- name: default\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n';
    const kc = localKubeconfig(raw, 'lms-prod-1');
    expect(kc).toContain('current-context: lms-prod-1');
    expect(kc).toContain('server: https://127.0.0.1:6443');
    expect(kc).toContain('name: lms-prod-1-admin');
    expect(kc).toContain('client-key-data: S0VZ');
  });
});
