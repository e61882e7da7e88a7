/**
 * lms-api (NestJS): a canaried Rollout with its analysis, its configuration, and the database
 * migration that runs as the first step of every release, before the canary gets any traffic.
 */
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import { imageRef, type Config, type Environment } from '../config/schema.ts';
import { durationSeconds } from '../config/sections/apps.ts';
import { apiDatabaseHost } from '../data/connection-budget.ts';
import { AnalysisTemplate } from '../imports/analysistemplate-argoproj.io.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { footprintAnnotation, footprintValue } from '../lib/footprint.ts';
import { names } from '../lib/names.ts';
import { kplus } from '../lib/plus.ts';
import { CanaryAnalysis } from './analysis.ts';
import { CanaryWorkload, podTemplateHashLabel } from './canary.ts';
import { configHash, configHashAnnotation } from './config-hash.ts';
import { podLabels, podSelectors } from './labels.ts';
import { canaryTraefikLabels } from './metrics.ts';
import { podSpec, unreadyAfter, type EnvVar } from './pod.ts';
import { probeJob } from './probe.ts';
import { argoSteps, firstTrafficStep } from './steps.ts';

export const postgresPort = 5432;
export const migrationTemplateName = `${names.apps.api}-migrate`;

/** Environment variables with secrets, by reference only. */
export const apiSecretEnv: EnvVar[] = [
  { name: 'DATABASE_USER', valueFrom: { secretKeyRef: { name: names.database.appSecret, key: 'username' } } },
  { name: 'DATABASE_PASSWORD', valueFrom: { secretKeyRef: { name: names.database.appSecret, key: 'password' } } },
  { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: names.redis.passwordSecret, key: names.redis.passwordKey } } },
];

export class ApiChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config, env: Environment) {
    super(scope, id, { layer: layers.apps(env.name), component: 'api', namespace: env.namespace });
    const apps = env.apps;
    const name = names.apps.api;
    const image = imageRef(env.apps.api.image);

    const config_: Record<string, string> = {
      NODE_ENV: 'production',
      APP_ENV: env.name,
      PORT: String(env.apps.api.port),
      METRICS_PORT: String(apps.api.metricsPort),
      LOG_LEVEL: apps.api.logLevel,
      PUBLIC_WEB_URL: `https://${env.hostnames.web}`,
      PUBLIC_API_URL: `https://${env.hostnames.api}`,
      CORS_ORIGIN: `https://${env.hostnames.web}`,
      // The primary's -rw Service, or the data layer's PgBouncer when its connection budget needs one.
      DATABASE_HOST: apiDatabaseHost(env),
      DATABASE_PORT: String(postgresPort),
      DATABASE_NAME: names.database.name,
      DATABASE_POOL_SIZE: String(apps.api.database.poolSize),
      PGSSLMODE: apps.api.database.sslMode,
      REDIS_HOST: names.redis.service,
      REDIS_PORT: String(names.redis.port),
      OTEL_SERVICE_NAME: name,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${names.monitoring.tempo.host}:${names.monitoring.tempo.otlpHttpPort}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_RESOURCE_ATTRIBUTES: `deployment.environment.name=${env.name},service.namespace=lms,service.version=${env.apps.api.image.tag}`,
    };
    const configMap = new kplus.k8s.KubeConfigMap(this, 'config', {
      metadata: { name: `${name}-config`, namespace: env.namespace },
      data: config_,
    });

    for (const sa of [name, `${name}-migration`]) {
      new kplus.k8s.KubeServiceAccount(this, `sa-${sa}`, {
        metadata: { name: sa, namespace: env.namespace },
        automountServiceAccountToken: false,
      });
    }

    // ---- analysis and steps
    const analysis = new CanaryAnalysis(this, 'analysis', {
      namespace: env.namespace,
      app: name,
      traefik: canaryTraefikLabels(env.namespace, name),
      settings: apps.analysis,
      probe: apps.probe.enabled ? probeJob(env, 'api') : undefined,
    });
    this.migrationTemplate(env, name);
    const steps = argoSteps(env, {
      gateTemplate: analysis.gateName,
      preTraffic: [{
        // Runs while 100 % of the traffic is on stable and the canary has no pods yet; a failed
        // migration fails the analysis and aborts the release.
        analysis: { templates: [{ templateName: migrationTemplateName }], args: [{ name: 'image', value: image }] },
      }],
    });

    // ---- the Rollout
    const selector = podSelectors.api;
    const l = apps.lifecycle;
    new CanaryWorkload(this, 'workload', {
      env, apps, name, selector,
      hpa: env.apps.api.hpa,
      metricsPort: apps.api.metricsPort,
      steps,
      guardTemplate: analysis.guardName,
      guardStartingStep: firstTrafficStep(steps),
      template: {
        metadata: {
          labels: podLabels(selector, 'api'),
          annotations: { [configHashAnnotation]: configHash(config_) },
        },
        spec: podSpec({
          serviceAccountName: name,
          terminationGracePeriodSeconds: l.terminationGracePeriodSeconds,
          spreadLabels: selector,
          spreadMatchLabelKeys: [podTemplateHashLabel],
          containers: [{
            name: 'api',
            image,
            ports: [{ name: 'http', containerPort: env.apps.api.port }, { name: 'metrics', containerPort: apps.api.metricsPort }],
            envFrom: [{ configMapRef: { name: configMap.name } }],
            env: apiSecretEnv,
            resources: env.apps.api.resources,
            runAsUser: apps.api.runAsUser,
            writablePaths: ['/tmp'],
            preStopSleepSeconds: l.preStopSeconds,
            probes: {
              // Up to 60 s to boot (Nest module init, DB pool) before liveness counts.
              startup: { action: { httpGet: { path: '/health/live', port: 'http' } }, periodSeconds: l.startupProbePeriodSeconds, failureThreshold: Math.ceil(60 / l.startupProbePeriodSeconds) },
              // Ready within one period of answering (the abort arithmetic counts it); unready after ~10 s of failures.
              readiness: { action: { httpGet: { path: '/health/ready', port: 'http' } }, periodSeconds: l.readinessProbePeriodSeconds, failureThreshold: unreadyAfter(l) },
              liveness: { action: { httpGet: { path: '/health/live', port: 'http' } }, periodSeconds: 10, failureThreshold: 3 },
            },
          }],
        }),
      },
    });
  }

  /**
   * The migration Job, as an Argo Rollouts job metric: Argo creates the Job, waits for it, and a
   * failed or timed-out Job fails the analysis, which aborts the rollout. backoffLimit 0: a
   * half-applied migration is never retried blindly.
   */
  private migrationTemplate(env: Environment, name: string): void {
    const m = env.apps.migration;
    const selector = podSelectors.migration;
    const labels = podLabels(selector, 'migration');
    const job = {
      metadata: { labels },
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: durationSeconds(m.deadline),
        ttlSecondsAfterFinished: 86400,
        template: {
          metadata: { labels },
          spec: podSpec({
            serviceAccountName: `${name}-migration`,
            restartPolicy: 'Never',
            containers: [{
              name: 'migrate',
              // The release's image, passed by the Rollout step (changes with the pod template).
              image: '{{args.image}}',
              // The image's entrypoint is node (images/api/Dockerfile); only the script differs.
              args: m.args,
              envFrom: [{ configMapRef: { name: `${name}-config` } }],
              env: [
                // Always the primary, never PgBouncer: migrations need a session (advisory locks, DDL).
                { name: 'DATABASE_HOST', value: names.database.rwService },
                ...apiSecretEnv.filter((e) => e.name.startsWith('DATABASE_')),
              ],
              resources: m.resources,
              runAsUser: env.apps.api.runAsUser,
              writablePaths: ['/tmp'],
            }],
          }),
        },
      },
    };
    // Plain JSON (the pod template comes from pod.ts), validated against the pinned CRD schema.
    new ApiObject(this, 'migrate', {
      apiVersion: AnalysisTemplate.GVK.apiVersion,
      kind: AnalysisTemplate.GVK.kind,
      metadata: {
        name: migrationTemplateName,
        namespace: env.namespace,
        annotations: {
          [footprintAnnotation]: footprintValue([{ name: `${name} database migration job`, replicas: 1, requests: m.resources.requests, limits: m.resources.limits }]),
          'lms.dev/description': 'Runs the API image\'s migration command against the -rw Service before the canary gets traffic; see docs/delivery.md',
        },
      },
      spec: { args: [{ name: 'image' }], metrics: [{ name: 'migrate', provider: { job } }] },
    });
  }
}
