/**
 * Availability at the edge (docs/observability/slo-sla.md "Availability at the edge"): the budget of
 * the edge SLI (the origin health check from Cloudflare's network) and what planned maintenance
 * takes of it, from the settings that schedule it:
 *
 * - host reboots: one per reboot day (`bootstrap.upgrades.rebootDays`, weekly) when an update needs
 *   one, each `estimatedRebootMinutes` of outage (VPS boot, k3s start, pods Ready); the worst month
 *   is the calendar month with the most reboot days (five Sundays), counted over a year of the
 *   configured time zone (charts-ts/lib/maintenance-windows.ts rebootOccurrences);
 * - k3s upgrades: `slo.edge.k3sUpgradesPerMonth`, each `slo.edge.k3sUpgradeMinutes` (the node is
 *   cordoned, not drained; containers keep running), never more than the upgrade window occurs in
 *   that month (`platform.upgrades.window`).
 *
 * The month of the budget is 30 days (the SLO window). The config refuses planned maintenance above
 * `slo.edge.maxPlannedShare` of it.
 */
import type { Cluster, EnvironmentName, Environment } from '../config/schema.ts';
import { rebootOccurrences, upgradeOccurrences, type Occurrence } from './maintenance-windows.ts';

interface ConfigShape { readonly cluster: Cluster; readonly environments: Record<EnvironmentName, Environment> }

export interface PlannedMaintenance {
  /** Minutes of downtime the objective allows in 30 days. */
  readonly budgetMinutes: number;
  /** Reboot days in the worst calendar month, and the minutes they cost. */
  readonly rebootsPerMonth: number;
  readonly rebootMinutes: number;
  readonly upgradesPerMonth: number;
  readonly upgradeMinutes: number;
  /** Reboots plus upgrades in the worst month. */
  readonly plannedMinutes: number;
  /** plannedMinutes / budgetMinutes. */
  readonly share: number;
  /** What is left for incidents. */
  readonly unplannedMinutes: number;
}

/** The most occurrences starting in one calendar month (UTC), over the year the occurrences cover. */
export function worstMonth(occurrences: readonly Occurrence[]): number {
  const perMonth = new Map<string, number>();
  for (const o of occurrences) {
    const d = new Date(o.start);
    const key = `${d.getUTCFullYear()}-${d.getUTCMonth()}`;
    perMonth.set(key, (perMonth.get(key) ?? 0) + 1);
  }
  return Math.max(0, ...perMonth.values());
}

const round = (x: number) => Number(x.toFixed(6));

export function plannedMaintenance(c: ConfigShape): PlannedMaintenance {
  const edge = c.cluster.observability.slo.edge;
  const budgetMinutes = round((1 - edge.objective) * 30 * 24 * 60);
  const rebootsPerMonth = worstMonth(rebootOccurrences(c));
  const rebootMinutes = rebootsPerMonth * c.cluster.bootstrap.upgrades.estimatedRebootMinutes;
  const upgradesPerMonth = Math.min(edge.k3sUpgradesPerMonth, worstMonth(upgradeOccurrences(c)));
  const upgradeMinutes = upgradesPerMonth * edge.k3sUpgradeMinutes;
  const plannedMinutes = round(rebootMinutes + upgradeMinutes);
  return {
    budgetMinutes, rebootsPerMonth, rebootMinutes, upgradesPerMonth, upgradeMinutes, plannedMinutes,
    share: round(plannedMinutes / budgetMinutes),
    unplannedMinutes: round(budgetMinutes - plannedMinutes),
  };
}
