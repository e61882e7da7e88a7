/**
 * NetworkPolicies of an app namespace: deny everything in and out, then allow exactly the flows the
 * apps need (k3s enforces NetworkPolicies with its embedded kube-router):
 *
 *   Traefik (kube-system)      -> lms-web :web port, lms-api :api port
 *   Prometheus (monitoring)    -> metrics ports of lms-api, lms-web, redis
 *   lms-api                    -> PostgreSQL (or its PgBouncer) :5432, Redis :6379,
 *                                 Tempo OTLP :4317/:4318, the egress listed in config
 *   migration Job              -> PostgreSQL primary :5432
 *   every pod                  -> cluster DNS :53
 *
 * The deny covers every pod of the namespace, the database's too: the data layer's own policies
 * admit PostgreSQL and PgBouncer clients and the CloudNativePG flows (operator, replication,
 * backups, metrics) for its pods.
 */
import type { Construct } from 'constructs';
import type { Config, Environment } from '../config/schema.ts';
import { cidrContains } from '../config/sections/apps.ts';
import { apiDatabaseHost } from '../data/connection-budget.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { names } from '../lib/names.ts';
import { kplus } from '../lib/plus.ts';
import { postgresPort } from './api.ts';
import { podSelectors } from './labels.ts';
import { redisExporterPort } from './redis.ts';

type Peer = { namespaceSelector?: { matchLabels: Record<string, string> }; podSelector?: { matchLabels: Record<string, string> }; ipBlock?: { cidr: string; except?: string[] } };

const namespaceLabel = 'kubernetes.io/metadata.name';
/** k3s's CoreDNS (kube-system, label k8s-app=kube-dns). */
export const clusterDns = { namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } } as const;

const inNamespace = (namespace: string, podLabels: Record<string, string>): Peer =>
  ({ namespaceSelector: { matchLabels: { [namespaceLabel]: namespace } }, podSelector: { matchLabels: { ...podLabels } } });
const samePods = (podLabels: Record<string, string>): Peer => ({ podSelector: { matchLabels: { ...podLabels } } });

export const peers = {
  traefik: inNamespace(names.ingress.namespace, names.ingress.podLabels),
  prometheus: inNamespace(names.monitoring.namespace, names.monitoring.prometheusPodLabels),
  tempo: inNamespace(names.monitoring.namespace, names.monitoring.tempo.podLabels),
  dns: inNamespace(clusterDns.namespace, clusterDns.podLabels),
};

const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port: kplus.k8s.IntOrString.fromNumber(port) }));

export class NetworkPoliciesChart extends LmsChart {
  constructor(scope: Construct, id: string, _config: Config, env: Environment) {
    super(scope, id, { layer: layers.apps(env.name), component: 'network-policies', namespace: env.namespace });
    const ns = env.namespace;
    const apps = env.apps;

    const policy = (name: string, spec: { podSelector: Record<string, string>; ingress?: { from: Peer[]; ports: ReturnType<typeof tcp> }[]; egress?: { to: Peer[]; ports: ReturnType<typeof tcp> | { protocol: string; port: any }[] }[] }, why: string) =>
      new kplus.k8s.KubeNetworkPolicy(this, name, {
        metadata: { name, namespace: ns, annotations: { 'lms.dev/why': why } },
        spec: {
          podSelector: { matchLabels: { ...spec.podSelector } },
          policyTypes: [...(spec.ingress ? ['Ingress'] : []), ...(spec.egress ? ['Egress'] : [])],
          ...(spec.ingress ? { ingress: spec.ingress } : {}),
          // Egress listed in policyTypes with no rules denies all egress; an empty list would be
          // dropped by the API server (drift on every Flux apply), so it is left out.
          ...(spec.egress?.length ? { egress: spec.egress } : {}),
        },
      });

    new kplus.k8s.KubeNetworkPolicy(this, 'default-deny', {
      metadata: { name: 'default-deny', namespace: ns, annotations: { 'lms.dev/why': 'nothing in or out unless another policy allows it' } },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    new kplus.k8s.KubeNetworkPolicy(this, 'allow-dns', {
      metadata: { name: 'allow-dns', namespace: ns, annotations: { 'lms.dev/why': 'every pod resolves Service names through the cluster DNS' } },
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{
          to: [peers.dns],
          ports: [53].flatMap((port) => ['UDP', 'TCP'].map((protocol) => ({ protocol, port: kplus.k8s.IntOrString.fromNumber(port) }))),
        }],
      },
    });

    const extraEgress = (app: 'api' | 'web') => apps.egress.filter((e) => e.app === app).map((e) => ({
      to: e.cidrs.map((cidr) => {
        const except = e.except.filter((x) => cidrContains(cidr, x));
        return { ipBlock: { cidr, ...(except.length ? { except } : {}) } };
      }),
      ports: tcp(...e.ports),
    }));

    policy(names.apps.api, {
      podSelector: podSelectors.api,
      ingress: [
        { from: [peers.traefik], ports: tcp(env.api.port) },
        { from: [peers.prometheus], ports: tcp(apps.api.metricsPort) },
      ],
      egress: [
        { to: [samePods(apiDatabaseHost(env) === names.database.poolerService ? podSelectors.pooler : podSelectors.database)], ports: tcp(postgresPort) },
        { to: [samePods(podSelectors.redis)], ports: tcp(names.redis.port) },
        { to: [peers.tempo], ports: tcp(names.monitoring.tempo.otlpGrpcPort, names.monitoring.tempo.otlpHttpPort) },
        ...extraEgress('api'),
      ],
    }, 'ingress from Traefik and Prometheus; egress to PostgreSQL, Redis, Tempo and the configured external destinations');

    policy(names.apps.web, {
      podSelector: podSelectors.web,
      ingress: [
        { from: [peers.traefik], ports: tcp(env.web.port) },
        { from: [peers.prometheus], ports: tcp(apps.web.metricsPort) },
      ],
      egress: extraEgress('web'),
    }, 'ingress from Traefik and Prometheus; the SPA server calls nothing');

    policy(names.redis.service, {
      podSelector: podSelectors.redis,
      ingress: [
        { from: [samePods(podSelectors.api)], ports: tcp(names.redis.port) },
        { from: [peers.prometheus], ports: tcp(redisExporterPort) },
      ],
    }, 'only the API talks to Redis; Prometheus scrapes the exporter');

    policy(`${names.apps.api}-migration`, {
      podSelector: podSelectors.migration,
      egress: [{ to: [samePods(podSelectors.database)], ports: tcp(postgresPort) }],
    }, 'the migration Job reaches PostgreSQL and nothing else');
  }
}
