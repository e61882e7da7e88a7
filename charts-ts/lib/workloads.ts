/**
 * What the rendered output runs: pod templates of native workloads and Argo Rollouts, label
 * selectors, and the kinds that make pods without a pod template. Shared by the capacity budget
 * (`npm run budget`) and the validation harness (test/harness), so both read workloads the same way.
 * Also the type of an output object as JSON (Manifest) and the narrowing by kind its readers use.
 */
import type { KubernetesObject, V1Container, V1ObjectMeta, V1Pod, V1PodSpec, V1PodTemplateSpec } from '@kubernetes/client-node';

/**
 * A Kubernetes object as JSON (rendered by cdk8s, read from dist/ or a CRD file): apiVersion, kind
 * and metadata typed (client-node), every other field unknown until a reader narrows it by kind.
 */
export interface Manifest extends KubernetesObject {
  readonly [field: string]: unknown;
}

/**
 * A Manifest with apiVersion, kind and metadata.name set: every object cdk8s renders
 * (charts-ts/lib/synth.ts), every object of a manifest file the API server accepts.
 */
export interface NamedManifest extends Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: V1ObjectMeta & { readonly name: string };
}

/** A JSON object (or array): its fields can be read, each unknown. */
export const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> => typeof v === 'object' && v !== null;

/** `apiVersion` group ("" for the core group). */
export const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');

/** Whether `o` is `kind` of API `group` ("" for the core group). */
export const isKind = (o: Manifest | undefined, group: string, kind: string): boolean =>
  o?.kind === kind && groupOf(String(o?.apiVersion ?? '')) === group;

/**
 * `o` when it is `kind` of API `group`, else undefined. The kind decides the shape, so the result
 * is typed `T`: that kind's type (client-node for built-in kinds) or the part of it the caller reads.
 */
export const asKind = <T extends object>(o: Manifest | undefined, group: string, kind: string): (Manifest & T) | undefined =>
  (isKind(o, group, kind) ? o as Manifest & T : undefined);

/** `o` when it is `kind`, whatever its API group, else undefined; typed `T` as asKind does. */
export const ofKind = <T extends object>(o: Manifest | undefined, kind: string): (Manifest & T) | undefined =>
  (o?.kind === kind ? o as Manifest & T : undefined);

export interface PodTemplateRef {
  /** Dotted path of the template in the object, e.g. `spec.jobTemplate.spec.template`. */
  readonly path: string;
  readonly metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined;
  readonly spec: V1PodSpec | undefined;
}

/** group/kind -> where its pod template is. */
const templatePaths: Record<string, string[]> = {
  'apps/Deployment': ['spec', 'template'],
  'apps/StatefulSet': ['spec', 'template'],
  'apps/DaemonSet': ['spec', 'template'],
  'apps/ReplicaSet': ['spec', 'template'],
  '/ReplicationController': ['spec', 'template'],
  '/PodTemplate': ['template'],
  'batch/Job': ['spec', 'template'],
  'batch/CronJob': ['spec', 'jobTemplate', 'spec', 'template'],
  'argoproj.io/Rollout': ['spec', 'template'],
};

const key = (o: Manifest | undefined): string => `${groupOf(String(o?.apiVersion ?? ''))}/${o?.kind}`;

/** Kinds that run pods from a template (or are a pod). */
export const isPodTemplateKind = (o: Manifest | undefined): boolean => key(o) in templatePaths || key(o) === '/Pod';

/** The pod template of a workload, or undefined (e.g. a Rollout with `workloadRef`). */
export function podTemplate(o: Manifest | undefined): PodTemplateRef | undefined {
  const pod = asKind<V1Pod>(o, '', 'Pod');
  if (pod) return { path: '', metadata: pod.metadata, spec: pod.spec };
  const path = templatePaths[key(o)];
  if (!path) return undefined;
  const t = path.reduce<unknown>((v, k) => (isRecord(v) ? v[k] : undefined), o);
  if (!isRecord(t)) return undefined;
  // What the kind has at its template path is a pod template.
  const template = t as V1PodTemplateSpec;
  return { path: path.join('.'), metadata: template.metadata, spec: template.spec };
}

export interface ContainerRef {
  /** Dotted path, e.g. `spec.template.spec.initContainers[0]`. */
  readonly path: string;
  readonly container: V1Container;
  readonly init: boolean;
  /** Native sidecar: an init container with restartPolicy Always (runs for the pod's lifetime). */
  readonly sidecar: boolean;
}

export function containersOf(t: PodTemplateRef): ContainerRef[] {
  const base = t.path ? `${t.path}.spec` : 'spec';
  const init = (t.spec?.initContainers ?? []).map((c, i) => ({
    path: `${base}.initContainers[${i}]`, container: c, init: true, sidecar: c?.restartPolicy === 'Always',
  }));
  const main = (t.spec?.containers ?? []).map((c, i) => ({
    path: `${base}.containers[${i}]`, container: c, init: false, sidecar: false,
  }));
  return [...init, ...main];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Kubernetes label selector semantics (an empty selector matches everything). */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const ok = e.operator === 'In' ? has && (e.values ?? []).includes(labels[e.key])
      : e.operator === 'NotIn' ? !has || !(e.values ?? []).includes(labels[e.key])
        : e.operator === 'Exists' ? has
          : e.operator === 'DoesNotExist' ? !has
            : false;
    if (!ok) return false;
  }
  return true;
}

/** A Service's `spec.selector` (plain map) as a label selector. */
export const mapSelector = (m: Record<string, string>): LabelSelector => ({ matchLabels: m });

/** A reference to an analysis template, in a canary step or the background analysis. */
export interface AnalysisTemplateRefJson { readonly templateName: string; readonly [field: string]: unknown }

/** A canary step of an Argo Rollout: the fields read, the rest open. */
export interface RolloutStepJson {
  readonly setWeight?: number;
  readonly setCanaryScale?: { readonly replicas?: number; readonly weight?: number; readonly [field: string]: unknown };
  readonly analysis?: { readonly templates?: readonly AnalysisTemplateRefJson[]; readonly [field: string]: unknown };
  readonly [field: string]: unknown;
}

/** The canary strategy of an Argo Rollout: the fields read, the rest open. */
export interface RolloutCanaryJson {
  readonly trafficRouting?: unknown;
  readonly dynamicStableScale?: boolean;
  /** A number of pods or a percentage ("25%"). */
  readonly maxSurge?: number | string;
  readonly steps?: readonly RolloutStepJson[];
  readonly analysis?: { readonly templates?: readonly AnalysisTemplateRefJson[]; readonly startingStep?: number; readonly [field: string]: unknown };
  readonly [field: string]: unknown;
}

/** The strategy of an Argo Rollout: the fields read, the rest open. */
export interface RolloutStrategyJson {
  readonly blueGreen?: { readonly previewReplicaCount?: number; readonly [field: string]: unknown };
  readonly canary?: RolloutCanaryJson;
  readonly [field: string]: unknown;
}

/**
 * An Argo Rollout as JSON: the fields the budget and the diagrams read, the rest open. (The generated
 * types in charts-ts/imports describe the construct's props: IntOrString fields there are classes.)
 */
export interface RolloutJson {
  readonly spec?: {
    readonly replicas?: number;
    readonly workloadRef?: { readonly kind?: string; readonly name?: string; readonly [field: string]: unknown };
    readonly strategy?: RolloutStrategyJson;
    readonly [field: string]: unknown;
  };
}

/** The field of an (Cluster)AnalysisTemplate that decides whether it runs Jobs. */
interface AnalysisMetrics { readonly spec?: { readonly metrics?: readonly { readonly provider?: { readonly job?: unknown } }[] } }

/** An analysis template with a `job` metric runs Kubernetes Jobs. */
const runsJobs = (o: Manifest): boolean => ((o as Manifest & AnalysisMetrics)?.spec?.metrics ?? []).some((m) => m?.provider?.job);

/**
 * Kinds that make pods although they carry no pod template the budget and the harness can read.
 * Each must declare its pods with the `capacity.lms.dev/footprint` annotation (charts-ts/lib/footprint.ts).
 * `when` narrows kinds that only sometimes make pods.
 */
export const podMakingKinds: { group: string; kind: string; what: string; when?: (o: Manifest) => boolean }[] = [
  { group: 'postgresql.cnpg.io', kind: 'Cluster', what: 'CloudNativePG runs spec.instances PostgreSQL pods' },
  { group: 'postgresql.cnpg.io', kind: 'Pooler', what: 'CloudNativePG runs spec.instances PgBouncer pods' },
  { group: 'helm.toolkit.fluxcd.io', kind: 'HelmRelease', what: 'Flux installs a Helm chart whose pods are not in dist/' },
  { group: 'helm.cattle.io', kind: 'HelmChart', what: 'k3s installs a Helm chart whose pods are not in dist/' },
  { group: 'helm.cattle.io', kind: 'HelmChartConfig', what: 'it sizes a k3s-packaged chart (e.g. the bundled Traefik) whose pods are not in dist/' },
  { group: 'upgrade.cattle.io', kind: 'Plan', what: 'system-upgrade-controller runs upgrade Jobs' },
  { group: 'monitoring.coreos.com', kind: 'Prometheus', what: 'prometheus-operator runs a StatefulSet' },
  { group: 'monitoring.coreos.com', kind: 'PrometheusAgent', what: 'prometheus-operator runs agent pods' },
  { group: 'monitoring.coreos.com', kind: 'Alertmanager', what: 'prometheus-operator runs a StatefulSet' },
  { group: 'monitoring.coreos.com', kind: 'ThanosRuler', what: 'prometheus-operator runs a StatefulSet' },
  { group: 'argoproj.io', kind: 'Experiment', what: 'Argo Rollouts runs the experiment\'s ReplicaSets' },
  {
    group: 'argoproj.io', kind: 'AnalysisTemplate', what: 'its job metrics run Kubernetes Jobs',
    when: runsJobs,
  },
  {
    group: 'argoproj.io', kind: 'ClusterAnalysisTemplate', what: 'its job metrics run Kubernetes Jobs',
    when: runsJobs,
  },
];

export function podMakingKind(o: Manifest): { what: string } | undefined {
  const g = groupOf(String(o?.apiVersion ?? ''));
  return podMakingKinds.find((p) => p.group === g && p.kind === o?.kind && (!p.when || p.when(o)));
}
