/**
 * Every network path each data-layer pod needs, at every layer state, checked by a real NetworkPolicy
 * evaluator (test/data/netpol-eval, Cyclonus' matcher; scripts/setup.d/42-netpol-eval.sh), not by
 * matching written here.
 *
 * The pods are the ones CloudNativePG 1.30 and the Barman Cloud plugin create for the rendered
 * Clusters and Poolers, with the labels the operator gives them (support/cnpg-pods.ts), plus our
 * logical dump CronJob's pod. The policies in force are the NetworkPolicies of the Flux layers that
 * are applied at that moment, read from the rendered layer graph:
 *
 * - first install, and a restore onto a fresh server: platform-data and the layers it depends on. The
 *   apps layers wait (through observability) for platform-data, which waits for the Cluster to be
 *   Ready, so nothing they ship can help the database get there;
 * - steady state, and a restore on the running server: every layer.
 *
 * Regression (issue 17): the data layer's policies selected every CloudNativePG pod for egress and
 * allowed no DNS, which only the apps layers' allow-dns gave; on a fresh server the restore Job's
 * barman-cloud-restore could not resolve the object storage host and nothing ever became Ready.
 */
import type { V1CronJob } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podSelectors } from '../../charts-ts/apps/labels.ts';
import { clusterDns } from '../../charts-ts/lib/network-policy.ts';
import { apiDatabaseHost } from '../../charts-ts/data/connection-budget.ts';
import { logicalDumpName } from '../../charts-ts/data/logical-dump.ts';
import { recoveryClusterName } from '../../charts-ts/data/recovery.ts';
import { layers as distLayers } from '../../charts-ts/lib/chart.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { platformNs } from '../../charts-ts/lib/namespaces.ts';
import { ancestors } from '../../charts-ts/platform/layer-graph.ts';
import { asKind } from '../../charts-ts/lib/workloads.ts';
import { clusterLayers, placedObjects, type ClusterLayer } from '../platform/support/layers.ts';
import type { NetworkPolicyJson } from '../support/kinds.ts';
import { renderAll, type Rendered } from '../support/render.ts';
import { cnpgGroup, type CnpgClusterJson, type CnpgPoolerJson } from './support/cnpg.ts';
import { instancePod, jobPod, jobPodLabels, poolerPod, ports, type Labels } from './support/cnpg-pods.ts';
import { evaluate, explain, type Endpoint, type Flow } from './support/netpol-eval.ts';

type State = 'data' | 'all';

interface Scenario {
  readonly name: string;
  /** Config overrides (the restore modes as `npm run restore` writes them). */
  readonly overrides?: unknown;
  /** `data`: platform-data and its dependencies are applied, the later layers are not; `all`: every layer. */
  readonly state: State;
}

const bothEnvs = (database: Record<string, unknown>) => ({ environments: { staging: { database }, production: { database } } });
const twoInstances = bothEnvs({ instances: 2 });
const inPlace = bothEnvs({ backup: { serverName: 'lms-db-r1' }, recovery: { mode: 'in-place', sourceServerName: 'lms-db' } });
const sideBySide = {
  environments: {
    production: { database: { recovery: { mode: 'side-by-side', sourceServerName: 'lms-db', targetTime: '2026-09-01T10:15:00Z', serverName: 'lms-db-recovery-1' } } },
  },
};

const scenarios: Scenario[] = [
  { name: 'first install', state: 'data' },
  { name: 'first install with a standby', overrides: twoInstances, state: 'data' },
  { name: 'restore in place onto a fresh server', overrides: inPlace, state: 'data' },
  { name: 'restore in place on the running server', overrides: inPlace, state: 'all' },
  { name: 'side-by-side restore', overrides: sideBySide, state: 'all' },
  { name: 'steady state', state: 'all' },
  { name: 'steady state with a standby', overrides: twoInstances, state: 'all' },
];

/** The Flux layers applied in a state, from the rendered layer graph. */
function appliedLayers(layers: ClusterLayer[], state: State): Set<string> {
  if (state === 'all') return new Set(layers.map((l) => l.name));
  const data = layerOf(layers, distLayers.data);
  // The entry Kustomization that applies the layer Kustomizations themselves is there from the start.
  return new Set([...ancestors(layers, data), data, layerOf(layers, distLayers.flux)]);
}

const layerOf = (layers: ClusterLayer[], path: string): string => {
  const l = layers.find((x) => x.path === path);
  if (!l) throw new Error(`no Flux layer applies ${path}`);
  return l.name;
};

/**
 * Addresses: pods in k3s's cluster CIDR (10.42.0.0/16); the API server as kube-router sees it after
 * the `kubernetes` Service is translated (the node's own address, port 6443); the object storage
 * endpoint's host (public addresses we do not pin: two stand-ins from the documentation ranges).
 */
function addressBook() {
  let next = 10;
  return { podIp: () => `10.42.0.${next++}` };
}
const nodeAddress = '203.0.113.10';
const objectStorageAddresses = ['198.51.100.20', '192.0.2.44'];

interface World {
  readonly flows: { required: Flow[]; forbidden: Flow[] };
}

/** Every pod and flow of one environment's namespace, given what is rendered and applied. */
function world(r: Rendered, envName: 'staging' | 'production', applied: Set<string>, layers: ClusterLayer[], ips: ReturnType<typeof addressBook>): World {
  const env = r.config.environments[envName];
  const ns = env.namespace;
  const nsLabels = (name: string): Labels => ({ ...(r.find('Namespace', { name })[0]?.metadata.labels ?? {}), 'kubernetes.io/metadata.name': name });
  const pod = (name: string, namespace: string, labels: Labels): Endpoint => ({ name, ip: ips.podIp(), pod: { namespace, namespaceLabels: nsLabels(namespace), labels } });
  const here = (name: string, labels: Labels) => pod(name, ns, labels);
  const present = (path: string) => applied.has(layerOf(layers, path));

  const endpoint = new URL(r.config.cluster.objectStorage.endpoint);
  expect(endpoint.protocol).toBe('https:');
  const objectStoragePort = Number(endpoint.port || 443);
  const objectStorage = objectStorageAddresses.map((ip): Endpoint => ({ name: `object storage ${endpoint.hostname} (${ip})`, ip }));
  const coreDns = pod('CoreDNS', clusterDns.namespace, { ...clusterDns.podLabels, 'pod-template-hash': '6799fbcd5' });
  const apiServer: Endpoint = { name: 'API server', ip: nodeAddress };
  const operator = pod('CloudNativePG operator', platformNs.cnpg, { 'app.kubernetes.io/name': 'cloudnative-pg', 'app.kubernetes.io/instance': 'cloudnative-pg', 'pod-template-hash': '7c9d8b6f5' });
  const prometheus = pod('Prometheus', names.monitoring.namespace, { ...names.monitoring.prometheusPodLabels, 'app.kubernetes.io/instance': 'kube-prometheus-stack-prometheus', prometheus: 'kube-prometheus-stack-prometheus' });

  const required: Flow[] = [];
  const forbidden: Flow[] = [];
  const need = (from: Endpoint, to: Endpoint, port: number, why: string, protocol: 'TCP' | 'UDP' = 'TCP') => required.push({ from, to, port, protocol, why });
  const never = (from: Endpoint, to: Endpoint, port: number, why: string, protocol: 'TCP' | 'UDP' = 'TCP') => forbidden.push({ from, to, port, protocol, why });
  const dns = (from: Endpoint, why: string) => {
    need(from, coreDns, 53, why, 'UDP');
    need(from, coreDns, 53, why, 'TCP');
    never(from, { name: 'a resolver outside the cluster', ip: '1.1.1.1' }, 53, 'names resolve through CoreDNS only', 'UDP');
  };
  const objectStore = (from: Endpoint, why: string) => {
    for (const o of objectStorage) need(from, o, objectStoragePort, why);
    never(from, { name: 'a public address on port 80', ip: objectStorageAddresses[0] }, 80, 'object storage is HTTPS only');
  };

  const primaries = new Map<string, Endpoint>();
  const instances = new Map<string, Endpoint[]>();
  for (const cluster of r.findOf<CnpgClusterJson>(cnpgGroup, 'Cluster', { namespace: ns })) {
    const c = cluster.metadata.name;
    const w = (p: { name: string; labels: Labels }, what: string) => here(`${what} ${p.name}`, p.labels);
    const primary = w(instancePod(cluster, 1, 'primary'), 'instance');
    const restoring = Boolean(cluster.spec.bootstrap.recovery);
    const bootstrap = w(jobPod(cluster, 1, restoring ? 'full-recovery' : 'initdb'), 'Job');
    primaries.set(c, primary);
    const replicas = Array.from({ length: cluster.spec.instances - 1 }, (_, i) => w(instancePod(cluster, i + 2, 'replica'), 'instance'));
    const joins = Array.from({ length: cluster.spec.instances - 1 }, (_, i) => w(jobPod(cluster, i + 2, 'join'), 'Job'));
    instances.set(c, [primary, ...replicas]);

    dns(bootstrap, restoring ? 'barman-cloud-restore resolves the object storage host' : 'the bootstrap Job resolves Service names');
    need(bootstrap, apiServer, 6443, 'the instance manager in the bootstrap Job reads its Cluster and Secrets');
    if (restoring) objectStore(bootstrap, 'the plugin sidecar in the full-recovery Job fetches the base backup and WAL');
    for (const i of [primary, ...replicas]) {
      dns(i, 'the instance manager and the plugin sidecar resolve Service names and the object storage host');
      need(i, apiServer, 6443, 'the instance manager and the plugin sidecar watch the Cluster, ObjectStore and Secrets');
      objectStore(i, 'the plugin sidecar archives WAL and takes base backups (the ScheduledBackup prefers a standby)');
      need(operator, i, ports.status, 'the operator polls the instance manager status');
      if (present(distLayers.observability)) need(prometheus, i, ports.postgresMetrics, 'Prometheus scrapes the PostgreSQL exporter');
      never(i, apiServer, 22, 'nothing but the API server port on the node');
    }
    for (const [n, replica] of replicas.entries()) {
      need(replica, primary, ports.postgres, 'streaming replication from the primary');
      dns(joins[n], 'the join Job resolves the -rw Service');
      need(joins[n], apiServer, 6443, 'the instance manager in the join Job reads its Cluster');
      need(joins[n], primary, ports.postgres, 'pg_basebackup of the new standby from the primary');
    }
    if (c === recoveryClusterName) never(primary, objectStorage[0], 5432, 'the recovery cluster talks to object storage over HTTPS only');
  }
  const live = primaries.get(names.database.cluster);
  if (!live) throw new Error(`no Cluster ${names.database.cluster} rendered in ${ns}`);
  const liveInstances = instances.get(names.database.cluster)!;

  const poolers = r.findOf<CnpgPoolerJson>(cnpgGroup, 'Pooler', { namespace: ns }).map((p) => here(`PgBouncer ${p.metadata.name}`, poolerPod(p).labels));
  for (const p of poolers) {
    dns(p, 'PgBouncer resolves the -rw Service');
    need(p, apiServer, 6443, 'the pooler instance manager reads its Pooler and Secrets');
    need(p, live, ports.postgres, 'PgBouncer connects to the primary');
    if (present(distLayers.observability)) need(prometheus, p, ports.pgbouncerMetrics, 'Prometheus scrapes the PgBouncer exporter');
  }

  const dumpJob = r.getOf<V1CronJob>('batch', 'CronJob', logicalDumpName, ns);
  const dump = here(`dump ${logicalDumpName}`, { ...dumpJob.spec!.jobTemplate.spec!.template.metadata!.labels, ...jobPodLabels(`${logicalDumpName}-29000000`) });
  dns(dump, 'the dump resolves the database Service and the object storage host');
  const dumpHosts = liveInstances.length > 1 ? liveInstances.slice(1) : liveInstances;
  for (const i of dumpHosts) need(dump, i, ports.postgres, 'pg_dump reads the database (a standby when there is one)');
  objectStore(dump, 'the dump uploads to object storage');
  never(dump, apiServer, 6443, 'the dump has no API token and no business with the API');

  if (present(distLayers.apps(envName))) {
    const rollout = (name: string) => r.getOf<{ spec: { template: { metadata: { labels: Labels } } } }>('argoproj.io', 'Rollout', name, ns).spec.template.metadata.labels;
    const api = here('lms-api', { ...rollout(names.apps.api), 'rollouts-pod-template-hash': '6b8d9c7f4' });
    const web = here('lms-web', { ...rollout(names.apps.web), 'rollouts-pod-template-hash': '5f7c8d9b6' });
    const migration = here('migration Job', { ...podSelectors.migration, 'app.kubernetes.io/part-of': 'lms', 'app.kubernetes.io/component': 'migration', ...jobPodLabels('lms-api-migrate-1') });
    const usesPooler = apiDatabaseHost(env) === names.database.poolerService;
    if (usesPooler) for (const p of poolers) need(api, p, ports.pgbouncer, 'the API connects through PgBouncer');
    else need(api, live, ports.postgres, 'the API connects to the primary');
    need(migration, live, ports.postgres, 'the migration Job runs against the -rw Service');
    never(web, live, ports.postgres, 'the SPA server never talks to the database');
    for (const p of poolers) never(web, p, ports.pgbouncer, 'the SPA server never talks to the database');
  }
  return { flows: { required, forbidden } };
}

describe.each(scenarios)('data-layer network paths: $name', (scenario) => {
  const r = renderAll(scenario.overrides);
  const layers = clusterLayers(r);
  const applied = appliedLayers(layers, scenario.state);
  const { placed } = placedObjects(r, layers);
  const policies = placed.filter((p) => applied.has(p.layer) && p.object.kind === 'NetworkPolicy').map((p) => p.object);
  const ips = addressBook();
  const worlds = (['staging', 'production'] as const).map((env) => ({ env, ...world(r, env, applied, layers, ips) }));

  it('is the layer state it claims: the apps layers are applied only in the full state', () => {
    const apps = [...applied].filter((l) => layers.find((x) => x.name === l)?.path.startsWith('apps/'));
    expect(apps.length > 0).toBe(scenario.state === 'all');
    expect(applied.has(layerOf(layers, distLayers.data))).toBe(true);
    expect(applied.has(layerOf(layers, distLayers.namespaces))).toBe(true);
    expect(applied.has(layerOf(layers, distLayers.observability))).toBe(scenario.state === 'all');
    if (scenario.overrides === inPlace) expect(r.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', names.database.cluster, 'lms-production').spec.bootstrap.recovery).toBeDefined();
    if (scenario.overrides === sideBySide) expect(r.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', recoveryClusterName, 'lms-production').spec.bootstrap.recovery).toBeDefined();
  });

  it.each(['staging', 'production'] as const)('%s: every flow the data-layer pods need is allowed', (env) => {
    const { flows } = worlds.find((w) => w.env === env)!;
    expect(flows.required.length).toBeGreaterThan(10);
    const verdicts = evaluate(policies, flows.required);
    const denied = flows.required.map((f, i) => [f, verdicts[i]] as const).filter(([, v]) => !v.allowed).map(([f, v]) => explain(f, v));
    expect(denied.join('\n')).toBe('');
  });

  it.each(['staging', 'production'] as const)('%s: the flows they must not open stay closed', (env) => {
    const { flows } = worlds.find((w) => w.env === env)!;
    const verdicts = evaluate(policies, flows.forbidden);
    const open = flows.forbidden.map((f, i) => [f, verdicts[i]] as const).filter(([, v]) => v.allowed).map(([f, v]) => explain(f, v));
    expect(open.join('\n')).toBe('');
  });
});

describe('the evaluator tells the layer states apart (regression: issue 17)', () => {
  const r = renderAll(inPlace);
  const layers = clusterLayers(r);
  const { placed } = placedObjects(r, layers);
  const cluster = r.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', names.database.cluster, 'lms-production');
  const restoreJob = jobPod(cluster, 1, 'full-recovery');
  const ns = 'lms-production';
  const nsLabels = { ...r.get('Namespace', ns).metadata.labels, 'kubernetes.io/metadata.name': ns };
  const from: Endpoint = { name: `Job ${restoreJob.name}`, ip: '10.42.0.200', pod: { namespace: ns, namespaceLabels: nsLabels, labels: restoreJob.labels } };
  const coreDns: Endpoint = { name: 'CoreDNS', ip: '10.42.0.3', pod: { namespace: 'kube-system', namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' }, labels: { ...clusterDns.podLabels } } };
  const lookup: Flow = { from, to: coreDns, port: 53, protocol: 'UDP', why: 'barman-cloud-restore resolves the object storage host' };

  it('the restore Job resolves the object storage host before any apps layer exists, from the data layer\'s own policies', () => {
    const data = appliedLayers(layers, 'data');
    const policies = placed.filter((p) => data.has(p.layer) && p.object.kind === 'NetworkPolicy').map((p) => p.object);
    const [v] = evaluate(policies, [lookup]);
    expect(v.allowed, explain(lookup, v)).toBe(true);
    const dataLayer = layerOf(layers, distLayers.data);
    const namespaces = layerOf(layers, distLayers.namespaces);
    // The policy admitting it ships in the data layer (or the namespaces layer), never in a later one.
    const layerOfPolicy = (ref: string) => placed.find((p) => p.object.kind === 'NetworkPolicy' && `${p.object.metadata.namespace}/${p.object.metadata.name}` === ref)!.layer;
    expect(v.egress.allowedBy.map(layerOfPolicy).every((l) => l === dataLayer || l === namespaces)).toBe(true);
  });

  it('without the data layer\'s DNS rule the same lookup is refused: the deadlock the test guards against', () => {
    const data = appliedLayers(layers, 'data');
    const withoutDns = placed.filter((p) => data.has(p.layer) && p.object.kind === 'NetworkPolicy')
      .map((p) => asKind<NetworkPolicyJson>(structuredClone(p.object), 'networking.k8s.io', 'NetworkPolicy')!)
      .map((p) => ({ ...p, spec: { ...p.spec, egress: p.spec.egress?.filter((rule) => !rule.ports?.some((port) => port.port === 53)) } }));
    const [v] = evaluate(withoutDns, [lookup]);
    expect(v.allowed).toBe(false);
    expect(v.egress.selectedBy).toContain(`${ns}/${names.database.cluster}-egress`);
  });
});
