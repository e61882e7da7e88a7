/**
 * A throw-away lab of network namespaces for the firewall test. Only addresses inside these
 * namespaces are used (10.200.0.0/16); nothing leaves the machine.
 *
 *   client ns  (10.200.1.2 "Cloudflare edge + admin", 10.200.2.2 "anyone else")
 *       │ veth
 *   host ns    eth0: 10.200.1.1, 10.200.2.1   ← the VPS; the generated firewall runs here
 *       │ veth (lmspod0 10.200.3.1)
 *   pod ns     eth0: 10.200.3.2               ← a pod behind DNAT (ServiceLB hostPort / NodePort)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { repoRoot } from './config.ts';

export const addresses = { edge: '10.200.1.2', other: '10.200.2.2', hostEdge: '10.200.1.1', hostOther: '10.200.2.1', podGateway: '10.200.3.1', pod: '10.200.3.2' };

const run = (args: string[], input?: string): string => execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

export class NetnsLab {
  readonly host: string;
  readonly client: string;
  readonly pod: string;
  private readonly children: ChildProcess[] = [];

  constructor(tag = `lmsfw${process.pid}`) {
    this.host = `${tag}-host`;
    this.client = `${tag}-cli`;
    this.pod = `${tag}-pod`;
  }

  exec(ns: string, args: string[], input?: string): string {
    return run(['ip', 'netns', 'exec', ns, ...args], input);
  }

  create(): void {
    for (const ns of [this.host, this.client, this.pod]) {
      run(['ip', 'netns', 'add', ns]);
      this.exec(ns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    // client <-> host
    run(['ip', 'link', 'add', 'lmsfwc0', 'netns', this.client, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.host]);
    this.exec(this.client, ['ip', 'addr', 'add', `${addresses.edge}/24`, 'dev', 'lmsfwc0']);
    this.exec(this.client, ['ip', 'addr', 'add', `${addresses.other}/24`, 'dev', 'lmsfwc0']);
    this.exec(this.client, ['ip', 'link', 'set', 'lmsfwc0', 'up']);
    this.exec(this.host, ['ip', 'addr', 'add', `${addresses.hostEdge}/24`, 'dev', 'eth0']);
    this.exec(this.host, ['ip', 'addr', 'add', `${addresses.hostOther}/24`, 'dev', 'eth0']);
    this.exec(this.host, ['ip', 'link', 'set', 'eth0', 'up']);
    // host <-> pod
    run(['ip', 'link', 'add', 'lmspod0', 'netns', this.host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.pod]);
    this.exec(this.host, ['ip', 'addr', 'add', `${addresses.podGateway}/24`, 'dev', 'lmspod0']);
    this.exec(this.host, ['ip', 'link', 'set', 'lmspod0', 'up']);
    this.exec(this.pod, ['ip', 'addr', 'add', `${addresses.pod}/24`, 'dev', 'eth0']);
    this.exec(this.pod, ['ip', 'link', 'set', 'eth0', 'up']);
    this.exec(this.pod, ['ip', 'route', 'add', 'default', 'via', addresses.podGateway]);
    // Per-namespace setting (the host ns routes to its pods like a k3s node).
    this.exec(this.host, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  }

  /**
   * What k3s adds on a node: ServiceLB's hostPort DNAT for 80/443 and a kube-proxy NodePort for
   * PostgreSQL, plus the FORWARD accepts flannel inserts for the pod network.
   */
  addKubernetesDnat(): void {
    const ipt = (...a: string[]) => this.exec(this.host, ['iptables', '-w', ...a]);
    ipt('-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '80', '-j', 'DNAT', '--to-destination', `${addresses.pod}:80`);
    ipt('-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '443', '-j', 'DNAT', '--to-destination', `${addresses.pod}:443`);
    ipt('-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '30432', '-j', 'DNAT', '--to-destination', `${addresses.pod}:5432`);
    ipt('-I', 'FORWARD', '1', '-d', '10.200.3.0/24', '-j', 'ACCEPT');
    ipt('-I', 'FORWARD', '1', '-s', '10.200.3.0/24', '-j', 'ACCEPT');
  }

  async listen(ns: string, ports: number[]): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, `${repoRoot}/bootstrap/test/support/listener.mjs`, ...ports.map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.children.push(child);
    const [chunk] = await Promise.race([
      once(child.stdout!, 'data'),
      once(child, 'exit').then(() => { throw new Error(`listener in ${ns} exited`); }),
    ]) as [Buffer];
    if (!chunk.toString().includes('ready')) throw new Error(`listener in ${ns}: ${chunk.toString()}`);
  }

  /** Which ports of `target` accept a connection from `source` (run in the client namespace). */
  probe(source: string, target: string, ports: number[], timeoutMs = 800): Record<number, boolean> {
    const out = this.exec(this.client, [process.execPath, `${repoRoot}/bootstrap/test/support/probe.mjs`, source, target, String(timeoutMs), ...ports.map(String)]);
    return JSON.parse(out) as Record<number, boolean>;
  }

  destroy(): void {
    for (const c of this.children) { c.stdin?.end(); c.kill(); }
    for (const ns of [this.host, this.client, this.pod]) {
      try { run(['ip', 'netns', 'del', ns]); } catch { /* already gone */ }
    }
  }
}
