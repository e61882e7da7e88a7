/**
 * Crafted objects for admission tests: a pod spec that satisfies Pod Security `restricted` and every
 * policy (allowed registry, pinned tag and digest, requests and limits), wrapped in any pod-bearing
 * kind, so a test can break exactly one thing.
 */
import type { V1PodSpec } from '@kubernetes/client-node';
import { parseConfig } from '../../../charts-ts/config/load.ts';
import { values } from '../../../charts-ts/config/values.ts';
import type { KubeObject } from './kube.ts';

export const config = parseConfig(values);

/** An image from the first allowed registry, pinned by tag and digest. */
export const goodImage = `${config.cluster.platform.allowedImagePrefixes[0]}policy-probe:1.0.0@sha256:${'0'.repeat(64)}`;

export function goodPodSpec(): V1PodSpec {
  return {
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{
      name: 'app',
      image: goodImage,
      resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '50m', memory: '32Mi' } },
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    }],
  };
}

export const podBearingKinds = ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Rollout'] as const;
export type PodBearingKind = (typeof podBearingKinds)[number];

/** `kind` named `name` in `namespace` running `podSpec`. */
export function podBearing(kind: PodBearingKind, namespace: string, name: string, podSpec: V1PodSpec): KubeObject {
  const labels = { 'app.kubernetes.io/name': name };
  const metadata = { name, namespace, labels };
  const template = { metadata: { labels }, spec: podSpec };
  const batchTemplate = { metadata: { labels }, spec: { ...podSpec, restartPolicy: 'Never' } };
  switch (kind) {
    case 'Pod': return { apiVersion: 'v1', kind, metadata, spec: podSpec };
    case 'Deployment': return { apiVersion: 'apps/v1', kind, metadata, spec: { replicas: 1, selector: { matchLabels: labels }, template } };
    case 'StatefulSet': return { apiVersion: 'apps/v1', kind, metadata, spec: { serviceName: name, replicas: 1, selector: { matchLabels: labels }, template } };
    case 'DaemonSet': return { apiVersion: 'apps/v1', kind, metadata, spec: { selector: { matchLabels: labels }, template } };
    case 'Job': return { apiVersion: 'batch/v1', kind, metadata, spec: { template: batchTemplate } };
    case 'CronJob': return { apiVersion: 'batch/v1', kind, metadata, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: batchTemplate } } } };
    case 'Rollout': return {
      apiVersion: 'argoproj.io/v1alpha1', kind, metadata,
      spec: { replicas: 1, selector: { matchLabels: labels }, template, strategy: { canary: { steps: [{ setWeight: 50 }] } } },
    };
  }
}
