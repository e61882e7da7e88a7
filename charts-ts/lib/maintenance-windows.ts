/**
 * When the node is busy with planned maintenance: the k3s upgrade window (system-upgrade-controller's
 * Plan) and the host's reboot timer, as concrete occurrences over one year in their time zones
 * (daylight saving included). The config check keeps them apart (charts-ts/config/cross-checks.ts)
 * and the availability budget counts them (charts-ts/lib/availability.ts).
 */
import type { Cluster } from '../config/schema.ts';

/** The parts of the config the windows come from. */
export interface MaintenanceConfig { readonly cluster: Pick<Cluster, 'platform' | 'bootstrap'> }

const weekdays = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
/** 0 = Sunday, from "sunday" (platform) or "Sun" (bootstrap). */
const weekdayIndex = (d: string): number => weekdays.findIndex((w) => w.startsWith(d.toLowerCase()));
const minute = 60_000;

/** Offset of `timeZone` from UTC at `instant`, in ms (Intl, so daylight saving time is included). */
function zoneOffset(instant: number, timeZone: string): number {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  }).formatToParts(new Date(instant)).map((p) => [p.type, Number(p.value)]));
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - instant;
}

/** The instant of a local date and "HH:MM" in `timeZone`. */
function localInstant(y: number, m: number, d: number, hhmm: string, timeZone: string): number {
  const [h, mi] = hhmm.split(':').map(Number);
  const wall = Date.UTC(y, m, d, h, mi);
  const first = wall - zoneOffset(wall, timeZone);
  return wall - zoneOffset(first, timeZone);
}

export interface Occurrence { readonly start: number; readonly end: number }

/**
 * Every occurrence, over one year from 2026-01-01 (both sides of each daylight-saving change), of
 * a weekly window: on `days` (local dates in `timeZone`), from `start` for `lengthMs`.
 */
export function weeklyOccurrences(days: readonly string[], start: string, lengthMs: (day: number) => number, timeZone: string): Occurrence[] {
  const on = new Set(days.map(weekdayIndex));
  const out: Occurrence[] = [];
  for (let i = 0; i < 372; i++) {
    const date = new Date(Date.UTC(2026, 0, 1 + i));
    if (!on.has(date.getUTCDay())) continue;
    const s = localInstant(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(), start, timeZone);
    out.push({ start: s, end: s + lengthMs(s) });
  }
  return out;
}

/** Minutes since midnight of "HH:MM". */
const clockMinutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));

/**
 * When the k3s upgrade can keep the node busy: the Plan's window, in which system-upgrade-controller
 * starts upgrade Jobs (an end before the start runs past midnight), plus the Job's deadline after
 * the window closes (a Job started at the last minute runs that long).
 */
export function upgradeOccurrences(c: MaintenanceConfig): Occurrence[] {
  const u = c.cluster.platform.upgrades;
  const length = ((clockMinutes(u.window.endTime) - clockMinutes(u.window.startTime) + 1440) % 1440 || 1440) * minute;
  return weeklyOccurrences(u.window.days, u.window.startTime, () => length + u.jobActiveDeadlineSeconds * 1000, u.window.timeZone);
}

/** Systemd timer accuracy of the reboot timer (bootstrap/host/system.ts AccuracySec=1min). */
export const rebootTimerAccuracyMinutes = 1;

/** When the host may be rebooting: the reboot timer, its accuracy, and the reboot itself. */
export function rebootOccurrences(c: MaintenanceConfig): Occurrence[] {
  const b = c.cluster.bootstrap;
  const length = (rebootTimerAccuracyMinutes + b.upgrades.estimatedRebootMinutes) * minute;
  return weeklyOccurrences(b.upgrades.rebootDays, b.upgrades.rebootTime, () => length, b.timeSync.timezone);
}
