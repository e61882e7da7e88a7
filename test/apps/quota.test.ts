/**
 * Each app namespace's ResourceQuota must admit every pod of the namespace at full scale: the
 * Rollouts at HPA max plus the canary, the migration Job, Redis, and the data layer's pods. A quota
 * that is too small does not fail at deploy time: it silently stops the canary's pods from being
 * created in the middle of a release. Counting is the capacity budget's (charts-ts/lib/budget.ts).
 */
import { describe, expect, it } from 'vitest';
import { computeBudget } from '../../charts-ts/lib/budget.ts';
import { cpuCores, memoryBytes } from '../../charts-ts/lib/quantity.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { environments, rendered } from './support.ts';

describe('namespace quota', () => {
  it('holds every pod of the namespace at full scale, requests and limits', () => {
    const r = rendered();
    const budget = computeBudget(r.objects.map((o) => ({ file: o.file, object: o.object })), r.config.cluster);
    for (const env of environments(r)) {
      const lines = budget.lines.filter((l) => l.workload.split('/')[1] === env.namespace);
      // Our workloads are all counted (the Rollouts at HPA max + canary).
      for (const w of [`Rollout/${env.namespace}/${names.apps.api}`, `Rollout/${env.namespace}/${names.apps.web}`, `StatefulSet/${env.namespace}/${names.redis.service}`]) {
        expect(lines.map((l) => l.workload)).toContain(w);
      }
      const sum = (k: 'requests' | 'limits') => lines.reduce((a, l) => ({ cpu: a.cpu + l[k].cpu * l.replicas, memory: a.memory + l[k].memory * l.replicas }), { cpu: 0, memory: 0 });
      const q = env.quota;
      const report = (k: 'requests' | 'limits') => `${env.namespace} ${k}: pods need ${sum(k).cpu.toFixed(2)} CPU / ${(sum(k).memory / 2 ** 30).toFixed(2)}Gi, quota ${q[k].cpu} / ${q[k].memory}`;
      for (const k of ['requests', 'limits'] as const) {
        expect(sum(k).cpu, report(k)).toBeLessThanOrEqual(cpuCores(q[k].cpu));
        expect(sum(k).memory, report(k)).toBeLessThanOrEqual(memoryBytes(q[k].memory));
      }
    }
  });
});
