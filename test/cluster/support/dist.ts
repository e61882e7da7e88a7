/**
 * The `clusters` branch as Flux reads it, assembled the way charts-ts/tools/publish.ts assembles it:
 * dist/ subtrees at the branch root plus the hand-written clusters/production/ of the repository
 * (the bootstrap entry point and the SOPS-encrypted Secrets).
 *
 * Flux starts at the bootstrap path clusters/production (the flux-system Kustomization that
 * `flux bootstrap` creates); every Flux Kustomization found in an applied directory becomes a
 * further layer, applied after the directory that defines it and after its `dependsOn`. Each
 * directory is built from its kustomization.yaml. Within one directory objects are applied in
 * Flux's stages (see `stages`).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, normalize, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { repoRoot } from './components.ts';
import type { KubeObject } from './kube.ts';

/** The generated tree; CLUSTER_TEST_DIST points at another synth output (`npm run synth -- --out <dir>`). */
export const distDir = process.env.CLUSTER_TEST_DIST ? resolve(process.env.CLUSTER_TEST_DIST) : join(repoRoot, 'dist');
/** The path `flux bootstrap git --branch=clusters --path=...` points Flux at. */
export const bootstrapPath = 'clusters/production';
/** Entries of the bootstrap kustomization.yaml that `flux bootstrap` itself writes (not in git here). */
const bootstrapGenerated = new Set(['flux-system']);

export interface DistObject {
  /** Path on the clusters branch (dist/-relative for generated files). */
  readonly file: string;
  readonly object: KubeObject;
}

export interface Layer {
  /** Flux Kustomization name. */
  readonly name: string;
  /** Directory on the clusters branch. */
  readonly path: string;
  readonly dependsOn: string[];
  readonly objects: DistObject[];
}

/** Where a branch path lives here: generated (dist/) first, else the hand-written repository tree. */
function onDisk(branchPath: string): string | undefined {
  for (const root of [distDir, repoRoot]) {
    const p = join(root, branchPath);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** A branch path as a reader finds it in this repository (`dist/...` or `clusters/...`). */
export const shown = (branchPath: string) => (existsSync(join(distDir, branchPath)) ? `dist/${branchPath}` : branchPath);

function readObjects(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(onDisk(file)!, 'utf8'))
    .map((d) => {
      if (d.errors.length) throw new Error(`${shown(file)}: ${d.errors[0].message}`);
      return d.toJS() as KubeObject;
    })
    .filter((o) => o && typeof o === 'object');
}

/** The files a directory's kustomization.yaml lists (recursively through sub-directories). */
export function kustomizeFiles(dir: string): string[] {
  const kfile = onDisk(join(dir, 'kustomization.yaml'));
  if (!kfile) throw new Error(`${dir}/kustomization.yaml exists neither in dist/ nor in the repository: Flux would fail to build ${dir}`);
  const k = parse(readFileSync(kfile, 'utf8')) ?? {};
  // The bootstrap entry may patch Flux's own controllers (flux-system, created by `flux bootstrap`,
  // not applied here); any other patch would change what the cluster gets and is not supported.
  const patchesOnlyFluxSystem = dir === bootstrapPath
    && (k.patches ?? []).every((p: { target?: { namespace?: string } } | null) => p?.target?.namespace === 'flux-system');
  const unsupported = Object.keys(k).filter((key) => !['apiVersion', 'kind', 'resources'].includes(key)
    && !(key === 'patches' && patchesOnlyFluxSystem));
  if (unsupported.length) throw new Error(`${shown(dir)}/kustomization.yaml uses ${unsupported.join(', ')}; the cluster tests only build plain resource lists (extend test/cluster/support/dist.ts)`);
  return (k.resources ?? []).flatMap((r: string) => {
    const rel = normalize(join(dir, r));
    if (dir === bootstrapPath && bootstrapGenerated.has(r) && !onDisk(rel)) return [];
    const found = onDisk(rel);
    if (!found) throw new Error(`${shown(dir)}/kustomization.yaml lists ${r}, which does not exist`);
    return statSync(found).isDirectory() ? kustomizeFiles(rel) : [rel];
  });
}

/** A Flux Kustomization (kustomize.toolkit.fluxcd.io/v1): the fields read; others are checked unset by name. */
interface FluxKustomizationJson {
  readonly spec?: { readonly path?: string; readonly dependsOn?: { readonly name: string }[]; readonly decryption?: { readonly provider?: string }; readonly [field: string]: unknown };
}

const isFluxKustomization = (o: KubeObject): o is KubeObject & FluxKustomizationJson => o.kind === 'Kustomization' && o.apiVersion.startsWith('kustomize.toolkit.fluxcd.io/');

/** The SOPS metadata of an encrypted file: the field read. */
interface SopsJson { readonly sops?: { readonly encrypted_regex?: string } }

/** What SOPS decryption in Flux yields: the same object with placeholder values (no key here). */
function decrypted(o: KubeObject & SopsJson, file: string): KubeObject {
  if (!o.sops) return o;
  const regex = new RegExp(o.sops.encrypted_regex ?? '^(data|stringData)$');
  const out: KubeObject = JSON.parse(JSON.stringify(o));
  delete out.sops;
  for (const key of Object.keys(out)) {
    const section = out[key];
    if (!regex.test(key) || typeof section !== 'object') continue;
    // An encrypted section is a map of values (data, stringData).
    const values = section as Record<string, unknown>;
    for (const k of Object.keys(values)) {
      if (!String(values[k]).startsWith('ENC[')) throw new Error(`${file}: ${key}.${k} is not SOPS-encrypted`);
      values[k] = key === 'data' ? Buffer.from('placeholder').toString('base64') : 'placeholder';
    }
  }
  return out;
}

function layerFrom(k: KubeObject & FluxKustomizationJson, definedIn: string): Layer {
  const spec: NonNullable<FluxKustomizationJson['spec']> = k.spec ?? {};
  const unsupported = ['targetNamespace', 'patches', 'images', 'components', 'namePrefix', 'nameSuffix', 'commonMetadata', 'postBuild']
    .filter((f) => spec[f] !== undefined);
  if (unsupported.length) throw new Error(`Flux Kustomization ${k.metadata.name} uses ${unsupported.join(', ')}; the cluster tests apply directories as they are (extend test/cluster/support/dist.ts)`);
  if (spec.decryption && spec.decryption.provider !== 'sops') throw new Error(`Flux Kustomization ${k.metadata.name}: decryption provider ${spec.decryption.provider} is not supported here`);
  const path = normalize(String(spec.path ?? '.').replace(/^\.\//, '')).replace(/\/$/, '');
  const objects = kustomizeFiles(path).flatMap((file) => readObjects(file).map((object) => {
    if (object.sops && !spec.decryption) throw new Error(`${shown(file)} is SOPS-encrypted but Flux Kustomization ${k.metadata.name} has no decryption`);
    return { file, object: decrypted(object, shown(file)) };
  }));
  return { name: k.metadata.name, path, dependsOn: [definedIn, ...(spec.dependsOn ?? []).map((d: { name: string }) => d.name)], objects };
}

/**
 * The layers in the order Flux reconciles them: the bootstrap path, then every Kustomization found
 * in an applied layer, after the layer that defines it and after its dependsOn (a cycle or a
 * dependency on an undefined Kustomization is an error).
 */
export function fluxLayers(): Layer[] {
  const root: Layer = {
    name: 'flux-system',
    path: bootstrapPath,
    dependsOn: [],
    objects: kustomizeFiles(bootstrapPath).flatMap((file) => readObjects(file).map((object) => ({ file, object }))),
  };
  const all = new Map<string, Layer>([[root.name, root]]);
  const queue = [root];
  while (queue.length) {
    const layer = queue.shift()!;
    for (const object of layer.objects.map((o) => o.object).filter(isFluxKustomization)) {
      if (all.has(object.metadata.name)) throw new Error(`Flux Kustomization ${object.metadata.name} is defined twice`);
      const next = layerFrom(object, layer.name);
      all.set(next.name, next);
      queue.push(next);
    }
  }
  const done = new Set<string>();
  const out: Layer[] = [];
  const visit = (l: Layer, stack: string[]) => {
    if (done.has(l.name)) return;
    if (stack.includes(l.name)) throw new Error(`Flux Kustomizations depend on each other in a cycle: ${[...stack, l.name].join(' -> ')}`);
    for (const dep of l.dependsOn) {
      const d = all.get(dep);
      if (!d) throw new Error(`Flux Kustomization ${l.name} dependsOn ${dep}, which no applied directory defines`);
      visit(d, [...stack, l.name]);
    }
    done.add(l.name);
    out.push(l);
  };
  for (const l of all.values()) visit(l, []);
  return out;
}

/** Every object file in dist/ (kustomization.yaml files excluded), dist/-relative. */
export function allDistFiles(dir = ''): string[] {
  return readdirSync(join(distDir, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = join(dir, e.name);
    if (e.isDirectory()) return allDistFiles(rel);
    return e.name.endsWith('.yaml') && e.name !== 'kustomization.yaml' ? [rel] : [];
  }).sort();
}

/** Every object in every dist/ file. */
export function distObjects(): DistObject[] {
  return allDistFiles().flatMap((file) => readObjects(file).map((object) => ({ file, object })));
}

// fluxcd/pkg/ssa ApplyAllStaged (ssa/utils/is.go): cluster definitions (CRDs, Namespaces,
// ClusterRoles) first, then class definitions (kinds ending in "Class"), then everything else.
const isClusterDefinition = (o: KubeObject) => ['CustomResourceDefinition', 'Namespace', 'ClusterRole'].includes(o.kind);
const isClassDefinition = (o: KubeObject) => o.kind.endsWith('Class');

export function stages(objects: DistObject[]): DistObject[][] {
  return [
    objects.filter((o) => isClusterDefinition(o.object)),
    objects.filter((o) => !isClusterDefinition(o.object) && isClassDefinition(o.object)),
    objects.filter((o) => !isClusterDefinition(o.object) && !isClassDefinition(o.object)),
  ].filter((s) => s.length > 0);
}
