/**
 * Extensibility, proven (issue 18 item 3): a background worker that uses PostgreSQL and Redis is a
 * config entry (`environments.<env>.workers.<name>`, charts-ts/config/sections/workers.ts), and the
 * build derives everything it needs from that entry, without another chart being edited:
 *
 * - its Deployment, HPA, PDB, metrics Service, ServiceMonitor and NetworkPolicy (charts-ts/apps/worker.ts);
 * - network paths both ways, checked by the real evaluator (netpol-eval): the worker reaches
 *   PostgreSQL (or PgBouncer) and Redis, Redis admits it, nothing else;
 * - the connection budget counts its pool, puts PgBouncer in between when needed, and refuses a pool
 *   that cannot fit max_connections, naming the field and the fix;
 * - the capacity budget and the namespace quota count its pods.
 *
 * The steps for a real worker: docs/development.md "Adding a background worker".
 */
import type { V1ConfigMap, V1Deployment, V1PodDisruptionBudget, V1Service, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podSelectors } from '../../charts-ts/apps/labels.ts';
import { clusterDns } from '../../charts-ts/lib/network-policy.ts';
import { redisExporterPort } from '../../charts-ts/apps/redis.ts';
import { workerRolloutSurge } from '../../charts-ts/apps/workload-list.ts';
import type { Environment } from '../../charts-ts/config/schema.ts';
import { connectionBudget } from '../../charts-ts/data/connection-budget.ts';
import { computeCapacity } from '../../charts-ts/lib/capacity.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { memoryBytes, MiB } from '../../charts-ts/lib/quantity.ts';
import { selectorMatches } from '../../charts-ts/lib/workloads.ts';
import { evaluate, explain, type Endpoint, type Flow } from '../data/support/netpol-eval.ts';
import { formatProblems, validateObjects } from '../harness/index.ts';
import type { MonitorJson } from '../support/kinds.ts';
import { renderAll, type Rendered } from '../support/render.ts';

const name = 'lms-reports';
/** The config entry: everything about the worker. */
const reports = {
  image: { repository: 'ghcr.io/lms-platform/lms-reports', tag: '1.0.0', digest: `sha256:${'4f1c'.repeat(16)}` },
  args: ['dist/worker.js'],
  runAsUser: 10201,
  port: 9470,
  hpa: { min: 1, max: 2 },
  resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '250m', memory: '128Mi' } },
  database: { poolSize: 3 },
  redis: true,
};
/**
 * The worker in staging, on a node with room for it: the committed node has none to spare (the
 * capacity test below shows the build refusing it there).
 */
const withWorker = (worker: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  cluster: { node: { memoryGiB: 16 } },
  environments: { staging: { workers: { [name]: { ...reports, ...worker } }, ...extra } },
});

const budgetInput = (r: Rendered) => r.objects.map((o) => ({ file: o.file, object: o.object }));

describe('a background worker from one config entry', () => {
  const r = renderAll(withWorker());
  const staging = r.config.environments.staging;
  const ns = staging.namespace;

  it('renders its own chart: Deployment scaled by its HPA, PDB, metrics Service and ServiceMonitor, settings and secrets by reference', () => {
    const own = r.objects.filter((o) => o.object.metadata?.name === name || o.object.metadata?.name?.startsWith(`${name}-`));
    expect(new Set(own.map((o) => o.file))).toEqual(new Set([`apps/staging/${name}.yaml`]));
    expect(own.map((o) => o.object.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceAccount', 'ServiceMonitor']);
    const deployment = r.getOf<V1Deployment>('apps', 'Deployment', name, ns);
    expect(deployment.spec!.replicas).toBeUndefined();
    expect(deployment.spec!.strategy!.rollingUpdate).toEqual({ maxSurge: workerRolloutSurge, maxUnavailable: 0 });
    const [c] = deployment.spec!.template.spec!.containers;
    expect(c.image).toBe(`${reports.image.repository}:${reports.image.tag}@${reports.image.digest}`);
    expect(c.args).toEqual(reports.args);
    expect(c.resources).toEqual(reports.resources);
    expect(c.readinessProbe!.httpGet).toEqual({ path: '/health', port: 'metrics' });
    expect(c.env!.map((e: { name: string }) => e.name)).toEqual(['DATABASE_USER', 'DATABASE_PASSWORD', 'REDIS_PASSWORD']);
    const hpa = r.getOf<V2HorizontalPodAutoscaler>('autoscaling', 'HorizontalPodAutoscaler', name, ns);
    expect(hpa.spec!.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
    expect([hpa.spec!.minReplicas, hpa.spec!.maxReplicas]).toEqual([1, 2]);
    expect(r.getOf<V1PodDisruptionBudget>('policy', 'PodDisruptionBudget', name, ns).spec!.maxUnavailable).toBe(1);
    const metrics = r.getOf<V1Service>('', 'Service', `${name}-metrics`, ns);
    expect(selectorMatches(r.getOf<MonitorJson>('monitoring.coreos.com', 'ServiceMonitor', name, ns).spec.selector, metrics.metadata.labels)).toBe(true);
    expect(metrics.spec!.ports).toEqual([{ name: 'metrics', port: reports.port, targetPort: 'metrics', protocol: 'TCP' }]);
    const settings = r.getOf<V1ConfigMap>('', 'ConfigMap', `${name}-config`, ns).data;
    expect(settings).toMatchObject({ DATABASE_HOST: names.database.rwService, DATABASE_POOL_SIZE: '3', REDIS_HOST: names.redis.service, PORT: '9470' });
    // Production has no such entry, so no such worker.
    expect(r.find('Deployment', { namespace: r.config.environments.production.namespace, name })).toEqual([]);
  });

  it('passes the whole-output harness (schema of Kubernetes 1.36 and the invariants) with the worker in it', () => {
    const problems = validateObjects(r.objects);
    expect(problems, formatProblems(problems)).toEqual([]);
  });

  it('rejects a worker name that is already taken in the namespace', () => {
    expect(() => renderAll({ environments: { staging: { workers: { [names.redis.service]: reports } } } }))
      .toThrow(/^config: environments\.staging\.workers\.redis: .* is named "redis", which is already used in the app namespace/);
    expect(() => renderAll({ environments: { staging: { workers: { Reports_1: reports } } } }))
      .toThrow(/^config: environments\.staging\.workers\.Reports_1: .* is named "Reports_1", which is not a worker name/);
  });
});

// ---------------------------------------------------------------- network paths, by the real evaluator

const pod = (env: Environment, podName: string, labels: Record<string, string>, namespace = env.namespace): Endpoint => ({
  name: podName, ip: '10.42.0.10', pod: { namespace, namespaceLabels: { 'kubernetes.io/metadata.name': namespace }, labels },
});

function verdicts(r: Rendered, flows: [Endpoint, Endpoint, number, boolean, string][], protocol: 'TCP' | 'UDP' = 'TCP') {
  const env = r.config.environments.staging;
  const policies = r.find('NetworkPolicy', { namespace: env.namespace });
  const cases: Flow[] = flows.map(([from, to, port, , why]) => ({ from, to, port, protocol, why }));
  const v = evaluate(policies, cases);
  return {
    got: cases.map((f, i) => `${explain(f, v[i]).split(':')[0]}: ${v[i].allowed ? 'allowed' : 'denied'}`),
    want: cases.map((f, i) => `${explain(f, v[i]).split(':')[0]}: ${flows[i][3] ? 'allowed' : 'denied'}`),
    explained: cases.map((f, i) => explain(f, v[i])).join('\n'),
  };
}

describe('the worker\'s network paths, both ways', () => {
  const world = (env: Environment) => ({
    worker: pod(env, name, { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': 'worker' }),
    api: pod(env, 'api', podSelectors.api),
    web: pod(env, 'web', podSelectors.web),
    redis: pod(env, 'redis', podSelectors.redis),
    database: pod(env, 'database', { ...podSelectors.database, 'cnpg.io/instanceRole': 'primary' }),
    pooler: pod(env, 'pooler', podSelectors.pooler),
    prometheus: pod(env, 'prometheus', names.monitoring.prometheusPodLabels, names.monitoring.namespace),
    tempo: pod(env, 'tempo', names.monitoring.tempo.podLabels, names.monitoring.namespace),
    traefik: pod(env, 'traefik', names.ingress.podLabels, names.ingress.namespace),
    dns: pod(env, 'dns', clusterDns.podLabels, clusterDns.namespace),
    internet: { name: 'internet', ip: '203.0.113.10' },
  });

  it('reaches PostgreSQL and Redis, is scraped by Prometheus, and nothing else; Redis admits it without an edit to Redis\'s policy', () => {
    const r = renderAll(withWorker());
    const env = r.config.environments.staging;
    const w = world(env);
    const { got, want, explained } = verdicts(r, [
      [w.worker, w.database, 5432, true, 'its pool, straight to the primary (the budget fits without PgBouncer)'],
      [w.worker, w.redis, names.redis.port, true, 'its queues'],
      [w.prometheus, w.worker, reports.port, true, 'metrics'],
      [w.api, w.redis, names.redis.port, true, 'still the API\'s'],
      [w.worker, w.internet, 443, false, 'no egress it did not declare'],
      [w.worker, w.tempo, names.monitoring.tempo.otlpHttpPort, false, 'not declared'],
      [w.worker, w.api, env.apps.api.port, false, 'not a client of the API'],
      [w.worker, w.redis, redisExporterPort, false, 'only the Redis port'],
      [w.traefik, w.worker, reports.port, false, 'no public traffic'],
      [w.api, w.worker, reports.port, false, 'nobody calls a worker'],
      [w.web, w.redis, names.redis.port, false, 'the web front end still does not use Redis'],
    ]);
    expect(got, explained).toEqual(want);
    expect(verdicts(r, [[w.worker, w.dns, 53, true, 'resolves Service names']], 'UDP').got).toEqual([`${name} -> dns 53/UDP: allowed`]);
  });

  it('follows its declaration: without `redis` Redis refuses it; behind PgBouncer it reaches the pooler, not the primary', () => {
    const noRedis = renderAll(withWorker({ redis: false }));
    const w = world(noRedis.config.environments.staging);
    expect(verdicts(noRedis, [[w.worker, w.redis, names.redis.port, false, 'not declared']]).got).toEqual([`${name} -> redis ${names.redis.port}/TCP: denied`]);
    expect(noRedis.get('NetworkPolicy', names.redis.service, 'lms-staging').metadata.annotations!['lms.dev/why']).toMatch(/^only the API talks to Redis/);

    // 3 pods x 5 = 15 more connections: no longer fits staging's max_connections, so PgBouncer.
    const pooled = renderAll(withWorker({ database: { poolSize: 5 } }));
    expect(connectionBudget(pooled.config.environments.staging).pooler).toBe(true);
    expect(pooled.getOf<V1ConfigMap>('', 'ConfigMap', `${name}-config`, 'lms-staging').data!.DATABASE_HOST).toBe(names.database.poolerService);
    const { got, want, explained } = verdicts(pooled, [
      [w.worker, w.pooler, 5432, true, 'through PgBouncer'],
      [w.worker, w.database, 5432, false, 'never around it'],
    ]);
    expect(got, explained).toEqual(want);
  });
});

// ---------------------------------------------------------------- connection budget

describe('the connection budget counts the worker', () => {
  it('adds its pods at HPA max plus the rolling-update surge, times its pool size, to the API\'s', () => {
    const without = connectionBudget(renderAll().config.environments.staging);
    const b = connectionBudget(renderAll(withWorker()).config.environments.staging);
    const worker = b.clients.find((c) => c.workload.name === name);
    expect(worker?.connections).toBe((reports.hpa.max + workerRolloutSurge) * reports.database.poolSize);
    expect(b.connections).toBe(without.connections + worker!.connections);
    // A worker without PostgreSQL adds nothing.
    expect(connectionBudget(renderAll(withWorker({ database: undefined })).config.environments.staging).connections).toBe(without.connections);
  });

  it('fails the build, naming the worker\'s field and the fix, when its session pool cannot fit max_connections', () => {
    // staging: max_connections 40 leaves 20; the API holds 10. A session worker cannot go through
    // PgBouncer: 3 pods x 4 = 12 is too many next to PgBouncer's 10 server connections.
    const session = (poolSize: number) => withWorker({ database: { poolSize, session: true } });
    expect(() => renderAll(session(4))).toThrow(
      'config: environments.staging.workers.lms-reports.database.poolSize: 3 pods at HPA max + 1 rolling-update surge x workers.lms-reports.database.poolSize 4 = 12 connections straight to PostgreSQL '
      + '(database.session: PgBouncer\'s transaction pooling would break them), plus 10 PgBouncer server connections, but max_connections 40 leaves 20 (after 20% headroom and 12 reserved); '
      + 'lower workers.lms-reports.database.poolSize or workers.lms-reports.hpa.max, raise environments.staging.database.maxConnections, or set workers.lms-reports.database.session to false to connect through PgBouncer',
    );
    // One connection less per pod fits (19 of 20, no PgBouncer needed), and the worker goes to the primary.
    const fits = renderAll(session(3));
    expect(fits.getOf<V1ConfigMap>('', 'ConfigMap', `${name}-config`, 'lms-staging').data!.DATABASE_HOST).toBe(names.database.rwService);
  });

  it('fails with pooler.mode "never" when the worker\'s pool does not fit, naming every pool to lower', () => {
    expect(() => renderAll(withWorker({ database: { poolSize: 5 } }, { database: { pooler: { mode: 'never' } } }))).toThrow(
      /config: environments\.staging\.database\.pooler\.mode: "never" but the API and lms-reports need 25 connections \(the API: 2 pods .* = 10; lms-reports: 3 pods at HPA max \+ 1 rolling-update surge x workers\.lms-reports\.database\.poolSize 5 = 15\).*lower a pool size \(apps\.api\.database\.poolSize, workers\.lms-reports\.database\.poolSize\)/,
    );
  });
});

// ---------------------------------------------------------------- capacity and quota

describe('capacity and quota count the worker', () => {
  const workerLine = (r: Rendered) => computeCapacity(budgetInput(r), r.config).budget.lines.find((l) => l.workload === `Deployment/lms-staging/${name}`);

  it('the capacity budget counts it at its HPA maximum, and the committed node has no room for it', () => {
    const r = renderAll(withWorker());
    expect(workerLine(r)).toMatchObject({ replicas: reports.hpa.max, requests: { memory: 64 * MiB } });
    expect(computeCapacity(budgetInput(r), r.config).problems).toEqual([]);
    // On the committed 12 GiB node the same entry does not fit the 80 % of allocatable: synth refuses it.
    const tight = renderAll({ environments: withWorker().environments });
    expect(computeCapacity(budgetInput(tight), tight.config).problems.join('\n')).toMatch(/^capacity: FAIL, requests .* memory .* above the 80 % limit/m);
  });

  it('a workload made by hand in a chart, outside the workload list, fails the build: nothing would count its connections', () => {
    const r = renderAll(withWorker());
    const deployment = r.get('Deployment', name, 'lms-staging');
    const handMade = { ...deployment, metadata: { ...deployment.metadata, name: 'lms-exports' } };
    const input = [...budgetInput(r), { file: 'apps/staging/lms-exports.yaml', object: handMade }];
    expect(computeCapacity(input, r.config).problems).toEqual([
      'workloads: Deployment/lms-staging/lms-exports is not in the workload list of environments.staging (charts-ts/apps/workload-list.ts): '
      + 'the connection budget and the shared services\' network policies would not know it; make it a workers entry or add it to appWorkloads',
    ]);
  });

  it('the namespace quota counts its pods, and a quota without room for them fails naming the field', () => {
    const base = renderAll({ cluster: { node: { memoryGiB: 16 } } });
    const r = renderAll(withWorker());
    const used = (x: Rendered) => computeCapacity(budgetInput(x), x.config).quotas.find((q) => q.namespace === 'lms-staging')!.used;
    expect(used(r)['requests.memory'] - used(base)['requests.memory']).toBe(reports.hpa.max * memoryBytes(reports.resources.requests.memory));
    expect(used(r)['limits.cpu'] - used(base)['limits.cpu']).toBeCloseTo(reports.hpa.max * 0.25);
    // A quota with room for everything but the worker's second pod.
    const room = used(r)['requests.memory'] - memoryBytes(reports.resources.requests.memory);
    const small = renderAll(withWorker({}, { quota: { requests: { memory: `${Math.floor(room / MiB)}Mi` } } }));
    expect(computeCapacity(budgetInput(small), small.config).problems).toContainEqual(
      expect.stringMatching(/^quota: lms-staging requests\.memory: pods need .* the ResourceQuota allows .* \(environments\.staging\.quota\.requests\.memory\)$/),
    );
  });
});
