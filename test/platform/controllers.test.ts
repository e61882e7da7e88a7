/**
 * Controllers: pinned charts from their upstream repositories, Flux remediation defaults, explicit
 * resources for every container equal to the declared capacity footprint, and the chart values that
 * matter (one Argo Rollouts replica, no dashboard, CRDs installed and kept, plugin ordering).
 */
import type { V1ConfigMap, V1Deployment, V1LimitRange, V1RoleBinding } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { FluxHelmRelease, imagesAnnotation, providesApiGroupsAnnotation } from '../../charts-ts/lib/helm-release.ts';
import { footprintAnnotation, type PodFootprint } from '../../charts-ts/lib/footprint.ts';
import { podTemplate, type Manifest } from '../../charts-ts/lib/workloads.ts';
import { Chart, Testing } from 'cdk8s';
import { renderAll } from '../support/render.ts';

const r = renderAll();
const c = r.config.cluster.platform.controllers;
/** A HelmRelease: the fields read; `V` the chart values read. */
interface HelmReleaseJson<V> {
  spec: { chart: { spec: unknown }; install: unknown; upgrade: unknown; driftDetection: unknown; dependsOn?: unknown; values: V };
}
/** Resources as the chart values give them (compared whole). */
type Res = { resources: unknown };
const release = <V = unknown>(namespace: string, name: string) => r.getOf<HelmReleaseJson<V>>('helm.toolkit.fluxcd.io', 'HelmRelease', name, namespace);
const footprint = (hr: Manifest) => JSON.parse(hr.metadata!.annotations![footprintAnnotation]) as PodFootprint[];
const images = (hr: Manifest) => JSON.parse(hr.metadata!.annotations![imagesAnnotation]) as string[];

const ours = [
  { ns: 'argo-rollouts', name: 'argo-rollouts', pin: c.argoRollouts.chart, groups: ['argoproj.io'] },
  { ns: 'cnpg-system', name: 'cloudnative-pg', pin: c.cloudnativePg.chart, groups: ['postgresql.cnpg.io'] },
  { ns: 'cnpg-system', name: 'plugin-barman-cloud', pin: c.barmanCloudPlugin.chart, groups: ['barmancloud.cnpg.io'] },
  { ns: 'cert-manager', name: 'cert-manager', pin: c.certManager.chart, groups: ['cert-manager.io', 'acme.cert-manager.io'] },
];

describe('controller HelmReleases', () => {
  for (const { ns, name, pin, groups } of ours) {
    it(`${name}: pinned chart from its repository, CRDs CreateReplace, retries with rollback`, () => {
      const hr = release(ns, name);
      expect(r.objects.find((o) => o.object === hr)!.file).toBe(`platform/controllers/${ns === 'cnpg-system' ? 'cloudnative-pg' : name}.yaml`);
      expect(hr.spec.chart.spec).toMatchObject({ chart: pin.name, version: pin.version, sourceRef: { kind: 'HelmRepository', name: `${name}-chart` } });
      expect(r.getOf<{ spec: { url: string } }>('source.toolkit.fluxcd.io', 'HelmRepository', `${name}-chart`, ns).spec.url).toBe(pin.repository);
      expect(hr.spec.install).toEqual({ crds: 'CreateReplace', remediation: { retries: 3 } });
      expect(hr.spec.upgrade).toMatchObject({ crds: 'CreateReplace', remediation: { retries: 3, remediateLastFailure: true, strategy: 'rollback' } });
      expect(hr.spec.driftDetection).toEqual({ mode: 'enabled' });
      expect(JSON.parse(hr.metadata.annotations![providesApiGroupsAnnotation])).toEqual(groups);
    });
  }

  it('chart versions are the ones shipping the pinned CRDs (cdk8s.yaml)', () => {
    expect(c.cloudnativePg.chart.version).toBe('0.29.0'); // appVersion 1.30.0
    expect(c.certManager.chart.version).toBe('v1.21.1');
    // Newest charts predate the patch releases; the images carry the pinned versions.
    expect(c.argoRollouts.image.tag).toBe('v1.9.1');
    expect(c.barmanCloudPlugin.image.tag).toBe('v0.14.0');
    expect(release<{ controller: { image: unknown } }>('argo-rollouts', 'argo-rollouts').spec.values.controller.image).toEqual({ registry: 'quay.io', repository: 'argoproj/argo-rollouts', tag: 'v1.9.1' });
    const plugin = release<{ image: unknown; sidecarImage: unknown }>('cnpg-system', 'plugin-barman-cloud').spec.values;
    expect(plugin.image).toEqual({ registry: 'ghcr.io', repository: 'cloudnative-pg/plugin-barman-cloud', tag: 'v0.14.0' });
    expect(plugin.sidecarImage).toEqual({ registry: 'ghcr.io', repository: 'cloudnative-pg/plugin-barman-cloud-sidecar', tag: 'v0.14.0' });
  });

  it('Argo Rollouts runs one replica, no dashboard, CRDs kept, Traefik RBAC only', () => {
    const v = release<{ controller: { replicas: number }; dashboard: { enabled: boolean }; providerRBAC: { providers: Record<string, boolean> } }>('argo-rollouts', 'argo-rollouts').spec.values;
    expect(v.controller.replicas).toBe(1);
    expect(v.dashboard.enabled).toBe(false);
    expect(v).toMatchObject({ installCRDs: true, keepCRDs: true });
    const enabled = Object.entries(v.providerRBAC.providers).filter(([, on]) => on).map(([k]) => k);
    expect(enabled).toEqual(['traefik']);
  });

  it('every container has explicit resources, equal to the declared footprint', () => {
    const argo = release<{ controller: Res }>('argo-rollouts', 'argo-rollouts');
    expect(argo.spec.values.controller.resources).toEqual(c.argoRollouts.resources);
    expect(footprint(argo)).toEqual([{ name: 'argo-rollouts controller', replicas: 1, ...c.argoRollouts.resources }]);

    const cnpg = release<Res>('cnpg-system', 'cloudnative-pg');
    expect(cnpg.spec.values.resources).toEqual(c.cloudnativePg.resources);
    expect(footprint(cnpg)).toEqual([{ name: 'cloudnative-pg operator', replicas: 1, ...c.cloudnativePg.resources }]);

    const plugin = release<Res>('cnpg-system', 'plugin-barman-cloud');
    expect(plugin.spec.values.resources).toEqual(c.barmanCloudPlugin.resources);
    expect(footprint(plugin)).toEqual([{ name: 'barman-cloud plugin', replicas: 1, ...c.barmanCloudPlugin.resources }]);

    const cm = release<Res & { replicaCount: number; webhook: Res & { replicaCount: number }; cainjector: Res & { replicaCount: number }; startupapicheck: Res }>('cert-manager', 'cert-manager');
    const v = cm.spec.values;
    const rc = c.certManager.resources;
    expect([v.resources, v.webhook.resources, v.cainjector.resources, v.startupapicheck.resources]).toEqual([rc.controller, rc.webhook, rc.cainjector, rc.startupapicheck]);
    expect(footprint(cm).map((p) => ({ requests: p.requests, limits: p.limits }))).toEqual([rc.controller, rc.webhook, rc.cainjector, rc.startupapicheck]);
    expect([v.replicaCount, v.webhook.replicaCount, v.cainjector.replicaCount]).toEqual([1, 1, 1]);
  });

  it('cert-manager installs and keeps its CRDs, and checks DNS-01 against public resolvers', () => {
    const v = release<{ crds: unknown; dns01RecursiveNameserversOnly: boolean; dns01RecursiveNameservers: string }>('cert-manager', 'cert-manager').spec.values;
    expect(v.crds).toEqual({ enabled: true, keep: true });
    expect(v.dns01RecursiveNameserversOnly).toBe(true);
    expect(v.dns01RecursiveNameservers).toBe('1.1.1.1:53,1.0.0.1:53');
    expect(images(release('cert-manager', 'cert-manager'))).toContain('quay.io/jetstack/cert-manager-controller:v1.21.1');
  });

  it('the Barman Cloud plugin waits for the operator and cert-manager, in the operator namespace', () => {
    expect(release('cnpg-system', 'plugin-barman-cloud').spec.dependsOn).toEqual([
      { name: 'cloudnative-pg', namespace: 'cnpg-system' },
      { name: 'cert-manager', namespace: 'cert-manager' },
    ]);
  });

  it('every HelmRelease in the output declares its footprint and images (a release with pods has images)', () => {
    for (const hr of r.find('HelmRelease')) {
      const where = `${hr.metadata.namespace}/${hr.metadata.name}`;
      expect(Array.isArray(footprint(hr)), where).toBe(true);
      if (footprint(hr).length) expect(images(hr).length, where).toBeGreaterThan(0);
    }
  });
});

describe('FluxHelmRelease', () => {
  const make = (props: Partial<ConstructorParameters<typeof FluxHelmRelease>[2]>) => () => new FluxHelmRelease(new Chart(Testing.app(), 'c'), 'r', {
    name: 'x', namespace: 'ns', chart: 'x', version: '1.0.0', source: { kind: 'helm', url: 'https://example.com' }, values: {},
    footprint: [{ name: 'x', replicas: 1, requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '32Mi' } }],
    images: ['quay.io/x/y:1.0'], ...props,
  });
  it('rejects version ranges and images without a registry or tag, saying what to write', () => {
    expect(make({ version: '^1.0.0' })).toThrow('HelmRelease x: chart version "^1.0.0" must be an exact version like 1.2.3, not a range');
    expect(make({ images: [] })).toThrow(/list the images the chart runs/);
    expect(make({ images: [], footprint: [] })).not.toThrow(); // a CRD-only chart
    expect(make({ images: ['quay.io/x/y'] })).toThrow('HelmRelease x: image "quay.io/x/y" must be registry/path:tag (or @sha256 digest), as the cluster pulls it');
    expect(make({})).not.toThrow();
  });
});

describe('system-upgrade-controller', () => {
  const deployment = r.getOf<V1Deployment>('apps', 'Deployment', 'system-upgrade-controller', 'system-upgrade');
  it('runs the pinned image with explicit resources, non-root, read-only root filesystem', () => {
    const spec = podTemplate(deployment)!.spec!;
    expect(deployment.spec!.replicas).toBe(1);
    expect(spec.containers).toHaveLength(1);
    const ctr = spec.containers[0];
    // By digest: the controller creates privileged Jobs on the node.
    expect(ctr.image).toBe(`${c.systemUpgrade.image.repository}:${c.systemUpgrade.image.tag}@${c.systemUpgrade.image.digest}`);
    expect(ctr.image).toMatch(/^docker\.io\/rancher\/system-upgrade-controller:v0\.20\.1@sha256:[a-f0-9]{64}$/);
    expect(ctr.resources).toEqual(c.systemUpgrade.resources);
    expect(ctr.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(JSON.parse(deployment.metadata.annotations![providesApiGroupsAnnotation])).toEqual(['upgrade.cattle.io']);
  });
  it('gives the upgrade Jobs a pinned kubectl and bounded default resources', () => {
    const env = r.getOf<V1ConfigMap>('', 'ConfigMap', 'default-controller-env', 'system-upgrade').data!;
    expect(env.SYSTEM_UPGRADE_JOB_KUBECTL_IMAGE).toBe(`${c.systemUpgrade.kubectlImage.repository}:${c.systemUpgrade.kubectlImage.tag}@${c.systemUpgrade.kubectlImage.digest}`);
    expect(env.SYSTEM_UPGRADE_JOB_KUBECTL_IMAGE).toMatch(/@sha256:[a-f0-9]{64}$/);
    expect(env.SYSTEM_UPGRADE_JOB_PRIVILEGED).toBe('true');
    const limits = r.getOf<V1LimitRange>('', 'LimitRange', 'upgrade-job-defaults', 'system-upgrade');
    expect(limits.spec!.limits).toEqual([{ type: 'Container', defaultRequest: c.systemUpgrade.jobResources.requests, default: c.systemUpgrade.jobResources.limits }]);
  });
  it('binds its service account to the controller and drainer roles', () => {
    for (const [kind, name] of [['ClusterRoleBinding', 'system-upgrade'], ['ClusterRoleBinding', 'system-upgrade-drainer'], ['RoleBinding', 'system-upgrade']]) {
      expect(r.getOf<V1RoleBinding>('rbac.authorization.k8s.io', kind, name).subjects).toEqual([{ kind: 'ServiceAccount', name: 'system-upgrade', namespace: 'system-upgrade' }]);
    }
  });
});

describe('namespaces', () => {
  it('are never pruned by Flux, and app namespaces have no defaulting LimitRange', () => {
    for (const ns of r.find('Namespace')) expect(ns.metadata.annotations!['kustomize.toolkit.fluxcd.io/prune'], ns.metadata.name).toBe('disabled');
    for (const env of Object.values(r.config.environments)) expect(r.find('LimitRange', { namespace: env.namespace })).toEqual([]);
    expect(new Set(r.find('Namespace').map((n) => r.objects.find((o) => o.object === n)!.file))).toEqual(new Set(['platform/namespaces/namespaces.yaml']));
  });
});
