/**
 * HorizontalPodAutoscalers against the Rollouts' scale subresource: the HPA controller in the real
 * kube-controller-manager must be able to read and write the scale of each target (condition
 * AbleToScale=True, SucceededGetScale). CPU metrics are absent (no metrics-server, no kubelet), so
 * ScalingActive stays False here; that the 70 % target is right is a chart test's job.
 */
import type { V1Scale, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { fluxLayers } from './support/dist.ts';
import type { Kube, KubeObject } from './support/kube.ts';
import { waitFor } from './support/processes.ts';
import { cluster, connect, ensureDistApplied, rolloutsControllerProblems } from './support/session.ts';

const condition = (hpa: V2HorizontalPodAutoscaler | undefined, type: string) => (hpa?.status?.conditions ?? []).find((c) => c.type === type);

/** An HPA (autoscaling/v2) from dist/: the fields read; its target always names its apiVersion. */
interface HpaJson {
  readonly spec: { readonly scaleTargetRef: { readonly apiVersion: string; readonly kind: string; readonly name: string }; readonly minReplicas?: number; readonly maxReplicas: number };
}

/** The target of an HPA: the field read. */
interface ScaledJson { readonly spec: { readonly replicas?: number } }

describe('HPAs scale Rollouts through the scale subresource', () => {
  let kube: Kube;
  let hpas: (KubeObject & HpaJson)[];

  beforeAll(async () => {
    kube = await connect();
    await ensureDistApplied(kube);
    hpas = fluxLayers().flatMap((l) => l.objects).map((o) => o.object).filter((o): o is KubeObject & HpaJson => o.kind === 'HorizontalPodAutoscaler');
  });

  it('dist/ has an HPA for every Rollout', () => {
    const rollouts = fluxLayers().flatMap((l) => l.objects).map((o) => o.object).filter((o) => o.kind === 'Rollout');
    expect(rollouts.length, 'no Rollout in dist/ yet (charts-ts/apps)').toBeGreaterThan(0);
    const unscaled = rollouts.filter((r) => !hpas.some((h) => h.metadata.namespace === r.metadata.namespace
      && h.spec.scaleTargetRef.kind === 'Rollout' && h.spec.scaleTargetRef.name === r.metadata.name));
    expect(unscaled.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual([]);
  });

  it('every HPA target serves a scale subresource with a pod selector', async () => {
    expect(hpas.length).toBeGreaterThan(0);
    for (const h of hpas) {
      const ref = h.spec.scaleTargetRef;
      const resource = await kube.resource(ref.apiVersion, ref.kind);
      expect(resource.subresources, `${ref.kind} has no scale subresource`).toContain('scale');
      const path = await kube.path(ref.apiVersion, ref.kind, h.metadata.namespace, ref.name);
      // The Rollouts controller publishes status.selector (the CRD's labelSelectorPath) once it has reconciled.
      const scale = await waitFor(`${ref.kind} ${h.metadata.namespace}/${ref.name} scale with selector`, async () => {
        const res = await kube.request<V1Scale>('GET', `${path}/scale`);
        return res.status === 200 && res.body.status?.selector ? res.body : undefined;
      }, { timeoutMs: 60_000, diagnose: rolloutsControllerProblems });
      expect(scale.kind).toBe('Scale');
    }
  });

  it('the HPA controller can get and update the scale of every target (AbleToScale)', async () => {
    expect(cluster().rolloutsController.running, 'the Argo Rollouts controller must run (it fills status.selector)').toBe(true);
    for (const h of hpas) {
      const live = await waitFor(`HPA ${h.metadata.namespace}/${h.metadata.name} AbleToScale`, async () => {
        const hpa = await kube.get<V2HorizontalPodAutoscaler>('autoscaling/v2', 'HorizontalPodAutoscaler', h.metadata.name, h.metadata.namespace);
        return condition(hpa, 'AbleToScale') ? hpa : undefined;
      }, { timeoutMs: 90_000, intervalMs: 1_000, diagnose: rolloutsControllerProblems });
      const able = condition(live, 'AbleToScale');
      expect(`${able!.status} ${able!.reason}: ${able!.message}`).toMatch(/^True SucceededGetScale/);
      // The only thing missing is CPU metrics (no metrics-server here), not the target or its selector.
      const active = condition(live, 'ScalingActive');
      if (active?.status === 'False') expect(`${active.reason}: ${active.message}`).toMatch(/^FailedGetResourceMetric/);
    }
  });

  it('the HPA writes the scale: each target is brought up to minReplicas without metrics', async () => {
    for (const h of hpas) {
      const ref = h.spec.scaleTargetRef;
      const min = h.spec.minReplicas ?? 1;
      const target = await waitFor(`${ref.kind} ${h.metadata.namespace}/${ref.name} scaled to ${min}`, async () => {
        const t = await kube.get<ScaledJson>(ref.apiVersion, ref.kind, ref.name, h.metadata.namespace);
        return (t?.spec?.replicas ?? 0) >= min ? t : undefined;
      }, { timeoutMs: 90_000, intervalMs: 1_000 }).catch(async (e) => {
        const hpa = await kube.get('autoscaling/v2', 'HorizontalPodAutoscaler', h.metadata.name, h.metadata.namespace);
        throw new Error(`${(e as Error).message}\nHPA status: ${JSON.stringify(hpa?.status)}`);
      });
      expect(target.spec.replicas).toBeLessThanOrEqual(h.spec.maxReplicas);
    }
  });

  it('reports a target without a scale subresource as unable to scale (the check above can fail)', async () => {
    const ns = hpas[0].metadata.namespace!;
    const probe: KubeObject = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'hpa-probe-missing-target', namespace: ns },
      spec: {
        scaleTargetRef: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'does-not-exist' },
        minReplicas: 1, maxReplicas: 2,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      },
    };
    await kube.apply(probe);
    try {
      const live = await waitFor('probe HPA AbleToScale condition', async () => {
        const hpa = await kube.get<V2HorizontalPodAutoscaler>('autoscaling/v2', 'HorizontalPodAutoscaler', probe.metadata.name, ns);
        return condition(hpa, 'AbleToScale') ? hpa : undefined;
      }, { timeoutMs: 90_000, intervalMs: 1_000 });
      expect(condition(live, 'AbleToScale')).toMatchObject({ status: 'False', reason: 'FailedGetScale' });
    } finally {
      await kube.delete('autoscaling/v2', 'HorizontalPodAutoscaler', probe.metadata.name, ns);
    }
  });
});
