/**
 * The RTO arithmetic (charts-ts/data/rto.ts): each term from its inputs, the base-backup cadence, the
 * WAL parallelism the sidecar's memory allows, and the runbooks showing the tables computed from the
 * config and the last drill's measurements (drill/report.json).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deepMerge, parseConfig } from '../../charts-ts/config/load.ts';
import { values } from '../../charts-ts/config/values.ts';
import { maxWalParallel, objectStoreSpec, walRestoreParallelism } from '../../charts-ts/data/object-store.ts';
import {
  databaseRto, databaseRtoTable, platformPullEstimateMinutes, rebuildSteps, restoreFixedEstimates, scheduleIntervalHours, vpsRto, vpsRtoTable, walSegmentBytes,
  type RtoMeasurements,
} from '../../charts-ts/data/rto.ts';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { readFluxTimings } from '../../charts-ts/lib/flux-timings.ts';
import { GiB } from '../../charts-ts/lib/quantity.ts';

const config = parseConfig(values);
const measured: RtoMeasurements = {
  baseCompression: 0.3,
  walCompression: 0.5,
  backupMBps: 20,
  restoreMBps: 100,
  walFetchSecondsPerSegment: 0.5,
  walFetchSerialSecondsPerSegment: 1.5,
  walApplyMBps: 40,
};
const term = (terms: { id: string; minutes: number }[], id: string) => terms.find((t) => t.id === id)!.minutes;

describe('RTO arithmetic', () => {
  it('reads the base-backup interval from the six-field schedule', () => {
    expect(scheduleIntervalHours('0 0 2 * * *')).toBe(24);
    expect(scheduleIntervalHours('0 30 2,14 * * *')).toBe(12);
    expect(scheduleIntervalHours('0 0 1,3,20 * * *')).toBe(17);
    expect(scheduleIntervalHours('0 0 */6 * * *')).toBe(6);
    expect(scheduleIntervalHours('0 0 */5 * * *')).toBe(5);
    expect(scheduleIntervalHours('0 0 * * * *')).toBe(1);
    expect(() => scheduleIntervalHours('0 0 2 * * 0')).toThrow(/day, month and weekday/);
    expect(() => scheduleIntervalHours('0 0 2-4 * * *')).toThrow(/hour field/);
  });

  it('sizes wal.maxParallel by the sidecar memory: 75 % of the limit, less its request, 80 MiB a process', () => {
    expect(walRestoreParallelism(config)).toBe(4); // (384 - 64) / 80
    expect(objectStoreSpec(config, config.environments.production).configuration.wal.maxParallel).toBe(4);
    const sized = (limit: string) => walRestoreParallelism(parseConfig(deepMerge(values, {
      cluster: { data: { backup: { sidecar: { resources: { limits: { memory: limit } } } } } },
    })));
    expect(sized('4Gi')).toBe(maxWalParallel);
    expect(sized('128Mi')).toBe(1);
  });

  it('adds up the database restore term by term', () => {
    const db = databaseRto({ config, measured });
    const data = 20 * GiB;
    // Base backup: 30 % of 20 GiB at 10 MB/s is 10.7 min; extraction at 100 MB/s 3.6 min: the slower counts.
    expect(term(db.terms, 'base')).toBeCloseTo((data * 0.3) / 1e6 / 10 / 60, 6);
    // WAL: 2 GiB a day x (24 h + the backup's duration: max(20 GiB at 20 MB/s, 6.4 GB at 10 MB/s) = 17.9 min).
    const backupHours = Math.max(data / 1e6 / 20, (data * 0.3) / 1e6 / 10) / 3600;
    expect(db.baseBackupHours).toBeCloseTo(backupHours, 9);
    const wal = 2 * GiB * (24 + backupHours) / 24;
    expect(db.walBytes).toBeCloseTo(wal, 0);
    expect(db.walSegments).toBe(Math.ceil(wal / walSegmentBytes));
    expect(term(db.terms, 'wal-transfer')).toBeCloseTo((wal * 0.5) / 1e6 / 10 / 60, 6);
    expect(term(db.terms, 'wal-fetch')).toBeCloseTo((db.walSegments * 0.5) / 60, 6);
    expect(term(db.terms, 'wal-apply')).toBeCloseTo(wal / 1e6 / 40 / 60, 6);
    expect(term(db.terms, 'recovery-job')).toBe(restoreFixedEstimates.recoveryJobStartMinutes);
    expect(term(db.terms, 'instance')).toBe(restoreFixedEstimates.instanceStartMinutes);
    expect(db.minutes).toBeCloseTo(db.terms.reduce((a, t) => a + t.minutes, 0), 9);
    expect(db.targetMinutes).toBe(30);
    expect(db.walParallel).toBe(4);
    // Extraction slower than the link: it counts instead.
    const slow = databaseRto({ config, measured: { ...measured, restoreMBps: 5 } });
    expect(term(slow.terms, 'base')).toBeCloseTo(data / 1e6 / 5 / 60, 6);
  });

  it('a base backup twice a day halves the WAL to replay', () => {
    const twice = parseConfig(deepMerge(values, { cluster: { data: { backup: { schedule: '0 0 2,14 * * *' } } } }));
    const a = databaseRto({ config, measured });
    const b = databaseRto({ config: twice, measured });
    expect(b.baseBackupIntervalHours).toBe(12);
    expect(b.walBytes / a.walBytes).toBeCloseTo((12 + a.baseBackupHours) / (24 + a.baseBackupHours), 9);
    expect(b.minutes).toBeLessThan(a.minutes);
  });

  it('the whole VPS: rebuild steps on the critical path, the restore, staging sharing the link', () => {
    const v = vpsRto({ config, measured });
    const db = databaseRto({ config, measured });
    expect(term(v.terms, 'database')).toBeCloseTo(db.minutes, 9);
    expect(term(v.terms, 'database-shared')).toBeCloseTo((1 * GiB * 0.3) / 1e6 / 10 / 60, 6);
    // Steps that overlap another one add nothing.
    for (const s of rebuildSteps.filter((x) => x.overlaps)) expect(v.terms.some((t) => t.id === s.id)).toBe(false);
    const onPath = rebuildSteps.filter((s) => !s.overlaps && s.id !== 'database').reduce((a, s) => a + s.minutes, 0);
    expect(v.minutes).toBeCloseTo(onPath + db.minutes + term(v.terms, 'database-shared'), 9);
    expect(v.estimatedMinutes).toBe(onPath + restoreFixedEstimates.recoveryJobStartMinutes + restoreFixedEstimates.instanceStartMinutes);
    expect(v.targetMinutes).toBe(60);
    const table = vpsRtoTable(v);
    for (const s of rebuildSteps) expect(table).toContain(s.id === 'database' ? 'production database restore' : s.what);
  });

  it('the platform before the restore from the first-deploy test where it was measured, with the image pulls estimated beside it', () => {
    const firstDeploy = { measuredAt: '2026-12-06T05:00:00Z', secondsFromPush: { 'platform-controllers': 90, 'platform-configs': 150 } };
    const estimated = vpsRto({ config, measured });
    const v = vpsRto({ config, measured, firstDeploy });
    expect(v.terms.some((t) => t.id === 'platform')).toBe(false);
    expect(v.terms.find((t) => t.id === 'platform-flux')).toMatchObject({ minutes: 2.5, basis: 'measured' });
    expect(v.terms.find((t) => t.id === 'platform-pulls')).toMatchObject({ minutes: platformPullEstimateMinutes, basis: 'estimate' });
    const platform = rebuildSteps.find((s) => s.id === 'platform')!.minutes;
    expect(v.minutes).toBeCloseTo(estimated.minutes - platform + 2.5 + platformPullEstimateMinutes, 9);
    expect(v.estimatedMinutes).toBeCloseTo(estimated.estimatedMinutes - platform + platformPullEstimateMinutes, 9);
    // A measurement that never reached the layer before the data layer measures nothing here.
    expect(vpsRto({ config, measured, firstDeploy: { ...firstDeploy, secondsFromPush: { 'platform-namespaces': 9 } } }).minutes).toBeCloseTo(estimated.minutes, 9);
  });

  it('the data layer waits longer than a restore within target before Flux calls it failed', () => {
    const t = config.cluster.platform.flux.timeouts.data;
    const [, h, m, sec] = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t) ?? [];
    const minutes = Number(h ?? 0) * 60 + Number(m ?? 0) + Number(sec ?? 0) / 60;
    expect(minutes, `cluster.platform.flux.timeouts.data ${t}`).toBeGreaterThanOrEqual(config.cluster.data.objectives.databaseRtoMinutes);
  });

  it('the tables show every term with its basis', () => {
    const db = databaseRto({ config, measured });
    const table = databaseRtoTable(db);
    for (const t of db.terms) expect(table).toContain(`| ${t.what} | ${t.minutes.toFixed(1)} min | ${t.basis} |`);
    expect(table).toMatch(/\*\*database RTO\*\*/);
  });
});

describe('the runbooks show the RTO computed from the config and the last drill (drill/report.json)', () => {
  const report = JSON.parse(readFileSync(join(repoRoot, 'drill/report.json'), 'utf8'));
  const last: RtoMeasurements = report.figures.rto;
  const dr = readFileSync(join(repoRoot, 'docs/runbooks/disaster-recovery.md'), 'utf8');
  const rebuild = readFileSync(join(repoRoot, 'docs/runbooks/server-rebuild.md'), 'utf8');

  it('drill/report.json carries every measured input', () => {
    for (const k of Object.keys(measured)) expect(Number.isFinite(last[k as keyof RtoMeasurements]) && last[k as keyof RtoMeasurements] > 0, k).toBe(true);
  });

  it('DR runbook: the database and whole-VPS tables', () => {
    const db = databaseRtoTable(databaseRto({ config, measured: last }));
    const v = vpsRtoTable(vpsRto({ config, measured: last, firstDeploy: readFluxTimings('first-deploy') }));
    expect(dr.includes(db), `docs/runbooks/disaster-recovery.md, "Recovery time": replace the database table with\n\n${db}\n`).toBe(true);
    expect(dr.includes(v), `docs/runbooks/disaster-recovery.md, "Recovery time": replace the whole-VPS table with\n\n${v}\n`).toBe(true);
  });

  it('server-rebuild runbook: the timeline', () => {
    const v = vpsRtoTable(vpsRto({ config, measured: last, firstDeploy: readFluxTimings('first-deploy') }));
    expect(rebuild.includes(v), `docs/runbooks/server-rebuild.md, "Timeline": replace the table with\n\n${v}\n`).toBe(true);
  });

  it('the drill report shows the same tables', () => {
    const md = readFileSync(join(repoRoot, 'drill/report.md'), 'utf8');
    expect(md).toContain(databaseRtoTable(databaseRto({ config, measured: last })));
    expect(md).toContain(vpsRtoTable(vpsRto({ config, measured: last, firstDeploy: readFluxTimings('first-deploy') })));
  });
});
