import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../charts-ts/config/load.ts';
import { values } from '../../charts-ts/config/values.ts';
import { costReport } from '../../charts-ts/lib/cost.ts';

const cost = parseConfig(values).cluster.cost;
const custom = {
  ...cost,
  vpsMonthlyUsd: 10,
  objectStorage: { blockGiB: 250, blockMonthlyUsd: 3, expectedGiB: 300 },
  otherMonthlyUsd: { domain: 1 },
  targetPerActiveUserUsd: 0.1,
};

describe('cost report', () => {
  it('adds the line items by hand-computed figures', () => {
    // 10 (VPS) + 2 blocks x 3 (300 GiB needs two 250 GiB blocks) + 1 (domain) = 17 USD
    const r = costReport(custom, 200);
    expect(r.totalUsd).toBe(17);
    expect(r.lines.find((l) => l.item === 'object-storage')?.monthlyUsd).toBe(6);
    expect(r.perActiveUserUsd).toBeCloseTo(0.085, 10);
    expect(r.meetsTarget).toBe(true);
    expect(r.breakEvenUsers).toBe(170);
  });

  it('flags a cost per user above target', () => {
    const r = costReport(custom, 169);
    expect(r.perActiveUserUsd).toBeCloseTo(17 / 169, 10);
    expect(r.meetsTarget).toBe(false);
  });

  it('rounds the break-even user count up', () => {
    const r = costReport({ ...custom, otherMonthlyUsd: { domain: 1.05 } }, 1000);
    expect(r.totalUsd).toBe(17.05);
    expect(r.breakEvenUsers).toBe(171); // 170.5 users are not a thing
  });

  it('rejects a non-positive user count with the fix', () => {
    expect(() => costReport(custom, 0)).toThrow(/--users/);
  });

  it('npm run cost prints the table and exits by the target', () => {
    const out = execFileSync('npx', ['tsx', 'charts-ts/tools/cost.ts', '--users', '1000'], { encoding: 'utf8' });
    expect(out).toMatch(/^total\s+\d+\.\d\d$/m);
    expect(out).toMatch(/cost per active user: .*OK/);
    expect(out).toMatch(/break-even: +\d+ active users/);
    const few = spawnSync('npx', ['tsx', 'charts-ts/tools/cost.ts', '--users', '10'], { encoding: 'utf8' });
    expect(few.status).toBe(1);
    expect(few.stdout).toMatch(/ABOVE TARGET/);
  });
});
