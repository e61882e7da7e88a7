/**
 * The binaries the cluster tests run, where they come from, and the version each must report.
 *
 * Each binary is built by scripts/setup.d/90-cluster-components.sh from a wrapper module under
 * test/cluster/components/<wrapper>/ into .cache/bin; the version pinned in that go.mod is the one
 * the binary must report. With internet you may instead point an environment variable (`env`) at an
 * official release binary of the same version. A missing binary is a setup failure, never a skip.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..', '..');
export const cacheBin = join(repoRoot, '.cache', 'bin');
/** Files setup extracts from pinned module downloads (kwok stages, k3s CRDs). */
export const clusterAssets = join(repoRoot, '.cache', 'cluster');

// Tools are found through PATH with .cache/bin first, also when the tests are run directly.
if (!(process.env.PATH ?? '').split(':').includes(cacheBin)) process.env.PATH = `${cacheBin}:${process.env.PATH ?? ''}`;

export class SetupError extends Error {
  constructor(message: string) {
    super(`${message}\nRun \`npm run setup\` (builds every cluster component into .cache/bin; see docs/testing.md).`);
    this.name = 'SetupError';
  }
}

interface ComponentSource {
  /** Environment variable that may name an official release binary instead. */
  readonly env: string;
  readonly wrapper: string;
  readonly module: string;
}

/** A binary that prints its version. */
interface PrintsVersion extends ComponentSource {
  /** Arguments that print the version, and the text the output must contain for version `v`. */
  readonly versionArgs: string[];
  readonly expect: (v: string) => string;
  /** Environment added for that call. */
  readonly versionEnv?: Record<string, string>;
}

/** A binary without a version flag (the Flux controllers, the Barman Cloud plugin). */
interface RecordsVersion extends ComponentSource {
  /** The version of `module` the binary at `path` was built from; it must equal the pinned one. */
  readonly version: (path: string, module: string) => string;
}

type Component = PrintsVersion | RecordsVersion;

const noKubeconfig = '/nonexistent/cert-manager-version-check/kubeconfig';
const certManagerVersionCheck = {
  versionArgs: [`--kubeconfig=${noKubeconfig}`],
  versionEnv: { KUBECONFIG: noKubeconfig },
  expect: (v: string) => `version="${v}"`,
};

export const components = {
  'kube-apiserver': { env: 'KUBE_APISERVER_BIN', wrapper: 'kubernetes', module: 'k8s.io/kubernetes', versionArgs: ['--version'], expect: (v: string) => `Kubernetes ${v}` },
  'kube-controller-manager': { env: 'KUBE_CONTROLLER_MANAGER_BIN', wrapper: 'kubernetes', module: 'k8s.io/kubernetes', versionArgs: ['--version'], expect: (v: string) => `Kubernetes ${v}` },
  'kube-scheduler': { env: 'KUBE_SCHEDULER_BIN', wrapper: 'kubernetes', module: 'k8s.io/kubernetes', versionArgs: ['--version'], expect: (v: string) => `Kubernetes ${v}` },
  kine: { env: 'KINE_BIN', wrapper: 'kine', module: 'github.com/k3s-io/kine', versionArgs: ['--version'], expect: (v: string) => `version ${v}` },
  kwok: { env: 'KWOK_BIN', wrapper: 'kwok', module: 'sigs.k8s.io/kwok', versionArgs: ['--version'], expect: (v: string) => `version ${v}` },
  'rollouts-controller': { env: 'ROLLOUTS_CONTROLLER_BIN', wrapper: 'argo-rollouts', module: 'github.com/argoproj/argo-rollouts', versionArgs: ['--version'], expect: (v: string) => v },
  prometheus: { env: 'PROMETHEUS_BIN', wrapper: 'prometheus', module: 'github.com/prometheus/prometheus', versionArgs: ['--version'], expect: (v: string) => `version ${prometheusRelease(v)}` },
  'source-controller': { env: 'SOURCE_CONTROLLER_BIN', wrapper: 'flux-source-controller', module: 'github.com/fluxcd/source-controller', version: goBuildInfoVersion },
  'kustomize-controller': { env: 'KUSTOMIZE_CONTROLLER_BIN', wrapper: 'flux-kustomize-controller', module: 'github.com/fluxcd/kustomize-controller', version: goBuildInfoVersion },
  'flux-helm-controller': { env: 'FLUX_HELM_CONTROLLER_BIN', wrapper: 'flux-helm-controller', module: 'github.com/fluxcd/helm-controller', version: goBuildInfoVersion },
  'notification-controller': { env: 'NOTIFICATION_CONTROLLER_BIN', wrapper: 'flux-notification-controller', module: 'github.com/fluxcd/notification-controller', version: goBuildInfoVersion },
  // `version` prints "Build: {Version:1.30.0 Commit:... Date:...}".
  'cnpg-manager': { env: 'CNPG_MANAGER_BIN', wrapper: 'cloudnative-pg', module: 'github.com/cloudnative-pg/cloudnative-pg', versionArgs: ['version'], expect: (v: string) => `{Version:${v.replace(/^v/, '')} ` },
  'barman-cloud-plugin': { env: 'BARMAN_CLOUD_PLUGIN_BIN', wrapper: 'plugin-barman-cloud', module: 'github.com/cloudnative-pg/plugin-barman-cloud', version: goBuildInfoVersion },
  'prometheus-operator': { env: 'PROMETHEUS_OPERATOR_BIN', wrapper: 'prometheus-operator', module: 'github.com/prometheus-operator/prometheus-operator', versionArgs: ['--version'], expect: (v: string) => `version ${v.replace(/^v/, '')} ` },
  'kube-state-metrics': { env: 'KUBE_STATE_METRICS_BIN', wrapper: 'kube-state-metrics', module: 'k8s.io/kube-state-metrics/v2', versionArgs: ['version'], expect: (v: string) => `version ${v} ` },
  'system-upgrade-controller': { env: 'SYSTEM_UPGRADE_CONTROLLER_BIN', wrapper: 'system-upgrade-controller', module: 'github.com/rancher/system-upgrade-controller', versionArgs: ['--version'], expect: (v: string) => `version ${v} ` },
  // cert-manager has no version flag: each binary logs `"starting cert-manager ..." version="v1.21.1"`
  // first thing and then fails on the missing kubeconfig (the cainjector reads only KUBECONFIG).
  'cert-manager-controller': { env: 'CERT_MANAGER_CONTROLLER_BIN', wrapper: 'cert-manager', module: 'github.com/cert-manager/cert-manager', ...certManagerVersionCheck },
  'cert-manager-webhook': { env: 'CERT_MANAGER_WEBHOOK_BIN', wrapper: 'cert-manager', module: 'github.com/cert-manager/cert-manager', ...certManagerVersionCheck },
  'cert-manager-cainjector': { env: 'CERT_MANAGER_CAINJECTOR_BIN', wrapper: 'cert-manager', module: 'github.com/cert-manager/cert-manager', ...certManagerVersionCheck },
  // Let's Encrypt's ACME test server, the first-deploy test's stand-in for Let's Encrypt.
  pebble: { env: 'PEBBLE_BIN', wrapper: 'pebble', module: 'github.com/letsencrypt/pebble/v2', version: goBuildInfoVersion },
} satisfies Record<string, Component>;

export type ComponentName = keyof typeof components;

/** The version a wrapper's go.mod pins for `module`. */
export function pinnedVersion(wrapper: string, module: string): string {
  const goMod = readFileSync(join(repoRoot, 'test', 'cluster', 'components', wrapper, 'go.mod'), 'utf8');
  const escaped = module.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const m = new RegExp(`^(?:require\\s+|\\s+)${escaped}\\s+(v\\S+)`, 'm').exec(goMod);
  if (!m) throw new Error(`test/cluster/components/${wrapper}/go.mod does not require ${module}`);
  return m[1];
}

/** Prometheus' Go module v0.X.Y is release 3.(X-300).Y (v0.316.0 = 3.16.0). */
function prometheusRelease(moduleVersion: string): string {
  const m = /^v0\.3(\d\d)\.(\d+)$/.exec(moduleVersion);
  return m ? `3.${Number(m[1])}.${m[2]}` : moduleVersion;
}

/**
 * The version of `module` in a Go binary's build info (`go version -m`, so `go` must be on PATH, as
 * setup needs it anyway): the `dep` line when the binary was built from one of our wrapper modules,
 * the `mod` line when it was built in the module's own repository. Empty when neither names a version
 * (a release build from a checkout without git data records `(devel)`).
 */
export function goBuildInfoVersion(path: string, module: string): string {
  let out: string;
  try {
    out = execFileSync('go', ['version', '-m', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (caught) {
    // execFileSync's error: the spawn error code, or the exit with the output.
    const e = caught as NodeJS.ErrnoException & { stderr?: string };
    throw new SetupError(e.code === 'ENOENT'
      ? `go is not on PATH; it reads the module version recorded in ${path}`
      : `\`go version -m ${path}\` failed: ${String(e.stderr || e.message).trim()}`);
  }
  for (const line of out.split('\n')) {
    const [kind, modulePath, version] = line.trim().split(/\s+/);
    if ((kind === 'mod' || kind === 'dep') && modulePath === module && version !== '(devel)') return version;
  }
  return '';
}

const checked = new Map<ComponentName, string>();

/** Absolute path of a component binary of the pinned version, or a SetupError saying what to do. */
export function binary(name: ComponentName): string {
  const known = checked.get(name);
  if (known) return known;
  const c: Component = components[name];
  const version = pinnedVersion(c.wrapper, c.module);
  const fromEnv = process.env[c.env];
  const path = fromEnv || join(cacheBin, name);
  if (!existsSync(path)) {
    throw new SetupError(fromEnv
      ? `${c.env}=${fromEnv}: no such file (it must name the ${name} ${version} binary)`
      : `${name} ${version} is missing: .cache/bin/${name} was not built (or set ${c.env} to an official ${version} binary).`);
  }
  try { accessSync(path, constants.X_OK); } catch { throw new SetupError(`${path} is not executable`); }
  if ('version' in c) {
    const recorded = c.version(path, c.module);
    if (recorded !== version) {
      throw new SetupError(`${path} was built from ${c.module} ${recorded || '(no version recorded)'}, expected ${version} (pinned in test/cluster/components/${c.wrapper}/go.mod)`);
    }
    checked.set(name, path);
    return path;
  }
  let out: string;
  try {
    out = execFileSync(path, c.versionArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000, env: { ...process.env, ...c.versionEnv } });
  } catch (caught) {
    const e = caught as { stdout?: string; stderr?: string };
    out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  const want = c.expect(version);
  if (!out.includes(want)) {
    throw new SetupError(`${path} reports "${out.trim().split('\n')[0]}", expected "${want}" (pinned in test/cluster/components/${c.wrapper}/go.mod)`);
  }
  checked.set(name, path);
  return path;
}

/** A file setup extracted into .cache/cluster. */
export function asset(relPath: string): string {
  const path = join(clusterAssets, relPath);
  if (!existsSync(path)) throw new SetupError(`${path} is missing (extracted by scripts/setup.d/90-cluster-components.sh).`);
  return path;
}
