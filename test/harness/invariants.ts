/**
 * Whole-output invariants: rules every object in dist/ must keep, beyond its schema. Each problem
 * names the file, the object, the field and the fix. Exceptions live in ./allowances.ts.
 */
import { cpuCores, memoryBytes } from '../../charts-ts/lib/quantity.ts';
import type {
  V2HorizontalPodAutoscalerSpec, V1PodDisruptionBudgetSpec, V1Secret, V1ServiceSpec,
} from '@kubernetes/client-node';
import {
  asKind, containersOf, groupOf, mapSelector, podTemplate, selectorMatches, type LabelSelector, type Manifest, type PodTemplateRef,
} from '../../charts-ts/lib/workloads.ts';
import { externalNamespaces, operatorPodLabels } from './allowances.ts';
import { problem, type OutputObject, type Problem } from './problem.ts';

/** Whether an apiVersion/kind is namespaced (undefined: unknown kind, reported by the schema check). */
export type ScopeOf = (apiVersion: string, kind: string) => boolean | undefined;

const ns = (o: Manifest | undefined): string | undefined => o?.metadata?.namespace;
const name = (o: Manifest | undefined): string | undefined => o?.metadata?.name;
const isKind = (o: Manifest | undefined, group: string, kind: string): boolean => o?.kind === kind && groupOf(String(o?.apiVersion ?? '')) === group;
/** The spec of an object the checks below have narrowed by kind, typed as the fields they read (all optional: the object is unchecked). */
const specOf = <T>(o: Manifest): Partial<T> | undefined => (o as Manifest & { spec?: Partial<T> }).spec;
/** What the checks read from a workload's spec. */
interface WorkloadSpec { replicas: number; selector: LabelSelector }

interface Template { readonly at: OutputObject; readonly template: PodTemplateRef }

/** Pods that can exist in a namespace: pod templates in the output, and pods operators make from CRs. */
interface PodSource {
  readonly at: OutputObject;
  readonly labels: Record<string, string>;
  readonly template?: PodTemplateRef;
}

function podSources(objects: readonly OutputObject[]): Map<string, PodSource[]> {
  const byNs = new Map<string, PodSource[]>();
  const add = (namespace: string | undefined, s: PodSource) => {
    if (!namespace) return;
    byNs.set(namespace, [...(byNs.get(namespace) ?? []), s]);
  };
  for (const at of objects) {
    const t = podTemplate(at.object);
    if (t) add(ns(at.object), { at, labels: t.metadata?.labels ?? {}, template: t });
    const op = operatorPodLabels.find((p) => isKind(at.object, p.group, p.kind));
    if (op) for (const labels of op.labels(at.object)) add(ns(at.object), { at, labels });
  }
  return byNs;
}

// ------------------------------------------------------------------ per-object rules

function uniqueAndLabelled(objects: readonly OutputObject[]): Problem[] {
  const out: Problem[] = [];
  const seen = new Map<string, OutputObject>();
  for (const at of objects) {
    const o = at.object;
    const key = `${groupOf(String(o?.apiVersion ?? ''))}/${o?.kind}/${ns(o) ?? ''}/${name(o)}`;
    const first = seen.get(key);
    if (first) out.push(problem('unique', at, 'metadata.name', `is also defined in ${first.file}; Flux applies one object per kind, namespace and name, so rename one of them`));
    else seen.set(key, at);
    for (const label of ['app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by']) {
      if (!o?.metadata?.labels?.[label]) out.push(problem('labels', at, `metadata.labels["${label}"]`, 'is missing; create the object inside an LmsChart (charts-ts/lib/chart.ts), which sets the app.kubernetes.io labels'));
    }
  }
  return out;
}

function namespaces(objects: readonly OutputObject[], scopeOf: ScopeOf): Problem[] {
  const out: Problem[] = [];
  const existing = new Set([
    ...Object.keys(externalNamespaces),
    ...objects.filter((at) => isKind(at.object, '', 'Namespace')).map((at) => name(at.object)),
  ]);
  for (const at of objects) {
    const o = at.object;
    const namespaced = scopeOf(String(o?.apiVersion), String(o?.kind));
    if (namespaced === undefined) continue;
    const n = ns(o);
    if (namespaced && !n) out.push(problem('namespace', at, 'metadata.namespace', `is missing; ${o.kind} is namespaced and every namespaced object in dist/ names its namespace`));
    else if (namespaced && !existing.has(n!)) {
      out.push(problem('namespace', at, 'metadata.namespace', `"${n}" is not created by dist/ (and is not one of ${Object.keys(externalNamespaces).join(', ')}); add it to charts-ts/lib/namespaces.ts or config, or fix the name`));
    } else if (!namespaced && n) out.push(problem('namespace', at, 'metadata.namespace', `${o.kind} is cluster-scoped; remove metadata.namespace`));
  }
  return out;
}

/**
 * Public CA material: a Secret whose only key is `ca.crt` and whose value is nothing but PEM
 * certificates (Traefik reads client-auth CAs from Secrets only; charts-ts/lib/origin-pull.ts).
 */
export function onlyPublicCaCertificates(o: Pick<V1Secret, 'data' | 'stringData'>): boolean {
  const values: string[] = [
    ...Object.entries<string>(o.stringData ?? {}).map(([k, v]) => (k === 'ca.crt' ? v : '')),
    ...Object.entries<string>(o.data ?? {}).map(([k, v]) => (k === 'ca.crt' ? Buffer.from(v, 'base64').toString('utf8') : '')),
  ];
  return values.length > 0 && values.every((v) => /^(-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?)+$/.test(v));
}

function secrets(objects: readonly OutputObject[]): Problem[] {
  return objects.filter((at) => isKind(at.object, '', 'Secret') && !onlyPublicCaCertificates(asKind<V1Secret>(at.object, '', 'Secret')!)).flatMap((at) => ['data', 'stringData']
    .filter((f) => at.object[f] && Object.keys(at.object[f] as object).length)
    .map((f) => problem('secret-data', at, f, 'dist/ is published to git in plain text: never put secret values in a chart; reference the Secret by name and create it from a SOPS-encrypted file under clusters/ (see docs/secrets.md)')));
}

// ------------------------------------------------------------------ pod rules

function resources(t: Template): Problem[] {
  const out: Problem[] = [];
  for (const c of containersOf(t.template)) {
    const r = c.container?.resources ?? {};
    for (const kind of ['requests', 'limits'] as const) {
      for (const res of ['cpu', 'memory'] as const) {
        if (r[kind]?.[res] === undefined) {
          out.push(problem('resources', t.at, `${c.path}.resources.${kind}.${res}`, `is missing; every container sets CPU and memory requests and limits (size it in config and check \`npm run budget\`)`));
        }
      }
    }
    for (const res of ['cpu', 'memory'] as const) {
      const req = r.requests?.[res];
      const lim = r.limits?.[res];
      if (req === undefined || lim === undefined) continue;
      try {
        const parse = res === 'cpu' ? cpuCores : memoryBytes;
        if (parse(req) > parse(lim)) out.push(problem('resources', t.at, `${c.path}.resources.requests.${res}`, `${req} is above the limit ${lim}; the API server rejects a request greater than its limit`));
      } catch { /* not a quantity: the schema check reports it */ }
    }
  }
  return out;
}

/** Host access is sometimes the point (node agents, the k3s upgrade job): then it needs a reviewed allowance. */
const hostAccess = ' (a workload in a privileged namespace that needs host access gets an entry in test/harness/allowances.ts, with the reason)';

function security(t: Template): Problem[] {
  const out: Problem[] = [];
  const pod: Partial<NonNullable<PodTemplateRef['spec']>> = t.template.spec ?? {};
  const podPath = t.template.path ? `${t.template.path}.spec` : 'spec';
  const podSc = pod.securityContext ?? {};
  for (const f of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (pod[f]) out.push(problem('security', t.at, `${podPath}.${f}`, `shares the node's ${f.slice(4)} namespace; remove it${hostAccess}`));
  }
  (pod.volumes ?? []).forEach((v, i) => {
    if (v?.hostPath) out.push(problem('security', t.at, `${podPath}.volumes[${i}].hostPath`, `mounts a host path; use an emptyDir, ConfigMap, Secret or PVC instead${hostAccess}`));
  });
  if (podSc.runAsUser === 0) out.push(problem('security', t.at, `${podPath}.securityContext.runAsUser`, 'is 0 (root); run as a non-root UID'));
  for (const c of containersOf(t.template)) {
    const sc = c.container?.securityContext ?? {};
    const at = (f: string) => `${c.path}.securityContext.${f}`;
    const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    if (nonRoot !== true) out.push(problem('security', t.at, at('runAsNonRoot'), 'must be true (here or in the pod securityContext) so the kubelet refuses to start the container as root'));
    if (sc.runAsUser === 0) out.push(problem('security', t.at, at('runAsUser'), 'is 0 (root); run as a non-root UID'));
    if (sc.privileged) out.push(problem('security', t.at, at('privileged'), 'a privileged container has full access to the node; remove privileged'));
    if (sc.readOnlyRootFilesystem !== true) out.push(problem('security', t.at, at('readOnlyRootFilesystem'), 'must be true; mount an emptyDir where the process needs to write'));
    if (sc.allowPrivilegeEscalation !== false) out.push(problem('security', t.at, at('allowPrivilegeEscalation'), 'must be false'));
    const drop: string[] = sc.capabilities?.drop ?? [];
    if (!drop.includes('ALL')) out.push(problem('security', t.at, at('capabilities.drop'), 'must include "ALL"'));
    const add: string[] = (sc.capabilities?.add ?? []).filter((cap: string) => cap !== 'NET_BIND_SERVICE');
    if (add.length) out.push(problem('security', t.at, at('capabilities.add'), `adds ${add.join(', ')}; the restricted Pod Security level allows only NET_BIND_SERVICE`));
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
      out.push(problem('security', t.at, at('seccompProfile.type'), `is ${seccomp ? `"${seccomp}"` : 'not set'}; set seccompProfile.type RuntimeDefault (here or in the pod securityContext)`));
    }
    (c.container?.ports ?? []).forEach((p, i) => {
      if (p?.hostPort) out.push(problem('security', t.at, `${c.path}.ports[${i}].hostPort`, 'binds a node port; expose the container through a Service and the ingress instead'));
    });
  }
  return out;
}

function probes(t: Template): Problem[] {
  const out: Problem[] = [];
  for (const c of containersOf(t.template)) {
    if (c.init && !c.sidecar) continue;
    if (!(c.container?.ports ?? []).length) continue;
    for (const probe of ['readinessProbe', 'livenessProbe'] as const) {
      if (!c.container[probe]) out.push(problem('probes', t.at, `${c.path}.${probe}`, `is missing; container "${c.container.name}" serves ports, so it needs a ${probe === 'readinessProbe' ? 'readiness probe (traffic only when ready)' : 'liveness probe (restart when hung)'}`));
    }
  }
  return out;
}

/** `registry/repo:tag@sha256:...` -> tag and digest. */
export function parseImage(image: string): { tag?: string; digest?: string } {
  const [ref, digest] = image.split('@');
  const last = ref.split('/').pop() ?? '';
  const colon = last.indexOf(':');
  return { tag: colon >= 0 ? last.slice(colon + 1) : undefined, digest };
}

function images(t: Template): Problem[] {
  const out: Problem[] = [];
  for (const c of containersOf(t.template)) {
    const image = c.container?.image;
    if (typeof image !== 'string' || !image) {
      out.push(problem('image', t.at, `${c.path}.image`, 'is missing; pin an image by tag and digest'));
      continue;
    }
    const { tag, digest } = parseImage(image);
    if (!tag) out.push(problem('image', t.at, `${c.path}.image`, `"${image}" has no tag; pin a release tag (and its digest), e.g. repo:1.2.3@sha256:...`));
    else if (tag === 'latest') out.push(problem('image', t.at, `${c.path}.image`, `"${image}" uses :latest; pin a release tag (and its digest)`));
    if (digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(digest)) out.push(problem('image', t.at, `${c.path}.image`, `"${image}" has a malformed digest; use @sha256:<64 hex characters>`));
  }
  return out;
}

function workloadSelector(t: Template): Problem[] {
  const o = t.at.object;
  const selector: LabelSelector | undefined = specOf<WorkloadSpec>(o)?.selector;
  // Jobs and CronJobs get their selector from the API server; Pods have none.
  if (!selector || t.template.path === '' || isKind(o, 'batch', 'Job') || isKind(o, 'batch', 'CronJob')) return [];
  if (selectorMatches(selector, t.template.metadata?.labels)) return [];
  return [problem('selector', t.at, 'spec.selector', `does not match the labels of ${t.template.path}.metadata.labels; the API server rejects a workload whose selector does not select its own pods`)];
}

// ------------------------------------------------------------------ references between objects

function services(objects: readonly OutputObject[], pods: Map<string, PodSource[]>): Problem[] {
  const out: Problem[] = [];
  for (const at of objects.filter((x) => isKind(x.object, '', 'Service'))) {
    const spec = specOf<V1ServiceSpec>(at.object) ?? {};
    if (spec.type === 'ExternalName') continue;
    const selector = spec.selector as Record<string, string> | undefined;
    if (!selector || !Object.keys(selector).length) {
      out.push(problem('service-target', at, 'spec.selector', 'is missing; a Service must select the pods of a workload in dist/ (or be listed in test/harness/allowances.ts with the reason)'));
      continue;
    }
    const matches = (pods.get(ns(at.object)!) ?? []).filter((p) => selectorMatches(mapSelector(selector), p.labels));
    if (!matches.length) {
      out.push(problem('service-target', at, 'spec.selector', `${JSON.stringify(selector)} selects no pod template (and no operator-managed pod) in namespace ${ns(at.object)}; fix the selector or the workload's pod labels`));
      continue;
    }
    const templates = matches.filter((m) => m.template);
    (spec.ports ?? []).forEach((p, i) => {
      if (typeof p?.targetPort !== 'string' || !templates.length) return;
      const named = templates.some((m) => containersOf(m.template!).some((c) => (c.container?.ports ?? []).some((cp) => cp?.name === p.targetPort)));
      if (!named) out.push(problem('service-target', at, `spec.ports[${i}].targetPort`, `"${p.targetPort}" is not a named container port of the selected pods (${templates.map((m) => `${m.at.object.kind}/${name(m.at.object)}`).join(', ')})`));
    });
  }
  return out;
}

const scalableKinds = [
  { group: 'apps', kind: 'Deployment' }, { group: 'apps', kind: 'StatefulSet' }, { group: 'apps', kind: 'ReplicaSet' },
  { group: 'argoproj.io', kind: 'Rollout' },
];

function hpas(objects: readonly OutputObject[]): Problem[] {
  const out: Problem[] = [];
  for (const at of objects.filter((x) => isKind(x.object, 'autoscaling', 'HorizontalPodAutoscaler'))) {
    const spec = specOf<V2HorizontalPodAutoscalerSpec>(at.object) ?? {};
    const ref: Partial<NonNullable<typeof spec.scaleTargetRef>> = spec.scaleTargetRef ?? {};
    const target = objects.find((x) => x.object?.kind === ref.kind && name(x.object) === ref.name && ns(x.object) === ns(at.object)
      && groupOf(String(x.object?.apiVersion)) === groupOf(String(ref.apiVersion ?? '')));
    if (!target) {
      out.push(problem('hpa-target', at, 'spec.scaleTargetRef', `${ref.apiVersion}/${ref.kind} ${ref.name} is not in namespace ${ns(at.object)} of the output; point it at an existing Deployment, StatefulSet or Argo Rollout`));
      continue;
    }
    if (!scalableKinds.some((k) => isKind(target.object, k.group, k.kind))) {
      out.push(problem('hpa-target', at, 'spec.scaleTargetRef.kind', `${ref.kind} cannot be scaled by an HPA; target a Deployment, StatefulSet or Argo Rollout`));
    }
    if (specOf<WorkloadSpec>(target.object)?.replicas !== undefined) {
      out.push(problem('hpa-target', target, 'spec.replicas', `is set although HorizontalPodAutoscaler ${name(at.object)} scales it; remove it so Flux does not reset the replica count on every reconcile`));
    }
    if ((spec.minReplicas ?? 1) > spec.maxReplicas!) {
      out.push(problem('hpa-target', at, 'spec.minReplicas', `${spec.minReplicas} is above maxReplicas ${spec.maxReplicas}`));
    }
  }
  return out;
}

/** Replicas a workload normally runs (HPA minimum when autoscaled). */
function normalReplicas(w: OutputObject, objects: readonly OutputObject[]): number {
  const hpa = objects.find((x) => isKind(x.object, 'autoscaling', 'HorizontalPodAutoscaler') && ns(x.object) === ns(w.object)
    && specOf<V2HorizontalPodAutoscalerSpec>(x.object)?.scaleTargetRef?.name === name(w.object) && specOf<V2HorizontalPodAutoscalerSpec>(x.object)?.scaleTargetRef?.kind === w.object.kind);
  if (hpa) return specOf<V2HorizontalPodAutoscalerSpec>(hpa.object)!.minReplicas ?? 1;
  if (isKind(w.object, 'apps', 'DaemonSet')) return 1; // one node
  return specOf<WorkloadSpec>(w.object)?.replicas ?? 1;
}

const scaled = (v: number | string, total: number): number => (typeof v === 'string' && v.endsWith('%')
  ? Math.ceil((Number(v.slice(0, -1)) / 100) * total) : Number(v));

function pdbs(objects: readonly OutputObject[], pods: Map<string, PodSource[]>): Problem[] {
  const out: Problem[] = [];
  for (const at of objects.filter((x) => isKind(x.object, 'policy', 'PodDisruptionBudget'))) {
    const spec = specOf<V1PodDisruptionBudgetSpec>(at.object) ?? {};
    if (!spec.selector) {
      out.push(problem('pdb-target', at, 'spec.selector', 'is missing; a PodDisruptionBudget must select the pods of one workload'));
      continue;
    }
    const matches = (pods.get(ns(at.object)!) ?? []).filter((p) => selectorMatches(spec.selector, p.labels));
    if (!matches.length) {
      out.push(problem('pdb-target', at, 'spec.selector', `selects no pod template (and no operator-managed pod) in namespace ${ns(at.object)}; fix the selector`));
      continue;
    }
    // On one node, a budget that allows no disruption blocks the drain of every k3s upgrade.
    const workloads = [...new Set(matches.filter((m) => m.template).map((m) => m.at))];
    if (workloads.length !== matches.length) continue; // operator pods: replica count unknown here
    const replicas = workloads.reduce((n, w) => n + normalReplicas(w, objects), 0);
    const disruptable = spec.maxUnavailable !== undefined ? scaled(spec.maxUnavailable, replicas)
      : spec.minAvailable !== undefined ? replicas - scaled(spec.minAvailable, replicas) : replicas;
    if (disruptable < 1) {
      out.push(problem('pdb-target', at, spec.maxUnavailable !== undefined ? 'spec.maxUnavailable' : 'spec.minAvailable',
        `allows no disruption with ${replicas} replica(s) of ${workloads.map((w) => `${w.object.kind}/${name(w.object)}`).join(', ')}; the node drain of a k3s upgrade would hang. Use maxUnavailable: 1 or run more replicas`));
    }
  }
  return out;
}

// ------------------------------------------------------------------ all of them

/** Every invariant over the whole output. */
export function checkInvariants(objects: readonly OutputObject[], scopeOf: ScopeOf): Problem[] {
  const templates: Template[] = objects.flatMap((at) => {
    const template = podTemplate(at.object);
    return template ? [{ at, template }] : [];
  });
  const pods = podSources(objects);
  const perTemplate = templates.flatMap((t) => [
    ...resources(t),
    ...security(t),
    ...probes(t),
    ...images(t),
    ...workloadSelector(t),
  ]);
  return [
    ...uniqueAndLabelled(objects),
    ...namespaces(objects, scopeOf),
    ...secrets(objects),
    ...perTemplate,
    ...services(objects, pods),
    ...hpas(objects),
    ...pdbs(objects, pods),
  ];
}
