/**
 * Watching Flux do its work: Kustomization and HelmRelease readiness as Flux reports it (the Ready
 * condition and the revision it was reached at), with the reason when something is stuck, and the
 * moment each became Ready, to check that layers became Ready in their `dependsOn` order.
 */
import type { Kube } from '../../cluster/support/kube.ts';

export interface FluxObjectState {
  readonly kind: 'Kustomization' | 'HelmRelease';
  readonly namespace: string;
  readonly name: string;
  readonly ready: boolean;
  readonly reason: string;
  readonly message: string;
  readonly revision?: string;
  readonly dependsOn: string[];
}

const apiVersions = { Kustomization: 'kustomize.toolkit.fluxcd.io/v1', HelmRelease: 'helm.toolkit.fluxcd.io/v2' } as const;

/** A Flux Kustomization or HelmRelease as the API server returns it: the fields read. */
interface FluxObjectJson {
  metadata: { name: string; namespace: string; generation?: number };
  spec?: { dependsOn?: { name: string }[] };
  status?: {
    conditions?: { type: string; status: string; observedGeneration?: number; reason?: string; message?: string }[];
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
  };
}

export async function fluxStates(kube: Kube, kind: FluxObjectState['kind']): Promise<FluxObjectState[]> {
  let items: FluxObjectJson[] = [];
  try { items = await kube.list<FluxObjectJson>(apiVersions[kind], kind); } catch { return []; } // CRD not served yet
  return items.map((o) => {
    const ready = (o.status?.conditions ?? []).find((c) => c.type === 'Ready');
    return {
      kind,
      namespace: o.metadata.namespace,
      name: o.metadata.name,
      ready: ready?.status === 'True' && ready?.observedGeneration === o.metadata.generation,
      reason: ready?.reason ?? 'NotReconciled',
      message: ready?.message ?? '',
      revision: kind === 'Kustomization' ? o.status?.lastAppliedRevision : o.status?.lastAttemptedRevision,
      dependsOn: (o.spec?.dependsOn ?? []).map((d) => d.name),
    };
  });
}

/** Records, per object, the first time it was seen Ready (ms since `start`). */
export class ReadyClock {
  readonly readyAt = new Map<string, number>();
  constructor(private readonly start: number) {}

  observe(states: FluxObjectState[]): void {
    for (const s of states) {
      const key = `${s.kind} ${s.namespace}/${s.name}`;
      if (s.ready && !this.readyAt.has(key)) this.readyAt.set(key, Date.now() - this.start);
    }
  }

  at(kind: FluxObjectState['kind'], namespace: string, name: string): number | undefined {
    return this.readyAt.get(`${kind} ${namespace}/${name}`);
  }
}

export function describeStates(states: FluxObjectState[]): string {
  return states.map((s) => `${s.kind} ${s.namespace}/${s.name}: ${s.ready ? 'Ready' : `${s.reason}: ${s.message.slice(0, 600)}`}`).join('\n');
}

/** `flux reconcile source git <name>`: request an immediate reconciliation (what the Receiver does on a push). */
export async function requestReconcile(kube: Kube, apiVersion: string, kind: string, name: string, namespace: string): Promise<void> {
  await kube.mergePatch(apiVersion, kind, name, namespace, { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': new Date().toISOString() } } });
}
