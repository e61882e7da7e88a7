/**
 * The k3s upgrade window (system-upgrade-controller Plan) and the host's reboot window (the
 * lms-reboot-window systemd timer, bootstrap) never overlap: a reboot in the middle of an upgrade
 * leaves the single node cordoned. The config check compares every occurrence over a year, in
 * each window's own time zone (so daylight-saving changes count), with the upgrade lasting until
 * the window's end plus the upgrade Job's deadline and the reboot its timer accuracy plus the
 * measured reboot time.
 */
import { describe, expect, it } from 'vitest';
import { rebootOccurrences, upgradeOccurrences } from '../../charts-ts/lib/maintenance-windows.ts';
import { deepMerge, parseConfig } from '../../charts-ts/config/load.ts';
import { values } from '../../charts-ts/config/values.ts';
import { rebootOnCalendar } from '../../bootstrap/host/system.ts';
import { renderAll } from '../support/render.ts';

const config = (overrides: unknown = {}) => parseConfig(deepMerge(values, overrides));
const window = (w: Record<string, unknown>, jobActiveDeadlineSeconds?: number) =>
  ({ cluster: { platform: { upgrades: { window: w, ...(jobActiveDeadlineSeconds ? { jobActiveDeadlineSeconds } : {}) } } } });
const reboot = (u: Record<string, unknown>, timezone?: string) =>
  ({ cluster: { bootstrap: { upgrades: u, ...(timezone ? { timeSync: { timezone } } : {}) } } });
const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);

describe('k3s upgrade window and host reboot window', () => {
  it('are disjoint as configured, with the Plan and the reboot timer rendered from the same values', () => {
    const c = config();
    const upgrades = upgradeOccurrences(c);
    const reboots = rebootOccurrences(c);
    expect(upgrades.length).toBeGreaterThanOrEqual(52);
    expect(reboots.length).toBeGreaterThanOrEqual(52);
    for (const u of upgrades) for (const r of reboots) expect(r.start >= u.end || u.start >= r.end).toBe(true);
    // Sunday 03:00-04:00 UTC plus a 15-minute Job deadline; the reboot timer at 04:30 for 4 + 1 minutes.
    expect([hhmm(upgrades[0].start), hhmm(upgrades[0].end)]).toEqual(['03:00', '04:15']);
    expect([hhmm(reboots[0].start), hhmm(reboots[0].end)]).toEqual(['04:30', '04:35']);
    const r = renderAll();
    expect(r.getOf<{ spec: { window: unknown } }>('upgrade.cattle.io', 'Plan', 'k3s-server', 'system-upgrade').spec.window).toEqual(c.cluster.platform.upgrades.window);
    expect(rebootOnCalendar(c)).toBe('Sun *-*-* 04:30:00');
  });

  it('refuses the window before issue 16 (03:00-05:00 UTC against a 04:30 reboot), naming the field', () => {
    expect(() => config(window({ endTime: '05:00' }))).toThrow(
      'config: cluster.platform.upgrades.window.endTime: "05:00" lets the k3s upgrade overlap the host\'s reboot window (cluster.bootstrap.upgrades Sun 04:30 Etc/UTC, 4 min + 1 min timer accuracy): '
      + 'upgrade 2026-01-04 03:00-05:15 UTC (window sunday 03:00-05:00 UTC + jobActiveDeadlineSeconds 900) vs reboot 2026-01-04 04:30-04:35 UTC; a reboot during an upgrade leaves the node cordoned',
    );
  });

  it('counts the upgrade Job running past the window, and the reboot timer\'s accuracy', () => {
    // The window closes at 04:00, but a Job started then may run 40 minutes: into the 04:30 reboot.
    expect(() => config(window({}, 2400))).toThrow(/upgrade 2026-01-04 03:00-04:40 UTC/);
    // A reboot at 04:14 meets a Job that may run until 04:15.
    expect(() => config(reboot({ rebootTime: '04:14' }))).toThrow(/cluster\.platform\.upgrades\.window\.endTime/);
    // 04:15 exactly: the upgrade is over when the reboot timer fires.
    expect(() => config(reboot({ rebootTime: '04:15' }))).not.toThrow();
    // A reboot at 02:55 takes until 03:00 (4 minutes + 1 minute accuracy): touching, not overlapping.
    expect(() => config(reboot({ rebootTime: '02:55' }))).not.toThrow();
    expect(() => config(reboot({ rebootTime: '02:56' }))).toThrow(/reboot 2026-01-04 02:56-03:01 UTC/);
  });

  it('only compares the days both run on, and windows running past midnight', () => {
    expect(() => config(reboot({ rebootDays: ['Sat'], rebootTime: '03:30' }))).not.toThrow();
    // Saturday 23:00 to Sunday 01:00 UTC, plus 15 minutes, against a Sunday 00:30 reboot.
    expect(() => config(deepMerge(window({ days: ['saturday'], startTime: '23:00', endTime: '01:00' }), reboot({ rebootTime: '00:30' }))))
      .toThrow(/upgrade 2026-01-03 23:00-2026-01-04 01:15 UTC/);
  });

  it('compares instants, in each window\'s time zone, on both sides of daylight saving time', () => {
    // 06:00-06:30 in Sofia is 04:00-04:30 UTC in winter (UTC+2) and 03:00-03:30 in summer (UTC+3);
    // with the Job deadline it reaches 04:45 UTC in winter only, into the 04:30 UTC reboot.
    const sofia = window({ startTime: '06:00', endTime: '06:30', timeZone: 'Europe/Sofia' });
    expect(() => config(sofia)).toThrow(/upgrade 2026-01-04 04:00-04:45 UTC/);
    const summer = upgradeOccurrences(config(deepMerge(sofia, reboot({ rebootTime: '05:00' }))));
    expect(summer.map((o) => hhmm(o.start))).toEqual(expect.arrayContaining(['03:00', '04:00']));
    // Both in Sofia time: the same local clock all year.
    expect(() => config(deepMerge(sofia, reboot({ rebootTime: '06:50' }, 'Europe/Sofia')))).not.toThrow();
    expect(() => config(deepMerge(sofia, reboot({ rebootTime: '06:40' }, 'Europe/Sofia')))).toThrow(/reboot 2026-01-04 04:40-04:45 UTC/);
  });
});
