/**
 * The generated k3s configuration: every key is a flag of the pinned k3s release, every *-arg flag a
 * flag of the embedded Kubernetes component, and the kubelet reservation is the capacity budget's.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { auditPolicy, k3sConfig, k3sConfigYaml, podSecurityConfig } from '../host/k3s.ts';
import { repoRoot, testConfig } from './support/config.ts';

const dataLines = (file: string): string[] =>
  readFileSync(`${repoRoot}/bootstrap/testdata/${file}`, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const k3sFlags = new Set(dataLines('k3s-server-flags.txt'));
const componentFlags = new Map<string, Set<string>>();
for (const line of dataLines('kubernetes-component-flags.txt')) {
  const [component, flag] = line.split(/\s+/);
  if (!componentFlags.has(component!)) componentFlags.set(component!, new Set());
  componentFlags.get(component!)!.add(flag!);
}
const argKeys: Record<string, string> = {
  'kube-apiserver-arg': 'kube-apiserver',
  'kube-controller-manager-arg': 'kube-controller-manager',
  'kubelet-arg': 'kubelet',
};

/** Problems with a k3s config: unknown keys, unknown component flags. */
function unknownFlags(cfg: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(cfg)) {
    if (!k3sFlags.has(key)) problems.push(`k3s: ${key}`);
    const component = argKeys[key];
    if (component) {
      for (const arg of value as string[]) {
        const flag = arg.split('=')[0]!;
        if (!componentFlags.get(component)?.has(flag)) problems.push(`${component}: ${flag}`);
      }
    }
  }
  return problems;
}

describe('k3s config.yaml', () => {
  const config = testConfig();
  const cfg = parse(k3sConfigYaml(config)) as Record<string, unknown>;

  it('uses only flags of the pinned k3s release and its Kubernetes components', () => {
    expect(k3sFlags.size).toBeGreaterThan(100);
    expect(unknownFlags(cfg)).toEqual([]);
  });

  it('the flag check catches a misspelt key or component flag', () => {
    expect(unknownFlags({ ...cfg, 'secret-encryption': true, 'kubelet-arg': ['system-reserve=cpu=1'] }).sort()).toEqual(['k3s: secret-encryption', 'kubelet: system-reserve']);
  });

  it('hardens the server: secrets encryption, kernel defaults, 0600 kubeconfig, PSA, audit with rotation', () => {
    expect(cfg['secrets-encryption']).toBe(true);
    expect(cfg['protect-kernel-defaults']).toBe(true);
    expect(cfg['write-kubeconfig-mode']).toBe('0600');
    expect(cfg['tls-san']).toEqual(['127.0.0.1', ...config.cluster.bootstrap.k3s.tlsSans]);
    const api = cfg['kube-apiserver-arg'] as string[];
    expect(api).toContain('admission-control-config-file=/var/lib/rancher/k3s/server/psa.yaml');
    expect(api).toContain('audit-policy-file=/var/lib/rancher/k3s/server/audit.yaml');
    const a = config.cluster.bootstrap.k3s.audit;
    expect(api).toEqual(expect.arrayContaining([`audit-log-maxage=${a.maxAgeDays}`, `audit-log-maxbackup=${a.maxBackups}`, `audit-log-maxsize=${a.maxSizeMB}`]));
  });

  it('reserves for the kubelet exactly what the capacity budget subtracts (cluster.reservation)', () => {
    const changed = testConfig({ cluster: { reservation: { systemReserved: { cpu: '700m', memory: '1Gi' }, kubeReserved: { cpu: '300m', memory: '512Mi' }, evictionHardMemory: '256Mi' } } });
    const kubelet = k3sConfig(changed)['kubelet-arg'] as string[];
    expect(kubelet).toContain('system-reserved=cpu=700m,memory=1Gi');
    expect(kubelet).toContain('kube-reserved=cpu=300m,memory=512Mi');
    expect(kubelet.find((a) => a.startsWith('eviction-hard='))).toBe('eviction-hard=memory.available<256Mi,nodefs.available<10%,imagefs.available<15%,nodefs.inodesFree<5%');
    const r = config.cluster.reservation;
    expect(cfg['kubelet-arg']).toContain(`system-reserved=cpu=${r.systemReserved.cpu},memory=${r.systemReserved.memory}`);
  });

  it('the k3s version comes from cluster.k3s.version', () => {
    expect(k3sConfigYaml(config)).toContain(`(k3s ${config.cluster.k3s.version})`);
  });
});

describe('Pod Security Admission and audit policy', () => {
  const config = testConfig();
  it('defaults unlabelled namespaces to the configured level, exempting only the configured namespaces', () => {
    const psa = parse(podSecurityConfig(config));
    expect(psa.kind).toBe('AdmissionConfiguration');
    const c = psa.plugins[0].configuration;
    expect(psa.plugins[0].name).toBe('PodSecurity');
    expect(c.apiVersion).toBe('pod-security.admission.config.k8s.io/v1');
    expect(c.defaults.enforce).toBe('restricted');
    expect(c.exemptions.namespaces).toEqual(['kube-system']);
  });

  it('never records Secret payloads, records who changed RBAC in full', () => {
    const p = parse(auditPolicy());
    const rules = p.rules as { level: string; resources?: { group: string; resources?: string[] }[]; verbs?: string[] }[];
    const secretRule = rules.findIndex((r) => r.resources?.some((g) => g.group === '' && g.resources?.includes('secrets')));
    const firstBodyRule = rules.findIndex((r) => r.level === 'Request' || r.level === 'RequestResponse');
    expect(rules[secretRule]!.level).toBe('Metadata');
    // First match wins: the Metadata rule for secrets must come before any rule that logs bodies.
    expect(secretRule).toBeLessThan(firstBodyRule);
    expect(rules.at(-1)).toEqual({ level: 'Metadata' });
  });
});
