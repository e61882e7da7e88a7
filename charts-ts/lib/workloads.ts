/**
 * What the rendered output runs: pod templates of native workloads and Argo Rollouts, label
 * selectors, and the kinds that make pods without a pod template. Shared by the capacity budget
 * (`npm run budget`) and the validation harness (test/harness), so both read workloads the same way.
 */

/** `apiVersion` group ("" for the core group). */
export const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');

export interface PodTemplateRef {
  /** Dotted path of the template in the object, e.g. `spec.jobTemplate.spec.template`. */
  readonly path: string;
  readonly metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined;
  readonly spec: any;
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

const key = (o: any): string => `${groupOf(String(o?.apiVersion ?? ''))}/${o?.kind}`;

/** Kinds that run pods from a template (or are a pod). */
export const isPodTemplateKind = (o: any): boolean => key(o) in templatePaths || key(o) === '/Pod';

/** The pod template of a workload, or undefined (e.g. a Rollout with `workloadRef`). */
export function podTemplate(o: any): PodTemplateRef | undefined {
  if (key(o) === '/Pod') return { path: '', metadata: o.metadata, spec: o.spec };
  const path = templatePaths[key(o)];
  if (!path) return undefined;
  const t = path.reduce<any>((v, k) => v?.[k], o);
  if (!t || typeof t !== 'object') return undefined;
  return { path: path.join('.'), metadata: t.metadata, spec: t.spec };
}

export interface ContainerRef {
  /** Dotted path, e.g. `spec.template.spec.initContainers[0]`. */
  readonly path: string;
  readonly container: any;
  readonly init: boolean;
  /** Native sidecar: an init container with restartPolicy Always (runs for the pod's lifetime). */
  readonly sidecar: boolean;
}

export function containersOf(t: PodTemplateRef): ContainerRef[] {
  const base = t.path ? `${t.path}.spec` : 'spec';
  const init = (t.spec?.initContainers ?? []).map((c: any, i: number) => ({
    path: `${base}.initContainers[${i}]`, container: c, init: true, sidecar: c?.restartPolicy === 'Always',
  }));
  const main = (t.spec?.containers ?? []).map((c: any, i: number) => ({
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

/**
 * Kinds that make pods although they carry no pod template the budget and the harness can read.
 * Each must declare its pods with the `capacity.lms.dev/footprint` annotation (charts-ts/lib/footprint.ts).
 * `when` narrows kinds that only sometimes make pods.
 */
export const podMakingKinds: { group: string; kind: string; what: string; when?: (o: any) => boolean }[] = [
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
    when: (o) => (o?.spec?.metrics ?? []).some((m: any) => m?.provider?.job),
  },
  {
    group: 'argoproj.io', kind: 'ClusterAnalysisTemplate', what: 'its job metrics run Kubernetes Jobs',
    when: (o) => (o?.spec?.metrics ?? []).some((m: any) => m?.provider?.job),
  },
];

export function podMakingKind(o: any): { what: string } | undefined {
  const g = groupOf(String(o?.apiVersion ?? ''));
  return podMakingKinds.find((p) => p.group === g && p.kind === o?.kind && (!p.when || p.when(o)));
}
