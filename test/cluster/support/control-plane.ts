/**
 * A single-node control plane on 127.0.0.1 from the real components, configured like k3s runs them:
 * kine on SQLite as the datastore, kube-apiserver (Node+RBAC authorisation, Pod Security Admission,
 * ValidatingAdmissionPolicy) with the extra arguments and files the bootstrap gives k3s
 * (bootstrap/host/k3s.ts: the Pod Security AdmissionConfiguration, the audit policy and audit log
 * settings), kube-controller-manager (service-account credentials per controller, as k3s does, plus
 * the bootstrap's arguments), kube-scheduler, and kwok standing in for the kubelet of one node sized
 * like the VPS. Ports are picked free at start; certificates and keys are created per run in a temp
 * dir (removed on stop unless KEEP_CLUSTER_RUN=1).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { auditPolicy, eventRateLimitConfig, k3sConfig, k3sPaths, podSecurityConfig } from '../../../bootstrap/host/k3s.ts';
import { parseConfig } from '../../../charts-ts/config/load.ts';
import { values } from '../../../charts-ts/config/values.ts';
import { cpuCores, memoryBytes } from '../../../charts-ts/lib/quantity.ts';
import { asset, binary } from './components.ts';
import { Kube } from './kube.ts';
import { createPki, type Pki } from './pki.ts';
import { freePort, killRecorded, startProcess, waitFor, type Proc } from './processes.ts';

export interface ControlPlane {
  readonly runDir: string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly nodeName: string;
  readonly pki: Pki;
  readonly procs: Proc[];
  /** Stop every process; the run dir (logs, certs) is removed unless `keepLogs` or KEEP_CLUSTER_RUN=1. */
  stop(keepLogs?: boolean): Promise<void>;
}

/** k3s defaults (https://docs.k3s.io/cli/server#networking). */
export const serviceCidr = '10.43.0.0/16';
export const clusterCidr = '10.42.0.0/16';

function kubeconfigFor(server: string, pki: Pki): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lms-test', cluster: { server, 'certificate-authority': pki.caCert } }],
    users: [{ name: 'admin', user: { 'client-certificate': pki.adminCert, 'client-key': pki.adminKey } }],
    contexts: [{ name: 'lms-test', context: { cluster: 'lms-test', user: 'admin' } }],
    'current-context': 'lms-test',
  });
}

/**
 * The `kube-apiserver-arg` and `kube-controller-manager-arg` of the k3s config the bootstrap renders,
 * with the files they name (the AdmissionConfiguration with Pod Security and EventRateLimit, the
 * EventRateLimit limits, the audit policy) written into the run dir from the same renderers: a bad
 * file or flag there stops this API server from starting. `admissionPlugins` is the config's
 * enable-admission-plugins list (merged with the harness's own into one flag).
 */
function bootstrapArgs(runDir: string): { apiserver: string[]; controllerManager: string[]; admissionPlugins: string[] } {
  const config = parseConfig(values);
  const local: Record<string, string> = {
    [k3sPaths.psa]: join(runDir, 'psa.yaml'),
    [k3sPaths.eventRateLimit]: join(runDir, 'event-rate-limit.yaml'),
    [k3sPaths.auditPolicy]: join(runDir, 'audit.yaml'),
    [k3sPaths.auditLog]: join(runDir, 'audit.log'),
  };
  const admission = podSecurityConfig(config, local[k3sPaths.eventRateLimit]);
  if (admission.includes('/var/lib/rancher/')) throw new Error(`the AdmissionConfiguration names host files the cluster tests do not provide (map them in test/cluster/support/control-plane.ts):\n${admission}`);
  writeFileSync(local[k3sPaths.psa], admission);
  writeFileSync(local[k3sPaths.eventRateLimit], eventRateLimitConfig());
  writeFileSync(local[k3sPaths.auditPolicy], auditPolicy());
  const flags = (key: string) => ((k3sConfig(config)[key] ?? []) as string[]).map((arg) => {
    const [name, ...rest] = arg.split('=');
    const value = rest.join('=');
    return `--${name}=${local[value] ?? value}`;
  });
  const pluginsFlag = '--enable-admission-plugins=';
  const all = flags('kube-apiserver-arg');
  const apiserver = all.filter((a) => !a.startsWith(pluginsFlag));
  const admissionPlugins = all.filter((a) => a.startsWith(pluginsFlag)).flatMap((a) => a.slice(pluginsFlag.length).split(','));
  const unmapped = apiserver.filter((a) => /=\/(etc|var)\//.test(a));
  if (unmapped.length) throw new Error(`bootstrap/host/k3s.ts passes host paths the cluster tests do not provide: ${unmapped.join(' ')} (map them in test/cluster/support/control-plane.ts)`);
  return { apiserver, controllerManager: flags('kube-controller-manager-arg'), admissionPlugins };
}

/** What the kubelet leaves allocatable: capacity minus system/kube reserved and the hard eviction threshold. */
export function nodeResources() {
  const { node, reservation } = parseConfig(values).cluster;
  const capacityCpuMilli = node.cpu * 1000;
  const capacityMemory = node.memoryGiB * 2 ** 30;
  const cpu = capacityCpuMilli - cpuCores(reservation.systemReserved.cpu) * 1000 - cpuCores(reservation.kubeReserved.cpu) * 1000;
  const memory = capacityMemory - memoryBytes(reservation.systemReserved.memory) - memoryBytes(reservation.kubeReserved.memory)
    - memoryBytes(reservation.evictionHardMemory);
  return {
    name: node.hostname,
    capacity: { cpu: String(node.cpu), memory: `${node.memoryGiB}Gi`, pods: '110', 'ephemeral-storage': `${node.diskGiB}Gi` },
    allocatable: { cpu: `${Math.round(cpu)}m`, memory: `${Math.floor(memory / 1024)}Ki`, pods: '110', 'ephemeral-storage': `${Math.floor(node.diskGiB * 0.9)}Gi` },
  };
}

export interface ControlPlaneOptions {
  /** Extra kube-apiserver arguments (the first-deploy suite routes the cluster egress through its proxy). */
  readonly apiserverArgs?: readonly string[];
  /**
   * Pods kwok must leave alone (no fake Ready, no fake completion) because the test runs them for
   * real and reports their status itself: label -> values (test/e2e/support/postgres-pods.ts).
   */
  readonly podsRunByTest?: Readonly<Record<string, readonly string[]>>;
}

/**
 * kwok's stages with the pod stages narrowed to pods not run by the test: each label of
 * `runByTest` NotIn its values (a pod without the label matches, as with label selectors).
 */
export function kwokStages(text: string, runByTest: Readonly<Record<string, readonly string[]>> = {}): string {
  const exclusions = Object.entries(runByTest).map(([label, vals]) => ({ key: `.metadata.labels["${label}"]`, operator: 'NotIn', values: [...vals] }));
  if (!exclusions.length) return text;
  return parseAllDocuments(text).map((doc) => {
    const stage = doc.toJS() as { kind?: string; spec?: { resourceRef?: { kind?: string }; selector?: { matchExpressions?: unknown[] } } } | null;
    if (stage?.kind !== 'Stage' || stage.spec?.resourceRef?.kind !== 'Pod' || !stage.spec.selector) return doc.toString();
    stage.spec.selector.matchExpressions = [...(stage.spec.selector.matchExpressions ?? []), ...exclusions];
    return stringify(stage);
  }).map((d) => `---\n${d.replace(/^---\n/, '')}`).join('');
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const runDir = mkdtempSync(join(tmpdir(), 'lms-cluster-'));
  const procs: Proc[] = [];
  const stop = async (keepLogs = process.env.KEEP_CLUSTER_RUN === '1') => {
    for (const p of [...procs].reverse()) await p.stop();
    killRecorded(runDir);
    if (!keepLogs) rmSync(runDir, { recursive: true, force: true });
  };
  try {
    // Resolve (and version-check) every binary before starting anything.
    const bins = {
      kine: binary('kine'), apiserver: binary('kube-apiserver'), controllerManager: binary('kube-controller-manager'),
      scheduler: binary('kube-scheduler'), kwok: binary('kwok'),
    };
    const stages = join(runDir, 'kwok-stages.yaml');
    writeFileSync(stages, kwokStages(readFileSync(asset('kwok-stages.yaml'), 'utf8'), opts.podsRunByTest));
    const pki = createPki(runDir);

    const kinePort = await freePort();
    mkdirSync(join(runDir, 'db'));
    const kine = startProcess('kine', bins.kine, [
      `--listen-address=127.0.0.1:${kinePort}`,
      `--endpoint=sqlite://${join(runDir, 'db', 'state.db')}?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate`,
      '--metrics-bind-address=0',
    ], runDir);
    procs.push(kine);

    const k3s = bootstrapArgs(runDir);
    const apiPort = await freePort();
    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = startProcess('kube-apiserver', bins.apiserver, [
      `--etcd-servers=http://127.0.0.1:${kinePort}`,
      '--bind-address=127.0.0.1', `--secure-port=${apiPort}`, '--advertise-address=127.0.0.1',
      '--endpoint-reconciler-type=none', // a loopback address cannot back the kubernetes Service
      `--cert-dir=${join(runDir, 'apiserver')}`,
      `--client-ca-file=${pki.caCert}`, `--tls-cert-file=${pki.serverCert}`, `--tls-private-key-file=${pki.serverKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.serviceAccountPub}`, `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--api-audiences=https://kubernetes.default.svc.cluster.local,k3s',
      `--service-cluster-ip-range=${serviceCidr}`,
      '--authorization-mode=Node,RBAC', '--anonymous-auth=false', '--allow-privileged=true', '--profiling=false',
      // PodSecurity and ValidatingAdmissionPolicy are on by default in 1.36; listed so a changed default
      // cannot silently switch them off here. The bootstrap's list (NodeRestriction, EventRateLimit) joins them.
      `--enable-admission-plugins=${[...new Set(['NodeRestriction', 'PodSecurity', 'ValidatingAdmissionPolicy', ...k3s.admissionPlugins])].join(',')}`,
      ...k3s.apiserver,
      ...(opts.apiserverArgs ?? []),
    ], runDir);
    procs.push(apiserver);

    const kubeconfig = join(runDir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigFor(server, pki));
    const kube = await Kube.fromKubeconfig(kubeconfig);
    await waitFor('kube-apiserver /readyz', async () => (await kube.request('GET', '/readyz')).status === 200,
      { timeoutMs: 120_000, procs: [kine, apiserver] });

    const common = [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1', '--leader-elect=false'];
    procs.push(startProcess('kube-controller-manager', bins.controllerManager, [
      ...common, `--secure-port=${await freePort()}`,
      `--service-account-private-key-file=${pki.serviceAccountKey}`, `--root-ca-file=${pki.caCert}`,
      `--cluster-signing-cert-file=${pki.caCert}`, `--cluster-signing-key-file=${pki.caKey}`,
      '--use-service-account-credentials=true', `--cluster-cidr=${clusterCidr}`, `--service-cluster-ip-range=${serviceCidr}`,
      '--allocate-node-cidrs=false', '--configure-cloud-routes=false', '--controllers=*,-service,-route,-cloud-node-lifecycle',
      // Scale decisions every 5 s instead of 15 s so HPA status appears quickly.
      '--horizontal-pod-autoscaler-sync-period=5s',
      ...k3s.controllerManager,
    ], runDir));
    procs.push(startProcess('kube-scheduler', bins.scheduler, [...common, `--secure-port=${await freePort()}`], runDir));

    const nodeRes = nodeResources();
    procs.push(startProcess('kwok', bins.kwok, [
      `--kubeconfig=${kubeconfig}`, `--config=${stages}`,
      '--manage-all-nodes=false', '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-ip=10.0.0.10', `--node-name=${nodeRes.name}`, '--cidr=10.42.0.0/24',
      // Renew the node's Lease like a kubelet (kwokctl's default); without it the node goes NotReady.
      '--node-lease-duration-seconds=40',
      `--server-address=127.0.0.1:${await freePort()}`,
    ], runDir));

    // The node k3s registers, as kwok manages it (k3s labels, VPS capacity, kubelet reservation).
    await kube.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: nodeRes.name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          'kubernetes.io/hostname': nodeRes.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
          'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64', 'node.kubernetes.io/instance-type': 'k3s',
          'node-role.kubernetes.io/control-plane': 'true', 'node-role.kubernetes.io/master': 'true',
        },
      },
      status: { capacity: nodeRes.capacity, allocatable: nodeRes.allocatable },
    });
    await waitFor(`node ${nodeRes.name} Ready (kwok)`, async () => {
      const node = await kube.get<V1Node>('v1', 'Node', nodeRes.name);
      return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    }, { timeoutMs: 60_000, procs });
    // The controller manager is up once it has created the default ServiceAccount.
    await waitFor('kube-controller-manager (default ServiceAccount)', async () => Boolean(await kube.get('v1', 'ServiceAccount', 'default', 'default')),
      { timeoutMs: 120_000, procs });

    return { runDir, kubeconfig, server, nodeName: nodeRes.name, pki, procs, stop };
  } catch (e) {
    await stop(true); // the error names log files in runDir
    throw e;
  }
}
