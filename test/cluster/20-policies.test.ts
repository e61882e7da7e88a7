/**
 * The ValidatingAdmissionPolicies from dist/ (defined in policies/, rendered by
 * charts-ts/platform/admission-policies.ts), enforced by the real API server: every validation of
 * every policy rejects a crafted object that breaks exactly that rule, with its message; each
 * pod policy catches every workload kind it names; the exempt namespaces stay exempt; and every
 * generated object is admitted.
 */
import type { V1PodSpec } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { podTemplate } from '../../charts-ts/lib/workloads.ts';
import { applyDist, formatProblems } from './support/apply.ts';
import { fluxLayers } from './support/dist.ts';
import { ApiError, type Kube, type KubeObject } from './support/kube.ts';
import { config, goodImage, goodPodSpec, podBearing, podBearingKinds, type PodBearingKind } from './support/probes.ts';
import { waitFor } from './support/processes.ts';
import { connect, ensureDistApplied } from './support/session.ts';

const appNamespace = config.environments.production.namespace;
const relaxedAppNamespace = 'lms-policy-probe';
const prefix = config.cluster.platform.allowedImagePrefixes[0];

/** A pod spec with one change. */
const spec = (change: (s: V1PodSpec) => void) => { const s = goodPodSpec(); change(s); return s; };
const deployment = (podSpec: V1PodSpec) => podBearing('Deployment', appNamespace, 'policy-probe', podSpec);

interface Case {
  readonly policy: string;
  /** Part of the static `message` of the validation this case breaks (identifies the validation). */
  readonly violates: string;
  readonly object: KubeObject;
  /** Part of the denial the API server must return (the policy's messageExpression output). */
  readonly denial: string;
}

const cases: Case[] = [
  {
    policy: 'lms-image-provenance', violates: 'must come from an allowed registry',
    object: deployment(spec((s) => { s.containers[0].image = 'registry.example.org/miner:1.0'; })),
    denial: 'image(s) registry.example.org/miner:1.0 are not from an allowed registry',
  },
  {
    policy: 'lms-image-provenance', violates: 'must not use the :latest tag',
    object: deployment(spec((s) => { s.containers[0].image = `${prefix}policy-probe:latest`; })),
    denial: `image(s) ${prefix}policy-probe:latest use the :latest tag`,
  },
  {
    policy: 'lms-image-provenance', violates: 'must name a tag or a digest',
    object: deployment(spec((s) => { s.containers[0].image = `${prefix}policy-probe`; })),
    denial: `image(s) ${prefix}policy-probe have no tag or digest`,
  },
  {
    policy: 'lms-resources-required', violates: 'must set resources.requests and resources.limits',
    object: deployment(spec((s) => { delete s.containers[0].resources!.limits; })),
    denial: 'container(s) app must set resources.requests and resources.limits for both cpu and memory',
  },
  {
    policy: 'lms-app-pod-hardening', violates: 'privileged containers are not allowed',
    object: deployment(spec((s) => { s.containers[0].securityContext = { privileged: true }; })),
    denial: 'container(s) app are privileged',
  },
  {
    policy: 'lms-app-pod-hardening', violates: 'hostPath volumes are not allowed',
    object: deployment(spec((s) => { s.volumes = [{ name: 'host', hostPath: { path: '/etc' } }]; })),
    denial: 'volume(s) host mount a hostPath',
  },
  {
    policy: 'lms-app-pod-hardening', violates: 'hostNetwork is not allowed',
    object: deployment(spec((s) => { s.hostNetwork = true; })),
    denial: 'hostNetwork is not allowed in app namespaces',
  },
  {
    policy: 'lms-app-pod-hardening', violates: 'hostPID is not allowed',
    object: deployment(spec((s) => { s.hostPID = true; })),
    denial: 'hostPID is not allowed in app namespaces',
  },
  {
    policy: 'lms-app-pod-hardening', violates: 'hostIPC is not allowed',
    object: deployment(spec((s) => { s.hostIPC = true; })),
    denial: 'hostIPC is not allowed in app namespaces',
  },
  {
    policy: 'lms-service-exposure', violates: 'NodePort or LoadBalancer are only allowed',
    object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'policy-probe', namespace: appNamespace }, spec: { type: 'NodePort', selector: { app: 'x' }, ports: [{ port: 80 }] } },
    denial: 'Service policy-probe has type NodePort',
  },
];

/** Create as a server-side dry run; the denial message, or undefined when admitted. */
async function denial(kube: Kube, object: KubeObject): Promise<string | undefined> {
  try {
    await kube.create(object, { dryRun: true });
    return undefined;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 403 || e.status === 422)) return String(e.statusMessage ?? e.message);
    throw e;
  }
}

const resourceKinds: Record<string, PodBearingKind> = {
  pods: 'Pod', deployments: 'Deployment', statefulsets: 'StatefulSet', daemonsets: 'DaemonSet', jobs: 'Job', cronjobs: 'CronJob', rollouts: 'Rollout',
};

/** A ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) from dist/: the fields read. */
interface PolicyJson {
  readonly spec: { readonly validations: { readonly message: string }[]; readonly matchConstraints: { readonly resourceRules: { readonly resources: string[] }[] } };
}

describe('admission policies on a real API server', () => {
  let kube: Kube;
  let policies: (KubeObject & PolicyJson)[];

  beforeAll(async () => {
    kube = await connect();
    await ensureDistApplied(kube);
    policies = fluxLayers().flatMap((l) => l.objects).map((o) => o.object).filter((o): o is KubeObject & PolicyJson => o.kind === 'ValidatingAdmissionPolicy');
    // A policy is enforced once the API server's informer has it: wait for each to deny its first case.
    for (const p of policies) {
      const first = cases.find((c) => c.policy === p.metadata.name);
      if (first) await waitFor(`policy ${p.metadata.name} enforced`, async () => (await denial(kube, first.object)) !== undefined, { timeoutMs: 60_000, intervalMs: 500 });
    }
  });

  it('dist/ contains the policies defined in policies/', () => {
    expect(policies.map((p) => p.metadata.name).sort()).toEqual([...new Set(cases.map((c) => c.policy))].sort());
  });

  it('has a crafted violation for every validation of every policy in dist/', () => {
    const missing = policies.flatMap((p) => p.spec.validations
      .filter((v) => !cases.some((c) => c.policy === p.metadata.name && v.message.includes(c.violates)))
      .map((v) => `${p.metadata.name}: "${v.message}"`));
    expect(missing, 'add a case to test/cluster/20-policies.test.ts for each of these validations').toEqual([]);
  });

  it.each(cases)('$policy rejects an object that breaks "$violates"', async (c) => {
    const got = await denial(kube, c.object);
    expect(got, `${c.object.kind} ${c.object.metadata.name} was admitted`).toBeDefined();
    expect(got).toContain(`ValidatingAdmissionPolicy '${c.policy}'`);
    expect(got).toContain(c.denial);
  });

  it('catches every pod-bearing kind each pod policy names (Pods, workloads, Rollouts), also where Pod Security is relaxed', async () => {
    // An app namespace whose Pod Security label someone relaxed: Pod Security would otherwise deny
    // a bad Pod before the policies see it, and the policies must hold on their own.
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: relaxedAppNamespace, labels: {
      'lms.dev/tier': 'apps', 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'privileged', 'pod-security.kubernetes.io/audit': 'privileged',
    } } });
    const escaped: string[] = [];
    for (const p of policies) {
      const kinds = p.spec.matchConstraints.resourceRules
        .flatMap((r) => r.resources).map((r) => resourceKinds[r]).filter(Boolean);
      if (!kinds.length) continue;
      const c = cases.find((x) => x.policy === p.metadata.name && x.object.kind === 'Deployment')!;
      for (const kind of kinds) {
        const object = podBearing(kind, relaxedAppNamespace, `probe-${kind.toLowerCase()}`, podTemplate(c.object)!.spec!);
        const got = await denial(kube, object);
        if (!got?.includes(c.denial)) escaped.push(`${p.metadata.name} admitted a ${kind} that breaks "${c.violates}"${got ? ` (denied for another reason: ${got})` : ''}`);
      }
    }
    expect(podBearingKinds.length).toBeGreaterThan(0);
    expect(escaped).toEqual([]);
  });

  it('leaves the k3s system namespace alone (its images and resources are pinned by k3s)', async () => {
    const foreign = podBearing('Deployment', 'kube-system', 'policy-probe', spec((s) => { s.containers[0].image = 'registry.example.org/miner:1.0'; delete s.containers[0].resources; }));
    expect(await denial(kube, foreign)).toBeUndefined();
    expect(await denial(kube, podBearing('Deployment', 'kube-system', 'policy-probe', goodPodSpec()))).toBeUndefined();
  });

  it('admits a well-formed workload in an app namespace', async () => {
    expect(await denial(kube, podBearing('Deployment', appNamespace, 'policy-probe', goodPodSpec()))).toBeUndefined();
    expect(goodImage.startsWith(prefix)).toBe(true);
  });

  it('admits every generated object with the policies in force', async () => {
    const { problems } = await applyDist(kube, { dryRun: true });
    expect(formatProblems(problems.filter((p) => p.kind === 'error'))).toBe('');
  });
});
