/**
 * Checks for the Flux layer graph and for what each layer applies. Pure functions over plain data, so
 * the tests can feed them the rendered output (and broken variants of it).
 *
 * - checkLayerGraph: every dependsOn names a layer, no layer depends on itself, no cycles.
 * - checkPlacement: every object can be applied when its layer runs: its namespace is created by the
 *   same layer or one it depends on (or exists before Flux), the CRDs of its API group are installed
 *   by a layer it depends on (strictly earlier: a HelmRelease installs CRDs only after it is applied),
 *   and every Secret it references that the repository provides is applied no later than it.
 */
import { providesApiGroupsAnnotation } from '../lib/helm-release.ts';

export interface LayerNode {
  readonly name: string;
  readonly dependsOn: readonly string[];
}

/** A rendered Kubernetes object as JSON: the fields placement reads, the rest unknown. */
export interface ManifestJson {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly annotations?: Record<string, string> };
  readonly [field: string]: unknown;
}

export interface PlacedObject {
  /** Name of the layer (Flux Kustomization) that applies it. */
  readonly layer: string;
  readonly object: ManifestJson;
}

export interface PlacementOptions {
  /** Namespaces that exist before any layer runs (k3s, flux bootstrap). */
  readonly preexistingNamespaces: readonly string[];
  /** API groups served before any layer runs (Kubernetes built-ins, k3s, Flux). */
  readonly isPreinstalledGroup: (group: string) => boolean;
}

/** Problems with the graph itself (empty when it is a DAG over known layers). */
export function checkLayerGraph(nodes: readonly LayerNode[]): string[] {
  const problems: string[] = [];
  const byName = new Map<string, LayerNode>();
  for (const n of nodes) {
    if (byName.has(n.name)) problems.push(`layer ${n.name} is defined twice`);
    byName.set(n.name, n);
  }
  for (const n of nodes) {
    for (const d of n.dependsOn) {
      if (d === n.name) problems.push(`layer ${n.name} depends on itself`);
      else if (!byName.has(d)) problems.push(`layer ${n.name} depends on ${d}, which no layer defines; add that layer or fix the name`);
    }
  }
  // Depth-first search with an explicit path, reporting each cycle once.
  const state = new Map<string, 'visiting' | 'done'>();
  const seen = new Set<string>();
  const visit = (name: string, path: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      const key = [...cycle.slice(0, -1)].sort().join(',');
      if (!seen.has(key)) problems.push(`dependency cycle: ${cycle.join(' -> ')}; no layer in it can ever become ready`);
      seen.add(key);
      return;
    }
    state.set(name, 'visiting');
    for (const d of byName.get(name)?.dependsOn ?? []) if (byName.has(d) && d !== name) visit(d, [...path, name]);
    state.set(name, 'done');
  };
  for (const n of nodes) visit(n.name, []);
  return problems;
}

/** Every layer `name` waits for, directly or through others. */
export function ancestors(nodes: readonly LayerNode[], name: string): Set<string> {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const out = new Set<string>();
  const stack = [...(byName.get(name)?.dependsOn ?? [])];
  while (stack.length) {
    const d = stack.pop()!;
    if (out.has(d)) continue;
    out.add(d);
    stack.push(...(byName.get(d)?.dependsOn ?? []));
  }
  return out;
}

/** The order Flux can apply the layers in (dependencies first; ties by name). Throws on a bad graph. */
export function layerOrder(nodes: readonly LayerNode[]): string[] {
  const problems = checkLayerGraph(nodes);
  if (problems.length) throw new Error(`invalid layer graph:\n${problems.join('\n')}`);
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < nodes.length) {
    const ready = nodes.filter((n) => !done.has(n.name) && n.dependsOn.every((d) => done.has(d))).map((n) => n.name).sort();
    for (const r of ready) { done.add(r); order.push(r); }
  }
  return order;
}

const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');
const describe = (o: ManifestJson): string => `${o?.kind} ${o?.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o?.metadata?.name}`;

/** Names of Secrets an object refers to: `*secret*` fields (string, {name}, lists) and {kind: Secret, name} references. */
export function secretReferences(object: ManifestJson): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, key: string) => {
    if (Array.isArray(v)) {
      for (const item of v) walk(item, key);
      return;
    }
    const isSecretKey = /secret/i.test(key);
    if (typeof v === 'string') {
      if (isSecretKey) out.add(v);
      return;
    }
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ((isSecretKey || o.kind === 'Secret') && typeof o.name === 'string') out.add(o.name);
      for (const [k, child] of Object.entries(v)) walk(child, k);
    }
  };
  walk(object?.spec ?? {}, '');
  for (const k of ['data', 'stringData']) if (object.kind !== 'Secret') walk(object[k] ?? {}, '');
  return [...out];
}

/** Problems with where objects are applied (empty when every object can be applied in order). */
export function checkPlacement(nodes: readonly LayerNode[], objects: readonly PlacedObject[], opts: PlacementOptions): string[] {
  const problems: string[] = [];
  const layerNames = new Set(nodes.map((n) => n.name));
  const before = new Map(nodes.map((n) => [n.name, ancestors(nodes, n.name)]));
  const availableIn = (provider: string, consumer: string, allowSame: boolean) =>
    (allowSame && provider === consumer) || (before.get(consumer)?.has(provider) ?? false);

  const namespaceLayer = new Map<string, string>();
  const groupLayer = new Map<string, string>();
  const secretLayer = new Map<string, string>(); // "ns/name" -> layer
  for (const { layer, object } of objects) {
    if (!layerNames.has(layer)) problems.push(`${describe(object)} is assigned to layer ${layer}, which does not exist`);
    if (object?.kind === 'Namespace' && groupOf(object.apiVersion) === '') namespaceLayer.set(object.metadata.name, layer);
    if (object?.kind === 'Secret' && groupOf(object.apiVersion) === '') secretLayer.set(`${object.metadata.namespace}/${object.metadata.name}`, layer);
    const provided = object?.metadata?.annotations?.[providesApiGroupsAnnotation];
    if (provided) for (const g of JSON.parse(provided) as string[]) groupLayer.set(g, layer);
  }

  for (const { layer, object } of objects) {
    const what = `${describe(object)} (layer ${layer})`;
    const ns = object?.metadata?.namespace as string | undefined;
    if (ns && !opts.preexistingNamespaces.includes(ns)) {
      const nsLayer = namespaceLayer.get(ns);
      if (!nsLayer) problems.push(`${what} is in namespace ${ns}, which no layer creates`);
      else if (!availableIn(nsLayer, layer, true)) problems.push(`${what} is in namespace ${ns}, created by layer ${nsLayer}, which ${layer} does not depend on`);
    }
    const group = groupOf(String(object?.apiVersion ?? ''));
    if (!opts.isPreinstalledGroup(group)) {
      const provider = groupLayer.get(group);
      if (!provider) problems.push(`${what} uses API group ${group}, whose CRDs no layer installs`);
      else if (!availableIn(provider, layer, false)) {
        problems.push(`${what} uses API group ${group}, whose CRDs are installed by layer ${provider}; it must be in a layer that depends on ${provider}${provider === layer ? ' (not the same one: the CRDs exist only after that layer is applied and healthy)' : ''}`);
      }
    }
    for (const ref of secretReferences(object)) {
      const candidates = ns ? [`${ns}/${ref}`] : [...secretLayer.keys()].filter((k) => k.endsWith(`/${ref}`));
      for (const key of candidates) {
        const sLayer = secretLayer.get(key);
        if (sLayer && !availableIn(sLayer, layer, true)) {
          problems.push(`${what} references Secret ${key}, applied by layer ${sLayer}, which ${layer} does not depend on`);
        }
      }
    }
  }
  return problems;
}
