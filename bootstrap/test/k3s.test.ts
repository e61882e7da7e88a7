/**
 * The generated k3s configuration: every key is a flag of the pinned k3s release, every *-arg flag a
 * flag of the embedded Kubernetes component, and the kubelet reservation is the capacity budget's.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { auditPolicy, eventRateLimitConfig, k3sConfig, k3sConfigYaml, k3sFiles, k3sInstallScript, k3sPaths, kubeletTlsCipherSuites, podSecurityConfig } from '../host/k3s.ts';
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

  it('carries the CIS items of the current k3s hardening guide: EventRateLimit, no token extension, kubelet TLS ciphers', () => {
    const api = cfg['kube-apiserver-arg'] as string[];
    // The guide's list: k3s's default NodeRestriction plus EventRateLimit (configured in psa.yaml).
    expect(api).toContain('enable-admission-plugins=NodeRestriction,EventRateLimit');
    expect(api).toContain(`admission-control-config-file=${k3sPaths.psa}`);
    expect(api).toContain('service-account-extend-token-expiration=false');
    const kubelet = cfg['kubelet-arg'] as string[];
    expect(kubelet).toContain(`tls-cipher-suites=${kubeletTlsCipherSuites.join(',')}`);
    // ECDHE key exchange and AEAD ciphers only: no CBC, no static RSA, no 3DES/RC4.
    for (const suite of kubeletTlsCipherSuites) expect(suite).toMatch(/^TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305)$/);
    expect(kubeletTlsCipherSuites).toHaveLength(6);
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

  it('configures EventRateLimit in the same AdmissionConfiguration, from a file the k3s step writes', () => {
    const admission = parse(podSecurityConfig(config));
    expect(admission.plugins.map((p: { name: string }) => p.name)).toEqual(['PodSecurity', 'EventRateLimit']);
    expect(admission.plugins[1]).toEqual({ name: 'EventRateLimit', path: k3sPaths.eventRateLimit });
    // The cluster tests point it at their run directory.
    expect(parse(podSecurityConfig(config, '/tmp/x/erl.yaml')).plugins[1].path).toBe('/tmp/x/erl.yaml');
    const erl = parse(eventRateLimitConfig());
    expect(erl).toMatchObject({ apiVersion: 'eventratelimit.admission.k8s.io/v1alpha1', kind: 'Configuration' });
    expect(erl.limits.map((l: { type: string }) => l.type)).toEqual(['Server', 'Namespace', 'User']);
    for (const l of erl.limits) expect(l.burst).toBeGreaterThanOrEqual(l.qps);
    // Written by the k3s step (root-only), next to psa.yaml.
    const files = k3sFiles(config);
    expect(files.find((f) => f.path === k3sPaths.eventRateLimit)).toMatchObject({ permissions: '0600', content: eventRateLimitConfig() });
    expect(k3sInstallScript(config)).toContain(`write_file '${k3sPaths.eventRateLimit}' 0600 '${Buffer.from(eventRateLimitConfig()).toString('base64')}'`);
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

describe('k3s release pins', () => {
  const version = testConfig().cluster.k3s.version;

  it('pins the installer to the sha256 of the version it installs, and refuses an unpinned one', () => {
    const sha = 'a'.repeat(64);
    expect(k3sInstallScript(testConfig({ cluster: { k3s: { installScript: { version, sha256: sha } } } }))).toContain(`INSTALLER_SHA256='${sha}'`);
    expect(k3sInstallScript(testConfig())).toContain("INSTALLER_SHA256=''");
    expect(k3sInstallScript(testConfig())).toContain('refusing to run an unpinned installer');
    // The check runs before anything is written or installed.
    const script = k3sInstallScript(testConfig());
    expect(script.indexOf('if ! bash "$fw_check"; then')).toBeLessThan(script.indexOf('if write_file'));
  });

  it('a version bump without re-pinning fails the config (the old bytes never run as the new release)', () => {
    expect(() => testConfig({ cluster: { k3s: { version: 'v1.36.4+k3s1', installScript: { version, sha256: 'a'.repeat(64) } } } }))
      .toThrow(/installScript\.version.*pins install\.sh of v1\.36\.3\+k3s1, but version is v1\.36\.4\+k3s1/);
    expect(() => testConfig({ cluster: { k3s: { upgradeImage: { tag: 'v1.36.2-k3s1', digest: `sha256:${'b'.repeat(64)}` } } } }))
      .toThrow(/upgradeImage\.tag.*is not the k3s-upgrade tag of v1\.36\.3\+k3s1 \(v1\.36\.3-k3s1\)/);
  });
});
