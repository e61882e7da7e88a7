/**
 * Namespaces with Pod Security Admission labels, and for each app namespace a ResourceQuota and a
 * LimitRange derived from config, so one environment cannot starve the other on the shared node.
 */
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import type { Config, Environment } from '../config/schema.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { platformNamespaces, type PodSecurityLevel } from '../lib/namespaces.ts';
import { kplus } from '../lib/plus.ts';

const podSecurityLabels = (level: PodSecurityLevel, version: string) => ({
  'pod-security.kubernetes.io/enforce': level,
  'pod-security.kubernetes.io/enforce-version': version,
  'pod-security.kubernetes.io/warn': level,
  'pod-security.kubernetes.io/warn-version': version,
  // Audit at restricted everywhere, so a privileged namespace still records what it relaxes.
  'pod-security.kubernetes.io/audit': 'restricted',
  'pod-security.kubernetes.io/audit-version': version,
});

export class NamespacesChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.controllers, component: 'namespaces' });
    const version = `v${config.cluster.k3s.version.replace(/^v(\d+\.\d+).*/, '$1')}`;

    for (const ns of platformNamespaces) {
      new kplus.Namespace(this, ns.name, {
        metadata: {
          name: ns.name,
          labels: { ...podSecurityLabels(ns.podSecurity, version), 'lms.dev/tier': 'platform' },
          annotations: ns.why ? { 'lms.dev/pod-security-reason': ns.why } : undefined,
        },
      });
    }
    for (const env of Object.values(config.environments)) this.appNamespace(env, version);
  }

  private appNamespace(env: Environment, version: string): void {
    new kplus.Namespace(this, env.namespace, {
      metadata: {
        name: env.namespace,
        labels: { ...podSecurityLabels('restricted', version), 'lms.dev/tier': 'apps', 'lms.dev/environment': env.name },
      },
    });
    new ApiObject(this, `${env.namespace}-quota`, {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'compute', namespace: env.namespace },
      spec: {
        hard: {
          'requests.cpu': env.quota.requests.cpu,
          'requests.memory': env.quota.requests.memory,
          'limits.cpu': env.quota.limits.cpu,
          'limits.memory': env.quota.limits.memory,
          'requests.storage': env.quota.pvcStorage,
          // Exposure goes through the ingress only.
          'services.nodeports': '0',
          'services.loadbalancers': '0',
        },
      },
    });
    // Defaults for a container that forgets its resources (the admission policy still rejects it in
    // app namespaces; this keeps one-off debug pods bounded too).
    new ApiObject(this, `${env.namespace}-limits`, {
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name: 'container-defaults', namespace: env.namespace },
      spec: {
        limits: [{
          type: 'Container',
          defaultRequest: { cpu: '50m', memory: '64Mi' },
          default: { cpu: '500m', memory: '256Mi' },
        }],
      },
    });
  }
}
