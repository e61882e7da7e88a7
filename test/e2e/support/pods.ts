/**
 * What a kubelet would refuse and kwok does not: a pod whose Secret or ConfigMap (volume, envFrom,
 * env valueFrom) does not exist never starts (ContainerCreating / CreateContainerConfigError), yet
 * kwok marks it Ready. This check makes those pods a test failure instead of a production outage.
 */
import type { V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { Kube } from '../../cluster/support/kube.ts';

export async function podStartProblems(kube: Kube): Promise<string[]> {
  const pods = await kube.list<V1Pod>('v1', 'Pod');
  const cache = new Map<string, V1Secret | V1ConfigMap | null>();
  const get = async (kind: 'Secret' | 'ConfigMap', ns: string, name: string) => {
    const key = `${kind}/${ns}/${name}`;
    if (!cache.has(key)) cache.set(key, (await kube.get<V1Secret | V1ConfigMap>('v1', kind, name, ns)) ?? null);
    return cache.get(key);
  };
  const problems: string[] = [];
  for (const pod of pods) {
    if (['Succeeded', 'Failed'].includes(pod.status?.phase ?? '')) continue;
    const ns = pod.metadata.namespace!;
    const where = `Pod ${ns}/${pod.metadata.name}`;
    // client-node types the names of references optional; the API server requires them.
    const need = async (kind: 'Secret' | 'ConfigMap', name: string | undefined, optional: boolean | undefined, what: string, key?: string) => {
      if (optional) return;
      const o = await get(kind, ns, name!);
      if (!o) problems.push(`${where}: ${what} needs ${kind} ${name}, which does not exist`);
      else if (key !== undefined && o.data?.[key] === undefined) problems.push(`${where}: ${what} needs key ${key} of ${kind} ${name}, which it lacks`);
    };
    for (const v of pod.spec.volumes ?? []) {
      if (v.secret) await need('Secret', v.secret.secretName, v.secret.optional, `volume ${v.name}`);
      if (v.configMap) await need('ConfigMap', v.configMap.name, v.configMap.optional, `volume ${v.name}`);
      for (const src of v.projected?.sources ?? []) {
        if (src.secret) await need('Secret', src.secret.name, src.secret.optional, `projected volume ${v.name}`);
        if (src.configMap) await need('ConfigMap', src.configMap.name, src.configMap.optional, `projected volume ${v.name}`);
      }
    }
    for (const c of [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])]) {
      for (const f of c.envFrom ?? []) {
        if (f.secretRef) await need('Secret', f.secretRef.name, f.secretRef.optional, `container ${c.name} envFrom`);
        if (f.configMapRef) await need('ConfigMap', f.configMapRef.name, f.configMapRef.optional, `container ${c.name} envFrom`);
      }
      for (const e of c.env ?? []) {
        const s = e.valueFrom?.secretKeyRef;
        const m = e.valueFrom?.configMapKeyRef;
        if (s) await need('Secret', s.name, s.optional, `container ${c.name} env ${e.name}`, s.key);
        if (m) await need('ConfigMap', m.name, m.optional, `container ${c.name} env ${e.name}`, m.key);
      }
    }
  }
  return problems;
}
