/**
 * Flux layer order: the checker (charts-ts/platform/layer-graph.ts) on good and broken graphs, then
 * on the real thing: the generated layer Kustomizations plus the hand-written entry, and every object
 * in dist/ plus every SOPS Secret placed in the layer that applies it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { clusterPath, secretsPath } from '../../charts-ts/platform/flux-layers.ts';
import { ancestors, checkLayerGraph, checkPlacement, layerOrder, secretReferences, type LayerNode, type PlacedObject } from '../../charts-ts/platform/layer-graph.ts';
import { renderAll } from '../support/render.ts';
import { clusterLayers, distLayers, encryptedSecretObjects, entryKustomization, isPreinstalledGroup, placedObjects, preexistingNamespaces } from './support/layers.ts';

const node = (name: string, ...dependsOn: string[]): LayerNode => ({ name, dependsOn });
const opts = { preexistingNamespaces, isPreinstalledGroup };

describe('checkLayerGraph', () => {
  it('accepts a DAG and orders it dependencies-first', () => {
    const g = [node('c', 'b'), node('a'), node('b', 'a'), node('d', 'a', 'c')];
    expect(checkLayerGraph(g)).toEqual([]);
    expect(layerOrder(g)).toEqual(['a', 'b', 'c', 'd']);
    expect([...ancestors(g, 'd')].sort()).toEqual(['a', 'b', 'c']);
  });

  it('reports a dependency on a layer nobody defines', () => {
    expect(checkLayerGraph([node('a'), node('b', 'a', 'platform-dta')])).toEqual([
      'layer b depends on platform-dta, which no layer defines; add that layer or fix the name',
    ]);
  });

  it('reports cycles once, with the path', () => {
    const problems = checkLayerGraph([node('a', 'c'), node('b', 'a'), node('c', 'b'), node('d', 'a')]);
    expect(problems).toEqual(['dependency cycle: a -> c -> b -> a; no layer in it can ever become ready']);
    expect(() => layerOrder([node('a', 'b'), node('b', 'a')])).toThrow(/dependency cycle/);
  });

  it('reports self-dependencies and duplicates', () => {
    expect(checkLayerGraph([node('a', 'a')])).toEqual(['layer a depends on itself']);
    expect(checkLayerGraph([node('a'), node('a')])).toEqual(['layer a is defined twice']);
  });
});

describe('checkPlacement', () => {
  const g = [node('ns'), node('secrets', 'ns'), node('controllers', 'ns', 'secrets'), node('configs', 'controllers')];
  const ns = (name: string): PlacedObject => ({ layer: 'ns', object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
  const release: PlacedObject = {
    layer: 'controllers',
    object: { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'cm', namespace: 'cert-manager', annotations: { 'platform.lms.dev/provides-api-groups': '["cert-manager.io"]' } } },
  };
  const token: PlacedObject = { layer: 'secrets', object: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cf', namespace: 'cert-manager' } } };
  const issuer = (layer: string): PlacedObject => ({
    layer, object: { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: 'le' }, spec: { acme: { solvers: [{ dns01: { cloudflare: { apiTokenSecretRef: { name: 'cf', key: 't' } } } }] } } },
  });
  const good = [ns('cert-manager'), token, release, issuer('configs')];

  it('accepts objects applied after their namespace, CRDs and Secrets', () => {
    expect(checkPlacement(g, good, opts)).toEqual([]);
  });

  it('rejects a custom resource in the same layer as the release installing its CRD', () => {
    expect(checkPlacement(g, [ns('cert-manager'), token, release, issuer('controllers')], opts)).toEqual([
      'ClusterIssuer le (layer controllers) uses API group cert-manager.io, whose CRDs are installed by layer controllers; it must be in a layer that depends on controllers (not the same one: the CRDs exist only after that layer is applied and healthy)',
    ]);
  });

  it('rejects a custom resource no layer provides CRDs for', () => {
    expect(checkPlacement(g, [...good, { layer: 'configs', object: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } } }], opts))
      .toEqual(['Widget w (layer configs) uses API group example.com, whose CRDs no layer installs']);
  });

  it('rejects a Secret applied by a layer the consumer does not wait for', () => {
    const late = [node('ns'), node('controllers', 'ns'), node('configs', 'controllers'), node('secrets', 'configs')];
    expect(checkPlacement(late, good, opts)).toEqual([
      'ClusterIssuer le (layer configs) references Secret cert-manager/cf, applied by layer secrets, which configs does not depend on',
    ]);
  });

  it('rejects objects whose namespace is created later or never', () => {
    const early: PlacedObject = { layer: 'ns', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'cert-manager' } } };
    const orphan: PlacedObject = { layer: 'configs', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'y', namespace: 'nowhere' } } };
    const moved = [{ ...ns('cert-manager'), layer: 'configs' }, early, orphan];
    expect(checkPlacement(g, moved, opts)).toEqual([
      'ConfigMap cert-manager/x (layer ns) is in namespace cert-manager, created by layer configs, which ns does not depend on',
      'ConfigMap nowhere/y (layer configs) is in namespace nowhere, which no layer creates',
    ]);
  });

  it('finds Secret references in all the usual shapes', () => {
    expect(secretReferences({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: {
      a: { secretKeyRef: { name: 's1', key: 'k' } },
      volumes: [{ secret: { secretName: 's2' } }],
      envFrom: [{ secretRef: { name: 's3' } }],
      valuesFrom: [{ kind: 'Secret', name: 's4' }],
      alertmanager: { secrets: ['s5'] },
      credentials: { accessKeyId: { name: 's6', key: 'ACCESS_KEY_ID' } },
    } }).sort()).toEqual(['s1', 's2', 's3', 's4', 's5']);
  });
});

describe('the cluster\'s layers', () => {
  const r = renderAll();
  const layers = clusterLayers(r);
  const byName = new Map(layers.map((l) => [l.name, l]));

  it('form a valid graph in the intended order', () => {
    expect(checkLayerGraph(layers)).toEqual([]);
    const chain = ['platform-namespaces', 'platform-secrets', 'platform-controllers', 'platform-configs', 'platform-data', 'platform-observability', 'apps-staging', 'apps-production'];
    const order = layerOrder(layers).filter((n) => n !== 'lms-layers');
    expect(order).toEqual(chain);
    // Each layer waits for the one before it (directly or through another).
    for (let i = 1; i < chain.length; i++) expect(ancestors(layers, chain[i]).has(chain[i - 1]), chain[i]).toBe(true);
  });

  it('point at the published dist/ paths and the secrets directory, each applied once', () => {
    const paths = layers.map((l) => l.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect(byName.get('platform-secrets')!.path).toBe(secretsPath);
    expect(byName.get('lms-layers')!.path).toBe(distLayers.flux);
    for (const dir of new Set(r.files.map((f) => f.path.replace(/\/[^/]+$/, '')))) {
      expect(paths, `dist/${dir} is applied by no Flux Kustomization`).toContain(dir);
    }
    const { unplaced } = placedObjects(r, layers);
    expect(unplaced).toEqual([]);
  });

  it('apply every object after its namespace, the CRDs of its kind and the Secrets it references', () => {
    const { placed } = placedObjects(r, layers);
    expect(placed.filter((p) => p.layer === 'platform-secrets').length).toBeGreaterThan(5);
    expect(checkPlacement(layers, placed, opts)).toEqual([]);
  });

  it('would catch an issuer moved into the controllers layer', () => {
    const { placed } = placedObjects(r, layers);
    const moved = placed.map((p) => (p.object.kind === 'ClusterIssuer' ? { ...p, layer: 'platform-controllers' } : p));
    expect(checkPlacement(layers, moved, opts).join('\n')).toMatch(/ClusterIssuer letsencrypt-production \(layer platform-controllers\) uses API group cert-manager.io/);
  });

  it('while a database restores in place, both apps layers wait for the data layer only, and every object still lands in order', () => {
    const restoring = renderAll({ environments: { staging: { database: { backup: { serverName: 'lms-db-r1' }, recovery: { mode: 'in-place', sourceServerName: 'lms-db' } } } } });
    const rebuild = clusterLayers(restoring);
    const deps = new Map(rebuild.map((l) => [l.name, l.dependsOn]));
    expect(deps.get('apps-staging')).toEqual(['platform-data']);
    // Production comes back beside staging, not behind it (the revision it already ran).
    expect(deps.get('apps-production')).toEqual(['platform-data']);
    // Observability no longer precedes the apps: it comes up beside them.
    expect(ancestors(rebuild, 'apps-production').has('platform-observability')).toBe(false);
    expect(checkLayerGraph(rebuild)).toEqual([]);
    expect(checkPlacement(rebuild, placedObjects(restoring, rebuild).placed, opts)).toEqual([]);
    // A side-by-side restore keeps the normal order (the live database serves; releases need analysis).
    const sideBySide = clusterLayers(renderAll({ environments: { production: { database: { recovery: { mode: 'side-by-side', sourceServerName: 'lms-db', serverName: 'lms-db-recovery-1' } } } } }));
    expect(sideBySide.find((l) => l.name === 'apps-staging')!.dependsOn).toEqual(['platform-observability']);
  });

  it('would catch the Secrets layer applied after the data layer', () => {
    const reordered = layers.map((l) => (l.name === 'platform-secrets' ? { ...l, dependsOn: ['platform-data'] }
      : ['platform-controllers'].includes(l.name) ? { ...l, dependsOn: ['platform-namespaces'] } : l));
    expect(checkLayerGraph(reordered)).toEqual([]);
    const problems = checkPlacement(reordered, placedObjects(r, reordered).placed, opts);
    expect(problems.some((p) => /references Secret .*(object-storage-credentials|cloudflare-api-token)/.test(p)), problems.join('\n')).toBe(true);
  });

  it('are Flux Kustomizations with prune, wait, timeouts and retries from config', () => {
    const f = r.config.cluster.platform.flux;
    for (const l of layers.filter((x) => x.name !== 'lms-layers')) {
      const s = l.object.spec;
      expect(l.object.metadata.namespace).toBe('flux-system');
      expect(s.sourceRef).toEqual({ kind: 'GitRepository', name: 'flux-system' });
      expect(s.path).toBe(`./${l.path}`);
      expect(s).toMatchObject({ prune: true, wait: true, interval: f.interval, retryInterval: f.retryInterval });
      expect(s.timeout).toMatch(/^\d+m$/);
    }
    expect(byName.get('platform-controllers')!.object.spec.timeout).toBe(f.timeouts.controllers);
  });

  it('decrypt with the sops-age key exactly where encrypted files are', () => {
    const withSecrets = new Set(encryptedSecretObjects().map((s) => s.file.replace(/\/[^/]+\/[^/]+$/, '')));
    expect([...withSecrets]).toEqual([secretsPath]);
    for (const l of layers) {
      const decryption = l.object.spec.decryption;
      if (l.path === secretsPath) expect(decryption).toEqual({ provider: 'sops', secretRef: { name: r.config.cluster.bootstrap.flux.sopsAgeSecret } });
      else expect(decryption, l.name).toBeUndefined();
    }
  });

  it('health-check what kstatus cannot judge: CNPG Clusters and Argo Rollouts', () => {
    const exprs = (name: string) => byName.get(name)!.object.spec.healthCheckExprs!;
    expect(exprs('platform-data')).toEqual([expect.objectContaining({ apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster' })]);
    // Staging must be fully healthy before production goes; production's manual-approval pause is
    // settled. What the expressions decide is judged by Flux's evaluator in rollout-health.test.ts.
    expect(exprs('apps-staging')[0]).toMatchObject({ kind: 'Rollout', current: expect.stringContaining("status.phase == 'Healthy'"), failed: "status.phase == 'Degraded'" });
    expect(exprs('apps-production')[0]).toMatchObject({ kind: 'Rollout', current: expect.stringContaining("status.phase == 'Paused'"), failed: "status.phase == 'Degraded'" });
  });

  it('match what bootstrap installs: branch, path and the sops-age Secret', () => {
    const b = r.config.cluster.bootstrap.flux;
    expect([b.branch, b.path]).toEqual(['clusters', clusterPath]);
    expect(b.sopsAgeSecret).toBe('sops-age');
    expect(() => renderAll({ cluster: { bootstrap: { flux: { path: 'clusters/prod' } } } }))
      .toThrow('cluster.bootstrap.flux.path is clusters/prod, but the Flux layers and the SOPS Secrets live under clusters/production; bootstrap with --path=clusters/production');
  });

  it('are reached from flux bootstrap through a minimal hand-written entry', () => {
    const root = parse(readFileSync(join(repoRoot, clusterPath, 'kustomization.yaml'), 'utf8'));
    // secrets/ and layers/ are applied by their own Kustomizations, never by flux-system.
    expect(root.resources).toEqual(['flux-system', 'layers.yaml']);
    const entry = entryKustomization();
    expect(entry).toMatchObject({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization',
      metadata: { name: 'lms-layers', namespace: 'flux-system' },
      spec: { path: `./${distLayers.flux}`, prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
    });
    expect(entry.spec.decryption).toBeUndefined();
  });
});
