/**
 * Does the rendered output fit, both ways a pod or a volume can be refused on the one node:
 *
 * - the capacity budget (charts-ts/lib/budget.ts): requests of every pod at its peak within 80 % of
 *   the node's allocatable CPU and memory;
 * - each namespace's ResourceQuota (rendered by the namespaces chart from `environments.<env>.quota`):
 *   requests and limits of the same pods, counted the same way, and the volumes its claims request
 *   (`requests.storage`): a CloudNativePG Cluster's storage per instance, a StatefulSet's claim
 *   templates per replica, PersistentVolumeClaims.
 *
 * A quota that is too small fails at the worst moment, not at deploy time: the canary's pods or a
 * restore's volume are simply not created. `npm run synth` refuses output that does not fit either
 * (like a bad config value), and `npm run restore` checks a restore against both before it writes
 * anything. While a restore is configured, releases are frozen (charts-ts/data/recovery.ts).
 */
import type { V1ObjectMeta, V1PersistentVolumeClaim, V1ResourceQuota, V1StatefulSet } from '@kubernetes/client-node';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { appWorkloads } from '../apps/workload-list.ts';
import { releasesFrozen } from '../data/recovery.ts';
import { budgetVerdict, computeBudget, type Budget, type BudgetInput, type BudgetOptions } from './budget.ts';
import { cpuCores, GiB, memoryBytes, MiB } from './quantity.ts';
import { asKind, groupOf, ofKind, type Manifest } from './workloads.ts';

export interface Volume {
  /** `Kind/name` of the object that claims it. */
  readonly owner: string;
  readonly bytes: number;
}

export interface QuotaAmounts {
  readonly 'requests.cpu': number;
  readonly 'requests.memory': number;
  readonly 'limits.cpu': number;
  readonly 'limits.memory': number;
  readonly 'requests.storage': number;
}
export type QuotaKey = keyof QuotaAmounts;
const quotaKeys: QuotaKey[] = ['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory', 'requests.storage'];

export interface QuotaCheck {
  readonly namespace: string;
  /** What the ResourceQuota allows (keys it does not set are absent). */
  readonly hard: Partial<QuotaAmounts>;
  /** What the namespace's pods (at their peak) and volumes need; a limit is Infinity when a pod has none. */
  readonly used: QuotaAmounts;
  readonly volumes: Volume[];
  readonly problems: string[];
}

export interface Capacity {
  readonly budget: Budget;
  readonly quotas: QuotaCheck[];
  /** One line per problem, with the numbers; empty when everything fits. */
  readonly problems: string[];
}

/** The fields of a CloudNativePG Cluster that claim volumes (JSON; the sizes are quantities). */
interface CnpgClusterVolumes {
  readonly spec?: { readonly instances?: number; readonly storage?: { readonly size?: string }; readonly walStorage?: { readonly size?: string } };
}

const bytesOf = (q: unknown): number => (q === undefined || q === null ? 0 : memoryBytes(String(q)));

/** The volumes an object will claim, each counted once per replica/instance. */
export function volumesOf(o: Manifest | undefined): Volume[] {
  const owner = `${o?.kind}/${o?.metadata?.name}`;
  const cluster = asKind<CnpgClusterVolumes>(o, 'postgresql.cnpg.io', 'Cluster');
  if (cluster) {
    const instances = cluster.spec?.instances ?? 1;
    const each = bytesOf(cluster.spec?.storage?.size) + bytesOf(cluster.spec?.walStorage?.size);
    return Array.from({ length: instances }, () => ({ owner, bytes: each }));
  }
  const statefulSet = ofKind<V1StatefulSet>(o, 'StatefulSet');
  if (statefulSet) {
    const replicas = statefulSet.spec?.replicas ?? 1;
    const each = (statefulSet.spec?.volumeClaimTemplates ?? []).reduce((s, t) => s + bytesOf(t?.spec?.resources?.requests?.storage), 0);
    return each ? Array.from({ length: replicas }, () => ({ owner, bytes: each })) : [];
  }
  const claim = ofKind<V1PersistentVolumeClaim>(o, 'PersistentVolumeClaim');
  if (claim) return [{ owner, bytes: bytesOf(claim.spec?.resources?.requests?.storage) }];
  return [];
}

const gi = (bytes: number): string => {
  if (bytes === Infinity) return 'unlimited';
  const g = bytes / GiB;
  return Number.isInteger(g) ? `${g}Gi` : g >= 1 ? `${g.toFixed(2)}Gi` : `${Math.round(bytes / MiB)}Mi`;
};
const cores = (c: number): string => (c === Infinity ? 'unlimited' : Number.isInteger(c) ? `${c}` : `${Math.round(c * 1000)}m`);
export const quotaText = (key: QuotaKey, v: number): string => (key.endsWith('.cpu') ? cores(v) : gi(v));

/** The config field each quota key comes from. */
const quotaField: Record<QuotaKey, string> = {
  'requests.cpu': 'quota.requests.cpu',
  'requests.memory': 'quota.requests.memory',
  'limits.cpu': 'quota.limits.cpu',
  'limits.memory': 'quota.limits.memory',
  'requests.storage': 'quota.pvcStorage',
};

type NamespacedQuota = Manifest & V1ResourceQuota & { readonly metadata: V1ObjectMeta & { readonly namespace: string } };

/** Every namespace with a ResourceQuota, against the budget's pods (same counting) and the claimed volumes. */
export function quotaChecks(objects: readonly BudgetInput[], budget: Budget, config?: Config): QuotaCheck[] {
  const quotas = objects.map((x) => ofKind<V1ResourceQuota>(x.object, 'ResourceQuota')).filter((o): o is NamespacedQuota => !!o?.metadata?.namespace);
  return quotas.map((q) => {
    const namespace: string = q.metadata.namespace;
    const hard: Partial<Record<QuotaKey, number>> = {};
    for (const k of quotaKeys) {
      const v = q.spec?.hard?.[k];
      if (v !== undefined) hard[k] = k.endsWith('.cpu') ? cpuCores(String(v)) : memoryBytes(String(v));
    }
    const lines = budget.lines.filter((l) => l.workload.split('/').length === 3 && l.workload.split('/')[1] === namespace);
    const sum = (f: (l: (typeof lines)[number]) => number) => lines.reduce((s, l) => s + f(l) * l.replicas, 0);
    const volumes = objects.map((x) => x.object).filter((o) => o?.metadata?.namespace === namespace).flatMap(volumesOf);
    const used: QuotaAmounts = {
      'requests.cpu': sum((l) => l.requests.cpu),
      'requests.memory': sum((l) => l.requests.memory),
      'limits.cpu': sum((l) => l.limits.cpu),
      'limits.memory': sum((l) => l.limits.memory),
      'requests.storage': volumes.reduce((s, v) => s + v.bytes, 0),
    };
    const env = config && Object.values(config.environments).find((e) => e.namespace === namespace);
    const problems: string[] = [];
    for (const k of quotaKeys) {
      const allowed = hard[k];
      if (allowed === undefined || used[k] <= allowed + 1e-9) continue;
      const what = k === 'requests.storage'
        ? `volumes need ${gi(used[k])} (${[...volumes].sort((a, b) => a.owner.localeCompare(b.owner)).map((v) => `${v.owner} ${gi(v.bytes)}`).join(', ')})`
        : `pods need ${quotaText(k, used[k])}${budget.releasesFrozen ? ' (releases frozen)' : ' (HPA maxima, canary pods, jobs)'}`;
      const field = env ? ` (environments.${env.name}.${quotaField[k]})` : '';
      problems.push(`quota: ${namespace} ${k}: ${what}, the ResourceQuota allows ${quotaText(k, allowed)}${field}`);
    }
    return { namespace, hard, used, volumes, problems };
  });
}

/** Kinds whose pods keep running (not Jobs): each one in an app namespace must be in the workload list. */
const longRunning = new Set(['apps/Deployment', 'apps/StatefulSet', 'apps/DaemonSet', 'apps/ReplicaSet', 'argoproj.io/Rollout']);

/**
 * Every long-running workload rendered into an app namespace is in that environment's workload list
 * (charts-ts/apps/workload-list.ts), which the connection budget and the shared services' policies
 * read; one made by hand in a chart would be missed by both, so the build refuses it.
 */
export function unlistedWorkloads(objects: readonly BudgetInput[], config: Config): string[] {
  return Object.values(config.environments).flatMap((env) => {
    const listed = new Set<string | undefined>(appWorkloads(env).map((w) => w.name));
    return objects.map((x) => x.object)
      .filter((o) => o?.metadata?.namespace === env.namespace && longRunning.has(`${groupOf(String(o.apiVersion ?? ''))}/${o.kind}`) && !listed.has(o.metadata?.name))
      .map((o) => `workloads: ${o.kind}/${env.namespace}/${o.metadata?.name} is not in the workload list of environments.${env.name} (charts-ts/apps/workload-list.ts): `
        + 'the connection budget and the shared services\' network policies would not know it; make it a workers entry or add it to appWorkloads');
  });
}

/**
 * The budget and the quotas of rendered output, counted with releases frozen while a side-by-side
 * restore is configured (`options` overrides that, for comparisons).
 */
export function computeCapacity(objects: readonly BudgetInput[], config: Config, options: BudgetOptions = {}): Capacity {
  const budget = computeBudget(objects, config.cluster, { releasesFrozen: options.releasesFrozen ?? releasesFrozen(config) });
  const quotas = quotaChecks(objects, budget, config);
  const problems = [
    ...budget.errors.map((e) => `capacity: ${e}`),
    ...(budget.fits ? [] : [`capacity: ${budgetVerdict(budget).replace(/^budget: /, '')}`]),
    ...quotas.flatMap((q) => q.problems),
    ...unlistedWorkloads(objects, config),
  ];
  return { budget, quotas, problems };
}

/** For `npm run synth`: a ConfigError naming every problem (nothing is written then). */
export function assertCapacity(objects: readonly BudgetInput[], config: Config): Capacity {
  const c = computeCapacity(objects, config);
  if (c.problems.length) throw new ConfigError(c.problems.map((p) => `${p} (npm run budget shows every workload)`));
  return c;
}

/** One line per namespace quota: used of allowed for each key. */
export function formatQuota(q: QuotaCheck): string {
  const parts = quotaKeys.filter((k) => q.hard[k] !== undefined).map((k) => `${k} ${quotaText(k, q.used[k])} of ${quotaText(k, q.hard[k]!)}`);
  return `${q.namespace}: ${parts.join(', ')}`;
}
