/**
 * Runs the container of a live Deployment (as a Helm chart rendered it into the cluster) as a local
 * process: the same arguments and environment (values and `fieldRef`s resolved as the kubelet would),
 * the credentials of the pod's ServiceAccount (impersonated), and the pod's writable mounts as bind
 * mounts of per-run directories in a private mount namespace, so a component that insists on its
 * in-pod paths (CloudNativePG's webhook certificates in /run/secrets/cnpg.io/webhook) writes to the
 * run dir. Only what has no equivalent without a pod network changes, each through `rewrite`:
 * listen ports (free loopback ports) and leader election (one replica).
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { V1ConfigMap, V1Container, V1Deployment, V1Secret, V1Volume } from '@kubernetes/client-node';
import { binary, type ComponentName } from '../../cluster/support/components.ts';
import type { ControlPlane } from '../../cluster/support/control-plane.ts';
import type { Kube, Listed } from '../../cluster/support/kube.ts';
import { startProcess, type Proc } from '../../cluster/support/processes.ts';
import { impersonatingKubeconfig } from './impersonation.ts';

export interface PodProcessSpec {
  /** Process and log name. */
  readonly name: string;
  readonly binary: ComponentName;
  readonly namespace: string;
  /** Label selector that finds the chart's Deployment (release names vary with fullnameOverride). */
  readonly selector: string;
  readonly container?: string;
  /** Replaces pod-network specifics in the args (ports, leader election); gets the container's args. */
  rewrite(args: string[]): Promise<string[]> | string[];
  /** Extra environment (e.g. HTTPS_PROXY for calls to Services). */
  readonly env?: Record<string, string>;
  /** In-pod paths that must be writable (emptyDir or Secret mounts the component writes to). */
  readonly mounts?: readonly string[];
  /** Some components take the kubeconfig as a flag instead of KUBECONFIG. */
  readonly kubeconfigFlag?: string;
  /**
   * A flag naming the user to impersonate, for a component that overwrites the kubeconfig's own
   * impersonation with it (prometheus-operator sets rest.Config.Impersonate.UserName from its `--as`,
   * empty unless given): set to the pod's ServiceAccount.
   */
  readonly impersonateFlag?: string;
  /** Prepended to args (a binary whose image entrypoint adds a subcommand). */
  readonly command?: readonly string[];
  /**
   * Files the image holds under its working directory that the component reads, as a path there ->
   * the built component it is a copy of (CloudNativePG finds the instance manager it hands to
   * PostgreSQL pods as `operator/manager_<arch>`, one per architecture the image ships).
   */
  readonly imageFiles?: Readonly<Record<string, ComponentName>>;
}

export interface PodProcess {
  readonly proc: Proc;
  readonly deployment: string;
  readonly serviceAccount: string;
  readonly args: string[];
  /** Re-write the ConfigMap and Secret volumes from the cluster (the kubelet's periodic sync). */
  syncVolumes(): Promise<void>;
}

/** The Deployment the selector finds, or undefined while the chart has not created it. */
export async function findDeployment(kube: Kube, namespace: string, selector: string): Promise<Listed<V1Deployment> | undefined> {
  const found = await kube.list<V1Deployment>('apps/v1', 'Deployment', namespace, selector);
  if (found.length > 1) throw new Error(`${found.length} Deployments in ${namespace} match ${selector}; expected one`);
  return found[0];
}

/** `$(VAR)` references in values, command and args, as the kubelet expands them (unknown ones stay). */
export const expandVars = (s: string, env: Record<string, string>): string => s.replace(/\$\(([A-Za-z0-9_]+)\)/g, (m, v: string) => env[v] ?? m);

/** What a pod's `fieldRef`s resolve to: values by fieldPath, and the labels for metadata.labels['x']. */
export interface PodFields {
  readonly fields: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * The container's environment as the kubelet sets it: `base` (image defaults, Service variables),
 * then envFrom, then env. `what` names the pod in errors.
 */
export async function containerEnv(kube: Kube, namespace: string, container: V1Container, pod: PodFields, what: string,
  base: Record<string, string> = {}): Promise<Record<string, string>> {
  const env: Record<string, string> = { ...base };
  for (const from of container.envFrom ?? []) {
    const ref = (from.configMapRef ?? from.secretRef)!;
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const o = await kube.get<V1ConfigMap | V1Secret>('v1', kind, ref.name!, namespace);
    if (!o && !ref.optional) throw new Error(`${what}: envFrom ${kind} ${namespace}/${ref.name} does not exist`);
    for (const [k, v] of Object.entries<string>(o?.data ?? {})) env[`${from.prefix ?? ''}${k}`] = kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : v;
  }
  for (const e of container.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    const label = field ? /^metadata\.labels\['(.+)'\]$/.exec(field) : null;
    if (e.value !== undefined) env[e.name] = expandVars(String(e.value), env);
    else if (field && pod.fields[field] !== undefined) env[e.name] = pod.fields[field];
    else if (label) env[e.name] = pod.labels?.[label[1]] ?? '';
    else if (e.valueFrom?.resourceFieldRef) continue; // GOMAXPROCS/GOMEMLIMIT from limits: the Go runtime's defaults here
    else if (e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef) {
      const ref = (e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef)!;
      const o = await kube.get<V1ConfigMap | V1Secret>('v1', e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name!, namespace);
      const v = o?.data?.[ref.key];
      if (v === undefined && !ref.optional) throw new Error(`${what} env ${e.name}: ${ref.name}/${ref.key} does not exist`);
      if (v !== undefined) env[e.name] = e.valueFrom.secretKeyRef ? Buffer.from(v, 'base64').toString('utf8') : v;
    } else if (e.valueFrom) throw new Error(`${what} env ${e.name}: ${JSON.stringify(e.valueFrom)} is not resolvable outside a pod (extend test/e2e/support/pod-process.ts)`);
    else env[e.name] = '';
  }
  return env;
}

/**
 * A ConfigMap's or Secret's keys as files in `dir`, as the kubelet writes a volume: `items` (or every
 * key), each changed file replaced atomically (a reader never sees a half-written file); `mode` and
 * `group` as the volume's defaultMode and the pod's fsGroup.
 */
export function writeVolumeKeys(dir: string, data: Record<string, string>, opts: { base64: boolean; items?: { key: string; path: string }[]; mode?: number; group?: number }): void {
  for (const it of opts.items ?? Object.keys(data).map((key) => ({ key, path: key }))) {
    if (data[it.key] === undefined) continue;
    const file = join(dir, it.path);
    const bytes = opts.base64 ? Buffer.from(data[it.key], 'base64') : Buffer.from(data[it.key]);
    if (existsSync(file) && readFileSync(file).equals(bytes)) continue;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, bytes, opts.mode === undefined ? undefined : { mode: opts.mode });
    renameSync(`${file}.tmp`, file);
    if (opts.group !== undefined) {
      chownSync(file, 0, opts.group);
      chmodSync(file, (opts.mode ?? 0o644) | 0o040);
    }
  }
}

/** `s` as one single-quoted shell word. */
export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Shell commands that bind each host path at its in-pod path (parents first), creating the mount
 * point (a directory, or an empty file for a file) on the host's root file system.
 */
export function bindMountScript(binds: readonly { readonly path: string; readonly host: string }[]): string {
  return [...binds].sort((a, b) => a.path.split('/').length - b.path.split('/').length).map((b) => {
    const target = !existsSync(b.host) || statSync(b.host).isDirectory()
      ? `mkdir -p ${shellQuote(b.path)}`
      : `mkdir -p ${shellQuote(dirname(b.path))} && { [ -e ${shellQuote(b.path)} ] || touch ${shellQuote(b.path)}; }`;
    return `${target} && mount --bind ${shellQuote(b.host)} ${shellQuote(b.path)}`;
  }).join(' && ');
}

/**
 * The container's ConfigMap, Secret and emptyDir mounts, materialised in the run dir (ConfigMap and
 * Secret keys as files, as the kubelet writes them). hostPath mounts are the host's own paths
 * already; the ServiceAccount token is replaced by the impersonating kubeconfig; a mount over a
 * parent of the run dir (an emptyDir on /tmp) is left out, or it would hide the kubeconfig.
 */
async function podMounts(kube: Kube, plane: ControlPlane, name: string, deployment: Listed<V1Deployment>, container: V1Container): Promise<{ binds: { podPath: string; host: string }[]; sync: () => Promise<void> }> {
  const ns = deployment.metadata.namespace;
  const volumes = new Map<string, V1Volume>((deployment.spec.template.spec!.volumes ?? []).map((v) => [v.name, v]));
  const binds: { podPath: string; host: string }[] = [];
  const sources: { kind: 'ConfigMap' | 'Secret'; name: string; optional: boolean; items?: { key: string; path: string }[]; host: string }[] = [];
  for (const [i, m] of (container.volumeMounts ?? []).entries()) {
    const v = volumes.get(m.name);
    if (!v || plane.runDir.startsWith(`${m.mountPath.replace(/\/$/, '')}/`)) continue;
    const host = join(plane.runDir, `${name}-volumes`, String(i));
    mkdirSync(host, { recursive: true });
    if (v.emptyDir) { binds.push({ podPath: m.mountPath, host }); continue; }
    const source = v.configMap ?? v.secret;
    if (!source) continue;
    sources.push({ kind: v.configMap ? 'ConfigMap' : 'Secret', name: v.configMap ? v.configMap.name! : v.secret!.secretName!, optional: Boolean(source.optional), items: source.items, host });
    binds.push({ podPath: m.mountPath, host: m.subPath ? join(host, m.subPath) : host });
  }
  // What the kubelet does for ConfigMap and Secret volumes: write the keys, and keep them current
  // (a component such as CloudNativePG waits for the Secret it just wrote to appear in its mount).
  const sync = async (first = false) => {
    for (const src of sources) {
      const o = await kube.get<V1ConfigMap | V1Secret>('v1', src.kind, src.name, ns);
      if (!o && !src.optional && first) throw new Error(`Deployment ${ns}/${deployment.metadata.name} mounts ${src.kind} ${src.name}, which does not exist: its pod would never start`);
      writeVolumeKeys(src.host, o?.data ?? {}, { base64: src.kind === 'Secret', items: src.items });
    }
  };
  await sync(true);
  return { binds, sync: () => sync() };
}

export async function startPodProcess(plane: ControlPlane, kube: Kube, spec: PodProcessSpec): Promise<PodProcess> {
  const deployment = await findDeployment(kube, spec.namespace, spec.selector);
  if (!deployment) throw new Error(`no Deployment in ${spec.namespace} matches ${spec.selector}`);
  const pod = deployment.spec.template.spec!;
  const container = spec.container ? pod.containers.find((c) => c.name === spec.container) : pod.containers[0];
  if (!container) throw new Error(`Deployment ${spec.namespace}/${deployment.metadata.name} has no container ${spec.container}`);
  const serviceAccount = pod.serviceAccountName ?? 'default';
  const kubeconfig = impersonatingKubeconfig(plane, spec.namespace, serviceAccount);
  const env = await containerEnv(kube, spec.namespace, container, {
    fields: { 'metadata.namespace': spec.namespace, 'metadata.name': `${deployment.metadata.name}-e2e`, 'spec.nodeName': plane.nodeName, 'spec.serviceAccountName': serviceAccount },
    labels: deployment.spec.template.metadata?.labels,
  }, `Deployment ${deployment.metadata.name}`);
  const args = await spec.rewrite([...(spec.command ?? []), ...(container.args ?? [])].map((a) => expandVars(a, env)));
  if (spec.kubeconfigFlag) args.push(`${spec.kubeconfigFlag}=${kubeconfig}`);
  if (spec.impersonateFlag) args.push(`${spec.impersonateFlag}=system:serviceaccount:${spec.namespace}:${serviceAccount}`);
  const bin = binary(spec.binary);
  const volumes = await podMounts(kube, plane, spec.name, deployment, container);
  const binds = [...volumes.binds, ...(spec.mounts ?? []).map((podPath) => ({ podPath, host: undefined }))];
  let command = bin;
  let argv = args;
  if (binds.length) {
    // mount --bind <run dir>/<name>-mounts/<n> <path> in a private mount namespace, then exec the binary.
    const script = bindMountScript(binds.map((b, i) => {
      const host = b.host ?? join(plane.runDir, `${spec.name}-mounts`, String(i));
      if (!b.host) mkdirSync(host, { recursive: true });
      return { path: b.podPath, host };
    }));
    command = 'unshare';
    argv = ['--mount', '--propagation', 'private', 'sh', '-c', `${script} && exec "$0" "$@"`, bin, ...args];
  }
  let cwd = plane.runDir;
  if (spec.imageFiles) {
    cwd = join(plane.runDir, `${spec.name}-workdir`);
    for (const [path, component] of Object.entries(spec.imageFiles)) {
      mkdirSync(dirname(join(cwd, path)), { recursive: true });
      if (!existsSync(join(cwd, path))) symlinkSync(binary(component), join(cwd, path));
    }
  }
  const proc = startProcess(spec.name, command, argv, plane.runDir, { ...env, KUBECONFIG: kubeconfig, ...spec.env }, cwd);
  return { proc, deployment: deployment.metadata.name, serviceAccount, args, syncVolumes: volumes.sync };
}

/** Replace (or add) `--flag=value`; flags given as `--flag value` pairs are replaced too. */
export function setFlag(args: string[], flag: string, value: string | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === flag) { if (args[i + 1] !== undefined && !args[i + 1].startsWith('-')) i++; continue; }
    if (a.startsWith(`${flag}=`)) continue;
    out.push(a);
  }
  if (value !== undefined) out.push(`${flag}=${value}`);
  return out;
}
