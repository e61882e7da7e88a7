/**
 * C4 diagrams (Mermaid, which GitHub renders) generated from the same config and synthesized
 * objects that go to the cluster, so the architecture pictures cannot drift from what runs:
 * - containers come from workloads (Rollouts, StatefulSets, CronJobs, CNPG Clusters and Poolers,
 *   HelmReleases, Traefik's HelmChartConfig);
 * - relations inside the cluster come from the NetworkPolicies (what is allowed to talk to what),
 *   relations to the outside from the objects that configure them (ObjectStores, ClusterIssuers,
 *   IngressRoutes, Flux Kustomizations) and from config (alert receivers, object storage, Cloudflare).
 */
import type {
  V1Container, V1LabelSelector, V1NetworkPolicyPeer, V1NetworkPolicyPort, V1PodTemplateSpec, V1StatefulSet, V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import type { Config, Environment } from '../config/schema.ts';
import { ofKind, type NamedManifest, type RolloutJson } from './workloads.ts';

type Obj = NamedManifest;

/*
 * What the diagrams read of each kind (JSON as rendered; the rest of each object is not read). A
 * workload's pod template is where its kind keeps it: spec.template, or spec.jobTemplate.spec.template.
 */
interface PodTemplated { readonly spec?: { readonly template?: V1PodTemplateSpec; readonly jobTemplate?: { readonly spec?: { readonly template?: V1PodTemplateSpec } } } }
interface CronJobJson { readonly spec: { readonly schedule: string } }
interface CnpgClusterJson { readonly spec: { readonly imageName?: string; readonly instances: number; readonly storage?: { readonly size?: string; readonly storageClass?: string } } }
interface PoolerJson { readonly spec: { readonly instances?: number; readonly pgbouncer?: { readonly poolMode?: string } } }
interface HelmReleaseJson { readonly spec?: { readonly chart?: { readonly spec?: { readonly chart: string; readonly version?: string } } } }
/** A NetworkPolicy rule: `to` (egress) or `from` (ingress; client-node names that field `_from`). */
interface PolicyRuleJson { readonly to?: readonly V1NetworkPolicyPeer[]; readonly from?: readonly V1NetworkPolicyPeer[]; readonly ports?: readonly V1NetworkPolicyPort[] }
interface NetworkPolicyJson { readonly spec: { readonly podSelector: V1LabelSelector; readonly egress?: readonly PolicyRuleJson[]; readonly ingress?: readonly PolicyRuleJson[] } }
interface IngressRouteJson { readonly spec: { readonly routes?: readonly { readonly match: string }[] } }
interface DeploymentJson { readonly spec: { readonly replicas?: number; readonly template: { readonly spec: { readonly containers: readonly { readonly image: string }[] } } } }

interface Node { id: string; label: string; tech: string; descr: string; kind: 'Container' | 'ContainerDb' | 'ContainerQueue' }
interface Rel { from: string; to: string; label: string; tech?: string }

const id = (...parts: string[]): string => parts.join('_').replace(/[^A-Za-z0-9_]/g, '_');
const q = (s: string): string => `"${s.replace(/"/g, "'")}"`;

const imageTag = (image: string): string => image.replace(/@sha256:.*/, '').split('/').pop() ?? image;

/** Which node a NetworkPolicy peer (pod/namespace selector) refers to. */
function peerNode(peer: V1NetworkPolicyPeer, namespace: string, nodesByLabel: Map<string, string>): string | undefined {
  const ns = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] ?? (peer.namespaceSelector ? undefined : namespace);
  const labels = peer.podSelector?.matchLabels ?? {};
  for (const [k, v] of Object.entries(labels)) {
    const found = nodesByLabel.get(`${ns}|${k}=${v}`);
    if (found) return found;
  }
  return undefined;
}

/** Nodes of one namespace, indexed by the pod labels their pods carry. */
function workloadNodes(objects: Obj[], namespace: string): { nodes: Node[]; byLabel: Map<string, string> } {
  const nodes: Node[] = [];
  const byLabel = new Map<string, string>();
  const inNs = objects.filter((o) => o.metadata?.namespace === namespace);
  for (const o of inNs) {
    const name = o.metadata.name;
    const nodeId = id(namespace, name);
    const w = o as Obj & PodTemplated;
    const podLabels: Record<string, string> = w.spec?.template?.metadata?.labels ?? w.spec?.jobTemplate?.spec?.template?.metadata?.labels ?? {};
    const containers: V1Container[] = w.spec?.template?.spec?.containers ?? w.spec?.jobTemplate?.spec?.template?.spec?.containers ?? [];
    const image = containers[0]?.image ? imageTag(containers[0].image) : '';
    switch (o.kind) {
      case 'Rollout': {
        const rollout = o as Obj & RolloutJson;
        const hpa = inNs.map((h) => ofKind<V2HorizontalPodAutoscaler>(h, 'HorizontalPodAutoscaler')).find((h) => h?.spec?.scaleTargetRef?.name === name);
        const steps = (rollout.spec?.strategy?.canary?.steps ?? []).filter((s) => s.setWeight !== undefined).map((s) => `${s.setWeight}%`);
        nodes.push({ id: nodeId, kind: 'Container', label: name, tech: `Argo Rollout, ${image}`, descr: `canary ${steps.join(' > ')}${hpa ? `; HPA ${hpa.spec!.minReplicas}-${hpa.spec!.maxReplicas}` : ''}` });
        break;
      }
      case 'StatefulSet': {
        const set = o as Obj & V1StatefulSet;
        nodes.push({ id: nodeId, kind: 'ContainerDb', label: name, tech: `StatefulSet, ${image}`, descr: `${set.spec?.replicas ?? 1} replica(s), ${set.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage ?? 'no'} volume` });
        break;
      }
      case 'CronJob':
        nodes.push({ id: nodeId, kind: 'Container', label: name, tech: `CronJob, ${image}`, descr: `schedule ${(o as Obj & CronJobJson).spec.schedule}` });
        break;
      case 'Cluster':
        if (o.apiVersion?.startsWith('postgresql.cnpg.io/')) {
          const { spec } = o as Obj & CnpgClusterJson;
          nodes.push({ id: nodeId, kind: 'ContainerDb', label: name, tech: `CloudNativePG, ${imageTag(spec.imageName ?? 'postgresql')}`, descr: `${spec.instances} instance(s), ${spec.storage?.size ?? '?'} on ${spec.storage?.storageClass ?? 'default'}` });
          byLabel.set(`${namespace}|cnpg.io/cluster=${name}`, nodeId);
        }
        break;
      case 'Pooler': {
        const { spec } = o as Obj & PoolerJson;
        nodes.push({ id: nodeId, kind: 'Container', label: name, tech: 'PgBouncer (CloudNativePG Pooler)', descr: `${spec.instances ?? 1} instance(s), ${spec.pgbouncer?.poolMode ?? 'session'} pooling` });
        byLabel.set(`${namespace}|cnpg.io/poolerName=${name}`, nodeId);
        break;
      }
      case 'HelmRelease': {
        const release = o as Obj & HelmReleaseJson;
        const chart = release.spec?.chart?.spec ? `${release.spec.chart.spec.chart} ${release.spec.chart.spec.version}` : `chart ${o.metadata.name}`;
        nodes.push({ id: nodeId, kind: 'Container', label: name, tech: `Helm: ${chart}`, descr: 'installed by Flux' });
        break;
      }
      default:
        continue;
    }
    for (const [k, v] of Object.entries(podLabels)) if (!k.startsWith('rollouts-pod-template')) byLabel.set(`${namespace}|${k}=${v}`, nodeId);
  }
  return { nodes, byLabel };
}

/** Allowed flows from the NetworkPolicies of a namespace (egress to peers, ingress from peers). */
function policyRelations(objects: Obj[], namespace: string, byLabel: Map<string, string>): Rel[] {
  const rels: Rel[] = [];
  const ports = (rule: PolicyRuleJson) => (rule.ports ?? []).map((p) => `${p.port}`).join(',');
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === namespace) as (Obj & NetworkPolicyJson)[];
  for (const np of policies) {
    const self = peerNode({ podSelector: np.spec.podSelector }, namespace, byLabel);
    if (!self) continue;
    for (const rule of np.spec.egress ?? []) {
      for (const peer of rule.to ?? []) {
        const to = peerNode(peer, namespace, byLabel);
        if (to && to !== self) rels.push({ from: self, to, label: 'connects', tech: `TCP ${ports(rule)}` });
      }
    }
    for (const rule of np.spec.ingress ?? []) {
      for (const peer of rule.from ?? []) {
        const from = peerNode(peer, namespace, byLabel);
        if (from && from !== self) rels.push({ from, to: self, label: from.includes('prometheus') ? 'scrapes' : 'routes to', tech: `TCP ${ports(rule)}` });
      }
    }
  }
  return rels;
}

function dedupe(rels: Rel[]): Rel[] {
  const seen = new Map<string, Rel>();
  for (const r of rels) {
    const key = `${r.from}>${r.to}`;
    const old = seen.get(key);
    if (!old) seen.set(key, r);
    else if (r.tech && old.tech && !old.tech.includes(r.tech.replace('TCP ', ''))) seen.set(key, { ...old, tech: `${old.tech},${r.tech.replace('TCP ', '')}` });
  }
  return [...seen.values()];
}

const nodeLine = (n: Node, indent = '    '): string => `${indent}${n.kind}(${n.id}, ${q(n.label)}, ${q(n.tech)}, ${q(n.descr)})`;
const relLine = (r: Rel): string => `  Rel(${r.from}, ${r.to}, ${q(r.label)}${r.tech ? `, ${q(r.tech)}` : ''})`;

/** Shared cluster-side nodes the app namespaces talk to (ingress, metrics, traces). */
function sharedNodes(objects: Obj[]): { nodes: Node[]; byLabel: Map<string, string> } {
  const byLabel = new Map<string, string>();
  const nodes: Node[] = [];
  const traefik = objects.find((o) => o.kind === 'HelmChartConfig' && o.metadata.name === 'traefik');
  if (traefik) {
    nodes.push({ id: 'traefik', kind: 'Container', label: 'Traefik', tech: 'k3s bundled ingress (HelmChartConfig)', descr: 'TLS, canary weights, security headers, rate limits' });
    byLabel.set('kube-system|app.kubernetes.io/name=traefik', 'traefik');
  }
  const releases = objects.filter((o) => o.kind === 'HelmRelease' && o.metadata.namespace === 'monitoring');
  const has = (re: RegExp) => releases.some((r) => re.test(r.metadata.name));
  if (has(/prometheus/)) {
    nodes.push({ id: 'prometheus', kind: 'Container', label: 'Prometheus', tech: 'kube-prometheus-stack', descr: 'metrics, SLO rules, canary analysis queries' });
    byLabel.set('monitoring|app.kubernetes.io/name=prometheus', 'prometheus');
  }
  if (has(/tempo/)) {
    nodes.push({ id: 'tempo', kind: 'Container', label: 'Tempo', tech: 'Grafana Tempo (monolithic)', descr: 'traces over OTLP' });
    byLabel.set('monitoring|app.kubernetes.io/name=tempo', 'tempo');
  }
  return { nodes, byLabel };
}

export function environmentDiagram(config: Config, env: Environment, objects: Obj[]): string {
  const shared = sharedNodes(objects);
  const own = workloadNodes(objects, env.namespace);
  const byLabel = new Map([...shared.byLabel, ...own.byLabel]);
  const rels = policyRelations(objects, env.namespace, byLabel);
  const store = objects.find((o) => o.kind === 'ObjectStore' && o.metadata.namespace === env.namespace);
  const cluster = own.nodes.find((n) => n.tech.startsWith('CloudNativePG'));
  if (store && cluster) rels.push({ from: cluster.id, to: 'object_storage', label: 'WAL archive and base backups', tech: 'S3 (barman-cloud)' });
  for (const n of own.nodes.filter((x) => x.tech.startsWith('CronJob'))) rels.push({ from: n.id, to: 'object_storage', label: 'age-encrypted dumps', tech: 'S3' });
  // Users' hosts: not the routes only in-cluster clients can match (the canary probe's, ClientIP).
  const inClusterOnly = (o: IngressRouteJson) => (o.spec.routes ?? []).every((r) => /ClientIP\(/.test(String(r.match)));
  const routes = objects.filter((o) => o.kind === 'IngressRoute' && o.metadata.namespace === env.namespace) as (Obj & IngressRouteJson)[];
  const hosts = [...new Set(routes.filter((o) => !inClusterOnly(o))
    .flatMap((o) => (o.spec.routes ?? []).flatMap((r) => [...String(r.match).matchAll(/Host\(`([^`]+)`\)/g)].map((m) => m[1]))))].sort();
  rels.unshift({ from: 'users', to: 'cloudflare', label: `uses ${hosts.join(', ')}`, tech: 'HTTPS' }, { from: 'cloudflare', to: 'traefik', label: 'proxies', tech: 'HTTPS, full (strict)' });
  return [
    '```mermaid',
    'C4Container',
    `  title ${env.name}: containers in namespace ${env.namespace}`,
    '  Person(users, "Learners and teachers", "browser")',
    '  System_Ext(cloudflare, "Cloudflare", "DNS, proxy, WAF, rate limits")',
    `  System_Ext(object_storage, "Contabo Object Storage", ${q(`${config.cluster.objectStorage.region} / ${config.cluster.objectStorage.bucket}`)})`,
    `  Container_Boundary(node, ${q(`k3s on ${config.cluster.node.hostname}`)}) {`,
    ...shared.nodes.map((n) => nodeLine(n)),
    `    Container_Boundary(${id('ns', env.namespace)}, ${q(`namespace ${env.namespace}`)}) {`,
    ...own.nodes.map((n) => nodeLine(n, '      ')),
    '    }',
    '  }',
    ...dedupe(rels).map(relLine),
    '```',
  ].join('\n');
}

export function platformDiagram(config: Config, objects: Obj[]): string {
  // Both kinds are namespaced: every one has a namespace.
  const namespaces = [...new Set(objects.filter((o) => o.kind === 'HelmRelease' || o.kind === 'Deployment').map((o) => o.metadata.namespace as string))].sort();
  const boundaries = namespaces.map((ns) => {
    const { nodes } = workloadNodes(objects, ns);
    const deployments = (objects.filter((o) => o.kind === 'Deployment' && o.metadata.namespace === ns) as (Obj & DeploymentJson)[])
      .map((o): Node => ({ id: id(ns, o.metadata.name), kind: 'Container', label: o.metadata.name, tech: `Deployment, ${imageTag(o.spec.template.spec.containers[0].image)}`, descr: `${o.spec.replicas ?? 1} replica(s)` }));
    return [`    Container_Boundary(${id('ns', ns)}, ${q(`namespace ${ns}`)}) {`, ...[...nodes, ...deployments].map((n) => nodeLine(n, '      ')), '    }'];
  }).flat();
  const layers = objects.filter((o) => o.kind === 'Kustomization' && o.apiVersion?.startsWith('kustomize.toolkit.fluxcd.io'))
    .map((o) => o.metadata.name).sort();
  const issuers = objects.filter((o) => o.kind === 'ClusterIssuer').map((o) => o.metadata.name).sort();
  const a = config.cluster.alerting;
  return [
    '```mermaid',
    'C4Container',
    '  title Platform: controllers and observability',
    '  Person(operators, "Operators", "git push, kubectl argo rollouts promote, Grafana")',
    '  System_Ext(github, "GitHub", "repository, Actions, GHCR, clusters branch")',
    '  System_Ext(letsencrypt, "Let\'s Encrypt", "ACME, DNS-01 through Cloudflare")',
    '  System_Ext(slack, "Slack", "warnings and deploy notices")',
    '  System_Ext(pagerduty, "PagerDuty", "pages for critical alerts")',
    '  System_Ext(heartbeat, "Heartbeat monitor", "dead man\'s switch for the Watchdog alert")',
    `  Container_Boundary(node, ${q(`k3s ${config.cluster.k3s.version} on ${config.cluster.node.hostname}`)}) {`,
    `    Container(flux, "Flux", "source, kustomize, helm, notification controllers", ${q(`layers: ${layers.join(' > ')}`)})`,
    ...boundaries,
    '  }',
    '  Rel(operators, github, "git push, approve production")',
    '  Rel(flux, github, "pulls clusters branch, posts commit status", "HTTPS")',
    '  Rel(github, flux, "push webhook (Receiver)", "HTTPS")',
    ...(issuers.length ? [`  Rel(cert_manager_cert_manager, letsencrypt, ${q(`certificates (${issuers.join(', ')})`)}, "ACME")`] : []),
    `  Rel(monitoring_kube_prometheus_stack, pagerduty, "critical alerts", ${q(`Secret ${a.pagerdutyRoutingKey.name}`)})`,
    `  Rel(monitoring_kube_prometheus_stack, slack, ${q(`alerts to ${a.slackChannel}`)}, ${q(`Secret ${a.slackWebhook.name}`)})`,
    `  Rel(monitoring_kube_prometheus_stack, heartbeat, "Watchdog", ${q(`Secret ${a.heartbeatUrl.name}`)})`,
    '  Rel(flux, slack, "reconciliation errors")',
    '```',
  ].join('\n');
}

export function contextDiagram(config: Config): string {
  const c = config.cluster;
  const hosts = Object.values(config.environments).flatMap((e) => Object.values(e.hostnames)).sort();
  return [
    '```mermaid',
    'C4Context',
    '  title LMS: system context',
    '  Person(users, "Learners and teachers", "use the LMS in a browser")',
    '  Person(operators, "Operators", "platform engineers")',
    '  System_Ext(cloudflare, "Cloudflare", "DNS, proxy, WAF managed rules, rate limits")',
    `  System_Boundary(vps, ${q(`Contabo VPS ${c.node.hostname}: ${c.node.cpu} vCPU, ${c.node.memoryGiB} GiB, ${c.node.diskGiB} GiB NVMe`)}) {`,
    `    System(lms, "LMS on k3s", ${q(`k3s ${c.k3s.version}: staging and production, PostgreSQL, Redis, observability, Flux`)})`,
    '  }',
    `  System_Ext(object_storage, "Contabo Object Storage", ${q(`S3 API ${c.objectStorage.endpoint}, bucket ${c.objectStorage.bucket}`)})`,
    '  System_Ext(github, "GitHub", "code, Actions CI/CD, GHCR images, clusters branch")',
    '  System_Ext(letsencrypt, "Let\'s Encrypt", "TLS certificates")',
    '  System_Ext(slack, "Slack", "alerts, deploys, weekly report")',
    '  System_Ext(pagerduty, "PagerDuty", "on-call paging")',
    '  System_Ext(contabo_api, "Contabo API", "instances, snapshots")',
    `  Rel(users, cloudflare, ${q(hosts.join(', '))}, "HTTPS")`,
    '  Rel(cloudflare, lms, "proxies", "HTTPS, full (strict)")',
    '  Rel(operators, github, "git push, approve, promote")',
    '  Rel(operators, lms, "kubectl via SSH tunnel, Grafana", "SSH")',
    '  Rel(lms, github, "Flux pulls the clusters branch; images from GHCR", "HTTPS")',
    '  Rel(github, lms, "deploy workflow waits for rollouts", "SSH tunnel")',
    '  Rel(lms, object_storage, "WAL, base backups, encrypted dumps", "S3")',
    '  Rel(lms, letsencrypt, "ACME DNS-01")',
    '  Rel(lms, slack, "alerts, reports")',
    '  Rel(lms, pagerduty, "pages")',
    '  Rel(github, contabo_api, "nightly snapshot rotation")',
    '```',
  ].join('\n');
}

const header = '<!-- Generated by `npm run docs` from charts-ts/config and the synthesized objects. Do not edit; a test fails when this file is stale. -->';

export function architectureDocs(config: Config, objects: Obj[]): Record<string, string> {
  const envs = Object.values(config.environments);
  return {
    'context.md': [header, '', '# System context', '', 'Who uses the LMS and which outside systems it depends on.', '', contextDiagram(config), ''].join('\n'),
    'containers.md': [
      header, '', '# Containers', '',
      'What runs on the node, per namespace. Relations inside the cluster are the flows the NetworkPolicies allow.', '',
      ...envs.flatMap((e) => [`## ${e.name}`, '', environmentDiagram(config, e, objects), '']),
      '## Platform', '', platformDiagram(config, objects), '',
    ].join('\n'),
  };
}
