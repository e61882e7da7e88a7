/**
 * NetworkPolicies of an app namespace: deny everything in and out, then allow exactly the flows the
 * apps need (k3s enforces NetworkPolicies with its embedded kube-router):
 *
 *   Traefik (kube-system)      -> lms-web :web port, lms-api :api port
 *   canary probe Job           -> Traefik :websecure, lms-web/lms-api :their ports (is the canary up?)
 *   Prometheus (monitoring)    -> metrics ports of lms-api, lms-web, redis
 *   lms-api                    -> PostgreSQL (or its PgBouncer) :5432, Redis :6379,
 *                                 Tempo OTLP :4317/:4318, the egress listed in config
 *   migration Job              -> PostgreSQL primary :5432
 *   every pod                  -> cluster DNS :53
 *
 * The deny covers every pod of the namespace, the database's too: the data layer's own policies
 * admit PostgreSQL and PgBouncer clients and the CloudNativePG flows (operator, replication,
 * backups, metrics) for its pods, DNS included: those pods run before this layer exists (a first
 * install, a restore onto a fresh server), so nothing here may be what they depend on.
 */
import type { Construct } from 'constructs';
import type { Config, Environment } from '../config/schema.ts';
import { cidrContains } from '../config/sections/apps.ts';
import { apiDatabaseHost } from '../data/connection-budget.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { names } from '../lib/names.ts';
import { clusterDnsEgress, inNamespace, samePods, tcp, type Peer, type Ports } from '../lib/network-policy.ts';
import { kplus } from '../lib/plus.ts';
import { postgresPort } from './api.ts';
import { podSelectors } from './labels.ts';
import { probePodSelector } from './probe.ts';

export const peers = {
  traefik: inNamespace(names.ingress.namespace, names.ingress.podLabels),
  prometheus: inNamespace(names.monitoring.namespace, names.monitoring.prometheusPodLabels),
  tempo: inNamespace(names.monitoring.namespace, names.monitoring.tempo.podLabels),
  dns: clusterDnsEgress.to[0]!,
};

export interface PolicySpec {
  readonly podSelector: Readonly<Record<string, string>>;
  readonly ingress?: { from: Peer[]; ports: Ports }[];
  readonly egress?: { to: Peer[]; ports: Ports }[];
}

/**
 * One workload's NetworkPolicy in an app namespace: the pods it selects are isolated for ingress
 * and/or egress (whichever rules are given) and admit or reach exactly the listed peers.
 */
export function appNetworkPolicy(scope: Construct, namespace: string, name: string, spec: PolicySpec, why: string): void {
  new kplus.k8s.KubeNetworkPolicy(scope, name, {
    metadata: { name, namespace, annotations: { 'lms.dev/why': why } },
    spec: {
      podSelector: { matchLabels: { ...spec.podSelector } },
      policyTypes: [...(spec.ingress ? ['Ingress'] : []), ...(spec.egress ? ['Egress'] : [])],
      ...(spec.ingress ? { ingress: spec.ingress } : {}),
      // Egress listed in policyTypes with no rules denies all egress; an empty list would be
      // dropped by the API server (drift on every Flux apply), so it is left out.
      ...(spec.egress?.length ? { egress: spec.egress } : {}),
    },
  });
}

/** "the API", "the API and lms-reports", "a, b and c". */
export const listText = (items: string[]): string => (items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`);

export class NetworkPoliciesChart extends LmsChart {
  constructor(scope: Construct, id: string, _config: Config, env: Environment) {
    super(scope, id, { layer: layers.apps(env.name), component: 'network-policies', namespace: env.namespace });
    const ns = env.namespace;
    const apps = env.apps;

    const policy = (name: string, spec: PolicySpec, why: string) => appNetworkPolicy(this, ns, name, spec, why);

    new kplus.k8s.KubeNetworkPolicy(this, 'default-deny', {
      metadata: { name: 'default-deny', namespace: ns, annotations: { 'lms.dev/why': 'nothing in or out unless another policy allows it' } },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    new kplus.k8s.KubeNetworkPolicy(this, 'allow-dns', {
      metadata: { name: 'allow-dns', namespace: ns, annotations: { 'lms.dev/why': 'every pod resolves Service names through the cluster DNS' } },
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [clusterDnsEgress],
      },
    });

    const extraEgress = (app: 'api' | 'web') => apps.egress.filter((e) => e.app === app).map((e) => ({
      to: e.cidrs.map((cidr) => {
        const except = e.except.filter((x) => cidrContains(cidr, x));
        return { ipBlock: { cidr, ...(except.length ? { except } : {}) } };
      }),
      ports: tcp(...e.ports),
    }));

    const probeIngress = (port: number) => (apps.probe.enabled ? [{ from: [samePods(probePodSelector)], ports: tcp(port) }] : []);

    policy(names.apps.api, {
      podSelector: podSelectors.api,
      ingress: [
        { from: [peers.traefik], ports: tcp(env.apps.api.port) },
        // The canary probe checks that the canary Service answers before it starts.
        ...probeIngress(env.apps.api.port),
        { from: [peers.prometheus], ports: tcp(apps.api.metricsPort) },
      ],
      egress: [
        { to: [samePods(apiDatabaseHost(env) === names.database.poolerService ? podSelectors.pooler : podSelectors.database)], ports: tcp(postgresPort) },
        { to: [samePods(podSelectors.redis)], ports: tcp(names.redis.port) },
        { to: [peers.tempo], ports: tcp(names.monitoring.tempo.otlpGrpcPort, names.monitoring.tempo.otlpHttpPort) },
        ...extraEgress('api'),
      ],
    }, `ingress from Traefik${apps.probe.enabled ? ', the canary probe' : ''} and Prometheus; egress to PostgreSQL, Redis, Tempo and the configured external destinations`);

    policy(names.apps.web, {
      podSelector: podSelectors.web,
      ingress: [
        { from: [peers.traefik], ports: tcp(env.apps.web.port) },
        ...probeIngress(env.apps.web.port),
        { from: [peers.prometheus], ports: tcp(apps.web.metricsPort) },
      ],
      egress: extraEgress('web'),
    }, `ingress from Traefik${apps.probe.enabled ? ', the canary probe' : ''} and Prometheus; the SPA server calls nothing`);

    if (apps.probe.enabled) policy('canary-probe', {
      podSelector: probePodSelector,
      egress: [
        { to: [peers.traefik], ports: tcp(names.ingress.websecureContainerPort) },
        { to: [samePods(podSelectors.api)], ports: tcp(env.apps.api.port) },
        { to: [samePods(podSelectors.web)], ports: tcp(env.apps.web.port) },
      ],
    }, 'the canary probe: requests through Traefik websecure, and a direct check that the canary Service answers; nothing reaches it');

    // Redis's own policy comes with it (apps/redis.ts, StatefulService).

    policy(`${names.apps.api}-migration`, {
      podSelector: podSelectors.migration,
      egress: [{ to: [samePods(podSelectors.database)], ports: tcp(postgresPort) }],
    }, 'the migration Job reaches PostgreSQL and nothing else');
  }
}
