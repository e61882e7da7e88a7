/**
 * Synthetic traffic for the canaries (docs/delivery.md "Synthetic traffic"). Where users send too
 * few requests for a verdict (nights, holidays, staging), the release makes its own evidence: the
 * guard (background analysis) runs a Job, `canary-probe.py`, for as long as the rollout runs. It
 * waits until the canary Service answers (a ready canary pod), then sends `probe.requestsPerSecond`
 * requests through Traefik's websecure entry point with the app's Host and the probe header. A
 * probe-only route (charts-ts/apps/ingress.ts: that header, in-cluster client addresses only)
 * sends them to a TraefikService holding only the canary Service, so Traefik records them under
 * the canary's own `service` label, where the analysis reads users' requests, and under the probe's
 * TraefikService in the router series, which is how the analysis tells the two apart.
 *
 * Objects: per app namespace, the ConfigMap with the script and the probe's ServiceAccount (this
 * chart); the Job template is in each app's guard AnalysisTemplate (charts-ts/apps/analysis.ts).
 */
import type { V1JobSpec } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Construct } from 'constructs';
import { imageRef, type Config, type Environment } from '../config/schema.ts';
import { durationSeconds } from '../config/sections/apps.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import type { PodFootprint } from '../lib/footprint.ts';
import { names } from '../lib/names.ts';
import { kplus } from '../lib/plus.ts';
import { podLabels } from './labels.ts';
import { canaryServiceNames, servicePort } from './metrics.ts';
import { podSpec } from './pod.ts';

export const probeScript = readFileSync(join(import.meta.dirname, 'canary-probe.py'), 'utf8');

/**
 * The host name the probe asks for, Host header and TLS server name alike: an internal name of its
 * own, not the public one. Public hosts need Cloudflare's client certificate (Authenticated Origin
 * Pulls, charts-ts/lib/origin-pull.ts), which the probe does not have; the probe route serves this
 * name with Traefik's default TLS options and certificate (the probe does not verify it). The apps
 * answer the probe's paths on any Host (the SPA's Nginx has `server_name _`).
 */
export const probeHost = (app: string, namespace: string): string => `${app}.${namespace}.canary-probe.internal`;

/** Pod selector of the probe Jobs' pods (NetworkPolicies). */
export const probePodSelector = { 'app.kubernetes.io/name': 'canary-probe' } as const;

/** Seconds before the Job's deadline at which the script stops by itself (a clean exit, not a kill). */
const selfStopMarginSeconds = 60;

export type ProbedApp = 'api' | 'web';

/** The probe Job of one app (the `job` provider of its guard's synthetic-traffic metric). */
/** An Argo Rollouts `job` metric provider: the Job's labels and spec (client-node types). */
export interface ProviderJob { readonly metadata: { readonly labels: Record<string, string> }; readonly spec: V1JobSpec }

export function probeJob(env: Environment, app: ProbedApp): { job: ProviderJob; footprint: PodFootprint } {
  const p = env.apps.probe;
  const name = names.apps[app];
  const host = probeHost(name, env.namespace);
  const labels = { ...podLabels(probePodSelector, 'canary-probe'), 'lms.dev/probed-app': name };
  const deadline = durationSeconds(p.maxDuration);
  const args = [
    '/probe/canary-probe.py',
    `--target=https://${names.ingress.serviceHost}:${names.ingress.websecurePort}`,
    `--host=${host}`,
    `--header=${names.probe.header}=${name}`,
    `--paths=${p.paths[app].join(',')}`,
    `--rps=${p.requestsPerSecond}`,
    `--duration=${deadline - selfStopMarginSeconds}`,
    // Directly to the canary Service, not through Traefik: it answers once a canary pod is ready.
    `--wait-url=http://${canaryServiceNames(name).canary}.${env.namespace}.svc.cluster.local:${servicePort}${app === 'api' ? '/health/live' : env.apps.web.probePath}`,
  ];
  const job: ProviderJob = {
    metadata: { labels },
    spec: {
      // A crashed probe is restarted; its requests are evidence, never a verdict of their own.
      backoffLimit: 3,
      activeDeadlineSeconds: deadline,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels },
        spec: podSpec({
          serviceAccountName: names.probe.serviceAccount,
          restartPolicy: 'Never',
          volumes: [{ name: 'probe', configMap: { name: names.probe.configMap } }],
          containers: [{
            name: 'probe',
            image: imageRef(p.image),
            command: ['python3'],
            args,
            env: [{ name: 'PYTHONDONTWRITEBYTECODE', value: '1' }, { name: 'PYTHONUNBUFFERED', value: '1' }],
            resources: p.resources,
            runAsUser: p.runAsUser,
            volumeMounts: [{ name: 'probe', mountPath: '/probe', readOnly: true }],
          }],
        }),
      },
    },
  };
  return { job, footprint: { name: `${name} canary probe job`, replicas: 1, requests: p.resources.requests, limits: p.resources.limits } };
}

/** The script and the probe's ServiceAccount, once per app namespace. */
export class CanaryProbeChart extends LmsChart {
  constructor(scope: Construct, id: string, _config: Config, env: Environment) {
    super(scope, id, { layer: layers.apps(env.name), component: 'canary-probe', namespace: env.namespace });
    new kplus.k8s.KubeConfigMap(this, 'script', {
      metadata: { name: names.probe.configMap, namespace: env.namespace },
      data: { 'canary-probe.py': probeScript },
    });
    new kplus.k8s.KubeServiceAccount(this, 'sa', {
      metadata: { name: names.probe.serviceAccount, namespace: env.namespace },
      automountServiceAccountToken: false,
    });
  }
}
