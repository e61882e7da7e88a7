/**
 * The kubelet for CloudNativePG's database pods in the first-deploy test: kwok stands in for the
 * kubelet everywhere else, but a Cluster only becomes Ready when its instance manager answers the
 * operator, so these pods run for real, from the pod objects the operator created:
 *
 * - a network namespace per pod with the pod IP on a veth to a host bridge, where the operator
 *   dials `https://<podIP>:8000` (status) as in a cluster, and the pod reaches the API server at
 *   the `kubernetes` Service address (10.43.0.1:443, forwarded to the test API server);
 * - each container a process in its own mount namespace with the pod's volumes bound at their
 *   mount paths (emptyDir, the PVC's local-path directory, Secret/ConfigMap keys, the projected
 *   ServiceAccount token from the TokenRequest API, bound to the pod), the image's files bound
 *   where the image has them, running as the pod's user with only the container's environment;
 * - init containers in order, sidecars (restartPolicy Always) kept running, then the main
 *   containers; readiness from the containers' own probes; the pod status written as the kubelet
 *   writes it (IP, conditions, container states; Succeeded or Failed for Job pods); deletion as
 *   the kubelet does it (containers stopped, then the pod removed).
 *
 * Images map to what this machine builds or installs (imageRuntime): the operator image's /manager
 * (which the bootstrap-controller init container copies to /controller/manager, as in a cluster),
 * the Barman Cloud sidecar's /manager with barman-cloud on PATH, and PostgreSQL 18 for the
 * postgresql image. Needs root (namespaces, veth, setpriv), as the rest of the harness does.
 */
import { execFile } from 'node:child_process';
import { chownSync, chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type { V1Container, V1Pod, V1Probe, V1Volume } from '@kubernetes/client-node';
import { barmanCloudBin, postgres18Home } from '../../../drill/tools.ts';
import { binary } from '../../cluster/support/components.ts';
import type { ControlPlane } from '../../cluster/support/control-plane.ts';
import type { Kube } from '../../cluster/support/kube.ts';
import { startProcess, type Proc } from '../../cluster/support/processes.ts';
import { bindMountScript, containerEnv, expandVars, shellQuote, writeVolumeKeys } from './pod-process.ts';

const exec = promisify(execFile);
const ip = async (...args: string[]) => { await exec('ip', args); };

/** The labels of the pods this runs (kwok must leave them alone: ControlPlaneOptions.podsRunByTest). */
export const postgresPodLabels: Readonly<Record<string, readonly string[]>> = {
  'cnpg.io/podRole': ['instance'],
  'cnpg.io/jobRole': ['initdb'],
};

/** Host side of the pod network (inside the cluster CIDR, outside kwok's 10.42.0.0/24). */
const bridge = { name: 'lmspods0', gateway: '10.42.1.1', prefix: '10.42.1.', mask: 24 };
/** The `kubernetes` Service address (the API server certificate names it). */
const apiServiceAddress = '10.43.0.1';
/** The node's InternalIP (kwok's --node-ip). */
const hostIP = '10.0.0.10';
const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

interface ImageRuntime {
  /** The image's ENTRYPOINT, for containers without `command`. */
  readonly entrypoint?: string[];
  /** Path in the container -> file or directory on this machine. */
  readonly files: Record<string, string>;
  /** PATH entries before the default ones. */
  readonly path: string[];
}

/** What an image holds, as far as the pods run here use it. */
export function imageRuntime(image: string): ImageRuntime {
  const repository = image.split('@')[0].replace(/:[^/:]+$/, '');
  const tag = /:([^/:@]+)(@|$)/.exec(image)?.[1] ?? '';
  switch (repository) {
    case 'ghcr.io/cloudnative-pg/cloudnative-pg':
      return { entrypoint: ['/manager'], files: { '/manager': binary('cnpg-manager') }, path: [] };
    case 'ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar':
      return { entrypoint: ['/manager'], files: { '/manager': binary('barman-cloud-plugin') }, path: [barmanCloudBin()] };
    case 'ghcr.io/cloudnative-pg/postgresql': {
      if (!tag.startsWith('18.')) throw new Error(`image ${image}: only PostgreSQL 18 is installed here (scripts/setup.d/40-data-tools.sh)`);
      return { files: { '/usr/lib/postgresql/18': postgres18Home() }, path: ['/usr/lib/postgresql/18/bin'] };
    }
    default:
      throw new Error(`image ${image} has no local runtime (test/e2e/support/postgres-pods.ts imageRuntime)`);
  }
}

/** One running container. */
interface ContainerRun {
  readonly name: string;
  readonly kind: 'init' | 'sidecar' | 'main';
  proc: Proc;
  readonly startedAt: string;
  restarts: number;
  ready: boolean;
  /** Exit status once the container is done (init containers, Job pods). */
  exit?: string;
}

interface PodRun {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly podIP: string;
  readonly netns: string;
  readonly dir: string;
  readonly containers: ContainerRun[];
  readonly startTime: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  /** Why the pod is not running yet, or failed. */
  message?: string;
  lastStatus?: string;
  launch?: Promise<void>;
  /** Volume name -> host path, and the user files, once the pod's sandbox exists. */
  volumes: Map<string, string>;
  users?: UserFiles;
}

interface UserFiles { readonly passwd: string; readonly group: string }


export class PostgresPods {
  private readonly pods = new Map<string, PodRun>();
  private readonly attempts = new Map<string, number>();
  private forwarder?: Server;
  private nextAddress = 10;
  /** Problems seen while running pods (reported by the test, never swallowed). */
  readonly problems: string[] = [];
  /** Job pods run to the end (the operator deletes its Jobs once done): what ran, and how it ended. */
  readonly finished: { readonly namespace: string; readonly name: string; readonly labels: Record<string, string>; readonly phase: string }[] = [];

  constructor(private readonly plane: ControlPlane, private readonly kube: Kube,
    /** Whether a pod of this Cluster is run (not, for example, a recovery that has no backup to read here). */
    private readonly runs: (namespace: string, cluster: string) => Promise<boolean>) {}

  /** The bridge, the `kubernetes` Service address on it, and the forwarder to the API server. */
  async start(): Promise<void> {
    await this.removeNetwork();
    await ip('link', 'add', bridge.name, 'type', 'bridge');
    await ip('addr', 'add', `${bridge.gateway}/${bridge.mask}`, 'dev', bridge.name);
    await ip('addr', 'add', `${apiServiceAddress}/32`, 'dev', bridge.name);
    await ip('link', 'set', bridge.name, 'up');
    const api = new URL(this.plane.server);
    this.forwarder = createServer((client) => {
      const upstream = connect(Number(api.port), api.hostname);
      client.pipe(upstream).pipe(client);
      const close = () => { client.destroy(); upstream.destroy(); };
      client.on('error', close);
      upstream.on('error', close);
    });
    await new Promise<void>((done, fail) => { this.forwarder!.once('error', fail); this.forwarder!.listen(443, apiServiceAddress, done); });
  }

  /** Each pod this runs: its IP, phase and every container's state (for diagnosis). */
  describe(): string[] {
    return [...this.pods.values()].map((p) => `pod ${p.namespace}/${p.name} ${p.podIP} ${p.phase}${p.message ? ` (${p.message})` : ''}: ${p.containers
      .map((c) => `${c.name}${c.ready ? ' ready' : ''}${c.exit ? ` exited ${c.exit}` : ''}${c.restarts ? ` restarts ${c.restarts}` : ''}`).join(', ')}`);
  }

  /** The IP of a running pod this runs. */
  podIP(namespace: string, pod: string): string | undefined {
    return [...this.pods.values()].find((p) => p.namespace === namespace && p.name === pod && p.phase === 'Running')?.podIP;
  }

  /** The log of a container of a pod this runs (for diagnosis). */
  log(namespace: string, pod: string, container: string, lines = 40): string {
    const run = [...this.pods.values()].find((p) => p.namespace === namespace && p.name === pod);
    return run?.containers.find((c) => c.name === container)?.proc.logTail(lines) ?? `(no container ${container} in ${namespace}/${pod})`;
  }

  /** One round: start new pods, follow the running ones, stop deleted ones. Called from the test's wait loops. */
  async poll(): Promise<void> {
    const live = new Map<string, V1Pod>();
    for (const [label, vals] of Object.entries(postgresPodLabels)) {
      for (const pod of await this.kube.list<V1Pod>('v1', 'Pod', undefined, `${label} in (${vals.join(',')})`)) live.set(pod.metadata!.uid!, pod);
    }
    for (const [uid, run] of this.pods) {
      const pod = live.get(uid);
      if (!pod || pod.metadata?.deletionTimestamp) {
        this.pods.delete(uid);
        await this.stopPod(run);
        if (pod) await this.kube.request('DELETE', `/api/v1/namespaces/${run.namespace}/pods/${run.name}`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid } });
      }
    }
    for (const [uid, pod] of live) {
      if (this.pods.has(uid) || pod.metadata?.deletionTimestamp || !pod.spec?.nodeName) continue;
      const cluster = pod.metadata?.labels?.['cnpg.io/cluster'];
      if (!cluster || !(await this.runs(pod.metadata!.namespace!, cluster))) continue;
      const run: PodRun = {
        uid, namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, podIP: `${bridge.prefix}${this.nextAddress++}`,
        netns: `lmspod-${this.nextAddress - 1}`, dir: join(this.plane.runDir, 'pods', `${pod.metadata!.namespace}_${pod.metadata!.name}_${uid.slice(0, 8)}`),
        containers: [], startTime: new Date().toISOString(), phase: 'Pending', volumes: new Map(),
      };
      this.pods.set(uid, run);
      run.launch = this.launch(run, pod).catch(async (e: Error) => {
        // Nothing started yet (a volume's Secret not there yet, say): as the kubelet, try again later.
        const attempts = (this.attempts.get(uid) ?? 0) + 1;
        this.attempts.set(uid, attempts);
        if (!run.containers.length && attempts < 10) {
          this.pods.delete(uid);
          await ip('netns', 'del', run.netns).catch(() => undefined);
          return;
        }
        run.phase = 'Failed';
        run.message = e.message;
        this.problems.push(`pod ${run.namespace}/${run.name}: ${e.message}`);
      });
    }
    for (const run of this.pods.values()) {
      await this.follow(run).catch((e: Error) => { run.message = e.message; });
    }
  }

  async stop(): Promise<void> {
    for (const run of this.pods.values()) await this.stopPod(run);
    this.pods.clear();
    await new Promise<void>((done) => (this.forwarder ? this.forwarder.close(() => done()) : done()));
    await this.removeNetwork();
  }

  private async removeNetwork(): Promise<void> {
    const { stdout } = await exec('ip', ['netns', 'list']);
    for (const line of stdout.split('\n')) {
      const name = line.split(' ')[0];
      if (name.startsWith('lmspod-')) await ip('netns', 'del', name).catch(() => undefined);
    }
    await ip('link', 'del', bridge.name).catch(() => undefined);
  }

  private async stopPod(run: PodRun): Promise<void> {
    await run.launch;
    // Main containers first (the instance manager shuts PostgreSQL down), then sidecars.
    for (const kind of ['main', 'sidecar', 'init'] as const) {
      for (const c of run.containers.filter((x) => x.kind === kind)) await c.proc.stop();
    }
    await ip('netns', 'del', run.netns).catch(() => undefined);
  }

  /** Network, volumes, then the containers in the kubelet's order. */
  private async launch(run: PodRun, pod: V1Pod): Promise<void> {
    const spec = pod.spec!;
    const volumes = run.volumes;
    for (const v of spec.volumes ?? []) volumes.set(v.name, await this.volume(run, pod, v));
    const veth = `lmsv-${run.netns.slice('lmspod-'.length)}`;
    await ip('netns', 'add', run.netns);
    await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', run.netns);
    await ip('link', 'set', veth, 'master', bridge.name, 'up');
    await ip('-n', run.netns, 'addr', 'add', `${run.podIP}/${bridge.mask}`, 'dev', 'eth0');
    await ip('-n', run.netns, 'link', 'set', 'eth0', 'up');
    await ip('-n', run.netns, 'link', 'set', 'lo', 'up');
    await ip('-n', run.netns, 'route', 'add', 'default', 'via', bridge.gateway);
    run.users = this.userFiles(run, pod);
    await this.writeStatus(run, pod);

    for (const c of spec.initContainers ?? []) {
      const sidecar = c.restartPolicy === 'Always';
      const started = await this.startContainer(run, pod, c, sidecar ? 'sidecar' : 'init');
      if (sidecar) {
        await this.waitStarted(run, pod, c, started);
        continue;
      }
      const exit = await this.waitExit(started.proc, 600_000);
      started.exit = exit;
      if (exit !== 'exit code 0') throw new Error(`init container ${c.name} ${exit}:\n${started.proc.logTail(20)}`);
    }
    for (const c of spec.containers) await this.startContainer(run, pod, c, 'main');
    run.phase = 'Running';
  }

  /** A pod volume as a directory (or file) on this machine. */
  private async volume(run: PodRun, pod: V1Pod, v: V1Volume): Promise<string> {
    const dir = join(run.dir, 'volumes', v.name);
    const owner = this.owner(pod);
    const ns = run.namespace;
    const writeKeys = (data: Record<string, string>, items: { key: string; path: string }[] | undefined, base64: boolean, mode?: number) =>
      writeVolumeKeys(dir, data, { base64, items, mode: mode ?? 0o644, group: owner.fsGroup });
    mkdirSync(dir, { recursive: true });
    if (v.emptyDir) {
      chownSync(dir, owner.uid, owner.fsGroup);
      chmodSync(dir, 0o2775);
      return dir;
    }
    if (v.persistentVolumeClaim) {
      const claim = await this.kube.get<{ status?: { phase?: string }; spec: { volumeName?: string } }>('v1', 'PersistentVolumeClaim', v.persistentVolumeClaim.claimName, ns);
      if (claim?.status?.phase !== 'Bound' || !claim.spec.volumeName) throw new Error(`PVC ${ns}/${v.persistentVolumeClaim.claimName} is not Bound`);
      const pv = await this.kube.get<{ spec: { hostPath?: { path: string } } }>('v1', 'PersistentVolume', claim.spec.volumeName);
      if (!pv?.spec.hostPath) throw new Error(`PV ${claim.spec.volumeName} is not a local-path (hostPath) volume`);
      // The local-path directory, kept in the run dir (never under the machine's /var/lib/rancher).
      const host = join(this.plane.runDir, 'storage', basename(pv.spec.hostPath.path));
      mkdirSync(host, { recursive: true });
      chownSync(host, owner.uid, owner.fsGroup);
      chmodSync(host, 0o2775);
      rmSync(dir, { recursive: true, force: true });
      return host;
    }
    if (v.secret || v.configMap) {
      const isSecret = Boolean(v.secret);
      const name = isSecret ? v.secret!.secretName! : v.configMap!.name!;
      const o = await this.kube.get<{ data?: Record<string, string> }>('v1', isSecret ? 'Secret' : 'ConfigMap', name, ns);
      if (!o && !(v.secret?.optional ?? v.configMap?.optional)) throw new Error(`volume ${v.name}: ${isSecret ? 'Secret' : 'ConfigMap'} ${ns}/${name} does not exist`);
      writeKeys(o?.data ?? {}, (v.secret ?? v.configMap)!.items, isSecret, (v.secret ?? v.configMap)!.defaultMode);
      return dir;
    }
    if (v.projected) {
      for (const s of v.projected.sources ?? []) {
        if (s.secret || s.configMap) {
          const isSecret = Boolean(s.secret);
          const name = isSecret ? s.secret!.name! : s.configMap!.name!;
          const o = await this.kube.get<{ data?: Record<string, string> }>('v1', isSecret ? 'Secret' : 'ConfigMap', name, ns);
          if (!o && !(s.secret?.optional ?? s.configMap?.optional)) throw new Error(`volume ${v.name}: ${isSecret ? 'Secret' : 'ConfigMap'} ${ns}/${name} does not exist`);
          writeKeys(o?.data ?? {}, (s.secret ?? s.configMap)!.items, isSecret, v.projected.defaultMode);
        } else if (s.serviceAccountToken) {
          // What the kubelet does: a TokenRequest for the pod's ServiceAccount, bound to the pod.
          const sa = pod.spec!.serviceAccountName ?? 'default';
          const res = await this.kube.request<{ status?: { token?: string }; message?: string }>('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
            apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
            spec: { audiences: s.serviceAccountToken.audience ? [s.serviceAccountToken.audience] : [], expirationSeconds: s.serviceAccountToken.expirationSeconds ?? 3607, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: run.name, uid: run.uid } },
          });
          if (res.status !== 201 || !res.body.status?.token) throw new Error(`TokenRequest for ${ns}/${sa}: HTTP ${res.status} ${res.body.message ?? ''}`);
          writeKeys({ token: res.body.status.token }, [{ key: 'token', path: s.serviceAccountToken.path }], false, v.projected.defaultMode ?? 0o644);
        } else if (s.downwardAPI) {
          const values: Record<string, string> = {};
          for (const item of s.downwardAPI.items ?? []) {
            const field = item.fieldRef?.fieldPath;
            if (field === 'metadata.namespace') values[item.path] = ns;
            else if (field === 'metadata.name') values[item.path] = run.name;
            else throw new Error(`volume ${v.name}: downwardAPI ${JSON.stringify(item)} is not supported here`);
          }
          writeKeys(values, undefined, false, v.projected.defaultMode);
        }
      }
      return dir;
    }
    throw new Error(`volume ${v.name}: ${Object.keys(v).filter((k) => k !== 'name').join(', ')} is not supported here (test/e2e/support/postgres-pods.ts)`);
  }

  /** The pod's user and group (the images' postgres user is 26). */
  private owner(pod: V1Pod): { uid: number; gid: number; fsGroup: number } {
    const sc = pod.spec?.securityContext;
    const uid = sc?.runAsUser ?? 26;
    const gid = sc?.runAsGroup ?? uid;
    return { uid, gid, fsGroup: sc?.fsGroup ?? gid };
  }

  /** /etc/passwd and /etc/group as the images have them: the pod's user exists (initdb looks it up). */
  private userFiles(run: PodRun, pod: V1Pod): UserFiles {
    const { uid, gid } = this.owner(pod);
    const passwd = join(run.dir, 'passwd');
    const group = join(run.dir, 'group');
    writeFileSync(passwd, `root:x:0:0:root:/root:/bin/sh\npostgres:x:${uid}:${gid}:PostgreSQL:/var/lib/postgresql:/bin/sh\n`, { mode: 0o644 });
    writeFileSync(group, `root:x:0:\npostgres:x:${gid}:\n`, { mode: 0o644 });
    return { passwd, group };
  }

  /** The container's environment as the kubelet sets it: the image's PATH and HOME, the Service variables, envFrom, env. */
  private environment(run: PodRun, pod: V1Pod, c: V1Container, rt: ImageRuntime): Promise<Record<string, string>> {
    return containerEnv(this.kube, run.namespace, c, {
      fields: { 'metadata.name': run.name, 'metadata.namespace': run.namespace, 'status.podIP': run.podIP, 'spec.nodeName': pod.spec!.nodeName! },
      labels: pod.metadata?.labels,
    }, `pod ${run.namespace}/${run.name} container ${c.name}`, {
      PATH: [...rt.path, defaultPath].join(':'), HOME: '/var/lib/postgresql', HOSTNAME: run.name,
      KUBERNETES_SERVICE_HOST: apiServiceAddress, KUBERNETES_SERVICE_PORT: '443', KUBERNETES_SERVICE_PORT_HTTPS: '443',
    });
  }

  /**
   * `argv` (default: the container's command and args) in the pod's network namespace, in a private
   * mount namespace with the container's volume mounts and the image's files, as the pod's user.
   */
  private async spawn(run: PodRun, pod: V1Pod, c: V1Container, logName: string, argv?: string[]): Promise<Proc> {
    const users = run.users!;
    const rt = imageRuntime(c.image!);
    const env = await this.environment(run, pod, c, rt);
    const command = argv ?? [...(c.command ?? rt.entrypoint ?? []), ...(c.args ?? [])].map((a) => expandVars(a, env));
    if (!command.length) throw new Error(`container ${c.name}: no command and the image has no entrypoint here`);
    const binds: { path: string; host: string }[] = [
      { path: '/etc/passwd', host: users.passwd }, { path: '/etc/group', host: users.group },
      ...Object.entries(rt.files).map(([path, host]) => ({ path, host })),
      ...(c.volumeMounts ?? []).map((m) => {
        const host = run.volumes.get(m.name);
        if (!host) throw new Error(`container ${c.name} mounts ${m.name}, which is not a pod volume`);
        const sub = m.subPath ? join(host, m.subPath) : host;
        if (m.subPath) mkdirSync(sub, { recursive: true });
        return { path: m.mountPath, host: sub };
      }),
    ];
    const sc = { ...pod.spec?.securityContext, ...c.securityContext };
    const uid = sc.runAsUser ?? this.owner(pod).uid;
    const gid = sc.runAsGroup ?? this.owner(pod).gid;
    const groups = [...new Set([gid, this.owner(pod).fsGroup])].join(',');
    const script = `${bindMountScript(binds)} && cd ${shellQuote(c.workingDir ?? '/')} && exec env -i "$@"`;
    return startProcess(logName, 'ip', ['netns', 'exec', run.netns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      '/usr/bin/setpriv', `--reuid=${uid}`, `--regid=${gid}`, `--groups=${groups}`, '--', ...command], this.plane.runDir);
  }

  private async startContainer(run: PodRun, pod: V1Pod, c: V1Container, kind: ContainerRun['kind']): Promise<ContainerRun> {
    const proc = await this.spawn(run, pod, c, `pod-${run.namespace}-${run.name}-${c.name}`);
    const started: ContainerRun = { name: c.name, kind, proc, startedAt: new Date().toISOString(), restarts: 0, ready: false };
    run.containers.push(started);
    return started;
  }

  /** A sidecar counts as started once its startup probe passes (the kubelet's rule), or at once without one. */
  private async waitStarted(run: PodRun, pod: V1Pod, c: V1Container, started: ContainerRun): Promise<void> {
    const probe = c.startupProbe;
    const deadline = Date.now() + 120_000;
    while (probe && Date.now() < deadline) {
      if (started.proc.exit !== undefined) throw new Error(`sidecar ${c.name} ${started.proc.exit}:\n${started.proc.logTail(20)}`);
      if (await this.probe(run, pod, c, probe)) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    if (probe && Date.now() >= deadline) throw new Error(`sidecar ${c.name}: startup probe never passed:\n${started.proc.logTail(20)}`);
    started.ready = true;
  }

  private async probe(run: PodRun, pod: V1Pod, c: V1Container, probe: V1Probe): Promise<boolean> {
    if (probe.exec?.command) {
      const proc = await this.spawn(run, pod, c, `probe-${run.namespace}-${run.name}-${c.name}`, probe.exec.command);
      return (await this.waitExit(proc, 10_000)) === 'exit code 0';
    }
    if (probe.httpGet) {
      const port = typeof probe.httpGet.port === 'number' ? probe.httpGet.port
        : Number((c.ports ?? []).find((p) => p.name === probe.httpGet!.port)?.containerPort ?? probe.httpGet.port);
      const https = probe.httpGet.scheme === 'HTTPS';
      return new Promise((done) => {
        // The kubelet does not verify a probe's certificate.
        const req = (https ? httpsRequest : httpRequest)({ host: run.podIP, port, path: probe.httpGet!.path ?? '/', method: 'GET', timeout: 5_000, rejectUnauthorized: false }, (res) => {
          res.resume();
          done((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => done(false));
        req.end();
      });
    }
    return true;
  }

  private async waitExit(proc: Proc, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (proc.exit === undefined) {
      if (Date.now() > deadline) { await proc.stop(); return `timed out after ${timeoutMs} ms`; }
      await new Promise((r) => setTimeout(r, 250));
    }
    return proc.exit;
  }

  /** Readiness, restarts (restartPolicy Always) and Job completion; then the pod status. */
  private async follow(run: PodRun): Promise<void> {
    if (run.phase !== 'Running') {
      if (run.phase === 'Failed') await this.writeStatus(run);
      return;
    }
    const pod = await this.kube.get<V1Pod>('v1', 'Pod', run.name, run.namespace);
    if (!pod) return;
    const jobPod = pod.spec?.restartPolicy !== 'Always';
    const mains = run.containers.filter((c) => c.kind === 'main');
    for (const c of mains) {
      const spec = pod.spec!.containers.find((x) => x.name === c.name)!;
      if (c.proc.exit !== undefined) {
        c.ready = false;
        if (jobPod) { c.exit = c.proc.exit; continue; }
        this.problems.push(`pod ${run.namespace}/${run.name} container ${c.name} ${c.proc.exit} (restarted):\n${c.proc.logTail(20)}`);
        c.restarts++;
        c.proc = await this.spawn(run, pod, spec, `pod-${run.namespace}-${run.name}-${c.name}-${c.restarts}`);
        continue;
      }
      c.ready = spec.readinessProbe ? await this.probe(run, pod, spec, spec.readinessProbe) : true;
    }
    if (jobPod && mains.every((c) => c.exit !== undefined)) {
      run.phase = mains.every((c) => c.exit === 'exit code 0') ? 'Succeeded' : 'Failed';
      this.finished.push({ namespace: run.namespace, name: run.name, labels: { ...pod.metadata?.labels }, phase: run.phase });
      for (const c of run.containers.filter((x) => x.kind === 'sidecar')) await c.proc.stop();
      await ip('netns', 'del', run.netns).catch(() => undefined);
    }
    await this.writeStatus(run, pod);
  }

  /** The pod status as the kubelet reports it. */
  private async writeStatus(run: PodRun, pod?: V1Pod): Promise<void> {
    const now = new Date().toISOString();
    const state = (c: ContainerRun) => (c.exit !== undefined || (c.kind === 'init' && c.proc.exit !== undefined)
      ? { terminated: { exitCode: Number(/exit code (\d+)/.exec(c.exit ?? c.proc.exit ?? '')?.[1] ?? 137), reason: (c.exit ?? c.proc.exit) === 'exit code 0' ? 'Completed' : 'Error', startedAt: c.startedAt, finishedAt: now } }
      : { running: { startedAt: c.startedAt } });
    const status = (c: ContainerRun) => ({ name: c.name, image: pod?.spec?.containers.concat(pod.spec.initContainers ?? []).find((x) => x.name === c.name)?.image ?? '', imageID: '', ready: c.ready, started: c.proc.exit === undefined, restartCount: c.restarts, state: state(c) });
    const mains = run.containers.filter((c) => c.kind === 'main');
    const ready = run.phase === 'Running' && mains.length > 0 && mains.every((c) => c.ready);
    const initialized = run.phase !== 'Pending';
    const condition = (type: string, ok: boolean) => ({ type, status: ok ? 'True' : 'False', lastTransitionTime: now });
    const body = {
      status: {
        phase: run.phase, hostIP, hostIPs: [{ ip: hostIP }], podIP: run.podIP, podIPs: [{ ip: run.podIP }], startTime: run.startTime,
        ...(run.message && run.phase === 'Failed' ? { message: run.message.slice(0, 1000), reason: 'Error' } : {}),
        conditions: [condition('PodScheduled', true), condition('Initialized', initialized), condition('ContainersReady', ready), condition('Ready', ready)],
        initContainerStatuses: run.containers.filter((c) => c.kind !== 'main').map(status),
        containerStatuses: mains.map(status),
      },
    };
    // Only when something changed (a transition time alone is not a change).
    const key = JSON.stringify(body, (k, v) => (k === 'lastTransitionTime' || k === 'finishedAt' ? undefined : v));
    if (key === run.lastStatus) return;
    run.lastStatus = key;
    await this.kube.mergePatch('v1', 'Pod', run.name, run.namespace, body, 'status');
  }
}
