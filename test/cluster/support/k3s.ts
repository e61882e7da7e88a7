/**
 * What exists on the VPS before Flux applies our layers, and is not in this repository:
 *
 * - from k3s: the `local-path` StorageClass (k3s's bundled local-storage manifest,
 *   https://github.com/k3s-io/k3s/blob/master/manifests/local-storage.yaml) and the PVs its
 *   local-path-provisioner creates for claims (`LocalPathProvisioner` below stands in for it: the
 *   provisioner's only API effect is a PV bound to the claim, pinned to the node);
 * - from `flux bootstrap`: the flux-system namespace (labels as in Flux's install manifests).
 *
 * k3s's other packaged components (CoreDNS, Traefik, metrics-server) run as pods we do not have
 * here; the objects in dist/ only reference Traefik, whose CRDs are installed.
 */
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { Kube, KubeObject } from './kube.ts';

export const localPath = { storageClass: 'local-path', provisioner: 'rancher.io/local-path' } as const;

export const k3sObjects: KubeObject[] = [
  {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: localPath.storageClass, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: localPath.provisioner,
    volumeBindingMode: 'WaitForFirstConsumer',
    reclaimPolicy: 'Delete',
  } as KubeObject,
];

export const fluxBootstrapObjects: KubeObject[] = [
  {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: 'flux-system',
      labels: {
        'app.kubernetes.io/instance': 'flux-system',
        'app.kubernetes.io/part-of': 'flux',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/warn-version': 'latest',
      },
    },
  },
];

export async function installPreexisting(kube: Kube): Promise<void> {
  for (const o of [...k3sObjects, ...fluxBootstrapObjects]) await kube.apply(o, { fieldManager: 'k3s' });
}

/**
 * Binds claims of the local-path class the way k3s's local-path-provisioner does: once the
 * scheduler has picked the node for a pod using the claim (WaitForFirstConsumer sets
 * `volume.kubernetes.io/selected-node`), a hostPath PV of the requested size with node affinity to
 * that node and a claimRef; the real PV controller then binds them and the scheduler binds the pod.
 */
export class LocalPathProvisioner {
  private running = true;
  private loop?: Promise<void>;

  constructor(private readonly kube: Kube) {}

  start(): void {
    this.loop = (async () => {
      while (this.running) {
        try { await this.provision(); } catch { /* API busy or shutting down: next round */ }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async provision(): Promise<void> {
    const claims = await this.kube.list<V1PersistentVolumeClaim>('v1', 'PersistentVolumeClaim');
    for (const pvc of claims) {
      const node = pvc.metadata.annotations?.['volume.kubernetes.io/selected-node'];
      if (pvc.status?.phase !== 'Pending' || !node || pvc.spec.volumeName || pvc.spec.storageClassName !== localPath.storageClass) continue;
      const name = `pvc-${pvc.metadata.uid}`;
      if (await this.kube.get('v1', 'PersistentVolume', name)) continue;
      await this.kube.create({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name, annotations: { 'pv.kubernetes.io/provisioned-by': localPath.provisioner, 'local.path.provisioner/selected-node': node } },
        spec: {
          capacity: { storage: pvc.spec.resources!.requests!.storage },
          accessModes: pvc.spec.accessModes,
          persistentVolumeReclaimPolicy: 'Delete',
          storageClassName: localPath.storageClass,
          volumeMode: pvc.spec.volumeMode ?? 'Filesystem',
          claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: pvc.metadata.name, namespace: pvc.metadata.namespace, uid: pvc.metadata.uid },
          hostPath: { path: `/var/lib/rancher/k3s/storage/${name}_${pvc.metadata.namespace}_${pvc.metadata.name}`, type: 'DirectoryOrCreate' },
          nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } },
        },
      });
    }
  }
}
