/**
 * Why workloads are not ready yet: the controller-manager's FailedCreate events (Pod Security,
 * quota, LimitRange, admission policies reject the pods), the scheduler's Unschedulable conditions
 * (the node is too small, selectors/tolerations do not match), or simply not yet available.
 */
import type { V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import type { Kube, KubeObject, Served } from './kube.ts';

/** Status fields of the workload kinds `available` knows (Deployment, StatefulSet, DaemonSet, Rollout). */
interface WorkloadStatusJson {
  readonly observedGeneration?: number;
  readonly availableReplicas?: number;
  readonly updatedReplicas?: number;
  readonly readyReplicas?: number;
  readonly desiredNumberScheduled?: number;
  readonly numberReady?: number;
  readonly phase?: string;
  readonly message?: string;
}

/** A workload as served: the fields read. */
interface WorkloadJson { readonly spec: { readonly replicas?: number; readonly selector?: V1LabelSelector }; readonly status?: WorkloadStatusJson }

function available(kind: string, live: Served<WorkloadJson>): boolean {
  const s: WorkloadStatusJson = live.status ?? {};
  switch (kind) {
    case 'Deployment':
      return (s.observedGeneration ?? 0) >= live.metadata.generation! && (s.availableReplicas ?? 0) >= (live.spec.replicas ?? 1)
        && (s.updatedReplicas ?? 0) >= (live.spec.replicas ?? 1);
    case 'StatefulSet':
      return (s.observedGeneration ?? 0) >= live.metadata.generation! && (s.readyReplicas ?? 0) >= (live.spec.replicas ?? 1);
    case 'DaemonSet':
      return (s.desiredNumberScheduled ?? 0) > 0 && s.numberReady === s.desiredNumberScheduled;
    case 'Rollout':
      return s.phase === 'Healthy';
    default:
      return true;
  }
}

/** An Event (v1): the fields read. */
interface WarningEvent { type: string; involvedObject: { kind: string; name: string }; reason: string; message: string }

/** Recent warning events in a namespace about objects whose name starts with `prefix`. */
async function warningEvents(kube: Kube, namespace: string, prefix: string): Promise<string[]> {
  const events = await kube.list<WarningEvent>('v1', 'Event', namespace);
  return events
    .filter((e) => e.type === 'Warning' && String(e.involvedObject?.name ?? '').startsWith(prefix))
    .map((e) => `${e.involvedObject.kind} ${e.involvedObject.name}: ${e.reason}: ${e.message}`);
}

export async function workloadProblems(kube: Kube, workloads: KubeObject[]): Promise<string> {
  const out: string[] = [];
  for (const w of workloads) {
    const ns = w.metadata.namespace!;
    const live = await kube.get<WorkloadJson>(w.apiVersion, w.kind, w.metadata.name, ns);
    if (!live) { out.push(`${w.kind} ${ns}/${w.metadata.name}: missing`); continue; }
    if (available(w.kind, live)) continue;
    const details = new Set(await warningEvents(kube, ns, w.metadata.name));
    const selector = Object.entries(live.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    if (selector) {
      for (const pod of await kube.list<V1Pod>('v1', 'Pod', ns, selector)) {
        for (const c of pod.status?.conditions ?? []) {
          if (c.status !== 'True' && c.message) details.add(`Pod ${pod.metadata.name}: ${c.type}=${c.status} ${c.reason ?? ''}: ${c.message}`);
        }
      }
    }
    const summary = w.kind === 'Rollout' && live.status?.message ? `${live.status.phase}: ${live.status.message}` : `status ${JSON.stringify(live.status ?? {})}`;
    out.push(`${w.kind} ${ns}/${w.metadata.name} not ready (${summary})${[...details].map((d) => `\n    ${d}`).join('')}`);
  }
  return out.join('\n');
}
