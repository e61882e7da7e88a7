/** Kubernetes resource quantities as numbers, for budgets and config checks. */

const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const decimal: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

export const cpuPattern = /^(\d+(\.\d+)?|\d+m)$/;
export const memoryPattern = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/;

/** CPU quantity ("250m", "1.5") in cores. */
export function cpuCores(q: string | number): number {
  const s = String(q);
  if (!cpuPattern.test(s)) throw new Error(`"${s}" is not a CPU quantity (use millicores like 250m or cores like 2)`);
  return s.endsWith('m') ? Number(s.slice(0, -1)) / 1000 : Number(s);
}

/** Memory quantity ("512Mi", "1Gi") in bytes. */
export function memoryBytes(q: string | number): number {
  const s = String(q);
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(s);
  if (!m) throw new Error(`"${s}" is not a memory quantity (use binary units like 512Mi or 2Gi)`);
  const unit = m[2];
  return Number(m[1]) * (unit ? (binary[unit] ?? decimal[unit]) : 1);
}

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
