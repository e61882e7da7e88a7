/**
 * lms-web: the SPA served by unprivileged Nginx, canaried like the API (no migration), with an
 * nginx-prometheus-exporter sidecar reading Nginx's loopback-only stub_status for metrics.
 */
import type { Construct } from 'constructs';
import { imageRef, type Config, type Environment } from '../config/schema.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { names } from '../lib/names.ts';
import { kplus } from '../lib/plus.ts';
import { CanaryAnalysis } from './analysis.ts';
import { CanaryWorkload, podTemplateHashLabel } from './canary.ts';
import { configHash, configHashAnnotation } from './config-hash.ts';
import { podLabels, podSelectors } from './labels.ts';
import { canaryTraefikLabels } from './metrics.ts';
import { podSpec, unreadyAfter } from './pod.ts';
import { probeJob } from './probe.ts';
import { argoSteps, firstTrafficStep } from './steps.ts';

/** Where the SPA reads its runtime configuration (mounted from the ConfigMap, not baked in the image). */
export const webRuntimeConfigDir = '/usr/share/nginx/html/runtime-config';

export class WebChart extends LmsChart {
  constructor(scope: Construct, id: string, _config: Config, env: Environment) {
    super(scope, id, { layer: layers.apps(env.name), component: 'web', namespace: env.namespace });
    const apps = env.apps;
    const name = names.apps.web;

    const runtimeConfig = {
      'config.json': `${JSON.stringify({ environment: env.name, apiUrl: `https://${env.hostnames.api}` }, null, 2)}\n`,
    };
    new kplus.k8s.KubeConfigMap(this, 'config', {
      metadata: { name: `${name}-config`, namespace: env.namespace },
      data: runtimeConfig,
    });
    new kplus.k8s.KubeServiceAccount(this, 'sa', {
      metadata: { name, namespace: env.namespace },
      automountServiceAccountToken: false,
    });

    const analysis = new CanaryAnalysis(this, 'analysis', {
      namespace: env.namespace,
      app: name,
      traefik: canaryTraefikLabels(env.namespace, name),
      settings: apps.analysis,
      probe: apps.probe.enabled ? probeJob(env, 'web') : undefined,
    });
    const steps = argoSteps(env, { gateTemplate: analysis.gateName });

    const selector = podSelectors.web;
    const l = apps.lifecycle;
    new CanaryWorkload(this, 'workload', {
      env, apps, name, selector,
      hpa: env.apps.web.hpa,
      metricsPort: apps.web.metricsPort,
      steps,
      guardTemplate: analysis.guardName,
      guardStartingStep: firstTrafficStep(steps),
      template: {
        metadata: {
          labels: podLabels(selector, 'web'),
          annotations: { [configHashAnnotation]: configHash(runtimeConfig) },
        },
        spec: podSpec({
          serviceAccountName: name,
          terminationGracePeriodSeconds: l.terminationGracePeriodSeconds,
          spreadLabels: selector,
          spreadMatchLabelKeys: [podTemplateHashLabel],
          volumes: [{ name: 'runtime-config', configMap: { name: `${name}-config` } }],
          containers: [
            {
              name: 'web',
              image: imageRef(env.apps.web.image),
              ports: [{ name: 'http', containerPort: env.apps.web.port }],
              resources: env.apps.web.resources,
              runAsUser: apps.web.runAsUser,
              // Nginx writes its pid and temp files here; the root filesystem stays read-only.
              writablePaths: ['/tmp', '/var/cache/nginx'],
              volumeMounts: [{ name: 'runtime-config', mountPath: webRuntimeConfigDir, readOnly: true }],
              preStopSleepSeconds: l.preStopSeconds,
              probes: {
                readiness: { action: { httpGet: { path: apps.web.probePath, port: 'http' } }, periodSeconds: l.readinessProbePeriodSeconds, failureThreshold: unreadyAfter(l) },
                liveness: { action: { httpGet: { path: apps.web.probePath, port: 'http' } }, periodSeconds: 10, failureThreshold: 3 },
              },
            },
            {
              name: 'nginx-exporter',
              image: imageRef(apps.web.exporterImage),
              args: [
                `--nginx.scrape-uri=http://127.0.0.1:${apps.web.stubStatusPort}/stub_status`,
                `--web.listen-address=:${apps.web.metricsPort}`,
              ],
              ports: [{ name: 'metrics', containerPort: apps.web.metricsPort }],
              resources: apps.web.exporterResources,
              runAsUser: apps.web.runAsUser,
              probes: {
                // The pod is Ready only with both containers: the same period as nginx's.
                readiness: { action: { tcpSocket: { port: 'metrics' } }, periodSeconds: l.readinessProbePeriodSeconds, failureThreshold: unreadyAfter(l) },
                liveness: { action: { tcpSocket: { port: 'metrics' } }, periodSeconds: 20 },
              },
            },
          ],
        }),
      },
    });
  }
}
