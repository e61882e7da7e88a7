/**
 * The cert-manager binaries the first-deploy test runs (built by setup from our own main packages in
 * test/cluster/components/cert-manager, see its go.mod) against what runs them: cert-manager v1.21.1's
 * chart and the e2e harness. No cluster needed; part of `npm test`.
 *
 * - Every flag the chart's three Deployment templates can render (the `- --flag` lines of their
 *   container args, under any values) and every flag the harness rewrites (support/operators.ts) is
 *   accepted by the binary's flag parser: `--help` after the arguments exits 0 only if they all parse
 *   (cobra parses every flag before it looks at --help). Helm is not a tool of this repository, so the
 *   templates are read directly; the e2e test runs the binaries with what helm-controller renders.
 * - A misspelt flag fails (non-zero exit) with pflag's error naming it; so does a bad value.
 * - --config works as upstream: the file is decoded strictly, and command-line flags override it.
 * - Each reports v1.21.1 (`binary()` checks the `version="v1.21.1"` of its startup line).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { binary, pinnedVersion } from '../cluster/support/components.ts';
import { chartsDir } from './support/helm-repo.ts';
import { operatorSpecs } from './support/operators.ts';
import { setFlag } from './support/pod-process.ts';

const version = pinnedVersion('cert-manager', 'github.com/cert-manager/cert-manager');
const chart = join(chartsDir(), `cert-manager-${version}.tgz`);

const binaries = {
  'cert-manager-controller': 'deployment.yaml',
  'cert-manager-webhook': 'webhook-deployment.yaml',
  'cert-manager-cainjector': 'cainjector-deployment.yaml',
} as const;
type Binary = keyof typeof binaries;

/**
 * Values for flags whose value the templates compute. Our values render the first group
 * (dist/platform/controllers/cert-manager.yaml); the rest are what other values would give. With
 * --help only the parse matters, so each needs only the flag's type; a flag the chart adds in a new
 * version and this table lacks fails the test, to be added here.
 */
const templated: Record<string, string> = {
  // Rendered for our values (`$(POD_NAMESPACE)` expanded as the kubelet does).
  '--v': '2',
  '--cluster-resource-namespace': 'cert-manager',
  '--leader-election-namespace': 'cert-manager',
  '--acme-http01-solver-image': `quay.io/jetstack/cert-manager-acmesolver:${version}`,
  '--max-concurrent-challenges': '60',
  '--dns01-recursive-nameservers': '1.1.1.1:53,1.0.0.1:53',
  '--secure-port': '10250',
  '--dynamic-serving-ca-secret-namespace': 'cert-manager',
  '--dynamic-serving-ca-secret-name': 'cert-manager-webhook-ca',
  '--dynamic-serving-dns-names': 'cert-manager-webhook.cert-manager.svc',
  // Rendered only with other values.
  '--leader-election-lease-duration': '60s',
  '--leader-election-renew-deadline': '40s',
  '--leader-election-retry-period': '15s',
  '--default-issuer-name': 'letsencrypt',
  '--default-issuer-kind': 'ClusterIssuer',
  '--default-issuer-group': 'cert-manager.io',
  '--feature-gates': 'AdditionalCertificateOutputFormats=true',
  '--acme-http01-solver-extra-labels': 'team=platform',
  '--acme-http01-solver-runtime-class-name': '"gvisor"',
  '--enable-client-verification': 'true',
  '--client-ca-path': '/etc/ssl/client-ca.crt',
  '--client-subject-names': 'kube-apiserver',
};

/** The `- --flag[=value]` lines of a template's container args, values filled in. */
function chartArgs(template: string): { args: string[]; missing: string[] } {
  const text = execFileSync('tar', ['-xzOf', chart, `cert-manager/templates/${template}`], { encoding: 'utf8' });
  const start = text.indexOf('args:');
  if (start < 0) throw new Error(`${template}: no args`);
  const args: string[] = [];
  const missing: string[] = [];
  for (const line of text.slice(start).split('\n').slice(1)) {
    if (/^\s*(ports|env|volumeMounts|resources|securityContext|livenessProbe|readinessProbe|startupProbe):/.test(line)) break;
    const m = /^\s*- (--[a-z0-9-]+)(?:=(.*))?$/.exec(line);
    if (!m) continue;
    const [, flag, raw] = m;
    if (raw === undefined) args.push(flag);
    else if (!raw.includes('{{') && !raw.includes('$(')) args.push(`${flag}=${raw}`);
    else if (flag in templated) args.push(`${flag}=${templated[flag]}`);
    else missing.push(`${flag}=${raw}`);
  }
  return { args, missing };
}

/** The args after the harness's rewrites for this binary (ports, leader election, kubeconfig). */
async function harnessArgs(name: Binary, args: string[]): Promise<string[]> {
  const spec = operatorSpecs().find((s) => s.binary === name);
  if (!spec) throw new Error(`support/operators.ts runs no ${name}`);
  let a = args;
  for (const s of spec.serves ?? []) a = setFlag(a, s.flag, s.address ? '127.0.0.1:10250' : '10250');
  a = await spec.rewrite(a, async () => 10251);
  if (spec.kubeconfigFlag) a = [...a, `${spec.kubeconfigFlag}=/nonexistent/kubeconfig`];
  return a;
}

function run(name: Binary, args: string[]) {
  const r = spawnSync(binary(name), args, {
    encoding: 'utf8', timeout: 30_000,
    env: { ...process.env, KUBECONFIG: '/nonexistent/cert-manager-binaries-test/kubeconfig' },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const work = mkdtempSync(join(tmpdir(), 'cert-manager-binaries-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(Object.keys(binaries) as Binary[])('%s', (name) => {
  it(`reports ${version}`, () => {
    // binary() runs it and requires `version="v1.21.1"` in its startup line (a SetupError otherwise).
    expect(() => binary(name)).not.toThrow();
    const r = run(name, ['--kubeconfig=/nonexistent/kubeconfig']);
    expect(r.out).toContain(`version="${version}"`);
    expect(r.out).toContain('git_commit="24e33194fb39488eff2bbf10c6dc640f407cad44"');
    expect(r.status).not.toBe(0);
  });

  it('accepts every flag the chart can render, with the harness rewrites', async () => {
    const { args, missing } = chartArgs(binaries[name]);
    expect(missing, 'flags with a templated value and no sample in `templated`').toEqual([]);
    expect(args.length).toBeGreaterThan(2);
    const parsed = run(name, [...args, '--help']);
    expect(parsed.out).not.toMatch(/unknown flag|invalid argument/);
    expect(parsed.status, parsed.out).toBe(0);
    const rewritten = run(name, [...(await harnessArgs(name, args)), '--help']);
    expect(rewritten.status, rewritten.out).toBe(0);
  });

  it('rejects a misspelt flag or a bad value, naming it', () => {
    const misspelt = run(name, ['--v=2', '--metrics-listen-adress=127.0.0.1:0']);
    expect(misspelt.status).not.toBe(0);
    expect(misspelt.out).toContain('unknown flag: --metrics-listen-adress');
    const bad = run(name, ['--v=verbose']);
    expect(bad.status).not.toBe(0);
    expect(bad.out).toMatch(/invalid argument \\?"verbose\\?" for \\?"-v, --v\\?" flag/);
  });
});

describe('--config', () => {
  const file = (n: string, text: string) => {
    const path = join(work, n);
    writeFileSync(path, text);
    return path;
  };
  const kubeconfigFile = (kind: string, group: string) =>
    file(`${kind}.yaml`, `apiVersion: ${group}.config.cert-manager.io/v1alpha1\nkind: ${kind}\nkubeConfig: /nonexistent/from-file\n`);

  it.each([
    ['cert-manager-controller', 'ControllerConfiguration', 'controller'],
    ['cert-manager-webhook', 'WebhookConfiguration', 'webhook'],
  ] as const)('%s reads the file, and a command-line flag overrides it', (name, kind, group) => {
    const config = kubeconfigFile(kind, group);
    expect(run(name, [`--config=${config}`]).out).toContain('open /nonexistent/from-file');
    expect(run(name, [`--config=${config}`, '--kubeconfig=/nonexistent/from-flag']).out).toContain('open /nonexistent/from-flag');
  });

  it('cert-manager-cainjector validates the file and the flags together', () => {
    const config = file('cainjector.yaml', 'apiVersion: cainjector.config.cert-manager.io/v1alpha1\nkind: CAInjectorConfiguration\nnamespace: cert-manager\n');
    const r = run('cert-manager-cainjector', [`--config=${config}`, '--ignore-namespaces=kube-system']);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('ignoreNamespaces: Forbidden');
  });

  it('decodes strictly: an unknown field fails', () => {
    const config = file('bad.yaml', 'apiVersion: controller.config.cert-manager.io/v1alpha1\nkind: ControllerConfiguration\nkubeconfig: /typo\n');
    const r = run('cert-manager-controller', [`--config=${config}`]);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/strict decoding error: unknown field \\?"kubeconfig\\?"/);
  });
});
