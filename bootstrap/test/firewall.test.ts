/**
 * The generated firewall, applied with the real UFW (and iptables) inside a network namespace and
 * probed from another namespace. UFW runs with --rootdir/--datadir pointing at a private copy of its
 * configuration, so neither the machine's UFW files nor its own firewall are touched.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firewallModel, firewallScript, ufwCommands } from '../host/firewall.ts';
import { testConfig } from './support/config.ts';
import { addresses, NetnsLab } from './support/netns.ts';

const hostPorts = [22, 80, 443, 6443, 10250, 5432, 6379, 9100];
const nodePort = 30432;
const probePorts = [...hostPorts, nodePort];

// The lab's client addresses stand in for Cloudflare's edge and an admin network.
const labConfig = (sshCidrs: string[]) => testConfig({
  cluster: {
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
