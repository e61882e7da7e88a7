/**
 * Flux as `flux bootstrap git --branch=clusters --path=clusters/production` leaves it: the
 * components manifest (CRDs, namespace, RBAC, the four controllers' Deployments and Services) and the
 * sync manifest (GitRepository + root Kustomization), committed under clusters/production/flux-system/
 * and applied to the cluster; then the controllers themselves, built from their Go modules at the
 * versions of the pinned Flux release, run as local processes with the arguments of their live
 * Deployments (so a patch in clusters/production/kustomization.yaml reaches them as it reaches the
 * pods in production) and the credentials of their ServiceAccounts (impersonated).
 *
 * What differs from the pods, and why: no pod network, so listen and advertised addresses are
 * 127.0.0.1 ports instead of Service names, and leader election is off (one replica each).
 */
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { crdDir } from '../../../charts-ts/lib/crds.ts';
import { binary, pinnedVersion, type ComponentName } from '../../cluster/support/components.ts';
import type { ControlPlane } from '../../cluster/support/control-plane.ts';
import type { Kube, KubeObject } from '../../cluster/support/kube.ts';
import { freePort, startProcess, waitFor, type Proc } from '../../cluster/support/processes.ts';
import { impersonatingKubeconfig } from './impersonation.ts';

export const fluxNamespace = 'flux-system';

interface FluxController {
  readonly name: 'source-controller' | 'kustomize-controller' | 'helm-controller' | 'notification-controller';
  readonly binary: ComponentName;
  readonly wrapper: string;
  readonly module: string;
  /** Whether it sends events to notification-controller (flux2 manifests/bases/<name>/patch.yaml). */
  readonly emitsEvents: boolean;
  /** Cluster-admin through the cluster-reconciler binding (it applies whatever git holds). */
  readonly reconciler: boolean;
  readonly ports: Record<string, number>;
  readonly extraArgs: string[];
}

export const fluxControllers: readonly FluxController[] = [
  {
    name: 'source-controller', binary: 'source-controller', wrapper: 'flux-source-controller', module: 'github.com/fluxcd/source-controller',
    emitsEvents: true, reconciler: false, ports: { http: 9090, 'http-prom': 8080, healthz: 9440 },
    extraArgs: ['--storage-path=/data', '--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local.'],
  },
  {
    name: 'kustomize-controller', binary: 'kustomize-controller', wrapper: 'flux-kustomize-controller', module: 'github.com/fluxcd/kustomize-controller',
    emitsEvents: true, reconciler: true, ports: { 'http-prom': 8080, healthz: 9440 }, extraArgs: [],
  },
  {
    name: 'helm-controller', binary: 'flux-helm-controller', wrapper: 'flux-helm-controller', module: 'github.com/fluxcd/helm-controller',
    emitsEvents: true, reconciler: true, ports: { 'http-prom': 8080, healthz: 9440 }, extraArgs: [],
  },
  {
    name: 'notification-controller', binary: 'notification-controller', wrapper: 'flux-notification-controller', module: 'github.com/fluxcd/notification-controller',
    emitsEvents: false, reconciler: false, ports: { http: 9090, 'http-webhook': 9292, 'http-prom': 8080, healthz: 9440 }, extraArgs: [],
  },
];

export const fluxVersion = (c: FluxController) => pinnedVersion(c.wrapper, c.module);

/** The CRDs of the four default components, from the pinned set (CRD_DIR/flux). */
function fluxCrds(): KubeObject[] {
  const groups = ['source.toolkit.fluxcd.io', 'kustomize.toolkit.fluxcd.io', 'helm.toolkit.fluxcd.io', 'notification.toolkit.fluxcd.io'];
  const dir = join(crdDir(), 'flux');
  return readdirSync(dir).filter((f) => f.endsWith('.yaml') && groups.some((g) => f.startsWith(`${g}_`))).sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as KubeObject))
    .filter((o) => o?.kind === 'CustomResourceDefinition');
}

const labels = { 'app.kubernetes.io/instance': fluxNamespace, 'app.kubernetes.io/part-of': 'flux' };

function deployment(c: FluxController): KubeObject {
  const version = fluxVersion(c);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: c.name, namespace: fluxNamespace, labels: { ...labels, 'app.kubernetes.io/component': c.name, 'control-plane': 'controller' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: c.name } },
      strategy: { type: 'Recreate' },
      template: {
        metadata: { labels: { app: c.name }, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' } },
        spec: {
          serviceAccountName: c.name,
          priorityClassName: 'system-cluster-critical',
          terminationGracePeriodSeconds: 10,
          securityContext: { fsGroup: 1337 },
          containers: [{
            name: 'manager',
            image: `ghcr.io/fluxcd/${c.name}:${version}`,
            imagePullPolicy: 'IfNotPresent',
            securityContext: {
              allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true,
              capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
            },
            ports: Object.entries(c.ports).map(([name, containerPort]) => ({ name, containerPort, protocol: 'TCP' })),
            env: [{ name: 'RUNTIME_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
            args: [
              ...(c.emitsEvents ? ['--events-addr=http://notification-controller.flux-system.svc.cluster.local./'] : []),
              '--watch-all-namespaces=true', '--log-level=info', '--log-encoding=json', '--enable-leader-election',
              ...c.extraArgs,
            ],
            livenessProbe: { httpGet: { port: 'healthz', path: '/healthz' } },
            readinessProbe: { httpGet: { port: 'healthz', path: '/readyz' } },
            resources: { limits: { cpu: '1000m', memory: '1Gi' }, requests: { cpu: '100m', memory: '64Mi' } },
            volumeMounts: [{ name: 'temp', mountPath: '/tmp' }, ...(c.name === 'source-controller' ? [{ name: 'data', mountPath: '/data' }] : [])],
          }],
          volumes: [{ name: 'temp', emptyDir: {} }, ...(c.name === 'source-controller' ? [{ name: 'data', emptyDir: {} }] : [])],
          nodeSelector: { 'kubernetes.io/os': 'linux' },
        },
      },
    },
  };
}

function service(name: string, app: string, port: string): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: fluxNamespace, labels: { ...labels, 'control-plane': 'controller' } },
    spec: { type: 'ClusterIP', selector: { app }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: port }] },
  };
}

/** gotk-components.yaml: what `flux install` (and so `flux bootstrap`) writes for the default components. */
export function fluxComponents(): KubeObject[] {
  const sa = (c: FluxController) => ({ kind: 'ServiceAccount', name: c.name, namespace: fluxNamespace });
  return [
    {
      apiVersion: 'v1', kind: 'Namespace',
      metadata: { name: fluxNamespace, labels: { ...labels, 'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/warn-version': 'latest' } },
    },
    ...fluxCrds(),
    {
      apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'critical-pods-flux-system', namespace: fluxNamespace, labels },
      spec: { hard: { pods: '1000' }, scopeSelector: { matchExpressions: [{ operator: 'In', scopeName: 'PriorityClass', values: ['system-node-critical', 'system-cluster-critical'] }] } },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'crd-controller-flux-system', labels },
      rules: [
        ...['source', 'kustomize', 'helm', 'notification', 'image'].map((g) => ({ apiGroups: [`${g}.toolkit.fluxcd.io`], resources: ['*'], verbs: ['*'] })),
        { apiGroups: [''], resources: ['namespaces', 'secrets', 'configmaps', 'serviceaccounts'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [''], resources: ['configmaps/status'], verbs: ['get', 'update', 'patch'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
        { nonResourceURLs: ['/livez/ping'], verbs: ['head'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'crd-controller-flux-system', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'crd-controller-flux-system' },
      subjects: fluxControllers.map(sa),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'cluster-reconciler-flux-system', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: fluxControllers.filter((c) => c.reconciler).map(sa),
    },
    ...fluxControllers.map((c) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: c.name, namespace: fluxNamespace, labels } })),
    service('source-controller', 'source-controller', 'http'),
    service('notification-controller', 'notification-controller', 'http'),
    service('webhook-receiver', 'notification-controller', 'http-webhook'),
    ...fluxControllers.map(deployment),
  ];
}

export interface SyncOptions {
  readonly url: string;
  readonly branch: string;
  readonly path: string;
  /** Secret with the read-only git credential (`flux bootstrap` creates it from the deploy key). */
  readonly secretName: string;
}

/** gotk-sync.yaml: the GitRepository and the root Kustomization `flux bootstrap` creates. */
export function fluxSync(o: SyncOptions): KubeObject[] {
  return [
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: fluxNamespace, namespace: fluxNamespace },
      spec: { interval: '1m0s', ref: { branch: o.branch }, secretRef: { name: o.secretName }, url: o.url },
    },
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: fluxNamespace, namespace: fluxNamespace },
      spec: { interval: '10m0s', path: `./${o.path}`, prune: true, sourceRef: { kind: 'GitRepository', name: fluxNamespace } },
    },
  ];
}

/** The files `flux bootstrap` commits to <path>/flux-system/. */
export function bootstrapFiles(sync: SyncOptions): Record<string, string> {
  const docs = (objects: KubeObject[]) => objects.map((o) => `---\n${stringify(o)}`).join('');
  return {
    'gotk-components.yaml': docs(fluxComponents()),
    'gotk-sync.yaml': docs(fluxSync(sync)),
    'kustomization.yaml': stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['gotk-components.yaml', 'gotk-sync.yaml'] }),
  };
}

export function writeBootstrapFiles(dir: string, sync: SyncOptions): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(bootstrapFiles(sync))) writeFileSync(join(dir, file), text);
}

/** Local addresses the controllers listen on and advertise. */
export interface FluxAddresses {
  readonly storage: number;
  readonly events: number;
  readonly receiver: number;
}

export class FluxControllers {
  readonly procs = new Map<string, Proc>();
  private constructor(private readonly plane: ControlPlane, private readonly kube: Kube, readonly addresses: FluxAddresses,
    private readonly env: Partial<Record<FluxController['name'], NodeJS.ProcessEnv>>) {}

  /**
   * `env`: extra environment per controller, the way a pod spec would set it (e.g. HTTPS_PROXY and
   * SSL_CERT_FILE for notification-controller, which then reaches the GitHub stand-in at api.github.com).
   */
  static async create(plane: ControlPlane, kube: Kube, env: Partial<Record<FluxController['name'], NodeJS.ProcessEnv>> = {}): Promise<FluxControllers> {
    return new FluxControllers(plane, kube, { storage: await freePort(), events: await freePort(), receiver: await freePort() }, env);
  }

  get receiverUrl(): string { return `http://127.0.0.1:${this.addresses.receiver}`; }

  /** The controller's live Deployment args, with the pod-network addresses replaced by local ones. */
  private async args(c: FluxController): Promise<string[]> {
    const live = await this.kube.get<V1Deployment>('apps/v1', 'Deployment', c.name, fluxNamespace);
    if (!live) throw new Error(`Deployment ${fluxNamespace}/${c.name} is missing: apply gotk-components.yaml first`);
    const podArgs: string[] = live.spec.template.spec!.containers[0].args ?? [];
    const replaced = ['--events-addr', '--storage-path', '--storage-adv-addr', '--storage-addr', '--enable-leader-election', '--metrics-addr', '--health-addr', '--receiverAddr'];
    const kept = podArgs.filter((a) => !replaced.includes(a.split('=')[0]));
    const a = this.addresses;
    const local = [`--metrics-addr=127.0.0.1:${await freePort()}`, `--health-addr=127.0.0.1:${await freePort()}`, '--enable-leader-election=false'];
    if (c.emitsEvents) local.push(`--events-addr=http://127.0.0.1:${a.events}/`);
    if (c.name === 'source-controller') {
      const storage = join(this.plane.runDir, 'source-controller-storage');
      mkdirSync(storage, { recursive: true });
      local.push(`--storage-path=${storage}`, `--storage-addr=127.0.0.1:${a.storage}`, `--storage-adv-addr=127.0.0.1:${a.storage}`);
    }
    if (c.name === 'notification-controller') local.push(`--events-addr=127.0.0.1:${a.events}`, `--receiverAddr=127.0.0.1:${a.receiver}`);
    return [...kept, ...local];
  }

  /** Start (or restart, after its Deployment changed) one controller. */
  async start(name: FluxController['name']): Promise<Proc> {
    const c = fluxControllers.find((x) => x.name === name)!;
    await this.procs.get(name)?.stop();
    // controller-runtime reads KUBECONFIG (the Flux binaries register no --kubeconfig flag).
    const kubeconfig = impersonatingKubeconfig(this.plane, fluxNamespace, c.name);
    const proc = startProcess(name, binary(c.binary), await this.args(c), this.plane.runDir, { ...this.env[name], RUNTIME_NAMESPACE: fluxNamespace, KUBECONFIG: kubeconfig });
    this.procs.set(name, proc);
    return proc;
  }

  async startAll(): Promise<void> {
    for (const c of fluxControllers) await this.start(c.name);
    await waitFor('Flux controllers started', async () => [...this.procs.values()].every((p) => /Starting workers|"starting manager"|Starting manager/i.test(p.logTail(400))),
      { timeoutMs: 120_000, procs: [...this.procs.values()] });
  }

  /** Restart the controllers whose Deployment args changed since they started (the rollout a patch causes). */
  async followDeployments(started: Map<string, string>): Promise<string[]> {
    const restarted: string[] = [];
    for (const c of fluxControllers) {
      const live = await this.kube.get<V1Deployment>('apps/v1', 'Deployment', c.name, fluxNamespace);
      const args = JSON.stringify(live?.spec?.template?.spec?.containers?.[0]?.args ?? []);
      if (started.get(c.name) !== args) {
        started.set(c.name, args);
        if (this.procs.has(c.name)) { await this.start(c.name); restarted.push(c.name); }
      }
    }
    return restarted;
  }

  async stop(): Promise<void> {
    for (const p of [...this.procs.values()].reverse()) await p.stop();
  }
}
