/**
 * Everything in dist/ applied to a real Kubernetes 1.36 API server the way Flux applies it: layer by
 * layer in dependency order, CRDs and Namespaces first within a layer, server-side apply with strict
 * field validation. Pod Security Admission (with the node's AdmissionConfiguration) and the
 * ValidatingAdmissionPolicies from dist/ are live while the later layers are applied.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { applyDist, fluxFieldManager, fluxSkips, formatProblems, type ApplyProblem } from './support/apply.ts';
import { allDistFiles, shown, type Layer } from './support/dist.ts';
import type { Kube } from './support/kube.ts';
import { waitFor } from './support/processes.ts';
import { cluster, connect, markDistApplied, rolloutsControllerProblems } from './support/session.ts';
import { workloadProblems } from './support/workloads.ts';

/** Paths whose values differ between two versions of an object (status and bookkeeping ignored). */
function changedPaths(a: unknown, b: unknown, path = ''): string[] {
  if (['.metadata.generation', '.metadata.resourceVersion', '.metadata.managedFields', '.status'].includes(path)) return [];
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${path || '.'}: ${JSON.stringify(a) ?? '(absent)'} -> ${JSON.stringify(b) ?? '(absent)'}`];
  }
  // Both objects, or both arrays (indexed by their keys).
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  return [...keys].flatMap((k) => changedPaths(x[k], y[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`));
}

/** Paths of empty arrays and objects in an object. */
function emptyCollections(o: unknown, path = ''): string[] {
  if (typeof o !== 'object' || o === null) return [];
  if (Object.keys(o).length === 0) return [path || '.'];
  return Object.entries(o).flatMap(([k, v]) => emptyCollections(v, Array.isArray(o) ? `${path}[${k}]` : `${path}.${k}`));
}

describe('dist/ on a real API server', () => {
  let kube: Kube;
  let layers: Layer[];
  let problems: ApplyProblem[];

  beforeAll(async () => {
    kube = await connect();
    const started = Date.now();
    ({ layers, problems } = await applyDist(kube));
    await markDistApplied(kube);
    const count = layers.reduce((n, l) => n + l.objects.length, 0);
    console.log(`applied ${count} objects in ${layers.length} layers (${layers.map((l) => `${l.name}: ${l.objects.length}`).join(', ')}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it('reconciles every dist/ file through some Flux Kustomization', () => {
    const reconciled = new Set(layers.flatMap((l) => l.objects.map((o) => o.file)));
    const orphans = allDistFiles().filter((f) => !reconciled.has(f)).map((f) => `dist/${f}`);
    expect(orphans, 'these files are in dist/ but no Flux Kustomization reaches them from the bootstrap path clusters/production').toEqual([]);
    expect(reconciled.size).toBeGreaterThan(0);
  });

  it('applies every object server-side without an error', () => {
    expect(formatProblems(problems.filter((p) => p.kind === 'error'))).toBe('');
  });

  it('gets no API warning for any object (deprecated APIs, unknown fields, Pod Security)', () => {
    expect(formatProblems(problems.filter((p) => p.kind === 'warning'))).toBe('');
  });

  it('stores every object: a repeated apply is a no-op (no drift for Flux to correct)', async () => {
    const drift: string[] = [];
    for (const layer of layers) {
      for (const { file, object } of layer.objects) {
        const live = await kube.get(object.apiVersion, object.kind, object.metadata.name, object.metadata.namespace);
        if (!live) { drift.push(`${shown(file)} ${object.kind} ${object.metadata.name}: not found after apply`); continue; }
        if (await fluxSkips(kube, object)) continue; // Flux does not re-apply it either
        const again = await kube.apply(object, { fieldManager: fluxFieldManager, dryRun: true });
        if (again.body.metadata.generation !== live.metadata.generation) {
          const changed = changedPaths(live, again.body);
          const empty = emptyCollections(object);
          drift.push(`${shown(file)} ${object.kind} ${object.metadata.name}: a second apply would change it (generation ${live.metadata.generation} -> ${again.body.metadata.generation})`
            + (changed.length ? `; changes ${changed.join(', ')}` : '')
            + (empty.length ? `; it sets empty lists/maps the API server or a controller drops: ${empty.join(', ')}` : ''));
        }
      }
    }
    expect(drift.join('\n')).toBe('');
  });

  it('runs the workloads: the Argo Rollouts controller accepts every Rollout; pods are created (Pod Security enforced), scheduled on the node and become ready', async () => {
    const kinds = ['Deployment', 'StatefulSet', 'DaemonSet', 'Rollout'];
    const workloads = layers.flatMap((l) => l.objects).filter((o) => kinds.includes(o.object.kind));
    expect(workloads.some((w) => w.object.kind === 'Rollout'), 'dist/ has no Rollout (charts-ts/apps)').toBe(true);
    const controller = cluster().rolloutsController;
    expect(controller.running, controller.running ? '' : controller.reason).toBe(true);
    let last = '';
    await waitFor('every Deployment/StatefulSet/DaemonSet/Rollout from dist/ ready', async () => {
      last = await workloadProblems(kube, workloads.map((w) => w.object));
      return last === '';
    }, { timeoutMs: 120_000, intervalMs: 2_000 }).catch(() => undefined);
    expect(last, rolloutsControllerProblems()).toBe('');
  });
});
