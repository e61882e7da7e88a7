/**
 * A background worker of `environments.<env>.workers.<name>` (charts-ts/config/sections/workers.ts):
 * an AutoscaledDeployment of the worker's image, its configuration (database and Redis connection
 * settings for what it declares it uses; secrets by reference), and the traffic that follows from
 * the same declaration: Prometheus scrapes its port; it reaches PostgreSQL (PgBouncer when the
 * connection budget puts one in between, the primary when it needs a session) and Redis, and
 * nothing else. Redis admits it because the workload list says it uses Redis; the data layer admits
 * every pod of the namespace on 5432.
 *
 * A worker that needs more (its own ConfigMap keys, volumes, extra egress) gets its own chart file
 * built the same way; docs/development.md "Adding a background worker".
 */
import type { Construct } from 'constructs';
import { imageRef, type Config, type Environment } from '../config/schema.ts';
import type { Worker } from '../config/sections/workers.ts';
import { databaseHost } from '../data/connection-budget.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { names } from '../lib/names.ts';
import { kplus } from '../lib/plus.ts';
import { apiSecretEnv, postgresPort } from './api.ts';
import { AutoscaledDeployment } from './autoscaled-deployment.ts';
import { configHash, configHashAnnotation } from './config-hash.ts';
import { podLabels, podSelectors } from './labels.ts';
import { samePods, tcp, type Peer } from '../lib/network-policy.ts';
import { peers } from './network-policies.ts';
import { podSpec } from './pod.ts';
import { workerSelector } from './workload-list.ts';

export class WorkerChart extends LmsChart {
  constructor(scope: Construct, id: string, _config: Config, env: Environment, name: string, worker: Worker) {
    super(scope, id, { layer: layers.apps(env.name), component: 'worker', namespace: env.namespace });
    const ns = env.namespace;
    const selector = workerSelector(name);
    const db = worker.database;
    const dbHost = db ? databaseHost(env, db) : undefined;

    const settings: Record<string, string> = {
      NODE_ENV: 'production',
      APP_ENV: env.name,
      PORT: String(worker.port),
      ...(db && dbHost ? {
        DATABASE_HOST: dbHost,
        DATABASE_PORT: String(postgresPort),
        DATABASE_NAME: names.database.name,
        DATABASE_POOL_SIZE: String(db.poolSize),
        PGSSLMODE: db.sslMode,
      } : {}),
      ...(worker.redis ? { REDIS_HOST: names.redis.service, REDIS_PORT: String(names.redis.port) } : {}),
    };
    const configMap = new kplus.k8s.KubeConfigMap(this, 'config', { metadata: { name: `${name}-config`, namespace: ns }, data: settings });
    new kplus.k8s.KubeServiceAccount(this, 'sa', { metadata: { name, namespace: ns }, automountServiceAccountToken: false });

    // Secrets by reference, only those of what the worker uses.
    const secretEnv = apiSecretEnv.filter((e) => (db && e.name.startsWith('DATABASE_')) || (worker.redis && e.name.startsWith('REDIS_')));
    const egress: { to: Peer[]; ports: ReturnType<typeof tcp> }[] = [
      ...(dbHost ? [{ to: [samePods(dbHost === names.database.poolerService ? podSelectors.pooler : podSelectors.database)], ports: tcp(postgresPort) }] : []),
      ...(worker.redis ? [{ to: [samePods(podSelectors.redis)], ports: tcp(names.redis.port) }] : []),
    ];
    const l = env.apps.lifecycle;
    const health = { httpGet: { path: worker.healthPath, port: 'metrics' } };
    new AutoscaledDeployment(this, 'workload', {
      namespace: ns,
      name,
      selector,
      hpa: worker.hpa,
      autoscaling: env.apps.autoscaling,
      metricsPort: worker.port,
      minReadySeconds: l.minReadySeconds,
      template: {
        metadata: { labels: podLabels(selector, 'worker'), annotations: { [configHashAnnotation]: configHash(settings) } },
        spec: podSpec({
          serviceAccountName: name,
          terminationGracePeriodSeconds: l.terminationGracePeriodSeconds,
          spreadLabels: selector,
          containers: [{
            name: 'worker',
            image: imageRef(worker.image),
            ...(worker.args ? { args: worker.args } : {}),
            ports: [{ name: 'metrics', containerPort: worker.port }],
            envFrom: [{ configMapRef: { name: configMap.name } }],
            env: secretEnv,
            resources: worker.resources,
            runAsUser: worker.runAsUser,
            writablePaths: ['/tmp'],
            probes: {
              readiness: { action: health, periodSeconds: 10, failureThreshold: 3 },
              liveness: { action: health, periodSeconds: 20, failureThreshold: 3 },
            },
          }],
        }),
      },
      traffic: {
        ingress: [{ from: [peers.prometheus], ports: tcp(worker.port) }],
        egress,
      },
      why: `a background worker: Prometheus scrapes it; it reaches ${[dbHost ? (dbHost === names.database.poolerService ? 'PgBouncer' : 'PostgreSQL') : '', worker.redis ? 'Redis' : ''].filter(Boolean).join(' and ') || 'nothing'} and nothing else`,
    });
  }
}
