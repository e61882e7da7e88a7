/**
 * The generated firewall, applied with the real UFW (and iptables) inside a network namespace and
 * probed from another namespace. UFW runs with --rootdir/--datadir pointing at a private copy of its
 * configuration, so neither the machine's UFW files nor its own firewall are touched.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firewallCheckScript, firewallModel, firewallScript, ufwCommands } from '../host/firewall.ts';
import { k3sInstallScript } from '../host/k3s.ts';
import { testConfig } from './support/config.ts';
import { addresses, NetnsLab } from './support/netns.ts';

const hostPorts = [22, 80, 443, 6443, 10250, 5432, 6379, 9100];
const nodePort = 30432;
const probePorts = [...hostPorts, nodePort];

// The lab's client addresses stand in for Cloudflare's edge and an admin network.
const labConfig = (sshCidrs: string[], k3s: Record<string, unknown> = {}) => testConfig({
  cluster: {
    k3s,
    cloudflare: { ipv4: ['10.200.1.0/24'], ipv6: ['fd00:200:1::/64'] },
    bootstrap: {
      admin: { sshCidrs },
      firewall: { publicInterface: 'eth0', webFromCloudflareOnly: true, clusterCidrs: ['10.200.3.0/24'] },
    },
  },
});

describe('host firewall in network namespaces', () => {
  const lab = new NetnsLab();
  let root: string;
  let bin: string;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('the firewall test needs root (ip netns, iptables); CI runs as root');
    root = mkdtempSync(join(tmpdir(), 'lms-ufw-'));
    chmodSync(root, 0o700);
    // A private UFW installation tree: ufw --rootdir/--datadir read and write only here.
    for (const d of ['etc/ufw', 'lib/ufw', 'usr/share/ufw']) cpSync(`/${d}`, join(root, d), { recursive: true });
    mkdirSync(join(root, 'etc/default'), { recursive: true });
    writeFileSync(join(root, 'etc/default/ufw'), readFileSync('/etc/default/ufw', 'utf8').replace(/^IPT_SYSCTL=.*$/m, `IPT_SYSCTL=${root}/etc/ufw/sysctl.conf`));
    bin = join(root, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'ufw'), `#!/bin/sh\nexec /usr/sbin/ufw --rootdir=${root} --datadir=${root} "$@"\n`, { mode: 0o755 });
    lab.create();
    await lab.listen(lab.host, hostPorts);
    await lab.listen(lab.pod, [80, 443, 5432]);
    lab.addKubernetesDnat();
  });

  afterAll(() => {
    lab.destroy();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const applyFirewall = (sshCidrs: string[]): string => {
    const script = join(root, 'lms-firewall');
    writeFileSync(script, firewallScript(firewallModel(labConfig(sshCidrs))), { mode: 0o755 });
    return lab.exec(lab.host, ['env', `PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, `UFW_ETC=${root}/etc/ufw`, script]);
  };
  const reachable = (r: Record<number, boolean>) => Object.entries(r).filter(([, ok]) => ok).map(([p]) => Number(p)).sort((a, b) => a - b);

  it('reaches every port before the firewall (the probe itself works)', () => {
    expect(reachable(lab.probe(addresses.edge, addresses.hostEdge, probePorts))).toEqual([...probePorts].sort((a, b) => a - b));
    expect(reachable(lab.probe(addresses.other, addresses.hostOther, probePorts))).toEqual([...probePorts].sort((a, b) => a - b));
  });

  it('from Cloudflare/admin networks: only 22, 80 and 443', () => {
    const out = applyFirewall(['10.200.1.0/24']);
    expect(out).toContain('applying rule set');
    expect(out).toContain('Status: active');
    expect(reachable(lab.probe(addresses.edge, addresses.hostEdge, probePorts))).toEqual([22, 80, 443]);
  });

  it('from anyone else: nothing (web is Cloudflare-only, SSH admin-only), NodePorts included', () => {
    expect(reachable(lab.probe(addresses.other, addresses.hostOther, probePorts))).toEqual([]);
  });

  it('is idempotent: a second run changes nothing', () => {
    const out = applyFirewall(['10.200.1.0/24']);
    expect(out).toContain('already applied');
    expect(reachable(lab.probe(addresses.edge, addresses.hostEdge, probePorts))).toEqual([22, 80, 443]);
    expect(reachable(lab.probe(addresses.other, addresses.hostOther, probePorts))).toEqual([]);
  });

  it('a changed rule set replaces the old one: SSH open to all, web still Cloudflare-only', () => {
    const out = applyFirewall([]);
    expect(out).toContain('applying rule set');
    expect(reachable(lab.probe(addresses.other, addresses.hostOther, probePorts))).toEqual([22]);
    expect(reachable(lab.probe(addresses.edge, addresses.hostEdge, probePorts))).toEqual([22, 80, 443]);
    // The old admin-only rule is gone, the rate-limited one is there.
    const status = lab.exec(lab.host, ['env', `PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, 'ufw', 'status']);
    expect(status).toMatch(/^22\/tcp on eth0\s+LIMIT\s+Anywhere/m);
    expect(status).not.toMatch(/^22\/tcp on eth0\s+ALLOW\s+10\.200\.1\.0\/24/m);
  });

  it('the guard is what stops DNATed ports: without it the NodePort is reachable', () => {
    lab.exec(lab.host, [join(root, 'etc/ufw/before.init'), 'stop']);
    try {
      expect(lab.probe(addresses.other, addresses.hostOther, [nodePort, 80])).toEqual({ [nodePort]: true, 80: true });
    } finally {
      lab.exec(lab.host, [join(root, 'etc/ufw/before.init'), 'start']);
    }
    expect(lab.probe(addresses.other, addresses.hostOther, [nodePort, 80])).toEqual({ [nodePort]: false, 80: false });
  });

  /** What the check reads, captured from the lab's host namespace into files (as on the VPS). */
  const capture = (name: string): Record<string, string> => {
    const dir = join(root, 'captured', name);
    mkdirSync(dir, { recursive: true });
    const files = { LMS_FW_UFW_STATUS: join(dir, 'ufw-status.txt'), LMS_FW_IPTABLES_SAVE: join(dir, 'iptables-save.txt'), LMS_FW_IP6TABLES_SAVE: join(dir, 'ip6tables-save.txt') };
    writeFileSync(files.LMS_FW_UFW_STATUS, lab.exec(lab.host, ['env', `PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, 'ufw', 'status', 'verbose']));
    writeFileSync(files.LMS_FW_IPTABLES_SAVE, lab.exec(lab.host, ['iptables-save']));
    writeFileSync(files.LMS_FW_IP6TABLES_SAVE, lab.exec(lab.host, ['ip6tables-save']));
    return files;
  };
  const checkScript = () => {
    const file = join(root, 'lms-firewall-check');
    writeFileSync(file, firewallCheckScript(firewallModel(labConfig([]))), { mode: 0o755 });
    return file;
  };
  const check = (files: Record<string, string>) => spawnSync('bash', [checkScript()], { encoding: 'utf8', env: { ...process.env, ...files } });
  const ufw = (...args: string[]) => lab.exec(lab.host, ['env', `PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, 'ufw', ...args]);
  const captured: Record<string, Record<string, string>> = {};

  it('lms-firewall-check passes on the active firewall, live and on its captured outputs', () => {
    // Live, in the host namespace (the real ufw, iptables-save and ip6tables-save).
    const live = spawnSync('ip', ['netns', 'exec', lab.host, 'env', `PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, 'bash', checkScript()], { encoding: 'utf8' });
    expect(live.stderr).toBe('');
    expect(live.stdout).toContain('lms-firewall-check: firewall active (UFW opens 22 80 443; LMS-GUARD guards eth0)');
    expect(live.status).toBe(0);
    captured.active = capture('active');
    expect(readFileSync(captured.active.LMS_FW_UFW_STATUS, 'utf8')).toMatch(/^Status: active$/m);
    const r = check(captured.active);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('lms-firewall-check fails on an inactive firewall (ufw disable: no rules, no guard)', () => {
    ufw('disable');
    try {
      captured.inactive = capture('inactive');
    } finally {
      ufw('--force', 'enable');
    }
    expect(readFileSync(captured.inactive.LMS_FW_UFW_STATUS, 'utf8').trim()).toBe('Status: inactive');
    const r = check(captured.inactive);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('lms-firewall-check: UFW is not active (Status: inactive)');
    expect(r.stderr).toContain("lms-firewall-check: iptables: INPUT does not drop by default (UFW's deny policy is not loaded)");
    expect(r.stderr).toContain('lms-firewall-check: ip6tables: guard chain LMS-GUARD is missing from the mangle table');
    // Re-enabled, it passes again.
    const again = check(capture('re-enabled'));
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
  });

  it('lms-firewall-check fails when another port is open or the guard is gone', () => {
    ufw('allow', '6443/tcp');
    try {
      const r = check(capture('extra-port'));
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('lms-firewall-check: port 6443 is open: 6443/tcp');
    } finally {
      ufw('delete', 'allow', '6443/tcp');
    }
    ufw('allow', 'from', '10.200.2.0/24');
    try {
      expect(check(capture('all-ports')).stderr).toContain('lms-firewall-check: every port is open to 10.200.2.0/24');
    } finally {
      ufw('delete', 'allow', 'from', '10.200.2.0/24');
    }
    lab.exec(lab.host, [join(root, 'etc/ufw/before.init'), 'stop']);
    try {
      const r = check(capture('no-guard'));
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('lms-firewall-check: iptables: guard chain LMS-GUARD is missing from the mangle table');
      expect(r.stderr).toContain('lms-firewall-check: ip6tables: PREROUTING does not send new connections on eth0 to LMS-GUARD');
    } finally {
      lab.exec(lab.host, [join(root, 'etc/ufw/before.init'), 'start']);
    }
    expect(check(capture('restored')).status).toBe(0);
  });

  describe('the k3s step installs only behind an active firewall', () => {
    // The generated install script, run for real in a private mount namespace whose /etc and /var/lib
    // are throw-away overlays: stand-ins for k3s, systemctl and curl (serving a stand-in install.sh),
    // the firewall as captured above.
    const installer = '#!/bin/sh\necho "install.sh ran: INSTALL_K3S_VERSION=$INSTALL_K3S_VERSION INSTALL_K3S_EXEC=$INSTALL_K3S_EXEC"\n';
    const installerSha = createHash('sha256').update(installer).digest('hex');
    const run = (firewall: Record<string, string>, pin: string | undefined) => {
      const dir = mkdtempSync(join(root, 'k3s-'));
      const stubs = join(dir, 'bin');
      mkdirSync(stubs);
      writeFileSync(join(dir, 'install.sh'), installer);
      writeFileSync(join(stubs, 'k3s'), '#!/bin/sh\nexit 127\n', { mode: 0o755 });
      writeFileSync(join(stubs, 'systemctl'), '#!/bin/sh\necho "systemctl $*"\n', { mode: 0o755 });
      writeFileSync(join(stubs, 'curl'), `#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ "$1" = -o ]; then cp ${dir}/install.sh "$2"; shift; fi; shift; done\n`, { mode: 0o755 });
      const version = labConfig([]).cluster.k3s.version;
      const config = labConfig([], pin ? { installScript: { version, sha256: pin } } : {});
      writeFileSync(join(dir, 'install'), k3sInstallScript(config));
      const ov = join(dir, 'ov');
      const mounts = [`mount -t tmpfs none ${ov}`];
      for (const [i, target] of ['/etc', '/var/lib'].entries()) {
        mounts.push(`mkdir -p ${ov}/u${i} ${ov}/w${i}`, `mount -t overlay overlay -o lowerdir=${target},upperdir=${ov}/u${i},workdir=${ov}/w${i} ${target}`);
      }
      mkdirSync(ov);
      const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c',
        `set -e; ${mounts.join('; ')}; rc=0; bash ${dir}/install || rc=$?; if [ -e /etc/rancher/k3s/config.yaml ]; then echo "config written"; fi; exit $rc`,
      ], { encoding: 'utf8', env: { ...process.env, ...firewall, PATH: `${stubs}:/usr/sbin:/usr/bin:/sbin:/bin` } });
      return { status: r.status, out: r.stdout, err: r.stderr };
    };

    it('active firewall, pinned installer: writes the configuration and runs install.sh', () => {
      const r = run(captured.active!, installerSha);
      expect(r.err).toBe('');
      expect(r.status).toBe(0);
      expect(r.out).toContain('lms-firewall-check: firewall active');
      expect(r.out).toContain(`install.sh ran: INSTALL_K3S_VERSION=${labConfig([]).cluster.k3s.version} INSTALL_K3S_EXEC=server`);
      expect(r.out).toContain('config written');
    });

    it('inactive firewall: refuses before writing anything or running install.sh', () => {
      const r = run(captured.inactive!, installerSha);
      expect(r.status).not.toBe(0);
      expect(r.err).toContain('k3s: refusing to install or restart k3s: the host firewall is not verifiably active');
      expect(r.err).toContain('lms-firewall-check: UFW is not active');
      expect(r.out).not.toContain('install.sh ran');
      expect(r.out).not.toContain('config written');
    });

    it('an installer whose sha256 is not the pinned one, or no pin: install.sh does not run', () => {
      const wrong = run(captured.active!, 'f'.repeat(64));
      expect(wrong.status).not.toBe(0);
      expect(wrong.err).toContain(`has sha256 ${installerSha}, not the pinned ${'f'.repeat(64)}: not running it`);
      expect(wrong.out).not.toContain('install.sh ran');
      const unpinned = run(captured.active!, undefined);
      expect(unpinned.status).not.toBe(0);
      expect(unpinned.err).toContain('k3s: refusing to run an unpinned installer');
      expect(unpinned.out).not.toContain('install.sh ran');
    });
  });

  it('production rules are UFW syntax UFW accepts (dry-run of each rule shape)', () => {
    // One rule per shape (verb, family, comment): the lab applied the same shapes for real.
    const seen = new Set<string>();
    for (const cmd of ufwCommands(firewallModel(testConfig()))) {
      if (!/^ufw (allow|limit|route)/.test(cmd)) continue;
      const shape = cmd.replace(/from \S+/, (m) => (m.includes(':') ? 'from v6' : 'from v4'));
      if (seen.has(shape)) continue;
      seen.add(shape);
      const args = cmd.split(' ').slice(1).map((a) => a.replace(/^'|'$/g, ''));
      // Comments contain spaces: rebuild them as one argument.
      const ci = args.indexOf('comment');
      const argv = ci >= 0 ? [...args.slice(0, ci), 'comment', args.slice(ci + 1).join(' ')] : args;
      execFileSync(join(bin, 'ufw'), ['--dry-run', ...argv], { stdio: 'pipe' });
    }
  });
});
