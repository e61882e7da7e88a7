/** The nightly VPS snapshot rotation against the local Contabo fake. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { snapshots, snapshotName } from '../steps/snapshots.ts';
import { testContext } from './support/context.ts';
import { FakeContabo } from './fakes/contabo.ts';

let fake: FakeContabo;
beforeEach(async () => { fake = await new FakeContabo().start(); });
afterEach(async () => { await fake.stop(); });

const now = new Date('2026-11-27T02:30:00Z');
const ctxFor = (env: Record<string, string> = {}) => testContext({ env: { ...fake.env(), ...env }, now });
const names = (id: number) => fake.snapshots.filter((s) => s.instanceId === id).map((s) => s.name).sort();

describe('snapshots step', () => {
  it('names snapshots by UTC date under the configured prefix', () => {
    expect(snapshotName('nightly', now)).toBe('nightly-20261127');
  });

  it('with both slots full, deletes the oldest rotation snapshot and creates today\'s', async () => {
    const inst = fake.addInstance({ displayName: 'lms-prod-1' });
    fake.addSnapshot(inst.instanceId, 'nightly-20261126', '2026-11-26T02:30:00Z');
    fake.addSnapshot(inst.instanceId, 'nightly-20261125', '2026-11-25T02:30:00Z');
    const summaryFile = join(mkdtempSync(join(tmpdir(), 'lms-summary-')), 'summary.md');
    const ctx = ctxFor({ GITHUB_STEP_SUMMARY: summaryFile });
    await snapshots.run(ctx);
    expect(names(inst.instanceId)).toEqual(['nightly-20261126', 'nightly-20261127']);
    expect(fake.count('DELETE', /snap-nightly-20261125$/)).toBe(1);
    expect(ctx.out.text).toContain('waiting for snapshot nightly-20261127 to be listed');
    const summary = readFileSync(summaryFile, 'utf8');
    expect(summary).toContain('- created nightly-20261127');
    expect(summary).toContain('- deleted nightly-20261125');
  });

  it('is idempotent: the same night again changes nothing', async () => {
    const inst = fake.addInstance({ displayName: 'lms-prod-1' });
    fake.addSnapshot(inst.instanceId, 'nightly-20261126', '2026-11-26T02:30:00Z');
    await snapshots.run(ctxFor());
    const before = fake.writes().length;
    const ctx = ctxFor();
    await snapshots.run(ctx);
    expect(fake.writes().length).toBe(before);
    expect(ctx.out.text).toContain('nightly-20261127 already exists');
    expect(names(inst.instanceId)).toEqual(['nightly-20261126', 'nightly-20261127']);
  });

  it('never deletes a snapshot it does not own; fails clearly when those fill every slot', async () => {
    const inst = fake.addInstance({ displayName: 'lms-prod-1' });
    fake.addSnapshot(inst.instanceId, 'before-pg-upgrade', '2026-11-20T10:00:00Z');
    fake.addSnapshot(inst.instanceId, 'manual', '2026-11-21T10:00:00Z');
    const err = await snapshots.run(ctxFor()).catch((e) => e);
    expect(err.message).toContain('all 2 snapshot slots of instance');
    expect(err.message).toContain('before-pg-upgrade (2026-11-20), manual (2026-11-21)');
    expect(err.message).toContain('only deletes "nightly-*" snapshots');
    expect(fake.writes()).toEqual([]);
  });

  it('with one manual snapshot, rotates through the remaining slot', async () => {
    const inst = fake.addInstance({ displayName: 'lms-prod-1' });
    fake.addSnapshot(inst.instanceId, 'before-pg-upgrade', '2026-11-20T10:00:00Z');
    fake.addSnapshot(inst.instanceId, 'nightly-20261126', '2026-11-26T02:30:00Z');
    await snapshots.run(ctxFor());
    expect(names(inst.instanceId)).toEqual(['before-pg-upgrade', 'nightly-20261127']);
  });

  it('a lost create response does not create twice', async () => {
    const inst = fake.addInstance({ displayName: 'lms-prod-1' });
    fake.failAfter('POST', /\/snapshots$/, { status: 504 });
    await snapshots.run(ctxFor());
    expect(fake.count('POST', /\/snapshots$/)).toBe(1);
    expect(names(inst.instanceId)).toEqual(['nightly-20261127']);
  });

  it('fails clearly when there is no instance to snapshot', async () => {
    const err = await snapshots.run(ctxFor()).catch((e) => e);
    expect(err.message).toContain('no Contabo instance named lms-prod-1');
  });

  it('surfaces the API refusal (e.g. the plan\'s snapshot limit) instead of hiding it', async () => {
    const inst = fake.addInstance({ displayName: 'lms-prod-1' });
    fake.snapshotLimit = 0;
    const err = await snapshots.run(ctxFor()).catch((e) => e);
    expect(err.message).toContain('Contabo rejected POST');
    expect(err.message).toContain('Maximum number of snapshots reached');
    expect(names(inst.instanceId)).toEqual([]);
  });
});
