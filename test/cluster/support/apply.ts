/**
 * Installing the CRDs and applying dist/ the way the cluster gets them: the pinned upstream CRDs
 * (what the HelmReleases install), the chart-only CRDs a controller here needs, and k3s's own
 * helm.cattle.io CRDs; then every Flux layer in order, each in Flux's stages, with server-side
 * apply. Every error and every API warning is collected with the object and file it belongs to.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1CustomResourceDefinition, V1ValidatingAdmissionPolicy } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { crdDir, loadPinnedCrdObjects } from '../../../charts-ts/lib/crds.ts';
import { asset } from './components.ts';
import { fluxLayers, shown, stages, type DistObject, type Layer } from './dist.ts';
import { ApiError, objectRef, type Kube, type KubeObject } from './kube.ts';
import { waitFor } from './processes.ts';

/** The field manager Flux's kustomize-controller applies with. */
export const fluxFieldManager = 'kustomize-controller';

/**
 * CRDs a HelmRelease installs that no chart imports (so they are not in cdk8s.yaml), needed by a
 * controller the cluster tests run: the Argo Rollouts controller waits for its Experiment informer.
 * Read from CRD_DIR like the pinned set and checked against the sha256 recorded here.
 */
const chartOnlyCrds = [{
  name: 'experiment',
  url: 'https://raw.githubusercontent.com/argoproj/argo-rollouts/v1.9.1/manifests/crds/experiment-crd.yaml',
  relPath: 'argo-rollouts/experiment-crd.yaml',
  sha256: '419f87b0f6b1b3bfaf0020d71e2b3fe269e232a344e175d123dadceaa17de7ab',
}];

export function chartOnlyCrdObjects(): KubeObject[] {
  return chartOnlyCrds.flatMap((crd) => {
    const path = join(crdDir(), crd.relPath);
    if (!existsSync(path)) throw new Error(`CRD file ${path} is missing: set CRD_DIR to the folder holding the pinned CRDs (see ../shared/crds/SOURCES.md); it is ${crd.url}`);
    const text = readFileSync(path);
    const got = createHash('sha256').update(text).digest('hex');
    if (got !== crd.sha256) throw new Error(`CRD file ${path}: sha256 ${got} differs from the ${crd.sha256} pinned in test/cluster/support/apply.ts for ${crd.url}`);
    return parseAllDocuments(text.toString('utf8')).map((d) => d.toJS()).filter((o) => o?.kind === 'CustomResourceDefinition');
  });
}

/** The CRDs k3s itself installs (HelmChart, HelmChartConfig), extracted by setup from k3s-io/helm-controller. */
export function k3sCrdObjects(): KubeObject[] {
  const dir = asset('crds');
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()))
    .filter((o) => o?.kind === 'CustomResourceDefinition');
}

export async function installCrds(kube: Kube): Promise<KubeObject[]> {
  return installCrdObjects(kube, [...loadPinnedCrdObjects(), ...chartOnlyCrdObjects(), ...k3sCrdObjects()]);
}

/** Apply CRDs (a warning is an error) and wait until every one is served. */
export async function installCrdObjects(kube: Kube, crds: KubeObject[], fieldManager = 'helm-controller'): Promise<KubeObject[]> {
  await Promise.all(crds.map(async (crd) => {
    const res = await kube.apply(crd, { fieldManager });
    if (res.warnings.length) throw new Error(`installing ${objectRef(crd)} produced warnings: ${res.warnings.join('; ')}`);
  }));
  await waitEstablished(kube, crds);
  return crds;
}

/** Wait until the API server serves every CRD, then refresh discovery. */
async function waitEstablished(kube: Kube, crds: KubeObject[]): Promise<void> {
  await waitFor('every CRD Established', async () => {
    for (const crd of crds) {
      const live = await kube.get<V1CustomResourceDefinition>('apiextensions.k8s.io/v1', 'CustomResourceDefinition', crd.metadata.name);
      if (!live?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return false;
    }
    return true;
  }, { timeoutMs: 60_000 });
  await kube.discover();
}

export interface ApplyProblem {
  readonly layer: string;
  readonly file: string;
  readonly object: string;
  readonly kind: 'error' | 'warning';
  readonly message: string;
}

export interface ApplyResult {
  readonly applied: DistObject[];
  readonly problems: ApplyProblem[];
}

/** Admission policies take effect once the API server's policy informer has type-checked them. */
async function waitForPolicies(kube: Kube, objects: DistObject[]): Promise<void> {
  const policies = objects.filter((o) => o.object.kind === 'ValidatingAdmissionPolicy');
  if (!policies.length) return;
  await waitFor('ValidatingAdmissionPolicies type-checked', async () => {
    for (const p of policies) {
      const live = await kube.get<V1ValidatingAdmissionPolicy>(p.object.apiVersion, p.object.kind, p.object.metadata.name);
      if (!live || live.status?.observedGeneration !== live.metadata.generation) return false;
    }
    return true;
  }, { timeoutMs: 60_000 });
}

/**
 * Objects Flux leaves alone (kustomize-controller docs, "Controlling the apply behavior of objects"):
 * `kustomize.toolkit.fluxcd.io/ssa: Ignore`, and `IfNotPresent` or `reconcile: disabled` once the
 * object exists (e.g. the TraefikService whose weights Argo Rollouts owns).
 */
export async function fluxSkips(kube: Kube, object: KubeObject): Promise<boolean> {
  const a = object.metadata.annotations ?? {};
  const ssa = a['kustomize.toolkit.fluxcd.io/ssa'];
  if (ssa === 'Ignore') return true;
  if (ssa === 'IfNotPresent' || a['kustomize.toolkit.fluxcd.io/reconcile'] === 'disabled') {
    return (await kube.get(object.apiVersion, object.kind, object.metadata.name, object.metadata.namespace)) !== undefined;
  }
  return false;
}

/** Apply one layer in Flux's stages; a CRD in the layer is waited for before the next stage. */
export async function applyLayer(kube: Kube, layer: Layer, opts: { dryRun?: boolean } = {}): Promise<ApplyResult> {
  const problems: ApplyProblem[] = [];
  for (const stage of stages(layer.objects)) {
    for (const { file, object } of stage) {
      if (await fluxSkips(kube, object)) continue;
      try {
        const res = await kube.apply(object, { fieldManager: fluxFieldManager, dryRun: opts.dryRun });
        for (const w of res.warnings) problems.push({ layer: layer.name, file, object: objectRef(object), kind: 'warning', message: w });
      } catch (e) {
        const message = e instanceof ApiError ? e.message : String((e as Error).message ?? e);
        problems.push({ layer: layer.name, file, object: objectRef(object), kind: 'error', message });
        for (const w of e instanceof ApiError ? e.warnings : []) problems.push({ layer: layer.name, file, object: objectRef(object), kind: 'warning', message: w });
      }
    }
    const crds = stage.map((o) => o.object).filter((o) => o.kind === 'CustomResourceDefinition');
    if (crds.length && !opts.dryRun) await waitEstablished(kube, crds);
  }
  if (!opts.dryRun) await waitForPolicies(kube, layer.objects);
  return { applied: layer.objects, problems };
}

/** Apply every layer of dist/ in Flux order. */
export async function applyDist(kube: Kube, opts: { dryRun?: boolean } = {}): Promise<ApplyResult & { layers: Layer[] }> {
  const layers = fluxLayers();
  const applied: DistObject[] = [];
  const problems: ApplyProblem[] = [];
  for (const layer of layers) {
    const r = await applyLayer(kube, layer, opts);
    applied.push(...r.applied);
    problems.push(...r.problems);
  }
  return { layers, applied, problems };
}

export function formatProblems(problems: ApplyProblem[]): string {
  return problems.map((p) => `[${p.layer}] ${shown(p.file)} ${p.object}: ${p.kind}: ${p.message}`).join('\n');
}
