/**
 * A step's plan: the HTTP calls, remote commands, local commands and waits it performs, in order,
 * with the condition under which each happens. `--dry-run` prints it and touches nothing.
 */
import type { Output } from './context.ts';
import type { Method } from './http.ts';

export type PlanItem =
  | { kind: 'http'; service: string; method: Method; url: string; body?: unknown; when?: string }
  | { kind: 'ssh'; target: string; command: string; when?: string }
  | { kind: 'exec'; command: string; when?: string }
  | { kind: 'wait'; what: string; when?: string }
  | { kind: 'note'; text: string };

const bodyText = (b: unknown): string => {
  const s = JSON.stringify(b);
  return s.length > 400 ? `${s.slice(0, 397)}...` : s;
};

export function formatPlanItem(i: PlanItem): string {
  const when = 'when' in i && i.when ? ` [${i.when}]` : '';
  switch (i.kind) {
    case 'http': return `${i.service}: ${i.method} ${i.url}${i.body === undefined ? '' : ` ${bodyText(i.body)}`}${when}`;
    case 'ssh': return `ssh ${i.target}: ${i.command}${when}`;
    case 'exec': return `run: ${i.command}${when}`;
    case 'wait': return `wait: ${i.what}${when}`;
    case 'note': return `note: ${i.text}`;
  }
}

export function printPlan(out: Output, step: string, items: PlanItem[]): void {
  out.info(`plan for "${step}" (dry run: nothing is sent, nothing is changed)`);
  items.forEach((i, n) => out.action(`  ${String(n + 1).padStart(2)}. ${formatPlanItem(i)}`));
}
