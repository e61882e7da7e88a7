/**
 * Synthetic input series for `promtool test rules`: counters built from phases of constant
 * per-sample increments, in promtool's expanding notation (`start+incxN`).
 */

export interface Phase {
  /** Number of samples in this phase. */
  readonly samples: number;
  /** Counter increase per sample. */
  readonly inc: number;
}

/** A counter starting at 0, increasing by each phase's increment per sample. */
export function counter(phases: readonly Phase[]): string {
  const parts: string[] = [];
  let value = 0;
  let first = true;
  for (const p of phases) {
    if (p.samples <= 0) continue;
    // The first sample of the series is the start value itself; later phases continue from the last.
    const start = first ? value : value + p.inc;
    const steps = first ? p.samples - 1 : p.samples - 1;
    parts.push(`${round(start)}+${round(p.inc)}x${steps}`);
    value = start + p.inc * steps;
    first = false;
  }
  return parts.join(' ');
}

/** Gauge: `value` for `samples` samples, then nothing (no stale marker) or `stale`. */
export const gauge = (segments: readonly (readonly [value: number | '_' | 'stale', samples: number])[]): string =>
  segments.map(([v, n]) => (v === 'stale' ? 'stale' : v === '_' ? `_x${n}` : `${v}x${n - 1}`)).join(' ');

const round = (x: number): string => String(Number(x.toPrecision(12)));
