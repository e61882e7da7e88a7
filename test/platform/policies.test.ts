/**
 * Admission policies: every CEL expression parses, every validation says what to fix, the policies
 * reject what they must (with a message naming the offender) and admit everything this repository
 * deploys. Evaluated with a real CEL implementation (support/admission.ts); the API server itself
 * enforces them in test/cluster.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { admissionPolicies } from '../../policies/index.ts';
import { policyContext, systemNamespaces } from '../../charts-ts/platform/admission-policies.ts';
import { k3sUpgradeTag } from '../../charts-ts/platform/upgrade-plans.ts';
import { imagesAnnotation } from '../../charts-ts/lib/helm-release.ts';
import { isPodTemplateKind, type Manifest } from '../../charts-ts/lib/workloads.ts';
import { renderAll } from '../support/render.ts';
import { admit, evaluate, parseProblems, policyExpressions } from './support/admission.ts';

const r = renderAll();
const policies = admissionPolicies(policyContext(r.config));
const byName = (name: string) => policies.find((p) => p.name === name)!;
const nsLabels = (ns: string): Record<string, string> => r.find('Namespace', { name: ns })[0]?.metadata?.labels ?? {};
const appNs = r.config.environments.production.namespace;

const bounded = { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } };
const pod = (spec: Record<string, unknown>, namespace = appNs) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace },
  spec: { containers: [{ name: 'app', image: 'ghcr.io/lms-platform/lms-api:1.0.0', resources: bounded }], ...spec },
});
const withContainer = (c: Record<string, unknown>, namespace = appNs) =>
  pod({ containers: [{ name: 'app', image: 'ghcr.io/lms-platform/lms-api:1.0.0', resources: bounded, ...c }] }, namespace);
const check = (object: Manifest) => admit(policies, object, nsLabels(object.metadata!.namespace!));

describe('admission policy definitions', () => {
  it('are the four the platform needs, rendered as a ValidatingAdmissionPolicy and a Deny binding each', () => {
    expect(policies.map((p) => p.name).sort()).toEqual(['lms-app-pod-hardening', 'lms-image-provenance', 'lms-resources-required', 'lms-service-exposure']);
    for (const p of policies) {
      const vap = r.getOf<{ spec: { failurePolicy: string; validations: unknown } }>('admissionregistration.k8s.io', 'ValidatingAdmissionPolicy', p.name);
      expect(vap.apiVersion).toBe('admissionregistration.k8s.io/v1');
      expect(vap.spec.failurePolicy).toBe('Fail');
      expect(vap.spec.validations).toEqual(p.validations);
      const binding = r.getOf<{ spec: unknown }>('admissionregistration.k8s.io', 'ValidatingAdmissionPolicyBinding', p.name);
      expect(binding.spec).toMatchObject({ policyName: p.name, validationActions: ['Deny'] });
    }
    const files = new Set(r.objects.filter((o) => o.object.kind.startsWith('ValidatingAdmissionPolicy')).map((o) => o.file));
    expect([...files]).toEqual(['platform/configs/admission-policies.yaml']);
  });

  it('every CEL expression parses', () => {
    expect(policies.flatMap(parseProblems)).toEqual([]);
    expect(policies.flatMap(policyExpressions).length).toBeGreaterThan(20);
  });

  it('every validation carries a message that says what to do', () => {
    for (const p of policies) {
      for (const v of p.validations) {
        expect(v.message.length, `${p.name}: ${v.expression}`).toBeGreaterThan(30);
        expect(v.message, p.name).toMatch(/;|use|remove|pin|set|mirror/);
      }
    }
  });

  it('leave the k3s and Flux system namespaces to k3s and flux bootstrap', () => {
    expect(byName('lms-image-provenance').namespaces).toEqual({ allExcept: systemNamespaces });
    expect(byName('lms-app-pod-hardening').namespaces).toEqual({ withLabel: { key: 'lms.dev/tier', values: ['apps'] } });
    expect(byName('lms-service-exposure').namespaces).toEqual({ allExcept: ['kube-system'] });
  });
});

describe('image provenance', () => {
  it('admits pinned images from allowed registries, short Docker names included', () => {
    expect(check(withContainer({ image: 'ghcr.io/lms-platform/lms-api:1.0.0@sha256:' + 'a'.repeat(64) })).allowed).toBe(true);
    expect(check(withContainer({ image: 'redis:7.4.2' })).allowed).toBe(true); // docker.io/library/redis
    expect(check(withContainer({ image: 'rancher/kubectl:v1.36.1' })).allowed).toBe(true); // docker.io/rancher/kubectl
  });

  it('rejects a registry outside the allow-list, naming the image and the fix', () => {
    const d = check(withContainer({ image: 'evil.example.com/miner:1.0' }));
    expect(d.allowed).toBe(false);
    expect(d.messages.join()).toContain('evil.example.com/miner:1.0');
    expect(d.messages.join()).toContain('allowedImagePrefixes');
    // A prefix must match whole path segments' start: ghcr.io/lms-platform-fake is not ghcr.io/lms-platform/.
    expect(check(withContainer({ image: 'ghcr.io/lms-platform-fake/x:1' })).allowed).toBe(false);
    expect(check(withContainer({ image: 'docker.io/someone/redis:7' })).allowed).toBe(false);
  });

  it('rejects :latest and untagged images, in init containers too', () => {
    const latest = check(withContainer({ image: 'ghcr.io/lms-platform/lms-api:latest' }));
    expect(latest.allowed).toBe(false);
    expect(latest.messages.join()).toMatch(/ghcr.io\/lms-platform\/lms-api:latest use the :latest tag/);
    const untagged = check(withContainer({ image: 'ghcr.io/lms-platform/lms-api' }));
    expect(untagged.allowed).toBe(false);
    expect(untagged.messages.join()).toMatch(/have no tag or digest/);
    const init = check(pod({ initContainers: [{ name: 'migrate', image: 'redis', resources: bounded }] }));
    expect(init.allowed).toBe(false);
    expect(init.messages.join()).toContain('docker.io/library/redis');
  });

  it('checks workloads by their pod template (Deployments, CronJobs, Rollouts)', () => {
    const template = { spec: { containers: [{ name: 'app', image: 'nginx:latest', resources: bounded }] } };
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: appNs }, spec: { template } };
    const cronJob = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c', namespace: appNs }, spec: { jobTemplate: { spec: { template } } } };
    const rollout = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'r', namespace: appNs }, spec: { template } };
    for (const o of [deployment, cronJob, rollout]) expect(check(o).allowed, o.kind).toBe(false);
    // A Rollout that references a Deployment's template has nothing to check itself.
    const ref = { ...rollout, spec: { workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd' } } };
    expect(evaluate(byName('lms-image-provenance'), ref).allowed).toBe(true);
  });

  it('does not apply in kube-system or flux-system', () => {
    expect(check(withContainer({ image: 'nginx:latest' }, 'kube-system')).checkedBy).toEqual([]);
    expect(check(withContainer({ image: 'nginx:latest' }, 'flux-system')).checkedBy).toEqual([]);
  });
});

describe('resources required', () => {
  it('rejects a container without requests or limits, naming it', () => {
    const d = check(pod({ containers: [{ name: 'app', image: 'ghcr.io/lms-platform/lms-api:1.0.0', resources: bounded }, { name: 'sidecar', image: 'ghcr.io/lms-platform/x:1', resources: { requests: { cpu: '10m', memory: '8Mi' } } }] }));
    expect(d.allowed).toBe(false);
    expect(d.messages).toEqual([expect.stringMatching(/^container\(s\) sidecar must set resources.requests and resources.limits/)]);
    expect(check(withContainer({ resources: undefined })).allowed).toBe(false);
    expect(check(withContainer({ resources: { requests: bounded.requests, limits: { memory: '1Gi' } } })).allowed).toBe(false);
  });

  it('applies in platform namespaces as well', () => {
    expect(check(withContainer({ resources: undefined }, 'monitoring')).allowed).toBe(false);
  });

  it('lets only the k3s upgrade Job template through (the Plan API has no resources); its pods are still checked', () => {
    const upgradePod = withContainer({ resources: undefined }, 'system-upgrade');
    const job = (labels: Record<string, string> | undefined, namespace = 'system-upgrade') => ({
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'apply-k3s-server-on-node', namespace, labels },
      spec: { template: { spec: upgradePod.spec } },
    });
    expect(check(job({ 'upgrade.cattle.io/plan': 'k3s-server' })).allowed).toBe(true);
    expect(check(job(undefined)).allowed).toBe(false);
    expect(check(job({ 'upgrade.cattle.io/plan': 'k3s-server' }, 'lms-production')).allowed).toBe(false);
    expect(check(upgradePod).allowed).toBe(false);
  });
});

describe('app pod hardening', () => {
  const cases: [string, Manifest, RegExp][] = [
    ['privileged', withContainer({ securityContext: { privileged: true } }), /app are privileged/],
    ['hostPath', pod({ volumes: [{ name: 'root', hostPath: { path: '/' } }] }), /volume\(s\) root mount a hostPath/],
    ['hostNetwork', pod({ hostNetwork: true }), /hostNetwork is not allowed/],
    ['hostPID', pod({ hostPID: true }), /hostPID is not allowed/],
    ['hostIPC', pod({ hostIPC: true }), /hostIPC is not allowed/],
  ];
  for (const [what, object, message] of cases) {
    it(`rejects ${what} in an app namespace with a message`, () => {
      const d = check(object);
      expect(d.allowed).toBe(false);
      expect(d.messages.join('\n')).toMatch(message);
    });
  }

  it('allows host access in platform namespaces that need it (the k3s upgrade Job)', () => {
    const job = pod({ hostPID: true, hostNetwork: true, volumes: [{ name: 'host-root', hostPath: { path: '/' } }],
      containers: [{ name: 'upgrade', image: `docker.io/rancher/k3s-upgrade:${k3sUpgradeTag(r.config.cluster.k3s.version)}`, resources: bounded, securityContext: { privileged: true } }] }, 'system-upgrade');
    const d = check(job);
    expect(d.checkedBy).not.toContain('lms-app-pod-hardening');
    expect(d.allowed).toBe(true);
  });
});

describe('service exposure', () => {
  const svc = (type: string | undefined, namespace = appNs) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace }, spec: { ...(type ? { type } : {}), ports: [{ port: 80 }] } });
  it('rejects NodePort and LoadBalancer outside the ingress namespace', () => {
    for (const type of ['NodePort', 'LoadBalancer']) {
      const d = check(svc(type));
      expect(d.allowed).toBe(false);
      expect(d.messages[0]).toBe(`Service web has type ${type}; only the ingress in kube-system is exposed on the node: use type ClusterIP and route traffic through an IngressRoute`);
    }
  });
  it('admits ClusterIP anywhere and LoadBalancer in kube-system (Traefik)', () => {
    expect(check(svc(undefined)).allowed).toBe(true);
    expect(check(svc('ClusterIP')).allowed).toBe(true);
    expect(check(svc('LoadBalancer', 'kube-system')).checkedBy).toEqual([]);
  });
});

describe('everything this repository deploys is admitted', () => {
  it('every workload and Service in the rendered output', () => {
    const rejected: string[] = [];
    let checked = 0;
    for (const { object, file } of r.objects) {
      if (!(isPodTemplateKind(object) || object.kind === 'Service')) continue;
      const d = check(object);
      if (d.checkedBy.length) checked++;
      if (!d.allowed) rejected.push(`${file}: ${object.kind} ${object.metadata.namespace}/${object.metadata.name}: ${d.messages.join('; ')}`);
    }
    expect(rejected).toEqual([]);
    expect(checked).toBeGreaterThan(0);
  });

  it('every image a HelmRelease or an upgrade Plan pulls is from an allowed registry and pinned', () => {
    const images = [
      ...r.find('HelmRelease').flatMap((h) => {
        const listed = h.metadata.annotations?.[imagesAnnotation];
        expect(listed, `HelmRelease ${h.metadata.namespace}/${h.metadata.name} must list its images (FluxHelmRelease images)`).toBeDefined();
        return JSON.parse(listed!) as string[];
      }),
      ...r.findOf<{ spec: { upgrade: { image: string }; version: string } }>('upgrade.cattle.io', 'Plan').map((p) => `${p.spec.upgrade.image}:${k3sUpgradeTag(p.spec.version)}`),
      ...r.findOf<V1ConfigMap>('', 'ConfigMap', { namespace: 'system-upgrade' }).map((c) => c.data!.SYSTEM_UPGRADE_JOB_KUBECTL_IMAGE).filter(Boolean),
    ];
    expect(images.length).toBeGreaterThan(8);
    const policy = byName('lms-image-provenance');
    const rejected = images.flatMap((image) => evaluate(policy, withContainer({ image })).messages);
    expect(rejected).toEqual([]);
  });
});
