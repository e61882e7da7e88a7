/**
 * The generated host configuration, checked by the tools that will read it on the VPS:
 * sshd (-t, -T and a live daemon on 127.0.0.1), fail2ban-client -t and fail2ban-regex, cloud-init
 * schema, shellcheck, apt-config, systemd-analyze.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstBootPath, firstBootScript, hostFiles, runcmd, sshdPrivsepCommand, supportedImages, userData } from '../host/cloud-init.ts';
import { fail2banJail } from '../host/fail2ban.ts';
import { firewallModel, guardScript } from '../host/firewall.ts';
import { k3sInstallScript } from '../host/k3s.ts';
import { sshdConfig } from '../host/sshd.ts';
import { autoUpgradesConf, hardeningSysctls, kubeletKernelDefaults, rebootOnCalendar, unattendedUpgradesConf, upgradeFiles } from '../host/system.ts';
import { testConfig } from './support/config.ts';

const config = testConfig();
const work = mkdtempSync(join(tmpdir(), 'lms-host-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sh = (cmd: string, args: string[], opts: { input?: string } = {}) =>
  spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, timeout: 60_000 });

describe('sshd_config', () => {
  const keys = join(work, 'hostkeys');
  const file = join(work, 'sshd_config');
  beforeAll(() => {
    mkdirSync(keys);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'ssh_host_ed25519_key')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '3072', '-N', '', '-f', join(keys, 'ssh_host_rsa_key')]);
    writeFileSync(file, sshdConfig(config, { hostKeyDir: keys }), { mode: 0o600 });
    mkdirSync('/run/sshd', { recursive: true }); // privilege separation directory sshd -t insists on
  });

  it('passes sshd -t', () => {
    const r = sh('/usr/sbin/sshd', ['-t', '-f', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('fails sshd -t when broken (the check can fail)', () => {
    const bad = join(work, 'sshd_config.bad');
    writeFileSync(bad, sshdConfig(config, { hostKeyDir: keys }).replace('Ciphers ', 'Ciphers rot13-cbc,'), { mode: 0o600 });
    expect(sh('/usr/sbin/sshd', ['-t', '-f', bad]).status).not.toBe(0);
  });

  it('first boot creates /run/sshd before sshd -t: without it (Ubuntu 24.04 socket activation) the check fails', () => {
    // A private mount namespace with an empty /run: the state of a socket-activated host before the
    // first SSH connection. The same sshd binary, the same rendered configuration.
    const inFreshRun = (cmd: string) => sh('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs tmpfs /run && ${cmd}`]);
    const without = inFreshRun(`/usr/sbin/sshd -t -f ${file}`);
    expect(without.status).not.toBe(0);
    expect(without.stderr).toContain('Missing privilege separation directory: /run/sshd');
    const withDir = inFreshRun(`${sshdPrivsepCommand} && /usr/sbin/sshd -t -f ${file}`);
    expect(withDir.stderr).toBe('');
    expect(withDir.status).toBe(0);
    // The first-boot script does exactly that, before sshd -t and the restart.
    const lines = firstBootScript().split('\n');
    expect(lines.indexOf(sshdPrivsepCommand)).toBeGreaterThan(0);
    expect(lines.indexOf(sshdPrivsepCommand)).toBeLessThan(lines.indexOf('sshd -t'));
    expect(lines.indexOf('sshd -t')).toBeLessThan(lines.findIndex((l) => l.startsWith('systemctl restart ssh.service')));
  });

  it('resolves to keys-only, no root, the admin user only, modern algorithms (sshd -T)', () => {
    const r = sh('/usr/sbin/sshd', ['-T', '-f', file, '-C', 'user=lmsadmin,host=client,addr=198.51.100.7']);
    expect(r.status).toBe(0);
    const eff = new Map(r.stdout.trim().split('\n').map((l) => { const i = l.indexOf(' '); return [l.slice(0, i), l.slice(i + 1)] as const; }));
    expect(eff.get('permitrootlogin')).toBe('no');
    expect(eff.get('passwordauthentication')).toBe('no');
    expect(eff.get('kbdinteractiveauthentication')).toBe('no');
    expect(eff.get('authenticationmethods')).toBe('publickey');
    expect(eff.get('allowusers')).toBe(config.cluster.bootstrap.admin.user);
    expect(eff.get('maxauthtries')).toBe(String(config.cluster.bootstrap.ssh.maxAuthTries));
    expect(eff.get('x11forwarding')).toBe('no');
    expect(eff.get('allowtcpforwarding')).toBe('local');
    for (const weak of ['cbc', 'sha1', 'diffie-hellman-group14', 'ecdh-sha2-nistp', 'umac-64']) {
      expect(`${eff.get('ciphers')} ${eff.get('macs')} ${eff.get('kexalgorithms')}`).not.toContain(weak);
    }
  });

  describe('a live sshd on 127.0.0.1 with this configuration', () => {
    const port = 20000 + (process.pid % 10000);
    let daemon: ReturnType<typeof spawn>;
    beforeAll(async () => {
      daemon = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', file, '-p', String(port), '-o', 'ListenAddress=127.0.0.1', '-o', `PidFile=${join(work, 'sshd.pid')}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      daemon.stderr!.on('data', (d) => { log += d; });
      for (let i = 0; i < 50 && !log.includes('Server listening'); i++) await new Promise((r) => setTimeout(r, 100));
      if (!log.includes('Server listening')) throw new Error(`sshd did not start: ${log}`);
    });
    afterAll(() => { daemon?.kill(); });

    const client = (user: string, extra: string[]) => sh('ssh', [
      '-v', '-p', String(port), '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=5', ...extra, `${user}@127.0.0.1`, 'true',
    ]);

    it('offers public-key authentication only', () => {
      const r = client(config.cluster.bootstrap.admin.user, ['-o', 'PreferredAuthentications=password,keyboard-interactive']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/Authentications that can continue: publickey\r?\n/);
      expect(r.stderr).toContain('Permission denied (publickey)');
    });

    it('refuses legacy ciphers and key exchange', () => {
      expect(client('lmsadmin', ['-o', 'Ciphers=aes128-cbc']).stderr).toContain('no matching cipher found');
      expect(client('lmsadmin', ['-o', 'KexAlgorithms=diffie-hellman-group14-sha1']).stderr).toContain('no matching key exchange method found');
    });
  });
});

describe('fail2ban', () => {
  const conf = join(work, 'fail2ban');
  beforeAll(() => {
    cpSync('/etc/fail2ban', conf, { recursive: true });
    writeFileSync(join(conf, 'jail.d/lms.local'), fail2banJail(config));
    // fail2ban creates its log on first start; the recidive jail reads it.
    if (!existsSync('/var/log/fail2ban.log')) writeFileSync('/var/log/fail2ban.log', '');
  });

  it('passes fail2ban-client -t and enables the sshd and recidive jails with the configured limits', () => {
    const t = sh('fail2ban-client', ['-c', conf, '-t']);
    expect(t.stdout + t.stderr).toContain('OK: configuration test is successful');
    expect(t.status).toBe(0);
    const dump = sh('fail2ban-client', ['-c', conf, '-d']).stdout;
    expect(dump).toContain("['add', 'sshd', 'systemd']");
    expect(dump).toContain("['add', 'recidive', 'auto']");
    const { sshd, recidive } = config.cluster.bootstrap.fail2ban;
    expect(dump).toContain(`['set', 'sshd', 'maxretry', ${sshd.maxRetry}]`);
    expect(dump).toContain(`['set', 'sshd', 'bantime', '${sshd.banTime}']`);
    expect(dump).toContain(`['set', 'recidive', 'bantime', '${recidive.banTime}']`);
    expect(dump).toMatch(/\['set', 'sshd', 'addaction', 'ufw'\]/);
  });

  it('fails fail2ban-client -t on a broken jail (the check can fail)', () => {
    const bad = join(work, 'fail2ban-bad');
    cpSync(conf, bad, { recursive: true });
    writeFileSync(join(bad, 'jail.d/lms.local'), fail2banJail(config).replace('banaction = ufw', 'banaction = no-such-action'));
    expect(sh('fail2ban-client', ['-c', bad, '-t']).status).not.toBe(0);
  });

  // Ubuntu 24.04 rsyslog format (RFC 3339 timestamps), OpenSSH 9.6 messages.
  const attacker = '203.0.113.50';
  const operator = '198.51.100.7';
  const authLog = [
    `2026-11-27T02:10:01.100000+00:00 lms-prod-1 sshd[4101]: Invalid user oracle from ${attacker} port 51234`,
    `2026-11-27T02:10:02.100000+00:00 lms-prod-1 sshd[4101]: Connection closed by invalid user oracle ${attacker} port 51234 [preauth]`,
    `2026-11-27T02:10:03.100000+00:00 lms-prod-1 sshd[4102]: User root from ${attacker} not allowed because not listed in AllowUsers`,
    `2026-11-27T02:10:04.100000+00:00 lms-prod-1 sshd[4103]: Invalid user admin from ${attacker} port 51240`,
    `2026-11-27T02:10:06.100000+00:00 lms-prod-1 sshd[4105]: error: maximum authentication attempts exceeded for lmsadmin from ${attacker} port 51260 ssh2 [preauth]`,
    `2026-11-27T02:11:00.100000+00:00 lms-prod-1 sshd[4200]: Accepted publickey for lmsadmin from ${operator} port 40022 ssh2: ED25519 SHA256:Zp2bKk0D5y6o3r7rVb3fQ1g8eHq4s9tWmXcLnAaBbCc`,
    `2026-11-27T02:11:00.200000+00:00 lms-prod-1 sshd[4200]: pam_unix(sshd:session): session opened for user lmsadmin(uid=1000) by lmsadmin(uid=0)`,
  ].join('\n');

  it('fail2ban-regex counts the brute-force attempts (enough for a ban) and ignores the good login', () => {
    const log = join(work, 'auth.log');
    writeFileSync(log, `${authLog}\n`);
    const r = sh('fail2ban-regex', [`--config=${conf}`, '--out', 'ip', log, 'sshd[mode=aggressive]']);
    expect(r.status).toBe(0);
    const ips = r.stdout.trim().split('\n').filter(Boolean);
    expect(ips).toEqual(Array(5).fill(attacker));
    expect(ips).not.toContain(operator);
    expect(ips.length).toBeGreaterThanOrEqual(config.cluster.bootstrap.fail2ban.sshd.maxRetry);
  });

  it('recidive counts earlier sshd bans, not unbans or its own bans', () => {
    const log = join(work, 'fail2ban.log');
    writeFileSync(log, [
      `2026-11-27 02:10:07,123 fail2ban.actions        [812]: NOTICE  [sshd] Ban ${attacker}`,
      `2026-11-27 03:10:07,123 fail2ban.actions        [812]: NOTICE  [sshd] Unban ${attacker}`,
      '2026-11-27 03:15:00,123 fail2ban.actions        [812]: NOTICE  [recidive] Ban 203.0.113.60',
    ].join('\n') + '\n');
    const r = sh('fail2ban-regex', [`--config=${conf}`, '--out', 'ip', log, 'recidive']);
    expect(r.stdout.trim().split('\n')).toEqual([attacker]);
  });
});

describe('cloud-init user-data', () => {
  const ud = userData(config);
  const file = join(work, 'user-data');
  writeFileSync(file, ud);

  it('passes cloud-init schema', () => {
    const r = sh('cloud-init', ['schema', '--config-file', file]);
    expect(r.stdout + r.stderr).toContain('Valid cloud-config');
    expect(r.status).toBe(0);
  });

  it('fails cloud-init schema when broken (the check can fail)', () => {
    const bad = join(work, 'user-data.bad');
    writeFileSync(bad, ud.replace('package_upgrade: true', 'package_upgrade: sometimes'));
    expect(sh('cloud-init', ['schema', '--config-file', bad]).status).not.toBe(0);
  });

  it('creates the admin user with keys only, root and passwords disabled', () => {
    const doc = parse(ud);
    expect(ud.startsWith('#cloud-config\n')).toBe(true);
    expect(doc.disable_root).toBe(true);
    expect(doc.ssh_pwauth).toBe(false);
    expect(doc.users).toEqual([expect.objectContaining({ name: 'lmsadmin', lock_passwd: true, ssh_authorized_keys: config.cluster.bootstrap.admin.sshPublicKeys })]);
    expect(doc.ntp).toEqual({ enabled: true, ntp_client: 'chrony', pools: config.cluster.bootstrap.timeSync.ntpPools });
    expect(doc.timezone).toBe('Etc/UTC');
    // Every generated file is written after the packages install (package defaults cannot win).
    expect(doc.write_files.map((f: { path: string }) => f.path)).toEqual(hostFiles(config).map((f) => f.path));
    expect(doc.write_files.every((f: { defer: boolean }) => f.defer)).toBe(true);
  });

  it('runcmd is the first-boot script alone, and that script stops at the first failure', () => {
    const doc = parse(ud);
    expect(doc.runcmd).toEqual([[firstBootPath]]);
    expect(runcmd()).toEqual([[firstBootPath]]);
    const script = hostFiles(config).find((f) => f.path === firstBootPath)!;
    expect(script.content.split('\n').slice(0, 5)).toContain('set -euo pipefail');
    expect(script.permissions).toBe('0750');
  });
});

describe('first boot fails fast', () => {
  const dir = join(work, 'first-boot');
  const stubs = join(dir, 'bin');
  const log = join(dir, 'calls.log');
  const script = join(dir, 'lms-first-boot');
  // Every command the script runs, as a stand-in that records its call; `failing` exits 1.
  const commands = ['rm', 'sysctl', 'systemctl', 'lms-firewall', 'lms-firewall-check', 'install', 'sshd'];
  const setup = (failing?: string) => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(stubs, { recursive: true });
    for (const c of commands) {
      writeFileSync(join(stubs, c), `#!/bin/sh\necho "${c} $*" >> ${log}\nexit ${c === failing ? 1 : 0}\n`, { mode: 0o755 });
    }
    writeFileSync(log, '');
    writeFileSync(script, firstBootScript(), { mode: 0o755 });
  };
  const calls = () => readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
  const env = { ...process.env, LMS_FIRST_BOOT_PATH: stubs };

  it('runs every step in order when each succeeds, /run/sshd before sshd -t', () => {
    setup();
    const r = spawnSync('/bin/bash', [script], { encoding: 'utf8', env });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const c = calls();
    expect(c[0]).toMatch(/^rm -f \/etc\/ssh\/sshd_config\.d\//);
    expect(c.indexOf('lms-firewall ')).toBeLessThan(c.indexOf('lms-firewall-check '));
    expect(c.indexOf('install -d -m 0755 /run/sshd')).toBeLessThan(c.indexOf('sshd -t'));
    expect(c.at(-1)).toBe('systemctl restart ssh.service');
  });

  it.each(['lms-firewall', 'lms-firewall-check'])('a failing %s stops the sequence: nothing after it runs, the exit status says so', (failing) => {
    setup(failing);
    const r = spawnSync('/bin/bash', [script], { encoding: 'utf8', env });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/lms-first-boot: FAILED at line \d+ \(exit 1\)/);
    const c = calls();
    expect(c.at(-1)).toMatch(new RegExp(`^${failing}( |$)`));
    expect(c.some((l) => l.startsWith('sshd') || l.includes('fail2ban'))).toBe(false);
  });

  it('as cloud-init runs runcmd: the boot fails when the script fails (and did not with one entry per command)', () => {
    // cloud-init's own rendering of runcmd into the script it executes (cc_runcmd -> util.shellify).
    // cloud-init's own Python (the interpreter of its entry point), whatever python3 is first on PATH.
    const cloudInit = spawnSync('sh', ['-c', 'command -v cloud-init'], { encoding: 'utf8' }).stdout.trim();
    const python = readFileSync(cloudInit, 'utf8').split('\n')[0]!.replace(/^#!\s*/, '').split(' ')[0]!;
    const shellify = (cmds: unknown) => spawnSync(python, ['-c', 'import json, sys; from cloudinit.util import shellify; sys.stdout.write(shellify(json.load(sys.stdin)))'], { encoding: 'utf8', input: JSON.stringify(cmds) });
    setup('lms-firewall');
    const rendered = shellify(runcmd().map((c) => c.map((a) => (a === firstBootPath ? script : a))));
    expect(rendered.status).toBe(0);
    const r = spawnSync('/bin/sh', ['-c', rendered.stdout], { encoding: 'utf8', env });
    expect(r.status).not.toBe(0);
    // The old shape (one `sh -c` entry per command): a failing firewall in the middle went unnoticed.
    const old = shellify([['sh', '-c', 'sysctl --system'], ['sh', '-c', 'false'], ['sh', '-c', 'true']]);
    expect(spawnSync('/bin/sh', ['-c', old.stdout], { encoding: 'utf8' }).status).toBe(0);
  });

  it('only the supported OS images can be configured (Ubuntu 24.04, Debian 12/13)', () => {
    expect([...supportedImages]).toEqual(['ubuntu-24.04', 'debian-12', 'debian-13']);
    expect(() => testConfig({ cluster: { bootstrap: { contabo: { imageName: 'ubuntu-22.04' } } } })).toThrow(/is not a supported OS image; use one of ubuntu-24.04, debian-12, debian-13/);
    expect(testConfig({ cluster: { bootstrap: { contabo: { imageName: 'debian-13' } } } }).cluster.bootstrap.contabo.imageName).toBe('debian-13');
  });
});

describe('shell snippets', () => {
  const snippets: Record<string, string> = {
    'ufw-before.init': guardScript(firewallModel(config)),
    'k3s-install': k3sInstallScript(config),
  };
  for (const f of hostFiles(config).filter((f) => f.shell)) snippets[f.path.split('/').pop()!] = f.content;

  it.each(Object.keys(snippets))('%s passes shellcheck', (name) => {
    const r = sh('shellcheck', ['-'], { input: snippets[name] });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('shellcheck reports a real problem (the check can fail)', () => {
    expect(sh('shellcheck', ['-'], { input: '#!/bin/sh\nrm -rf $DIR/*\n' }).status).not.toBe(0);
  });
});

describe('patching, time and kernel settings', () => {
  it('apt parses the unattended-upgrades policy: security only, no automatic reboot', () => {
    const f = join(work, 'apt.conf');
    writeFileSync(f, autoUpgradesConf() + unattendedUpgradesConf());
    const r = sh('apt-config', ['-c', f, 'dump']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Unattended-Upgrade::Automatic-Reboot "false";');
    expect(r.stdout).toContain('APT::Periodic::Unattended-Upgrade "1";');
    expect(r.stdout).toContain('"${distro_id}:${distro_codename}-security";');
  });

  it('the reboot window is a valid systemd calendar on the configured days', () => {
    const r = sh('systemd-analyze', ['calendar', '--iterations=3', rebootOnCalendar(config)]);
    expect(r.status).toBe(0);
    const next = [...r.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): (\w{3}) \S+ (\d\d:\d\d):00/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(next).toHaveLength(3);
    for (const n of next) expect(n).toBe(`${config.cluster.bootstrap.upgrades.rebootDays[0]} ${config.cluster.bootstrap.upgrades.rebootTime}`);
  });

  it('the reboot units pass systemd-analyze verify', () => {
    const dir = join(work, 'units');
    mkdirSync(dir, { recursive: true });
    const script = join(dir, 'lms-reboot-if-required');
    for (const f of upgradeFiles(config)) {
      if (f.path.startsWith('/etc/systemd/system/')) {
        writeFileSync(join(dir, f.path.split('/').pop()!), f.content.replace('/usr/local/sbin/lms-reboot-if-required', script));
      }
      if (f.path.endsWith('lms-reboot-if-required')) writeFileSync(script, f.content, { mode: 0o755 });
    }
    const r = sh('systemd-analyze', ['verify', '--man=no', join(dir, 'lms-reboot-window.timer'), join(dir, 'lms-reboot-window.service')]);
    expect(r.stderr.split('\n').filter((l) => l.includes('lms-reboot'))).toEqual([]);
  });

  it('the reboot script reboots only when a reboot is required', () => {
    const script = upgradeFiles(config).find((f) => f.path.endsWith('lms-reboot-if-required'))!.content;
    const r = sh('bash', ['-c', script], {});
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('no reboot required');
  });

  it('sets every kernel value the kubelet checks with protect-kernel-defaults, on keys this kernel knows', () => {
    expect(kubeletKernelDefaults).toMatchObject({ 'vm.overcommit_memory': '1', 'vm.panic_on_oom': '0', 'kernel.panic': '10', 'kernel.panic_on_oops': '1' });
    // kernel.yama.* exists only with the Yama LSM (Ubuntu has it; this test machine's kernel may not).
    for (const key of [...Object.keys(kubeletKernelDefaults), ...Object.keys(hardeningSysctls)].filter((k) => !k.startsWith('kernel.yama.'))) {
      expect(existsSync(`/proc/sys/${key.replace(/\./g, '/')}`), key).toBe(true);
    }
    // Forwarding must stay on: pods route through the host.
    expect(hardeningSysctls['net.ipv4.ip_forward']).toBe('1');
  });

  it('journald keeps logs bounded and persistent', () => {
    const f = hostFiles(config).find((x) => x.path.includes('journald'))!;
    expect(f.content).toContain(`SystemMaxUse=${config.cluster.bootstrap.journald.systemMaxUse}`);
    expect(f.content).toContain('Storage=persistent');
  });
});
