/**
 * The capacity budget (charts-ts/lib/budget.ts): the real output fits the node, `npm run budget`
 * prints the table and exits non-zero when requests do not fit or a footprint is missing, and each
 * counting rule (HPA max, canary surge, jobs once, footprints) holds.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { minHeadroomPercent } from '../../charts-ts/config/cross-checks.ts';
import { deepMerge, parseConfig } from '../../charts-ts/config/load.ts';
import { values } from '../../charts-ts/config/values.ts';
import { assertBudget, computeBudget, formatBudget, k3sPackagedPods, rolloutSurge, type BudgetInput } from '../../charts-ts/lib/budget.ts';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { footprintAnnotation, footprintValue } from '../../charts-ts/lib/footprint.ts';
import { GiB } from '../../charts-ts/lib/quantity.ts';
import { toYaml } from '../../charts-ts/lib/synth.ts';
import { asKind } from '../../charts-ts/lib/workloads.ts';
import { renderAll } from '../support/render.ts';
import { fixture, fixtureWith } from './fixtures.ts';

const run = promisify(execFile);
const cluster = parseConfig(values).cluster;
const tmp = mkdtempSync(join(tmpdir(), 'lms-budget-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const budgetCli = (...args: string[]) => run(join(repoRoot, 'node_modules/.bin/tsx'), ['charts-ts/tools/budget.ts', ...args], { cwd: repoRoot, env: process.env })
  .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }));

const line = (objects: BudgetInput[], workload: string) => computeBudget(objects, cluster).lines.find((l) => l.workload === workload)!;

const deployment = (name: string, cpu: string, memory: string, replicas = 1): BudgetInput => fixtureWith('Deployment', (d: V1Deployment) => {
  d.metadata!.name = name;
  d.spec!.replicas = replicas;
  d.spec!.template.spec!.containers[0].resources = { requests: { cpu, memory }, limits: { cpu, memory } };
}).find((o) => o.object.kind === 'Deployment')!;

describe('capacity budget', () => {
  it('the whole rendered output fits the node within 80 % of allocatable CPU and memory', () => {
    const budget = computeBudget(renderAll().objects, cluster);
    expect(budget.errors).toEqual([]);
    expect(budget.fits, formatBudget(budget)).toBe(true);
    expect(budget.requests.cpu / budget.allocatable.cpu).toBeLessThanOrEqual(0.8);
    expect(budget.requests.memory / budget.allocatable.memory).toBeLessThanOrEqual(0.8);
    // Counted at the HPA maxima plus a canary pod, with k3s's own pods.
    const production = parseConfig(values).environments.production;
    expect(budget.lines.find((l) => l.workload === 'Rollout/lms-production/lms-api')).toMatchObject({ replicas: production.apps.api.hpa.max + 1 });
    expect(budget.lines.filter((l) => l.workload === 'k3s packaged')).toHaveLength(k3sPackagedPods.length);
  });

  it('keeps 20 % of allocatable free of requests: the config refuses less headroom, naming the field', () => {
    expect(cluster.reservation.headroomPercent).toBeGreaterThanOrEqual(minHeadroomPercent);
    expect(minHeadroomPercent).toBe(20);
    expect(() => parseConfig(deepMerge(values, { cluster: { reservation: { headroomPercent: 10 } } }))).toThrow(
      'config: cluster.reservation.headroomPercent: 10 must be at least 20: requests at the HPA maxima plus the canary pods, jobs and k3s\'s pods may use at most 80 % of allocatable CPU and memory',
    );
  });

  it('subtracts the k3s reservation and the headroom from the node', () => {
    const b = computeBudget([], cluster);
    // values.ts: 6 vCPU / 12 GiB; reserved 0.5+0.5 CPU, 768Mi+1024Mi+300Mi eviction; 20% headroom.
    expect(b.allocatable).toEqual({ cpu: 5, memory: 12 * GiB - (768 + 1024 + 300) * 2 ** 20 });
    expect(b.available.cpu).toBeCloseTo(4);
    expect(b.available.memory).toBeCloseTo(b.allocatable.memory * 0.8);
    // Only the pods k3s runs itself.
    expect(b.lines.map((l) => l.pod)).toEqual(k3sPackagedPods.map((p) => p.name));
  });

  it('counts an HPA-scaled workload at its maximum', () => {
    const l = line(fixture(), 'Deployment/fixture/web');
    expect(l).toMatchObject({ replicas: 4, rule: 'HPA max 4', requests: { cpu: 0.1, memory: 128 * 2 ** 20 } });
  });

  it('counts a canary Rollout with traffic routing at replicas plus the largest weight it can stay at', () => {
    // steps 25%, pause, 50%, pause, 100% (last, promotion follows at once): holds ceil(50% of 2) = 1 extra.
    expect(line(fixture(), 'Rollout/fixture/api')).toMatchObject({ replicas: 3, rule: 'replicas 2 + canary holds 1 at 50%' });
    const r = { spec: { strategy: { canary: { trafficRouting: {}, steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }, { pause: { duration: '5m' } }] } } } };
    expect(rolloutSurge(r, 6)).toEqual({ surge: 6, rule: 'canary holds 6 at 100%' });
    expect(rolloutSurge({ spec: { strategy: { canary: { trafficRouting: {}, steps: [{ setCanaryScale: { replicas: 1 } }, { setWeight: 90 }, { pause: {} }] } } } }, 6).surge).toBe(1);
    expect(rolloutSurge({ spec: { strategy: { canary: { trafficRouting: {}, dynamicStableScale: true, steps: [{ setWeight: 50 }, { pause: {} }] } } } }, 6).surge).toBe(1);
    expect(rolloutSurge({ spec: { strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } } } }, 6)).toEqual({ surge: 2, rule: 'canary maxSurge 25%' });
    expect(rolloutSurge({ spec: { strategy: { blueGreen: { activeService: 'a' } } } }, 3).surge).toBe(3);
  });

  it('counts a CronJob once, at its parallelism, and a DaemonSet once on the one node', () => {
    const pod = asKind<V1Deployment>(fixture().find((o) => o.object.kind === 'Deployment')!.object, 'apps', 'Deployment')!.spec!.template;
    const objects: BudgetInput[] = [
      { file: 'f', object: { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'dump', namespace: 'fixture' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { parallelism: 2, template: pod } } } } },
      { file: 'f', object: { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'fixture' }, spec: { selector: {}, template: pod } } },
    ];
    expect(line(objects, 'CronJob/fixture/dump')).toMatchObject({ replicas: 2, rule: 'cron job, once' });
    expect(line(objects, 'DaemonSet/fixture/agent')).toMatchObject({ replicas: 1 });
  });

  it('counts init containers and native sidecars as the scheduler does', () => {
    const objects = fixtureWith('Deployment', (d: V1Deployment) => {
      const c = d.spec!.template.spec!.containers[0];
      d.spec!.template.spec!.initContainers = [
        { ...structuredClone(c), name: 'migrate', resources: { requests: { cpu: '1', memory: '64Mi' }, limits: { cpu: '1', memory: '64Mi' } } },
        { ...structuredClone(c), name: 'proxy', restartPolicy: 'Always', resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '50m', memory: '32Mi' } } },
      ];
    });
    // CPU: the init container (1) beats app + sidecar (0.15); memory: app + sidecar (160Mi) beats init (64Mi).
    expect(line(objects, 'Deployment/fixture/web').requests).toEqual({ cpu: 1, memory: 160 * 2 ** 20 });
  });

  it('counts an object by its footprint annotation, and rejects pods without one', () => {
    const release = {
      apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: {
        name: 'redis', namespace: 'fixture',
        annotations: { [footprintAnnotation]: footprintValue([{ name: 'redis', replicas: 1, requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '500m', memory: '512Mi' } }]) },
      },
    };
    const cluster_ = { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', metadata: { name: 'lms-db', namespace: 'fixture' }, spec: { instances: 1 } };
    const b = computeBudget([{ file: 'data.yaml', object: release }, { file: 'data.yaml', object: cluster_ }], cluster);
    expect(b.lines.find((l) => l.workload === 'HelmRelease/fixture/redis')).toMatchObject({ replicas: 1, rule: 'footprint annotation', requests: { cpu: 0.1 } });
    expect(b.errors).toEqual([
      `data.yaml Cluster/fixture/lms-db: makes pods the budget cannot see (CloudNativePG runs spec.instances PostgreSQL pods); declare them with the ${footprintAnnotation} annotation (footprintValue() in charts-ts/lib/footprint.ts), with the same requests and limits the pods get`,
    ]);
  });

  it('fails above 80 % of allocatable, saying by how much and what to change', () => {
    const b = computeBudget([deployment('big', '2', '2Gi', 3)], cluster);
    expect(b.fits).toBe(false);
    expect(formatBudget(b)).toMatch(/^budget: FAIL, requests \(HPA maxima, canary pods, jobs, k3s's pods\) need CPU 6200m = 124\.0 % and memory 6284Mi = 61\.6 % of allocatable, above the 80 % limit \(4 CPU, 8157Mi; cluster\.reservation\.headroomPercent 20\); lower requests or HPA maxima in config, or resize the node$/m);
    // Just above the limit in memory alone is a failure too: 80 % of allocatable is the line.
    const limit = (b.allocatable.memory * 0.8) / 2 ** 20;
    const justOver = computeBudget([deployment('edge', '1', `${Math.floor(limit) - 139}Mi`)], cluster);
    expect(justOver.requests.memory).toBeGreaterThan(b.allocatable.memory * 0.8);
    expect(justOver.fits).toBe(false);
    // The same rule, as synth's config check.
    expect(() => assertBudget([deployment('big', '2', '2Gi', 3)], cluster)).toThrow(/^config: capacity: FAIL, requests .* above the 80 % limit .*\(npm run budget shows every workload\)$/);
    expect(() => assertBudget(renderAll().objects, cluster)).not.toThrow();
  });
});

describe('npm run budget', () => {
  it('prints the table for the committed dist/ and exits 0', async () => {
    const r = await budgetCli();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^workload\s+pod\s+replicas\s+counted as\s+req cpu\s+req mem\s+lim cpu\s+lim mem$/m);
    expect(r.stdout).toMatch(/^= available for requests\s+4\s+8157Mi$/m);
    expect(r.stdout).toMatch(/^budget: OK, requests \(HPA maxima, canary pods, jobs, k3s's pods\) need CPU \d+m = [\d.]+ % and memory \d+Mi = [\d.]+ % of allocatable, within the 80 % limit$/m);
  });

  it('exits non-zero on an output that does not fit, and on a missing footprint', async () => {
    const dir = join(tmp, 'too-big');
    mkdirSync(join(dir, 'apps'), { recursive: true });
    writeFileSync(join(dir, 'apps', 'big.yaml'), toYaml([deployment('big', '2', '4Gi', 3).object]));
    const big = await budgetCli('--dist', dir);
    expect(big.code).toBe(1);
    expect(big.stdout).toMatch(/^Deployment\/fixture\/big\s+big\s+3\s+replicas 3\s+6\s+12Gi/m);
    expect(big.stdout).toMatch(/^budget: FAIL, requests .* above the 80 % limit/m);

    const nofp = join(tmp, 'no-footprint');
    mkdirSync(nofp, { recursive: true });
    writeFileSync(join(nofp, 'release.yaml'), toYaml([{ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'x', namespace: 'fixture' }, spec: {} }]));
    const missing = await budgetCli('--dist', nofp);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^error: release.yaml HelmRelease\/fixture\/x: makes pods the budget cannot see \(Flux installs a Helm chart/m);
  });
});
