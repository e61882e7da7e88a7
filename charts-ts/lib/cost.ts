/** Monthly cost and cost per active user, from the cost section of the config. */
import type { Cluster } from '../config/schema.ts';

export interface CostLine { readonly item: string; readonly monthlyUsd: number; readonly note: string }

export interface CostReport {
  readonly lines: CostLine[];
  readonly totalUsd: number;
  readonly activeUsers: number;
  readonly perActiveUserUsd: number;
  readonly targetUsd: number;
  /** Fewest active users at which the cost per user meets the target. */
  readonly breakEvenUsers: number;
  readonly meetsTarget: boolean;
}

const cents = (n: number): number => Math.round(n * 100) / 100;

export function costReport(cost: Cluster['cost'], activeUsers: number): CostReport {
  if (!Number.isInteger(activeUsers) || activeUsers < 1) {
    throw new Error(`active users: ${activeUsers} must be a whole number >= 1 (pass --users <n>)`);
  }
  const blocks = Math.max(1, Math.ceil(cost.objectStorage.expectedGiB / cost.objectStorage.blockGiB));
  const lines: CostLine[] = [
    { item: 'vps', monthlyUsd: cost.vpsMonthlyUsd, note: 'Contabo VPS, 6 vCPU / 12 GB / 100 GB NVMe, 2 snapshots included' },
    {
      item: 'object-storage',
      monthlyUsd: cents(blocks * cost.objectStorage.blockMonthlyUsd),
      note: `${blocks} x ${cost.objectStorage.blockGiB} GiB block(s) for ${cost.objectStorage.expectedGiB} GiB expected`,
    },
    ...Object.entries(cost.otherMonthlyUsd).sort(([a], [b]) => a.localeCompare(b))
      .map(([item, monthlyUsd]) => ({ item, monthlyUsd, note: 'other' })),
  ];
  const totalUsd = cents(lines.reduce((s, l) => s + l.monthlyUsd, 0));
  const perActiveUserUsd = totalUsd / activeUsers;
  return {
    lines,
    totalUsd,
    activeUsers,
    perActiveUserUsd,
    targetUsd: cost.targetPerActiveUserUsd,
    breakEvenUsers: Math.ceil(totalUsd / cost.targetPerActiveUserUsd - 1e-9),
    meetsTarget: perActiveUserUsd <= cost.targetPerActiveUserUsd + 1e-12,
  };
}

export function formatCostReport(r: CostReport): string {
  const w = Math.max(...r.lines.map((l) => l.item.length), 5);
  const rows = r.lines.map((l) => `${l.item.padEnd(w)}  ${l.monthlyUsd.toFixed(2).padStart(8)}  ${l.note}`);
  return [
    `${'item'.padEnd(w)}  ${'USD/mo'.padStart(8)}`,
    ...rows,
    `${'total'.padEnd(w)}  ${r.totalUsd.toFixed(2).padStart(8)}`,
    '',
    `active users:         ${r.activeUsers}`,
    `cost per active user: ${r.perActiveUserUsd.toFixed(4)} USD/month (target <= ${r.targetUsd.toFixed(2)}): ${r.meetsTarget ? 'OK' : 'ABOVE TARGET'}`,
    `break-even:           ${r.breakEvenUsers} active users`,
  ].join('\n');
}
