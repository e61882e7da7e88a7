/**
 * The edge availability budget (issue 16 item 6): how many minutes a month planned reboots and k3s
 * upgrades cost, derived here from the reboot and upgrade settings independently of
 * charts-ts/lib/availability.ts, and the config refusing maintenance that leaves too little of the
 * 99.9 % for incidents.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { plannedMaintenance } from '../../charts-ts/lib/availability.ts';
import { renderAll } from '../support/render.ts';
import { rendered } from './support.ts';

const r = rendered();
const c = r.config;

/** Reboot days per calendar month of 2026, counted with the calendar (UTC dates). */
function rebootDaysPerMonth(days: readonly string[]): number[] {
  const names = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const wanted = new Set(days.map((d) => names.indexOf(d)));
  return Array.from({ length: 12 }, (_, m) => {
    let n = 0;
    for (let d = new Date(Date.UTC(2026, m, 1)); d.getUTCMonth() === m; d = new Date(d.getTime() + 86_400_000)) if (wanted.has(d.getUTCDay())) n++;
    return n;
  });
}

describe('edge availability budget', () => {
  it('planned maintenance in the worst month, from the reboot and upgrade settings', () => {
    const b = c.cluster.bootstrap.upgrades;
    const edge = c.cluster.observability.slo.edge;
    expect(b.rebootDays).toEqual(['Sun']);
    const worst = Math.max(...rebootDaysPerMonth(b.rebootDays));
    expect(worst).toBe(5); // e.g. March, May, August and November 2026 have five Sundays
    const budget = (1 - edge.objective) * 30 * 24 * 60;
    const planned = worst * b.estimatedRebootMinutes + edge.k3sUpgradesPerMonth * edge.k3sUpgradeMinutes;
    const p = plannedMaintenance(c);
    expect(p).toEqual({
      budgetMinutes: 43.2,
      rebootsPerMonth: 5,
      rebootMinutes: 20,
      upgradesPerMonth: 1,
      upgradeMinutes: 1,
      plannedMinutes: 21,
      share: expect.closeTo(21 / 43.2, 6),
      unplannedMinutes: 22.2,
    });
    expect(p.budgetMinutes).toBeCloseTo(budget, 9);
    expect(p.plannedMinutes).toBe(planned);
    // Half of the 99.9 % at most; the rest is for incidents.
    expect(p.share).toBeLessThanOrEqual(edge.maxPlannedShare);
  });

  it('follows the settings: a shorter reboot, more k3s upgrades', () => {
    const shorter = plannedMaintenance(renderAll({ cluster: { bootstrap: { upgrades: { estimatedRebootMinutes: 2 } } } }).config);
    expect(shorter.plannedMinutes).toBe(5 * 2 + 1);
    const upgrades = plannedMaintenance(renderAll({ cluster: { observability: { slo: { edge: { k3sUpgradesPerMonth: 4, maxPlannedShare: 0.6 } } } } }).config);
    expect(upgrades.upgradesPerMonth).toBe(4);
    expect(upgrades.plannedMinutes).toBe(20 + 4);
  });

  it('refuses maintenance that takes more than maxPlannedShare of the budget, with the arithmetic', () => {
    expect(() => renderAll({ cluster: { bootstrap: { upgrades: { rebootDays: ['Sat', 'Sun'] } } } }))
      .toThrow('config: cluster.observability.slo.edge.maxPlannedShare: 0.5 is exceeded: planned maintenance takes 41 of the 43.2 minutes a month 99.9 % allows (95 %): 10 reboots (bootstrap.upgrades.rebootDays Sat,Sun) x 4 min + 1 k3s upgrade(s) x 1 min');
    expect(() => renderAll({ cluster: { observability: { slo: { edge: { objective: 0.9995 } } } } }))
      .toThrow(/maxPlannedShare: 0\.5 is exceeded: planned maintenance takes 21 of the 21\.6 minutes a month 99\.95 % allows/);
  });

  it('the weekly report shows the allowance next to the edge-measured figures', () => {
    const q = JSON.parse(r.getOf<V1ConfigMap>('', 'ConfigMap', 'weekly-report', 'monitoring').data!['queries.json']) as { queries: { key: string; source?: string }[]; cloudflare: unknown };
    expect(q.queries.find((x) => x.key === 'planned_maintenance')).toMatchObject({ value: 21, unit: 'minutes', target: '<= 21.6' });
    expect(q.queries.filter((x) => x.source === 'cloudflare-health-checks').map((x) => x.key)).toEqual(['edge_uptime', 'edge_downtime']);
    expect(q.cloudflare).toEqual({ zone: c.cluster.bootstrap.cloudflare.zone, healthCheck: c.cluster.bootstrap.cloudflare.healthCheck.name, days: 7 });
  });
});
