/**
 * `npm run restore` (charts-ts/tools/restore.ts) and what a restore costs on the node
 * (charts-ts/lib/capacity.ts):
 *
 * - each mode writes the recovery block (and, in place, a fresh server name) into a copy of the real
 *   charts-ts/config/sections/data.ts, and the dist/ it writes is exactly what synth renders for the
 *   edited file (for side-by-side: the real `npm run synth` with the edit as overrides);
 * - the steps come in the order that keeps Flux from recreating an empty initdb cluster;
 * - a restore that does not fit the node or the namespace quota is refused with the numbers, and
 *   nothing is written; `--dry-run` writes nothing; a misspelt flag or a bad value is a usage error;
 * - side-by-side fits the real config (quota and capacity), where a copy sized like the live cluster
 *   did not, and the runbook's table is the one computed from the config.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildApp } from '../../charts-ts/app.ts';
import { editDatabaseValues, readDatabaseValues, recoveryMarker } from '../../charts-ts/config/edit-source.ts';
import { deepMerge, parseConfig } from '../../charts-ts/config/load.ts';
import type { ConfigInput } from '../../charts-ts/config/schema.ts';
import { values } from '../../charts-ts/config/values.ts';
import { recoveryClusterName, recoveryVolumeSize } from '../../charts-ts/data/recovery.ts';
import { computeBudget } from '../../charts-ts/lib/budget.ts';
import { computeCapacity } from '../../charts-ts/lib/capacity.ts';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { GiB, memoryBytes } from '../../charts-ts/lib/quantity.ts';
import { render, toYaml } from '../../charts-ts/lib/synth.ts';
import { bucketServerNames, planRestore, renderAndCheck, restoreCapacityTable, runRestore, withDatabase, type RestoreDeps } from '../../charts-ts/tools/restore.ts';
import { startS3 } from '../../drill/s3.ts';
import { motoServerPath, type Tools } from '../../drill/tools.ts';

const dataPath = join(repoRoot, 'charts-ts/config/sections/data.ts');
const realData = readFileSync(dataPath, 'utf8');
const now = new Date('2026-09-01T12:00:00Z');
const tmp = mkdtempSync(join(tmpdir(), 'lms-restore-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let boxes = 0;
function sandbox(opts: { values?: ConfigInput; dataText?: string; listed?: string[] } = {}) {
  const dir = join(tmp, `box-${++boxes}`);
  const distDir = join(dir, 'dist');
  const dataFile = join(dir, 'data.ts');
  const out: string[] = [];
  const err: string[] = [];
  mkdirSync(dir, { recursive: true });
  writeFileSync(dataFile, opts.dataText ?? realData);
  const deps: RestoreDeps = {
    values: opts.values ?? values,
    dataFile,
    distDir,
    now: () => now,
    listServerNames: async () => (opts.listed ? { names: opts.listed, note: `bucket listed: ${opts.listed.join(', ')}` } : { note: 'bucket not listed' }),
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  };
  return {
    dir, distDir, dataFile, out, err,
    run: (...argv: string[]) => runRestore(argv, deps),
    data: () => readFileSync(dataFile, 'utf8'),
    stdout: () => out.join('\n'),
    stderr: () => err.join('\n'),
  };
}
/** Every file under a directory, relative path -> text. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

/** The YAML files synth writes for a config input (kustomization.yaml files aside). */
function expectedDist(input: ConfigInput): Record<string, string> {
  return Object.fromEntries(render(buildApp(parseConfig(input))).map((f) => [f.path, toYaml(f.objects)]));
}
const yamlFiles = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).filter(([p]) => !p.endsWith('kustomization.yaml')));

/** The config synth reads after the edit: values with `databaseValues.<env>` as the edited file has it. */
const editedInput = (text: string, env: 'staging' | 'production'): ConfigInput =>
  deepMerge(values, { environments: { [env]: { database: readDatabaseValues('data.ts', text, env) } } }) as ConfigInput;

const objectsOf = (yamlText: string) => yamlText.split(/^---\n/m).map((d) => d);

/** The fields of the rendered recovery Cluster's spec (CloudNativePG) the edit test checks. */
interface RecoveryClusterSpec {
  storage: { size: string };
  resources: { limits: { memory: string } };
  postgresql: { parameters: Record<string, string> };
  bootstrap: { recovery: { recoveryTarget: unknown } };
  externalClusters: { plugin: { parameters: { serverName: string } } }[];
  plugins: { parameters: { serverName: string } }[];
}

const step = (stdout: string, text: string) => {
  const i = stdout.indexOf(text);
  expect(i, `step "${text}" in:\n${stdout}`).toBeGreaterThanOrEqual(0);
  return i;
};

describe('npm run restore: side-by-side', () => {
  it('writes the recovery block and the dist/ synth renders for it, then prints the steps in order', async () => {
    const box = sandbox({ listed: ['lms-db', 'lms-db-recovery-1'] });
    expect(await box.run('production', '--to', '2026-09-01T10:14:00Z', '--mode', 'side-by-side'), box.stderr()).toBe(0);

    // The config change: only the recovery block is added, under the marker comment; the rest of the file is as it was.
    const text = box.data();
    const db = readDatabaseValues('data.ts', text, 'production');
    expect(db.recovery).toEqual({
      mode: 'side-by-side', sourceServerName: 'lms-db', targetTime: '2026-09-01T10:14:00Z',
      // lms-db-recovery-1 is in the bucket already (an earlier drill): the next one.
      serverName: 'lms-db-recovery-2', storageSize: '24Gi',
    });
    expect(db.backup).toEqual(readDatabaseValues('data.ts', realData, 'production').backup);
    expect(text).toContain(recoveryMarker('production'));
    const added = text.split('\n').filter((l) => !realData.split('\n').includes(l));
    expect(added.map((l) => l.trim())).toEqual([recoveryMarker('production'), expect.stringMatching(/^recovery: \{ mode: 'side-by-side', /)]);

    // dist/: what synth renders for the edited file; only the production database changes.
    const written = yamlFiles(tree(box.distDir));
    expect(written).toEqual(expectedDist(editedInput(text, 'production')));
    const before = expectedDist(values);
    expect(Object.keys(written).filter((p) => written[p] !== before[p])).toEqual(['platform/data/database-production.yaml']);
    const cluster = render(buildApp(parseConfig(editedInput(text, 'production'))))
      .flatMap((f) => f.objects).find((o) => o.kind === 'Cluster' && o.metadata.name === recoveryClusterName)!;
    const spec = cluster.spec as RecoveryClusterSpec;
    expect(cluster.metadata.namespace).toBe('lms-production');
    expect(spec.storage.size).toBe('24Gi');
    expect(spec.resources.limits.memory).toBe('512Mi');
    expect(spec.postgresql.parameters.max_connections).toBe('20');
    expect(spec.bootstrap.recovery.recoveryTarget).toEqual({ targetTime: '2026-09-01T10:14:00Z' });
    expect(spec.externalClusters[0].plugin.parameters.serverName).toBe('lms-db');
    expect(spec.plugins[0].parameters.serverName).toBe('lms-db-recovery-2');

    // Steps: releases frozen (last layer first) before the merge, then apply, watch, finish.
    const out = box.stdout();
    expect(out).toContain('restore production: side-by-side to 2026-09-01T10:14:00Z');
    expect(out).toMatch(/capacity .*\n {2}node: OK, requests \(HPA maxima, releases frozen for a restore, jobs, k3s's pods\)/);
    expect(out).toMatch(/quota lms-production: .*requests\.storage 56Gi of 60Gi/);
    const order = [
      'flux suspend kustomization apps-production -n flux-system',
      'flux suspend kustomization apps-staging -n flux-system',
      'Written by this command',
      'git add charts-ts/config/sections/data.ts dist',
      'flux reconcile kustomization platform-data -n flux-system',
      `kubectl get cluster ${recoveryClusterName} -n lms-production -w`,
      `kubectl logs -n lms-production job/${recoveryClusterName}-1-full-recovery -f`,
      'npm run restore -- production --finish',
    ].map((s) => step(out, s));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // A side-by-side restore never suspends the data layer or deletes the live cluster.
    expect(out).not.toContain('flux suspend kustomization platform-data');
    expect(out).not.toContain('kubectl delete cluster');
    // The bucket was listed: no check by hand.
    expect(out).not.toContain('rclone lsf');
  });

  it('is the output of the real `npm run synth` for the edit (run into a temporary directory)', async () => {
    const box = sandbox();
    expect(await box.run('staging', '--to', 'latest', '--mode', 'side-by-side'), box.stderr()).toBe(0);
    const overrides = join(box.dir, 'overrides.yaml');
    writeFileSync(overrides, stringify({ environments: { staging: { database: readDatabaseValues('data.ts', box.data(), 'staging') } } }));
    const out = join(box.dir, 'synth');
    const r = await promisify(execFile)(join(repoRoot, 'node_modules/.bin/tsx'), ['charts-ts/main.ts', '--values', overrides, '--out', out], { cwd: repoRoot, timeout: 120_000 });
    expect(r.stdout).toMatch(/^synth: wrote \d+ objects/);
    expect(tree(box.distDir)).toEqual(tree(out));
    expect(tree(out)['platform/data/database-staging.yaml']).toContain(`name: ${recoveryClusterName}`);
    // Without AWS credentials the bucket is not listed: the next name, and a step to check it by hand.
    expect(readDatabaseValues('data.ts', box.data(), 'staging').recovery).toMatchObject({ serverName: `${recoveryClusterName}-1`, storageSize: '4Gi' });
    expect(box.stdout()).toContain(`rclone lsf c:lms-backups/postgres/staging/   # must list lms-db/ and must NOT list ${recoveryClusterName}-1/`);
  });

  it('--finish removes the block again (the file is as before) and prints the clean-up and resume steps', async () => {
    const first = sandbox();
    expect(await first.run('production', '--to', 'latest', '--mode', 'side-by-side'), first.stderr()).toBe(0);
    const box = sandbox({ values: editedInput(first.data(), 'production'), dataText: first.data() });
    expect(await box.run('production', '--finish'), box.stderr()).toBe(0);
    expect(box.data()).toBe(realData);
    expect(yamlFiles(tree(box.distDir))).toEqual(expectedDist(values));
    const out = box.stdout();
    const order = [
      'git add charts-ts/config/sections/data.ts dist',
      'flux reconcile kustomization platform-data -n flux-system',
      `kubectl get cluster,pvc -n lms-production -l cnpg.io/cluster=${recoveryClusterName}`,
      'flux resume kustomization apps-staging -n flux-system',
      'flux resume kustomization apps-production -n flux-system',
      `rclone purge c:lms-backups/postgres/production/${recoveryClusterName}-1/`,
    ].map((s) => step(out, s));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });
});

describe('npm run restore: in place', () => {
  it('writes a fresh server name and the recovery block; the data layer is suspended before the delete and resumed after it', async () => {
    const box = sandbox({ listed: ['lms-db', 'lms-db-r1'] });
    expect(await box.run('production', '--to', 'latest', '--mode', 'in-place'), box.stderr()).toBe(0);
    const db = readDatabaseValues('data.ts', box.data(), 'production');
    // lms-db-r1 holds an aborted earlier attempt: never archive into a non-empty path.
    expect(db.backup).toMatchObject({ serverName: 'lms-db-r2' });
    expect(db.recovery).toEqual({ mode: 'in-place', sourceServerName: 'lms-db' });
    const written = yamlFiles(tree(box.distDir));
    expect(written).toEqual(expectedDist(editedInput(box.data(), 'production')));
    const live = objectsOf(written['platform/data/database-production.yaml']).find((d) => d.startsWith('apiVersion: postgresql.cnpg.io/v1\nkind: Cluster'))!;
    expect(live).toContain(`name: ${names.database.cluster}\n`);
    expect(live).toMatch(/bootstrap:\n {4}recovery:\n/);
    expect(live).toMatch(/serverName: lms-db-r2/);

    const out = box.stdout();
    const order = [
      'flux suspend kustomization apps-production -n flux-system',
      'flux suspend kustomization apps-staging -n flux-system',
      'flux suspend kustomization platform-data -n flux-system',
      'git add charts-ts/config/sections/data.ts dist',
      'flux reconcile source git flux-system -n flux-system',
      `kubectl delete cluster ${names.database.cluster} -n lms-production --wait`,
      'flux resume kustomization platform-data -n flux-system',
      `kubectl logs -n lms-production job/${names.database.cluster}-1-full-recovery -f`,
      'kubectl get backups -n lms-production',
      'npm run restore -- production --finish',
    ].map((s) => step(out, s));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('on a new server (rebuilding staging): a new server name, nothing to suspend or delete, merged before the bootstrap', async () => {
    const box = sandbox();
    expect(await box.run('staging', '--to', 'latest', '--mode', 'in-place', '--new-server'), box.stderr()).toBe(0);
    // The staging archive postgres/staging/lms-db is not empty: the rebuilt cluster archives elsewhere.
    expect(readDatabaseValues('data.ts', box.data(), 'staging').backup).toMatchObject({ serverName: 'lms-db-r1' });
    const out = box.stdout();
    expect(out).not.toContain('flux suspend');
    expect(out).not.toContain('kubectl delete');
    expect(step(out, 'git add charts-ts/config/sections/data.ts dist')).toBeLessThan(step(out, 'npm run bootstrap -- all --reinstall'));
  });

  it('--finish keeps the new server name and removes only the recovery block', async () => {
    const first = sandbox();
    expect(await first.run('production', '--to', 'latest', '--mode', 'in-place')).toBe(0);
    const box = sandbox({ values: editedInput(first.data(), 'production'), dataText: first.data() });
    expect(await box.run('production', '--finish'), box.stderr()).toBe(0);
    expect(box.data()).toBe(realData.replace(/(production: \{[\s\S]*?backup: \{ serverName: )'lms-db'/, "$1'lms-db-r1'"));
    expect(box.stdout()).toMatch(/Keep the old generation lms-db\/ until 2026-10-01/);
  });
});

describe('npm run restore: refusals', () => {
  it('refuses a restore that does not fit the quota, with the numbers, and writes nothing', async () => {
    // A database grown to 28Gi: its recovery volume (28 + 10 % + 2 -> 33Gi) no longer fits next to the live one.
    const grown = deepMerge(values, { environments: { production: { database: { expectedDataSize: '28Gi' } } } }) as ConfigInput;
    const box = sandbox({ values: grown });
    expect(await box.run('production', '--to', 'latest', '--mode', 'side-by-side')).toBe(1);
    const err = box.stderr();
    expect(err).toContain('restore production: refused, nothing written:');
    const m = /quota: lms-production requests\.storage: volumes need (\d+)Gi \(Cluster\/lms-db (\d+)Gi, Cluster\/lms-db-recovery (\d+)Gi, StatefulSet\/redis (\d+)Gi\), the ResourceQuota allows (\d+)Gi \(environments\.production\.quota\.pvcStorage\)/.exec(err);
    expect(m, err).not.toBeNull();
    const [total, live, recovery, redis, quota] = m!.slice(1).map(Number);
    expect(live + recovery + redis).toBe(total);
    expect(recovery).toBe(33);
    expect(quota).toBe(memoryBytes(parseConfig(grown).environments.production.quota.pvcStorage) / GiB);
    expect(total).toBeGreaterThan(quota);
    // It says which mode would fit, and what that costs.
    expect(err).toContain('in-place would fit (npm run restore -- production --to latest --mode in-place), but it replaces the live database and loses every write after the target');
    expect(box.data()).toBe(realData);
    expect(existsSync(box.distDir)).toBe(false);
  });

  it('refuses a second side-by-side restore while one runs: the node memory does not hold both', async () => {
    const stagingRestoring = withDatabase(values, 'staging', {
      recovery: { mode: 'side-by-side', sourceServerName: 'lms-db', serverName: `${recoveryClusterName}-1`, storageSize: '4Gi' },
    });
    const box = sandbox({ values: stagingRestoring });
    expect(await box.run('production', '--to', 'latest', '--mode', 'side-by-side', '--dry-run')).toBe(1);
    const m = /capacity: FAIL, requests \(HPA maxima, releases frozen for a restore, jobs, k3s's pods\) need CPU \d+m = [\d.]+ % and memory (\d+)Mi = ([\d.]+) % of allocatable, above the 80 % limit/.exec(box.stderr());
    expect(m, box.stderr()).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(80);
    expect(existsSync(box.distDir)).toBe(false);
  });

  it('refuses a target in the future, outside the recovery window, or while a restore is configured', async () => {
    const box = sandbox();
    expect(await box.run('production', '--to', '2026-09-01T12:30:00Z', '--mode', 'in-place')).toBe(1);
    expect(box.stderr()).toContain('--to 2026-09-01T12:30:00Z is in the future');
    expect(await box.run('staging', '--to', '2026-08-20T00:00:00Z', '--mode', 'side-by-side')).toBe(1);
    expect(box.stderr()).toContain('is older than staging\'s recovery window (7 days: nothing before 2026-08-25T12:00:00.000Z is kept');
    const busy = sandbox({ values: withDatabase(values, 'production', { backup: { serverName: 'lms-db-r1' }, recovery: { mode: 'in-place', sourceServerName: 'lms-db' } }) });
    expect(await busy.run('production', '--to', 'latest', '--mode', 'side-by-side')).toBe(1);
    expect(busy.stderr()).toContain('one restore at a time; finish it first with `npm run restore -- production --finish`');
    const empty = sandbox({ listed: ['lms-db-r1'] });
    expect(await empty.run('production', '--to', 'latest', '--mode', 'in-place')).toBe(1);
    expect(empty.stderr()).toContain('the bucket has no backups under postgres/production/lms-db/');
    for (const b of [box, busy, empty]) {
      expect(b.data()).toBe(realData);
      expect(existsSync(b.distDir)).toBe(false);
    }
  });

  it('--dry-run prints the plan and the steps and writes nothing', async () => {
    for (const args of [['production', '--to', 'latest', '--mode', 'side-by-side'], ['staging', '--to', 'latest', '--mode', 'in-place']]) {
      const box = sandbox();
      expect(await box.run(...args, '--dry-run'), box.stderr()).toBe(0);
      expect(box.stdout()).toContain('(dry run: nothing is written)');
      expect(box.stdout()).toContain('Not written (--dry-run)');
      expect(box.stdout()).toContain('flux suspend kustomization apps-production -n flux-system');
      expect(box.data()).toBe(realData);
      expect(existsSync(box.distDir)).toBe(false);
    }
  });

  it.each([
    [['production', '--to', 'latest', '--mdoe', 'in-place'], 'restore: unknown option --mdoe (did you mean --mode?)'],
    [['production', '--to', 'latest', '--mode', 'sideways'], 'restore: --mode must be in-place or side-by-side, got "sideways"'],
    [['production', '--to', '2026-09-01 10:14', '--mode', 'in-place'], 'restore: --to must be "latest" or an RFC 3339 time with a zone like 2026-09-01T10:14:00Z, got "2026-09-01 10:14"'],
    [['prod', '--to', 'latest', '--mode', 'in-place'], 'restore: <env> must be staging or production, got "prod"'],
    [['production', '--mode', 'in-place'], 'restore: missing --to <time|latest>'],
    [['production', '--to', 'latest'], 'restore: missing --mode <in-place|side-by-side>'],
    [['production', '--to', 'latest', '--mode', 'side-by-side', '--new-server'], 'restore: --new-server goes with --mode in-place (a side-by-side restore needs the live cluster)'],
    [['production', '--finish', '--to', 'latest'], 'restore: --finish takes no --to, --mode or --new-server'],
    [['--to', 'latest', '--mode', 'in-place'], 'restore: missing <env>'],
  ])('%j is a usage error (exit 2, the usage printed, nothing written)', async (argv, message) => {
    const box = sandbox();
    expect(await box.run(...argv)).toBe(2);
    expect(box.stderr().split('\n')[0]).toBe(message);
    expect(box.stderr()).toContain('\nusage: npm run restore -- <env> [--to <time|latest>] [--mode <in-place|side-by-side>]');
    expect(box.out).toEqual([]);
    expect(box.data()).toBe(realData);
  });
});

describe('a restore fits the node and the quotas (computed from the real config)', () => {
  const production = parseConfig(values).environments.production;

  it('side-by-side, as the command plans it, fits in each environment: the budget within 80 %, every quota', async () => {
    for (const env of ['staging', 'production'] as const) {
      const plan = await planRestore(parseConfig(values), env, 'latest', 'side-by-side', { now: () => now, listServerNames: async () => ({ note: '' }) });
      const { capacity } = renderAndCheck(withDatabase(values, env, plan.database));
      expect(capacity.problems, `${env}: ${capacity.problems.join('\n')}`).toEqual([]);
      expect(capacity.budget.requests.memory / capacity.budget.allocatable.memory).toBeLessThanOrEqual(0.8);
      const q = capacity.quotas.find((x) => x.namespace === parseConfig(values).environments[env].namespace)!;
      expect(q.volumes.map((v) => v.owner)).toContain(`Cluster/${recoveryClusterName}`);
      expect(q.used['requests.storage']).toBeLessThanOrEqual(q.hard['requests.storage']!);
    }
    // Production: live 30Gi + recovery (20Gi data + 10 % + 2Gi WAL = 24Gi) + Redis within 60Gi.
    expect(recoveryVolumeSize(production)).toBe('24Gi');
  });

  it('a copy sized like the live cluster, with releases not frozen (the old procedure A), fits neither the quota nor the node', () => {
    const input = deepMerge(withDatabase(values, 'production', {
      recovery: { mode: 'side-by-side', sourceServerName: 'lms-db', serverName: `${recoveryClusterName}-1`, storageSize: production.database.storageSize },
    }), { cluster: { data: { recoveryCluster: { resources: production.database.resources, maxConnections: production.database.maxConnections } } } }) as ConfigInput;
    const config = parseConfig(input);
    const objects = render(buildApp(config)).flatMap((f) => f.objects.map((object) => ({ file: f.path, object })));
    const c = computeCapacity(objects, config, { releasesFrozen: false });
    const q = c.quotas.find((x) => x.namespace === production.namespace)!;
    // 30Gi + 30Gi + Redis 2Gi > 60Gi; memory at the autoscaling maxima above allocatable, not only above 80 % of it.
    expect(q.used['requests.storage']).toBeGreaterThan(q.hard['requests.storage']!);
    expect(q.problems.join('\n')).toMatch(/requests\.storage: volumes need 62Gi \(Cluster\/lms-db 30Gi, Cluster\/lms-db-recovery 30Gi, StatefulSet\/redis 2Gi\), the ResourceQuota allows 60Gi/);
    expect(c.budget.requests.memory).toBeGreaterThan(c.budget.allocatable.memory);
    // And the freeze alone would not rescue it.
    expect(computeBudget(objects, config.cluster, { releasesFrozen: true }).fits).toBe(false);
  });

  it('releases frozen: the Rollouts count their HPA maximum without a canary, the migration Job is not counted', () => {
    const objects = render(buildApp(parseConfig(values))).flatMap((f) => f.objects.map((object) => ({ file: f.path, object })));
    const cluster = parseConfig(values).cluster;
    const usual = computeBudget(objects, cluster);
    const frozen = computeBudget(objects, cluster, { releasesFrozen: true });
    const api = (b: typeof usual) => b.lines.find((l) => l.workload === `Rollout/${production.namespace}/${names.apps.api}`)!;
    expect(api(usual).replicas).toBe(production.apps.api.hpa.max + 1);
    expect(api(frozen)).toMatchObject({ replicas: production.apps.api.hpa.max, rule: `HPA max ${production.apps.api.hpa.max}, releases frozen (no canary)` });
    expect(usual.lines.some((l) => l.workload.startsWith('AnalysisTemplate/'))).toBe(true);
    expect(frozen.lines.some((l) => l.workload.startsWith('AnalysisTemplate/'))).toBe(false);
    expect(frozen.requests.memory).toBeLessThan(usual.requests.memory);
  });

  it('npm run synth refuses a side-by-side restore that does not fit, naming the quota and the budget, and writes nothing', async () => {
    const overrides = join(tmp, 'old-procedure-a.yaml');
    writeFileSync(overrides, stringify({
      cluster: { data: { recoveryCluster: { resources: production.database.resources, maxConnections: production.database.maxConnections } } },
      environments: { production: { database: { recovery: { mode: 'side-by-side', sourceServerName: 'lms-db', serverName: `${recoveryClusterName}-1`, storageSize: production.database.storageSize } } } },
    }));
    const out = join(tmp, 'never');
    const err = await promisify(execFile)(join(repoRoot, 'node_modules/.bin/tsx'), ['charts-ts/main.ts', '--values', overrides, '--out', out], { cwd: repoRoot, timeout: 120_000 })
      .then(() => undefined, (e) => e as { code: number; stderr: string });
    expect(err?.code).toBe(1);
    const lines = err!.stderr.split('\n').filter((l) => l.startsWith('config:'));
    expect(lines).toEqual([
      expect.stringMatching(/^config: capacity: FAIL, requests \(HPA maxima, releases frozen for a restore, jobs, k3s's pods\) need .* above the 80 % limit/),
      expect.stringMatching(/^config: quota: lms-production requests\.storage: volumes need 62Gi \(Cluster\/lms-db 30Gi, Cluster\/lms-db-recovery 30Gi, StatefulSet\/redis 2Gi\), the ResourceQuota allows 60Gi \(environments\.production\.quota\.pvcStorage\)/),
    ]);
    expect(existsSync(out)).toBe(false);
  });

  it('the runbook\'s table is the one computed from the config', () => {
    const runbook = readFileSync(join(repoRoot, 'docs/runbooks/disaster-recovery.md'), 'utf8');
    const table = restoreCapacityTable(values);
    expect(runbook.includes(table), `docs/runbooks/disaster-recovery.md, "Capacity during a restore": replace the table with\n\n${table}\n`).toBe(true);
  });
});

describe('fresh server names from the bucket (a real S3 API: moto, from npm run setup)', () => {
  it('lists the server names under postgres/<env>/ and never picks one that holds an archive', async () => {
    const config0 = parseConfig(values);
    const bucket = config0.cluster.objectStorage.bucket;
    const s3 = await startS3({ motoServer: motoServerPath() } as Tools, bucket);
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    try {
      for (const key of ['lms-db/base/20260901T020000/backup.info', 'lms-db/wals/0000000100000000/000000010000000000000001.zst', 'lms-db-r1/wals/0000000100000000/000000010000000000000002.zst', 'lms-db-recovery-1/wals/x']) {
        const put = await fetch(`${s3.endpoint}/${bucket}/postgres/production/${key}`, { method: 'PUT', body: 'x' });
        expect(put.ok).toBe(true);
      }
      await fetch(`${s3.endpoint}/${bucket}/postgres/staging/lms-db/base/x/backup.info`, { method: 'PUT', body: 'x' });
      const config = { ...config0, cluster: { ...config0.cluster, objectStorage: { ...config0.cluster.objectStorage, endpoint: s3.endpoint } } };
      process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
      expect((await bucketServerNames(config, 'production')).names).toEqual(['lms-db', 'lms-db-r1', 'lms-db-recovery-1']);
      const deps = { now: () => now, listServerNames: bucketServerNames };
      const inPlace = await planRestore(config, 'production', 'latest', 'in-place', deps);
      expect(inPlace).toMatchObject({ sourceServerName: 'lms-db', archiveServerName: 'lms-db-r2', bucketListed: true });
      expect((await planRestore(config, 'production', 'latest', 'side-by-side', deps)).archiveServerName).toBe(`${recoveryClusterName}-2`);
      expect((await planRestore(config, 'staging', 'latest', 'in-place', deps)).archiveServerName).toBe('lms-db-r1');
      // Without credentials nothing is listed: the plan says to check by hand.
      delete process.env.AWS_ACCESS_KEY_ID;
      expect(await bucketServerNames(config, 'production')).toEqual({ note: expect.stringContaining('bucket not listed (no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)') });
    } finally {
      for (const [k, v] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
        if (v === undefined) delete process.env[k]; else process.env[k] = v;
      }
      await s3.stop();
    }
  });
});

describe('config source edits (on the syntax tree)', () => {
  it('inserts, replaces and removes the recovery block and keeps everything else byte for byte', () => {
    const withBlock = editDatabaseValues('data.ts', realData, 'staging', { recovery: { mode: 'in-place', sourceServerName: 'lms-db' }, serverName: 'lms-db-r1' });
    expect(readDatabaseValues('data.ts', withBlock, 'staging')).toMatchObject({ backup: { serverName: 'lms-db-r1', retentionDays: 7 }, recovery: { mode: 'in-place', sourceServerName: 'lms-db' } });
    // Production is untouched.
    expect(readDatabaseValues('data.ts', withBlock, 'production')).toEqual(readDatabaseValues('data.ts', realData, 'production'));
    const replaced = editDatabaseValues('data.ts', withBlock, 'staging', { recovery: { mode: 'in-place', sourceServerName: 'lms-db', targetTime: '2026-09-01T10:00:00Z' } });
    expect(replaced.split(recoveryMarker('staging'))).toHaveLength(2);
    expect(readDatabaseValues('data.ts', replaced, 'staging').recovery).toEqual({ mode: 'in-place', sourceServerName: 'lms-db', targetTime: '2026-09-01T10:00:00Z' });
    const removed = editDatabaseValues('data.ts', replaced, 'staging', { recovery: null, serverName: 'lms-db' });
    expect(removed).toBe(realData);
  });

  it('refuses a file of another shape instead of guessing', () => {
    expect(() => editDatabaseValues('x.ts', 'export const other = {};\n', 'staging', { serverName: 'a' })).toThrow(/no `databaseValues = \{ \.\.\. \}` object literal/);
    expect(() => editDatabaseValues('x.ts', 'const databaseValues = { staging: { backup: { serverName: name } } };\n', 'staging', { serverName: 'a' }))
      .toThrow(/databaseValues\.staging\.backup\.serverName is not a string literal/);
  });
});
