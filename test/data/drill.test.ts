/**
 * The DR drill, small: real PostgreSQL (Debian), moto's S3 server on loopback, barman-cloud from
 * PyPI at the sidecar's version, age and rclone at the dump image's versions, all driven by the
 * command lines the charts render. `npm run drill` runs the same with >= 1 GiB of data.
 *
 * Fails if a restore loses a committed row, restores one committed after the target, corrupts
 * bulk data, writes into the source backups, or if the logical dump does not round-trip.
 */
import { describe, expect, it } from 'vitest';
import { runDrill, type DrillResult } from '../../drill/drill.ts';
import { figures, reportMarkdown } from '../../drill/report.ts';

let result: DrillResult | undefined;
const drill = async () => (result ??= await runDrill({ scale: 1 }));

describe('DR drill (small)', () => {
  it('point-in-time recovery brings back every row committed before the target and none after', async () => {
    const p = (await drill()).physical;
    expect(p.committedBeforeTarget).toBe(300);
    expect(p.lostRows).toEqual([]);
    expect(p.rowsAfterTarget).toEqual([]);
    expect(p.bulkChecksumRestored).toBe(p.bulkChecksumAtTarget);
    // The LMS-shaped tables (text, JSONB, GIN indexes) are back as they were at the target.
    expect(Object.keys(p.lmsAtTarget).sort()).toEqual(['courses', 'enrollments', 'events', 'lessons', 'submissions', 'users']);
    expect(p.lmsRestored).toEqual(p.lmsAtTarget);
    expect(p.lmsBytes).toBeGreaterThan(p.pgbenchBytes / 2);
    // The base backup and WAL really went through the object store.
    expect(p.baseBackupStoredBytes).toBeGreaterThan(0);
    expect(p.walStoredBytes).toBeGreaterThan(0);
    expect(p.baseBackupStoredBytes).toBeLessThan(p.databaseBytes);
  }, 900_000);

  it('replays WAL through the plugin\'s parallel fetch: segments prefetched into the spool', async () => {
    const p = (await drill()).physical;
    expect(p.walMaxParallel).toBe(4);
    expect(p.walSegmentsRestored).toBeGreaterThan(1);
    expect(p.walSpoolHits).toBeGreaterThan(0);
    expect(p.walFetchSerialSecondsPerSegment).toBeGreaterThan(0);
    expect(p.replayedWalBytes).toBeGreaterThan(0);
  }, 900_000);

  it('the restored server archives under a new name and leaves the source backups untouched', async () => {
    const p = (await drill()).physical;
    expect(p.restoredServerName).toBe('lms-db-r1');
    expect(p.sourceBackupsUntouched).toBe(true);
  }, 900_000);

  it('the logical dump is encrypted, uploaded, pruned, and restores table for table', async () => {
    const l = (await drill()).logical;
    expect(l.ciphertextOnly).toBe(true);
    expect(l.objectKey).toMatch(/^lms-production-\d{8}T\d{6}Z\.dump\.age$/);
    expect(l.pruneExpired).toBe(true);
    expect(l.pruneKeptOthers).toBe(true);
    expect(l.tables.map((t) => t.table)).toEqual(expect.arrayContaining(['drill_events', 'pgbench_accounts', 'pgbench_branches']));
    expect(l.mismatches).toEqual([]);
    for (const t of l.tables) expect(t.restored).toBe(t.source);
  }, 900_000);

  it('reports throughput, RPO and a projected RTO, and fails the report when a row is lost', async () => {
    const r = await drill();
    const f = figures(r);
    expect(f.lossless).toBe(true);
    expect(f.rpoSeconds).toBe(300);
    for (const v of [f.backupMBps, f.restoreMBps, f.replayMBps, f.database.minutes, f.vps.minutes, ...Object.values(f.rto)]) {
      expect(Number.isFinite(v) && v > 0).toBe(true);
    }
    const md = reportMarkdown(r, f);
    expect(md).toMatch(/## Result: PASS/);
    // Each term of the database and whole-VPS RTO is in the report, with its basis.
    for (const t of [...f.database.terms, ...f.vps.terms]) expect(md).toContain(`| ${t.what} | ${t.minutes.toFixed(1)} min |`);
    expect(md).toMatch(/\*\*database RTO\*\*/);
    expect(md).toMatch(/\*\*whole-VPS RTO\*\*/);
    // The same figures over a restore that lost row 42 must fail.
    const lossy = { ...r, physical: { ...r.physical, lostRows: [42] } };
    const bad = figures(lossy);
    expect(bad.lossless).toBe(false);
    expect(bad.failures[0]).toMatch(/1 rows committed before the target are missing/);
    expect(reportMarkdown(lossy, bad)).toMatch(/## Result: FAIL/);
  }, 900_000);
});
