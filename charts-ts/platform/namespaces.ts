/**
 * Namespaces with Pod Security Admission labels, and for each app namespace a ResourceQuota derived
 * from config, so one environment cannot starve the other on the shared node. Applied by the first
 * Flux layer (platform-namespaces), before the SOPS Secrets that live in these namespaces.
 *
 * No LimitRange with defaults in app namespaces: the LimitRanger admission plugin would fill in
 * missing resources before the `lms-resources-required` admission policy sees the pod, so a
 * container without requests/limits would be admitted silently instead of rejected with a message.
 * The exception is system-upgrade, whose upgrade Jobs are created by the controller without resources.
 */
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import type { Config, Environment } from '../config/schema.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { platformNamespaces, platformNs, type PodSecurityLevel } from '../lib/namespaces.ts';
import { kplus } from '../lib/plus.ts';

/**
 * Flux never deletes a namespace because it vanished from git: that would delete its volumes
 * (databases, metrics) with it. Removing a namespace is a deliberate `kubectl delete`.
 */
const keepOnPrune = { 'kustomize.toolkit.fluxcd.io/prune': 'disabled' };

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
    super(scope, id, { layer: layers.namespaces, component: 'namespaces' });
    const version = `v${config.cluster.k3s.version.replace(/^v(\d+\.\d+).*/, '$1')}`;

    for (const ns of platformNamespaces) {
      new kplus.Namespace(this, ns.name, {
        metadata: {
          name: ns.name,
          labels: { ...podSecurityLabels(ns.podSecurity, version), 'lms.dev/tier': 'platform' },
          annotations: { ...keepOnPrune, ...(ns.why ? { 'lms.dev/pod-security-reason': ns.why } : {}) },
        },
      });
    }
    for (const env of Object.values(config.environments)) this.appNamespace(env, version);

    // The upgrade Job's containers come without resources: bounded defaults, sized in config.
    const job = config.cluster.platform.controllers.systemUpgrade.jobResources;
    new ApiObject(this, `${platformNs.systemUpgrade}-limits`, {
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name: 'upgrade-job-defaults', namespace: platformNs.systemUpgrade },
      spec: { limits: [{ type: 'Container', defaultRequest: job.requests, default: job.limits }] },
    });
  }

  private appNamespace(env: Environment, version: string): void {
    new kplus.Namespace(this, env.namespace, {
      metadata: {
        name: env.namespace,
        labels: { ...podSecurityLabels('restricted', version), 'lms.dev/tier': 'apps', 'lms.dev/environment': env.name },
        annotations: keepOnPrune,
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
  }
}
