/** The Flux layer graph and placed objects as the cluster sees them: generated + hand-written + secrets. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { repoRoot } from '../../../charts-ts/lib/crds.ts';
import { layers as distLayers } from '../../../charts-ts/lib/chart.ts';
import { secretsPath } from '../../../charts-ts/platform/flux-layers.ts';
import type { LayerNode, ManifestJson, PlacedObject } from '../../../charts-ts/platform/layer-graph.ts';
import { asKind } from '../../../charts-ts/lib/workloads.ts';
import type { Rendered } from '../../support/render.ts';

/** A Flux Kustomization (kustomize.toolkit.fluxcd.io/v1) as JSON: the fields the tests read. */
export interface KustomizationJson {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec: {
    readonly path: string;
    readonly dependsOn?: readonly { readonly name: string }[];
    readonly timeout?: string;
    readonly decryption?: unknown;
    readonly healthCheckExprs?: readonly { readonly [field: string]: unknown }[];
    readonly [field: string]: unknown;
  };
}

export interface ClusterLayer extends LayerNode {
  readonly path: string;
  readonly object: KustomizationJson;
}

/** The hand-written entry Kustomization (clusters/production/layers.yaml). */
export const entryKustomization = (): KustomizationJson => parse(readFileSync(join(repoRoot, 'clusters/production/layers.yaml'), 'utf8')) as KustomizationJson;

/** Every Flux Kustomization the cluster runs, besides flux-system itself. */
export function clusterLayers(r: Rendered): ClusterLayer[] {
  const toLayer = (k: KustomizationJson): ClusterLayer => ({
    name: k.metadata.name,
    dependsOn: (k.spec.dependsOn ?? []).map((d) => d.name),
    path: String(k.spec.path).replace(/^\.\//, ''),
    object: k,
  });
  return [toLayer(entryKustomization()), ...r.find('Kustomization').filter((k) => k.apiVersion.startsWith('kustomize.toolkit.fluxcd.io/'))
    .map((k) => toLayer(asKind<KustomizationJson>(k, 'kustomize.toolkit.fluxcd.io', 'Kustomization')!))];
}

const listFiles = (dir: string): string[] =>
  !existsSync(dir) ? [] : readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? listFiles(join(dir, n)) : [join(dir, n)]));

/** The SOPS Secrets as Flux sees them before decryption (metadata is in clear text). */
export function encryptedSecretObjects(): { file: string; object: ManifestJson }[] {
  return listFiles(join(repoRoot, secretsPath)).filter((f) => f.endsWith('.enc.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => ({ file: relative(repoRoot, f), object: d.toJSON() })));
}

/**
 * Every object with the layer that applies it: rendered files by their dist/ directory (published at
 * the same path on the clusters branch), Secrets by the secrets directory.
 */
export function placedObjects(r: Rendered, layers: ClusterLayer[]): { placed: PlacedObject[]; unplaced: string[] } {
  const byPath = new Map(layers.map((l) => [l.path, l.name]));
  const placed: PlacedObject[] = [];
  const unplaced = new Set<string>();
  for (const { file, object } of [...r.objects, ...encryptedSecretObjects()]) {
    const dir = file.startsWith(`${secretsPath}/`) ? secretsPath : dirname(file);
    const layer = byPath.get(dir);
    if (layer) placed.push({ layer, object });
    else unplaced.add(dir);
  }
  return { placed, unplaced: [...unplaced] };
}

/** API groups the API server serves before any layer: Kubernetes, k3s (HelmChartConfig, Traefik CRDs) and Flux. */
export const isPreinstalledGroup = (group: string): boolean =>
  group === '' || !group.includes('.') || group.endsWith('.k8s.io') || group === 'helm.cattle.io' || group === 'traefik.io'
  || group.endsWith('.toolkit.fluxcd.io');

/** Namespaces that exist before Flux applies anything. */
export const preexistingNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'flux-system'];

export { distLayers };
