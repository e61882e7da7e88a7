/**
 * The capacity budget: do the pods of the whole output fit on the one node?
 *
 * Requests decide scheduling, so requests are what must fit; limits are reported (overcommit) but do
 * not fail the budget. Available for pods = node - k3s reservation (config cluster.reservation:
 * systemReserved + kubeReserved, and evictionHard for memory, exactly what the kubelet subtracts to get
 * the node's allocatable) - headroomPercent of allocatable - the pods k3s itself runs outside dist/.
 * headroomPercent is at least 20 (`minHeadroomPercent`, config cross-checks): requests stay within
 * 80 % of allocatable CPU and memory. `npm run budget` fails above it, and so does `npm run synth`
 * (assertBudget).
 *
 * How each object is counted (the peak that can last, not a momentary blip):
 * - Deployment, StatefulSet, ReplicaSet: an HPA's maxReplicas if one targets it, else spec.replicas (default 1).
 *   A Deployment's rolling-update surge lasts seconds and is left to the headroom.
 * - Argo Rollout: replicas as above (HPA max) plus the canary that can sit at a step for as long as an
 *   analysis or a manual approval takes:
 *   - canary with trafficRouting: the canary ReplicaSet runs ceil(weight% x replicas) pods while the
 *     stable keeps all of its replicas, so the surge is the largest weight the rollout can *stay* at:
 *     every step's weight except a setWeight/setCanaryScale that is the last step (promotion follows
 *     at once; that moment is covered by the headroom). setCanaryScale {replicas|weight} overrides.
 *   - canary with trafficRouting and dynamicStableScale: the stable shrinks as the canary grows; 1 pod
 *     of rounding.
 *   - canary without trafficRouting: maxSurge (default 25%, rounded up).
 *   - blueGreen: the preview ReplicaSet, previewReplicaCount (default: all replicas).
 * - DaemonSet, Pod: 1 (one node). Job: spec.parallelism (default 1); CronJob: its job's parallelism; each once.
 * - An object with the `capacity.lms.dev/footprint` annotation counts by the annotation (it wins over a
 *   pod template). An object that makes pods without a pod template (HelmRelease, CNPG Cluster or
 *   Pooler, ... see podMakingKinds) and without the annotation is an error: declare its footprint.
 * - Analysis Jobs of one Rollout that never run together (a step's Jobs vs another step's, Jobs before
 *   the background analysis's startingStep vs the background's): the step with the most
 *   (sequenceAnalysisJobs).
 * - Releases frozen (`releasesFrozen`: a restore is configured, and its steps suspend the apps' Flux
 *   layers, so no release starts): Rollouts count their HPA maximum without a canary, and the
 *   analysis templates' Jobs (the migration) are not counted. charts-ts/data/recovery.ts decides.
 */
import type { V1Container, V1CronJob, V1Job, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { ConfigError } from '../config/load.ts';
import type { Cluster } from '../config/schema.ts';
import { footprintAnnotation, PodFootprint } from './footprint.ts';
import { cpuCores, GiB, memoryBytes, MiB } from './quantity.ts';
import {
  asKind, containersOf, groupOf, isKind, podMakingKind, podTemplate, type Manifest, type PodTemplateRef, type RolloutCanaryJson, type RolloutJson,
  type RolloutStepJson, type RolloutStrategyJson,
} from './workloads.ts';

export interface BudgetInput {
  /** dist/-relative file of the object. */
  readonly file: string;
  readonly object: Manifest;
}

/** CPU in cores, memory in bytes; a limit is Infinity when some container has none. */
export interface Amount { readonly cpu: number; readonly memory: number }

export interface BudgetLine {
  readonly file: string;
  /** `Kind/namespace/name`. */
  readonly workload: string;
  /** What runs: the pod (or, for a footprint, the name it declares). */
  readonly pod: string;
  readonly replicas: number;
  /** How replicas were counted. */
  readonly rule: string;
  /** Per pod. */
  readonly requests: Amount;
  readonly limits: Amount;
}

export interface Budget {
  readonly lines: BudgetLine[];
  /** Objects that make pods the budget cannot see: each needs a footprint annotation. */
  readonly errors: string[];
  readonly node: Amount;
  /** systemReserved + kubeReserved (+ evictionHard memory). */
  readonly reserved: Amount;
  readonly allocatable: Amount;
  readonly headroom: Amount;
  /** cluster.reservation.headroomPercent: the share of allocatable kept free of requests. */
  readonly headroomPercent: number;
  /** allocatable - headroom: what requests must stay within. */
  readonly available: Amount;
  readonly requests: Amount;
  /** Sum of the limits that are set; `unlimited` counts pods without a CPU or memory limit. */
  readonly limits: Amount;
  readonly unlimited: { cpu: number; memory: number };
  readonly fits: boolean;
  /** Counted with releases frozen (no canary pods, no migration Jobs). */
  readonly releasesFrozen: boolean;
}

export interface BudgetOptions {
  /** No release can start (a restore suspended the apps' Flux layers): no canary pods or analysis Jobs. */
  readonly releasesFrozen?: boolean;
}

/** Objects whose pods exist only while a release runs (the migration Job of an analysis). */
const releaseOnlyKinds = new Set(['argoproj.io/AnalysisTemplate', 'argoproj.io/ClusterAnalysisTemplate']);

/**
 * Pods k3s runs itself (not in dist/), with the requests of their k3s manifests. The bundled Traefik
 * is sized by the platform's HelmChartConfig and counted by that object's footprint annotation.
 */
export const k3sPackagedPods: (PodFootprint & { source: string })[] = [
  {
    name: 'coredns (k3s)', replicas: 1,
    requests: { cpu: '100m', memory: '70Mi' }, limits: { cpu: '0', memory: '170Mi' },
    source: 'https://github.com/k3s-io/k3s/blob/master/manifests/coredns.yaml',
  },
  {
    name: 'metrics-server (k3s)', replicas: 1,
    requests: { cpu: '100m', memory: '70Mi' }, limits: { cpu: '0', memory: '0' },
    source: 'https://github.com/k3s-io/k3s/blob/master/manifests/metrics-server/metrics-server-deployment.yaml',
  },
];

const refOf = (o: Manifest): string => `${o?.kind}/${o?.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o?.metadata?.name}`;
const add = (a: Amount, b: Amount, times = 1): Amount => ({ cpu: a.cpu + b.cpu * times, memory: a.memory + b.memory * times });
const zero: Amount = { cpu: 0, memory: 0 };

function quantity(v: unknown, parse: (q: string) => number): number {
  return v === undefined || v === null ? NaN : parse(String(v));
}

/** Requests or limits of one container; a missing limit is Infinity, a missing request 0. */
function containerAmount(c: V1Container, kind: 'requests' | 'limits'): Amount {
  const r: Readonly<Record<string, unknown>> = c?.resources?.[kind] ?? {};
  const missing = kind === 'limits' ? Infinity : 0;
  const cpu = quantity(r.cpu, cpuCores);
  const memory = quantity(r.memory, memoryBytes);
  return { cpu: Number.isNaN(cpu) ? missing : cpu, memory: Number.isNaN(memory) ? missing : memory };
}

/**
 * Effective pod amount as the scheduler computes it: the larger of (all app containers + native
 * sidecars) and (each init container + the sidecars started before it).
 */
export function podAmount(t: PodTemplateRef, kind: 'requests' | 'limits'): Amount {
  let sidecars = zero;
  let init = zero;
  let main = zero;
  for (const c of containersOf(t)) {
    const a = containerAmount(c.container, kind);
    if (c.sidecar) sidecars = add(sidecars, a);
    else if (c.init) init = { cpu: Math.max(init.cpu, a.cpu + sidecars.cpu), memory: Math.max(init.memory, a.memory + sidecars.memory) };
    else main = add(main, a);
  }
  const running = add(main, sidecars);
  return { cpu: Math.max(running.cpu, init.cpu), memory: Math.max(running.memory, init.memory) };
}

const scaledUp = (v: number | string | undefined, total: number, fallback: string): number => {
  const s = String(v ?? fallback);
  return s.endsWith('%') ? Math.ceil((Number(s.slice(0, -1)) / 100) * total) : Number(s);
};

/** Extra pods a Rollout can hold during an update (see the module comment). */
export function rolloutSurge(rollout: RolloutJson, replicas: number): { surge: number; rule: string } {
  const strategy: RolloutStrategyJson = rollout?.spec?.strategy ?? {};
  if (strategy.blueGreen) {
    const preview = strategy.blueGreen.previewReplicaCount ?? replicas;
    return { surge: preview, rule: `blue-green preview ${preview}` };
  }
  const canary: RolloutCanaryJson = strategy.canary ?? {};
  if (!canary.trafficRouting) {
    const surge = scaledUp(canary.maxSurge, replicas, '25%');
    return { surge, rule: `canary maxSurge ${canary.maxSurge ?? '25%'}` };
  }
  if (canary.dynamicStableScale) return { surge: 1, rule: 'canary, dynamicStableScale' };
  const steps: readonly RolloutStepJson[] = canary.steps ?? [];
  let weight = 0;
  let override: number | undefined;
  let largest = 0;
  let at = 0;
  steps.forEach((step, i) => {
    if (step.setWeight !== undefined) weight = step.setWeight;
    if (step.setCanaryScale) {
      const s = step.setCanaryScale;
      override = s.replicas ?? (s.weight !== undefined ? Math.ceil((s.weight / 100) * replicas) : undefined);
    }
    const transient = i === steps.length - 1 && (step.setWeight !== undefined || step.setCanaryScale);
    if (transient) return;
    const size = override ?? Math.ceil((weight / 100) * replicas);
    if (size >= largest) { largest = size; at = weight; }
  });
  return { surge: largest, rule: `canary holds ${largest} at ${at}%` };
}

function hpaMax(o: Manifest, objects: readonly BudgetInput[]): number | undefined {
  const hpa = objects.map((x) => asKind<V2HorizontalPodAutoscaler>(x.object, 'autoscaling', 'HorizontalPodAutoscaler'))
    .find((h) => h && h.metadata?.namespace === o.metadata?.namespace
      && h.spec?.scaleTargetRef?.kind === o.kind && h.spec?.scaleTargetRef?.name === o.metadata?.name);
  return hpa?.spec?.maxReplicas;
}

/** What replicasOf reads off the other kinds with a pod template (Deployment, StatefulSet, ReplicaSet, ReplicationController, Rollout). */
interface Replicated { readonly spec?: { readonly replicas?: number } }

function replicasOf(o: Manifest, objects: readonly BudgetInput[], frozen: boolean): { replicas: number; rule: string } {
  if (isKind(o, 'apps', 'DaemonSet')) return { replicas: 1, rule: 'one node' };
  if (o.kind === 'Pod') return { replicas: 1, rule: 'pod' };
  const job = asKind<V1Job>(o, 'batch', 'Job');
  if (job) return { replicas: job.spec?.parallelism ?? 1, rule: 'job, once' };
  const cronJob = asKind<V1CronJob>(o, 'batch', 'CronJob');
  if (cronJob) return { replicas: cronJob.spec?.jobTemplate?.spec?.parallelism ?? 1, rule: 'cron job, once' };
  const max = hpaMax(o, objects);
  const base = max ?? (o as Manifest & Replicated).spec?.replicas ?? 1;
  const baseRule = max !== undefined ? `HPA max ${max}` : `replicas ${base}`;
  const rollout = asKind<RolloutJson>(o, 'argoproj.io', 'Rollout');
  if (rollout) {
    if (frozen) return { replicas: base, rule: `${baseRule}, releases frozen (no canary)` };
    const { surge, rule } = rolloutSurge(rollout, base);
    return { replicas: base + surge, rule: `${baseRule} + ${rule}` };
  }
  return { replicas: base, rule: baseRule };
}

/** A Rollout with workloadRef runs the referenced Deployment's template. */
function templateOf(o: Manifest, objects: readonly BudgetInput[]): PodTemplateRef | undefined {
  const t = podTemplate(o);
  const rollout = asKind<RolloutJson>(o, 'argoproj.io', 'Rollout');
  if (t || !rollout || !rollout.spec?.workloadRef) return t;
  const ref = rollout.spec.workloadRef;
  const target = objects.find((x) => x.object?.kind === ref.kind && x.object?.metadata?.name === ref.name
    && x.object?.metadata?.namespace === o.metadata?.namespace);
  return target ? podTemplate(target.object) : undefined;
}

const footprintAmount = (p: PodFootprint, kind: 'requests' | 'limits'): Amount =>
  ({ cpu: cpuCores(p[kind].cpu), memory: memoryBytes(p[kind].memory) });

/** Limits of a k3s pod: "0" in k3sPackagedPods means the manifest sets none. */
const packagedLimit = (p: PodFootprint): Amount => {
  const a = footprintAmount(p, 'limits');
  return { cpu: a.cpu || Infinity, memory: a.memory || Infinity };
};

/**
 * Analysis Jobs of one Rollout that never run at the same time count once, at their peak. A
 * Rollout's steps run one after another, so the Jobs of one step's analysis (the migration, step 0)
 * never meet another step's; its background analysis (the guard and its probe Job) runs from
 * `startingStep` on, next to every later step. The budget counts the step with the most, when it
 * has at least as much CPU and memory as every other step; the templates not running then are
 * counted 0 times, with the reason. Otherwise, or for a template several Rollouts use, each counts once.
 */
function sequenceAnalysisJobs(objects: readonly BudgetInput[], lines: BudgetLine[]): void {
  const templateLines = (ns: string | undefined, name: string) => lines.filter((l) => l.workload === `AnalysisTemplate/${ns}/${name}`);
  const users = new Map<string, number>();
  const rollouts = objects.map((x) => asKind<RolloutJson>(x.object, 'argoproj.io', 'Rollout')).filter((o) => o !== undefined);
  const referenced = (o: RolloutJson): string[] => {
    const c: RolloutCanaryJson = o.spec?.strategy?.canary ?? {};
    return [...(c.steps ?? []).flatMap((st) => (st.analysis?.templates ?? []).map((t) => t.templateName)), ...(c.analysis?.templates ?? []).map((t) => t.templateName)];
  };
  for (const o of rollouts) for (const n of new Set(referenced(o))) users.set(`${o.metadata?.namespace}/${n}`, (users.get(`${o.metadata?.namespace}/${n}`) ?? 0) + 1);
  for (const o of rollouts) {
    const ns = o.metadata?.namespace;
    const c = o.spec?.strategy?.canary;
    if (!c?.steps?.length) continue;
    const own = (n: string) => users.get(`${ns}/${n}`) === 1 && templateLines(ns, n).length > 0;
    const background: string[] = (c.analysis?.templates ?? []).map((t) => t.templateName).filter(own);
    const starting: number = c.analysis?.startingStep ?? 0;
    const atStep = c.steps.map((st, i) => [
      ...(st.analysis?.templates ?? []).map((t) => t.templateName).filter(own),
      ...(i >= starting ? background : []),
    ] as string[]);
    const amount = (names_: string[]) => names_.flatMap((n) => templateLines(ns, n)).reduce((a, l) => add(a, l.requests, l.replicas), zero);
    const amounts = atStep.map(amount);
    let peak = 0;
    amounts.forEach((a, i) => { if (a.memory > amounts[peak].memory || (a.memory === amounts[peak].memory && a.cpu > amounts[peak].cpu)) peak = i; });
    if (!amounts.every((a) => a.cpu <= amounts[peak].cpu && a.memory <= amounts[peak].memory)) continue;
    const running = new Set(atStep[peak]);
    for (const n of new Set(atStep.flat())) {
      if (running.has(n)) continue;
      for (const l of templateLines(ns, n)) {
        const i = lines.indexOf(l);
        lines[i] = { ...l, replicas: 0, rule: `never with step ${peak} of Rollout ${o.metadata?.name} (${[...running].join(', ')})` };
      }
    }
  }
}

export function computeBudget(objects: readonly BudgetInput[], cluster: Cluster, options: BudgetOptions = {}): Budget {
  const frozen = options.releasesFrozen ?? false;
  const lines: BudgetLine[] = [];
  const errors: string[] = [];
  for (const { file, object: o } of objects) {
    if (frozen && releaseOnlyKinds.has(`${groupOf(String(o?.apiVersion ?? ''))}/${o?.kind}`)) continue;
    const annotation = o?.metadata?.annotations?.[footprintAnnotation];
    if (annotation !== undefined) {
      let pods: PodFootprint[];
      try {
        pods = PodFootprint.array().parse(JSON.parse(annotation));
      } catch (e) {
        errors.push(`${file} ${refOf(o)}: annotation ${footprintAnnotation} is not a valid footprint (${(e as Error).message.split('\n')[0]}); build it with footprintValue() from charts-ts/lib/footprint.ts`);
        continue;
      }
      for (const p of pods) {
        lines.push({
          file, workload: refOf(o), pod: p.name, replicas: p.replicas, rule: 'footprint annotation',
          requests: footprintAmount(p, 'requests'), limits: footprintAmount(p, 'limits'),
        });
      }
      continue;
    }
    if (o?.kind === 'PodTemplate') continue; // a template nothing runs by itself
    const t = templateOf(o, objects);
    if (t) {
      const { replicas, rule } = replicasOf(o, objects, frozen);
      // metadata.name: every object the API accepts has one.
      lines.push({ file, workload: refOf(o), pod: t.metadata?.labels?.['app.kubernetes.io/name'] ?? o.metadata?.name as string, replicas, rule, requests: podAmount(t, 'requests'), limits: podAmount(t, 'limits') });
      continue;
    }
    const maker = podMakingKind(o);
    if (maker || isKind(o, 'argoproj.io', 'Rollout')) {
      errors.push(`${file} ${refOf(o)}: makes pods the budget cannot see (${maker?.what ?? 'Rollout without a template it can resolve'}); `
        + `declare them with the ${footprintAnnotation} annotation (footprintValue() in charts-ts/lib/footprint.ts), with the same requests and limits the pods get`);
    }
  }
  sequenceAnalysisJobs(objects, lines);
  for (const p of k3sPackagedPods) {
    lines.push({ file: '(k3s)', workload: 'k3s packaged', pod: p.name, replicas: p.replicas, rule: 'k3s manifest', requests: footprintAmount(p, 'requests'), limits: packagedLimit(p) });
  }

  const r = cluster.reservation;
  const node: Amount = { cpu: cluster.node.cpu, memory: cluster.node.memoryGiB * GiB };
  const reserved: Amount = {
    cpu: cpuCores(r.systemReserved.cpu) + cpuCores(r.kubeReserved.cpu),
    memory: memoryBytes(r.systemReserved.memory) + memoryBytes(r.kubeReserved.memory) + memoryBytes(r.evictionHardMemory),
  };
  const allocatable: Amount = { cpu: node.cpu - reserved.cpu, memory: node.memory - reserved.memory };
  const headroom: Amount = { cpu: allocatable.cpu * r.headroomPercent / 100, memory: allocatable.memory * r.headroomPercent / 100 };
  const available: Amount = { cpu: allocatable.cpu - headroom.cpu, memory: allocatable.memory - headroom.memory };
  const requests = lines.reduce((s, l) => add(s, l.requests, l.replicas), zero);
  const finite = (v: number) => (Number.isFinite(v) ? v : 0);
  const limits = lines.reduce((s, l) => add(s, { cpu: finite(l.limits.cpu), memory: finite(l.limits.memory) }, l.replicas), zero);
  const unlimited = {
    cpu: lines.filter((l) => !Number.isFinite(l.limits.cpu)).reduce((n, l) => n + l.replicas, 0),
    memory: lines.filter((l) => !Number.isFinite(l.limits.memory)).reduce((n, l) => n + l.replicas, 0),
  };
  const eps = 1e-9;
  const fits = requests.cpu <= available.cpu + eps && requests.memory <= available.memory + eps;
  return { lines, errors, node, reserved, allocatable, headroom, headroomPercent: r.headroomPercent, available, requests, limits, unlimited, fits, releasesFrozen: frozen };
}

// ------------------------------------------------------------------ the table

const cpuText = (c: number): string => (c === Infinity ? 'none' : Number.isInteger(c) ? `${c}` : `${Math.round(c * 1000)}m`);
const memText = (m: number): string => (m === Infinity ? 'none' : m >= GiB && m % (GiB / 8) === 0 ? `${m / GiB}Gi` : `${Math.round(m / MiB)}Mi`);
const pct = (part: number, whole: number): string => `${Math.round((part / whole) * 100)}%`;
/** One decimal: 79.8 %, so a figure just under the limit does not read as the limit. */
const pct1 = (part: number, whole: number): string => `${(Math.floor((part / whole) * 1000 + 1e-6) / 10).toFixed(1)} %`;

/** The verdict line: requests as shares of allocatable against the limit. */
export function budgetVerdict(b: Budget): string {
  const limit = 100 - b.headroomPercent;
  const need = `CPU ${cpuText(b.requests.cpu)} = ${pct1(b.requests.cpu, b.allocatable.cpu)} and memory ${memText(b.requests.memory)} = ${pct1(b.requests.memory, b.allocatable.memory)} of allocatable`;
  const what = b.releasesFrozen ? 'HPA maxima, releases frozen for a restore, jobs, k3s\'s pods' : 'HPA maxima, canary pods, jobs, k3s\'s pods';
  if (b.fits) return `budget: OK, requests (${what}) need ${need}, within the ${limit} % limit`;
  return `budget: FAIL, requests (${what}) need ${need}, above the ${limit} % limit `
    + `(${cpuText(b.available.cpu)} CPU, ${memText(b.available.memory)}; cluster.reservation.headroomPercent ${b.headroomPercent}); `
    + 'lower requests or HPA maxima in config, or resize the node';
}

/**
 * The same rule at synth time: a ConfigError (printed as one `config:` line per problem, nothing
 * written) when the rendered objects do not fit or make pods without a declared footprint.
 */
export function assertBudget(objects: readonly BudgetInput[], cluster: Cluster, options: BudgetOptions = {}): void {
  const b = computeBudget(objects, cluster, options);
  const problems = [...b.errors, ...(b.fits ? [] : [budgetVerdict(b)])];
  if (problems.length) throw new ConfigError(problems.map((p) => `capacity: ${p.replace(/^budget: /, '')} (npm run budget shows every workload)`));
}

function table(rows: string[][], right: Set<number>): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

/** The budget as a table: per pod and replica count, then node, reservation and totals. */
export function formatBudget(b: Budget): string {
  const rows = [['workload', 'pod', 'replicas', 'counted as', 'req cpu', 'req mem', 'lim cpu', 'lim mem']];
  for (const l of b.lines) {
    rows.push([l.workload, l.pod, String(l.replicas), l.rule,
      cpuText(l.requests.cpu * l.replicas), memText(l.requests.memory * l.replicas),
      cpuText(l.limits.cpu * l.replicas), memText(l.limits.memory * l.replicas)]);
  }
  const sep = rows[0].map(() => '');
  rows.push(sep);
  const sum = (label: string, a: Amount, note = '') => rows.push([label, '', '', note, cpuText(a.cpu), memText(a.memory), '', '']);
  const plus = (n: number) => (n ? '+' : '');
  rows.push(['total', '', '', '', cpuText(b.requests.cpu), memText(b.requests.memory),
    `${cpuText(b.limits.cpu)}${plus(b.unlimited.cpu)}`, `${memText(b.limits.memory)}${plus(b.unlimited.memory)}`]);
  sum('node', b.node);
  sum('- k3s reservation', b.reserved, 'system+kube reserved, eviction');
  sum('= allocatable', b.allocatable);
  sum('- headroom', b.headroom);
  sum('= available for requests', b.available);
  const out = [table(rows, new Set([2, 4, 5, 6, 7]))];
  out.push('');
  out.push(`requests: CPU ${cpuText(b.requests.cpu)} of ${cpuText(b.available.cpu)} available (${pct1(b.requests.cpu, b.allocatable.cpu)} of allocatable), `
    + `memory ${memText(b.requests.memory)} of ${memText(b.available.memory)} available (${pct1(b.requests.memory, b.allocatable.memory)} of allocatable)`);
  const unbounded = (n: number) => (n ? ` + ${n} pod(s) without a limit` : '');
  out.push(`limits: CPU ${cpuText(b.limits.cpu)}${unbounded(b.unlimited.cpu)}, memory ${memText(b.limits.memory)}${unbounded(b.unlimited.memory)} `
    + `= ${pct(b.limits.memory, b.allocatable.memory)} of allocatable memory (overcommit is allowed; requests are what must fit)`);
  for (const e of b.errors) out.push(`error: ${e}`);
  out.push(budgetVerdict(b));
  return out.join('\n');
}
