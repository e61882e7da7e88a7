/**
 * The drill's LMS-shaped data (drill/lms-data.ts): text that compresses like prose, not like
 * pgbench's padding; repeatable rows; unique (user, course) enrollments; and the restore_command
 * that emulates the plugin's parallel WAL fetch (drill/wal-restore.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { lmsRows, lmsSizes, prng, TextGen } from '../../drill/lms-data.ts';
import { readWalRestoreLog, writeWalRestoreScript } from '../../drill/wal-restore.ts';

describe('LMS-shaped drill data', () => {
  it('text compresses like prose: gzip -9 leaves 25-45 % (English text: about 35-40 %)', () => {
    const t = new TextGen(prng(1)).text(2_000_000);
    const ratio = gzipSync(t, { level: 9 }).length / t.length;
    expect(ratio).toBeGreaterThan(0.25);
    expect(ratio).toBeLessThan(0.45);
  });

  it('is repeatable and every enrollment is a distinct (user, course)', () => {
    const sizes = lmsSizes(2);
    const rows = (seed: number) => [...lmsRows('enrollments', 1, sizes.enrollments, sizes, new TextGen(prng(seed)))].join('');
    expect(rows(5)).toBe(rows(5));
    const pairs = rows(5).trim().split('\n').map((l) => l.split('\t').slice(1, 3).join(':'));
    expect(pairs.length).toBe(sizes.enrollments);
    expect(new Set(pairs).size).toBe(pairs.length);
    // COPY text format: no tabs, newlines or backslashes inside the values (\N is NULL).
    for (const t of ['users', 'courses', 'lessons', 'submissions', 'events'] as const) {
      for (const l of [...lmsRows(t, 1, 50, sizes, new TextGen(prng(3)))].join('').trim().split('\n')) {
        expect(l.split('\t').length).toBe({ users: 6, courses: 5, lessons: 5, submissions: 7, events: 5 }[t]);
        for (const v of l.split('\t')) if (v !== '\\N') expect(v).not.toContain('\\');
      }
    }
  });
});

describe('the plugin\'s parallel WAL fetch as a restore_command', () => {
  it('fetches the segment and the next maxParallel - 1 into the spool, serves them from there, fails only on the first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'walrestore-'));
    try {
      // A stand-in for barman-cloud-wal-restore: copies <archive>/<name> to the destination.
      const archive = join(dir, 'archive');
      mkdirSync(archive);
      for (const n of ['0000000100000001000000FE', '0000000100000001000000FF', '000000010000000200000000']) writeFileSync(join(archive, n), n);
      const fake = join(dir, 'fake-wal-restore');
      writeFileSync(fake, `#!/bin/bash\n[ -f "${archive}/$1" ] || exit 1\ncp "${archive}/$1" "$2"\n`, { mode: 0o755 });
      const spool = join(dir, 'spool');
      mkdirSync(spool);
      const s = writeWalRestoreScript({ path: join(dir, 'restore.sh'), spoolDir: spool, logFile: join(dir, 'log'), walRestore: [fake], maxParallel: 4 });
      const call = (wal: string) => {
        try {
          execFileSync(s.path, [wal, join(dir, 'pg_wal_file')]);
          return readFileSync(join(dir, 'pg_wal_file'), 'utf8');
        } catch {
          return 'failed';
        }
      };
      expect(call('0000000100000001000000FE')).toBe('0000000100000001000000FE');
      // The next names cross the log boundary (FF, then 00 of the next log); the fourth is missing.
      expect(readdirSync(spool).sort()).toEqual(['0000000100000001000000FF', '000000010000000200000000']);
      expect(call('0000000100000001000000FF')).toBe('0000000100000001000000FF');
      expect(call('000000010000000200000000')).toBe('000000010000000200000000');
      expect(call('000000010000000200000001')).toBe('failed');
      expect(call('00000002.history')).toBe('failed');
      expect(readWalRestoreLog(s.logFile).map((c) => [c.wal, c.fromSpool, c.arrived, c.ok])).toEqual([
        ['0000000100000001000000FE', false, 3, true],
        ['0000000100000001000000FF', true, 1, true],
        ['000000010000000200000000', true, 1, true],
        ['000000010000000200000001', false, 0, false],
        ['00000002.history', false, 0, false],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
