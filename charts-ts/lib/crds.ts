/**
 * The pinned CRDs listed in cdk8s.yaml, resolved to local files.
 *
 * cdk8s.yaml names each CRD by its upstream release URL. Offline (this repo's CI) the same files are
 * read from CRD_DIR (default ../shared/crds, laid out as <project>/<file>); with internet they can be
 * downloaded into that layout by `npm run import -- --download`. Either way each file must match the
 * sha256 recorded in crds.sha256, so a changed upstream file is caught.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { isRecord, type NamedManifest } from './workloads.ts';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** Upstream repository -> directory in CRD_DIR. */
const projectDirs: Record<string, string> = {
  'argoproj/argo-rollouts': 'argo-rollouts',
  'cloudnative-pg/cloudnative-pg': 'cloudnative-pg',
  'cloudnative-pg/plugin-barman-cloud': 'plugin-barman-cloud',
  'fluxcd/source-controller': 'flux',
  'fluxcd/kustomize-controller': 'flux',
  'fluxcd/helm-controller': 'flux',
  'fluxcd/notification-controller': 'flux',
  'fluxcd/image-reflector-controller': 'flux',
  'fluxcd/image-automation-controller': 'flux',
  'prometheus-operator/prometheus-operator': 'prometheus-operator',
  'cert-manager/cert-manager': 'cert-manager',
  'traefik/traefik-helm-chart': 'traefik',
  'rancher/system-upgrade-controller': 'system-upgrade-controller',
  'kubernetes-sigs/gateway-api': 'gateway-api',
};

export interface PinnedCrd {
  /** cdk8s import prefix, e.g. `rollout`. */
  readonly name: string;
  readonly url: string;
  /** Path relative to CRD_DIR, e.g. `argo-rollouts/rollout-crd.yaml`. */
  readonly relPath: string;
}

export function crdDir(): string {
  return resolve(repoRoot, process.env.CRD_DIR ?? '../shared/crds');
}

export function pinnedCrds(): PinnedCrd[] {
  const doc = parse(readFileSync(resolve(repoRoot, 'cdk8s.yaml'), 'utf8')) as { imports: string[] };
  return doc.imports.map((entry) => {
    const m = /^([a-z0-9-]+):=(https:\/\/raw\.githubusercontent\.com\/([^/]+\/[^/]+)\/.+)$/.exec(entry);
    if (!m) throw new Error(`cdk8s.yaml imports: "${entry}" must be "<name>:=<raw.githubusercontent.com URL>"`);
    const [, name, url, repo] = m;
    const dir = projectDirs[repo];
    if (!dir) throw new Error(`cdk8s.yaml imports: no CRD_DIR folder known for repository ${repo} (add it to charts-ts/lib/crds.ts)`);
    return { name, url, relPath: `${dir}/${basename(url)}` };
  });
}

function expectedHashes(): Map<string, string> {
  const lines = readFileSync(resolve(repoRoot, 'crds.sha256'), 'utf8').trim().split('\n');
  return new Map(lines.map((l) => { const [hash, path] = l.split(/\s+/); return [path, hash]; }));
}

/** Absolute path of a pinned CRD file, verified against crds.sha256. */
export function crdFile(crd: PinnedCrd): string {
  const path = resolve(crdDir(), crd.relPath);
  if (!existsSync(path)) {
    throw new Error(`CRD file ${path} is missing: set CRD_DIR to the folder holding the pinned CRDs (see ../shared/crds/SOURCES.md) or run \`npm run import -- --download\``);
  }
  const want = expectedHashes().get(crd.relPath);
  const got = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (want !== got) throw new Error(`CRD file ${path}: sha256 ${got} does not match crds.sha256 (${want ?? 'no entry'}); the pin in cdk8s.yaml and the file disagree`);
  return path;
}

/** A CustomResourceDefinition as a pinned file holds it. */
export type CrdObject = NamedManifest & V1CustomResourceDefinition;

/** Every CustomResourceDefinition object in the pinned files. */
export function loadPinnedCrdObjects(): CrdObject[] {
  return pinnedCrds().flatMap((crd) =>
    parseAllDocuments(readFileSync(crdFile(crd), 'utf8'))
      .map((d): unknown => d.toJS())
      .filter((o): o is CrdObject => isRecord(o) && o.kind === 'CustomResourceDefinition'));
}
