/**
 * NetworkPolicies, checked by what they allow: every NetworkPolicy rendered for an app namespace
 * (ours and the data layer's) is evaluated with the Kubernetes NetworkPolicy semantics (a pod
 * selected by a policy of a type is isolated for it; a connection needs the source's egress and the
 * destination's ingress) over the namespace's pods and the peers outside it. The allowed flows must
 * be exactly the ones the apps need.
 */
import { describe, expect, it } from 'vitest';
import { podSelectors } from '../../charts-ts/apps/labels.ts';
import { clusterDns } from '../../charts-ts/lib/network-policy.ts';
import { probePodSelector } from '../../charts-ts/apps/probe.ts';
import { redisExporterPort } from '../../charts-ts/apps/redis.ts';
import { cidrContains } from '../../charts-ts/config/sections/apps.ts';
import type { Environment } from '../../charts-ts/config/schema.ts';
import { apiDatabaseHost } from '../../charts-ts/data/connection-budget.ts';
import { names } from '../../charts-ts/lib/names.ts';
import type { V1NetworkPolicyPeer } from '@kubernetes/client-node';
import { selectorMatches, type NamedManifest } from '../../charts-ts/lib/workloads.ts';
import type { NetworkPolicyJson, PolicyRuleJson } from '../support/kinds.ts';
import { renderAll } from '../support/render.ts';
import { environments, rendered } from './support.ts';

interface Endpoint {
  readonly name: string;
  /** A pod: its namespace and labels; otherwise an address outside the cluster. */
  readonly namespace?: string;
  readonly labels?: Record<string, string>;
  readonly ip?: string;
}

const nsLabels = (ns: string) => ({ 'kubernetes.io/metadata.name': ns });

function peerMatches(peer: V1NetworkPolicyPeer, policyNs: string, e: Endpoint): boolean {
  if (peer.ipBlock) {
    if (!e.ip || !cidrContains(peer.ipBlock.cidr, `${e.ip}/32`)) return false;
    return !(peer.ipBlock.except ?? []).some((x) => cidrContains(x, `${e.ip}/32`));
  }
  if (!e.namespace) return false;
  const nsOk = peer.namespaceSelector ? selectorMatches(peer.namespaceSelector, nsLabels(e.namespace)) : e.namespace === policyNs;
  const podOk = peer.podSelector ? selectorMatches(peer.podSelector, e.labels) : true;
  return nsOk && podOk;
}

const portMatches = (rule: PolicyRuleJson, port: number, protocol: string) =>
  !rule.ports?.length || rule.ports.some((p) => (p.protocol ?? 'TCP') === protocol && (p.port === undefined || p.port === port));

/** Whether `from` may open a connection to `to`:`port`, under the namespace's policies. */
function allowed(policies: readonly (NamedManifest & NetworkPolicyJson)[], from: Endpoint, to: Endpoint, port: number, protocol = 'TCP'): boolean {
  const side = (e: Endpoint, type: 'Ingress' | 'Egress', other: Endpoint) => {
    const selecting = policies.filter((p) => p.metadata.namespace === e.namespace && p.spec.policyTypes!.includes(type) && selectorMatches(p.spec.podSelector, e.labels));
    if (!e.namespace || !selecting.length) return true; // not isolated (or not governed by these policies)
    return selecting.some((p) => (type === 'Ingress' ? p.spec.ingress : p.spec.egress)?.some((rule) =>
      portMatches(rule, port, protocol) && (type === 'Ingress' ? rule.from : rule.to)?.some((peer) => peerMatches(peer, p.metadata.namespace!, other))));
  };
  return side(from, 'Egress', to) && side(to, 'Ingress', from);
}

function world(env: Environment) {
  const ns = env.namespace;
  const pod = (name: string, labels: Record<string, string>, namespace = ns): Endpoint => ({ name, namespace, labels });
  return {
    api: pod('api', { ...podSelectors.api, 'rollouts-pod-template-hash': 'abc' }),
    web: pod('web', podSelectors.web),
    redis: pod('redis', podSelectors.redis),
    migration: pod('migration', podSelectors.migration),
    probe: pod('canary-probe', { ...probePodSelector, 'lms.dev/probed-app': 'lms-api' }),
    database: pod('database', { ...podSelectors.database, 'cnpg.io/instanceRole': 'primary' }),
    pooler: pod('pooler', podSelectors.pooler),
    debug: pod('debug', { run: 'debug' }),
    traefik: pod('traefik', names.ingress.podLabels, names.ingress.namespace),
    prometheus: pod('prometheus', names.monitoring.prometheusPodLabels, names.monitoring.namespace),
    tempo: pod('tempo', names.monitoring.tempo.podLabels, names.monitoring.namespace),
    dns: pod('dns', clusterDns.podLabels, clusterDns.namespace),
    otherNamespace: pod('other', podSelectors.api, 'default'),
    otherEnvironmentApi: pod('other-env-api', podSelectors.api, ns === 'lms-production' ? 'lms-staging' : 'lms-production'),
    internet: { name: 'internet', ip: '203.0.113.10' },
    privateNetwork: { name: 'private', ip: '10.0.0.5' },
    metadataService: { name: 'metadata', ip: '169.254.169.254' },
  };
}

describe('network policies', () => {
  const r = rendered();

  it('deny everything in and out of each app namespace by default', () => {
    for (const env of environments(r)) {
      const deny = r.getOf<NetworkPolicyJson>('networking.k8s.io', 'NetworkPolicy', 'default-deny', env.namespace);
      expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
      const policies = r.findOf<NetworkPolicyJson>('networking.k8s.io', 'NetworkPolicy', { namespace: env.namespace });
      const w = world(env);
      // A pod nobody made a rule for reaches nothing and is reached by nothing but DNS answers.
      expect(allowed(policies, w.debug, w.api, env.apps.api.port)).toBe(false);
      expect(allowed(policies, w.traefik, w.debug, 8080)).toBe(false);
      expect(allowed(policies, w.debug, w.internet, 443)).toBe(false);
      expect(allowed(policies, w.debug, w.dns, 53, 'UDP')).toBe(true);
    }
  });

  it('allow exactly the flows the apps need', () => {
    for (const env of environments(r)) {
      const policies = r.findOf<NetworkPolicyJson>('networking.k8s.io', 'NetworkPolicy', { namespace: env.namespace });
      const w = world(env);
      const a = env.apps;
      const pooled = apiDatabaseHost(env) === names.database.poolerService;
      const flows: [Endpoint, Endpoint, number, boolean, string?][] = [
        [w.traefik, w.web, env.apps.web.port, true],
        [w.traefik, w.api, env.apps.api.port, true],
        [w.prometheus, w.api, a.api.metricsPort, true],
        [w.prometheus, w.web, a.web.metricsPort, true],
        [w.prometheus, w.redis, redisExporterPort, true],
        [w.api, pooled ? w.pooler : w.database, 5432, true],
        [w.api, w.redis, names.redis.port, true],
        [w.api, w.tempo, names.monitoring.tempo.otlpHttpPort, true],
        [w.api, w.tempo, names.monitoring.tempo.otlpGrpcPort, true],
        [w.api, w.internet, 443, true],
        [w.api, w.internet, 587, true],
        [w.migration, w.database, 5432, true],
        // The canary probe, where the environment has it: Traefik's websecure port, and the app
        // pods directly (is the canary up?).
        [w.probe, w.traefik, names.ingress.websecureContainerPort, a.probe.enabled],
        [w.probe, w.api, env.apps.api.port, a.probe.enabled],
        [w.probe, w.web, env.apps.web.port, a.probe.enabled],
        [w.probe, w.database, 5432, false],
        [w.probe, w.redis, names.redis.port, false],
        [w.probe, w.internet, 443, false],
        [w.probe, w.api, a.api.metricsPort, false],
        [w.api, w.probe, 8080, false],
        [w.api, w.dns, 53, true, 'UDP'],
        [w.web, w.dns, 53, true, 'TCP'],
        // ...and nothing else
        [w.traefik, w.redis, names.redis.port, false],
        [w.traefik, w.api, a.api.metricsPort, false],
        [w.prometheus, w.api, env.apps.api.port, false],
        [w.web, w.api, env.apps.api.port, false],
        [w.web, w.redis, names.redis.port, false],
        [w.web, w.internet, 443, false],
        [w.migration, w.redis, names.redis.port, false],
        [w.migration, w.internet, 443, false],
        [w.api, w.privateNetwork, 443, false],
        [w.api, w.metadataService, 80, false],
        [w.api, w.internet, 80, false],
        [w.redis, w.internet, 443, false],
        [w.api, w.web, env.apps.web.port, false],
        [w.otherNamespace, w.api, env.apps.api.port, false],
        [w.otherEnvironmentApi, w.redis, names.redis.port, false],
        [w.api, w.traefik, 443, false],
      ];
      const describeFlow = ([from, to, port, , protocol]: (typeof flows)[number]) => `${env.name}: ${from.name} -> ${to.name}:${port}/${protocol ?? 'TCP'}`;
      expect(flows.map((f) => `${describeFlow(f)} ${allowed(policies, f[0], f[1], f[2], f[4]) ? 'allowed' : 'denied'}`))
        .toEqual(flows.map((f) => `${describeFlow(f)} ${f[3] ? 'allowed' : 'denied'}`));
    }
  });

  it('extra egress comes from config, with its exceptions', () => {
    const o = renderAll({
      environments: {
        staging: {
          apps: {
            egress: [{ name: 'smtp-relay', app: 'web', cidrs: ['198.51.100.0/24'], except: ['198.51.100.128/25'], ports: [2525], reason: 'test' }],
          },
        },
      },
    });
    const env = o.config.environments.staging;
    const policies = o.findOf<NetworkPolicyJson>('networking.k8s.io', 'NetworkPolicy', { namespace: env.namespace });
    const w = world(env);
    expect(allowed(policies, w.web, { name: 'relay', ip: '198.51.100.10' }, 2525)).toBe(true);
    expect(allowed(policies, w.web, { name: 'carved-out', ip: '198.51.100.200' }, 2525)).toBe(false);
    expect(allowed(policies, w.api, w.internet, 443)).toBe(false); // replaced, not merged
  });

  it('rejects an egress exception outside its ranges', () => {
    expect(() => renderAll({ environments: { staging: { apps: { egress: [{ name: 'x', app: 'api', cidrs: ['198.51.100.0/24'], except: ['10.0.0.0/8'], ports: [443], reason: 'test' }] } } } }))
      .toThrow('config: environments.staging.apps.egress[0].except[0]: "10.0.0.0/8" is not inside any of cidrs');
  });
});
