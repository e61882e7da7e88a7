/**
 * The validation harness over the whole output (rendered in memory and the committed dist/), and
 * negative tests proving each check rejects what it should, with a message naming the field.
 * Schemas: Kubernetes OpenAPI v3 of the pinned version (scripts/setup.d/10-k8s-openapi.sh) and the
 * pinned CRDs (CRD_DIR), validated with ajv.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { V1LabelSelector, V1PodDisruptionBudgetSpec, V1PodSpec, V1Secret, V1ServicePort, V2HorizontalPodAutoscalerSpec } from '@kubernetes/client-node';
import { App, Chart } from 'cdk8s';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, deepMerge, parseConfig } from '../../charts-ts/config/load.ts';
import { values } from '../../charts-ts/config/values.ts';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { kplus } from '../../charts-ts/lib/plus.ts';
import { toYaml } from '../../charts-ts/lib/synth.ts';
import type { NamedManifest } from '../../charts-ts/lib/workloads.ts';
import { renderAll, type Rendered } from '../support/render.ts';
import {
  formatProblems, loadDist, schemaValidator, unusedAllowances, validateObjects, validateSchemas, type OutputObject, type Problem,
} from '../harness/index.ts';
import { fixture, fixtureWith } from './fixtures.ts';

/** A fixture workload (Deployment or Rollout) as the negative tests edit it: fixture() sets these fields. */
interface Workload { spec: { replicas?: number; selector: V1LabelSelector; template: { spec: V1PodSpec } } }
/** A fixture Service: fixture() sets its selector and ports. */
interface FixtureService { spec: { selector: Record<string, string>; ports: V1ServicePort[] } }

const dist = resolve(repoRoot, 'dist');
const only = (ps: Problem[], rule: Problem['rule']) => ps.filter((p) => p.rule === rule);

let rendered: Rendered;
beforeAll(() => {
  schemaValidator(); // load the schemas once, outside the individual tests' timing
  rendered = renderAll();
});

describe('the whole output', () => {
  it('rendered in memory passes schema validation and every invariant', () => {
    const problems = validateObjects(rendered.objects);
    expect(problems, formatProblems(problems)).toEqual([]);
  });

  it('the committed dist/ passes schema validation and every invariant', () => {
    const { objects, problems } = loadDist(dist);
    const all = [...problems, ...validateObjects(objects)];
    expect(all, formatProblems(all)).toEqual([]);
    expect(objects.length).toBeGreaterThan(0);
  });

  it('the committed dist/ is what `npm run synth` renders now (run it after changing charts or config)', () => {
    const stale = rendered.files.filter((f) => {
      try {
        return readFileSync(resolve(dist, f.path), 'utf8') !== toYaml(f.objects);
      } catch {
        return true;
      }
    }).map((f) => f.path);
    const { objects } = loadDist(dist);
    const extra = [...new Set(objects.map((o) => o.file))].filter((p) => !rendered.files.some((f) => f.path === p));
    expect({ stale, extra }).toEqual({ stale: [], extra: [] });
  });

  it('every allowance in test/harness/allowances.ts still matches an object', () => {
    expect(unusedAllowances(rendered.objects)).toEqual([]);
  });
});

describe('schema validation', () => {
  it('accepts a correct output', () => {
    const problems = validateObjects(fixture());
    expect(problems, formatProblems(problems)).toEqual([]);
  });

  it('accepts what cdk8s-plus-27 renders, under the Kubernetes 1.36 schema', () => {
    const app = new App();
    const chart = new Chart(app, 'plus', { namespace: 'fixture', disableResourceNameHashes: true });
    const deployment = new kplus.Deployment(chart, 'web', {
      containers: [{
        image: 'ghcr.io/lms-platform/web:1.0.0', portNumber: 8080,
        resources: { cpu: { request: kplus.Cpu.millis(100), limit: kplus.Cpu.millis(500) } },
      }],
    });
    deployment.exposeViaService({ ports: [{ port: 80, targetPort: 8080 }] });
    new kplus.HorizontalPodAutoscaler(chart, 'hpa', { target: deployment, maxReplicas: 3 });
    new kplus.ConfigMap(chart, 'config', { data: { key: 'value' } });
    new kplus.NetworkPolicy(chart, 'deny', { selector: kplus.Pods.all(chart, 'all-pods') });
    new kplus.ServiceAccount(chart, 'sa');
    const objects: OutputObject[] = chart.toJson().map((object) => ({ file: 'plus.yaml', object }));
    expect(objects.length).toBeGreaterThanOrEqual(6);
    const problems = validateSchemas(objects);
    expect(problems, formatProblems(problems)).toEqual([]);
  });

  it('rejects an unknown field on a Deployment, naming the field and the likely fix', () => {
    const problems = validateObjects(fixtureWith('Deployment', (d: { spec: { template: { spec: { containers: { imagePullPolicyy?: string }[] } } } }) => {
      d.spec.template.spec.containers[0].imagePullPolicyy = 'IfNotPresent';
    }));
    expect(formatProblems(problems)).toBe(
      'apps/fixture/app.yaml Deployment/fixture/web spec.template.spec.containers[0].imagePullPolicyy: '
      + 'unknown field "imagePullPolicyy" in Container (Kubernetes 1.36.3 io.k8s.api.core.v1.Container); did you mean "imagePullPolicy"?',
    );
  });

  it('rejects a wrong type and a malformed quantity on a Deployment', () => {
    const problems = validateObjects(fixtureWith('Deployment', (d: { spec: { minReadySeconds: unknown; template: { spec: V1PodSpec } } }) => {
      d.spec.minReadySeconds = 'ten';
      d.spec.template.spec.containers[0].resources!.requests!.memory = '128MB';
    }));
    expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'spec.minReadySeconds: "ten" must be of type integer',
      'spec.template.spec.containers[0].resources.requests.memory: "128MB" is not a Kubernetes quantity; use e.g. "250m" or "1" (CPU), "512Mi" or "2Gi" (memory)',
    ]);
  });

  it('rejects duplicate entries of a keyed list (containers by name)', () => {
    const problems = validateObjects(fixtureWith('Deployment', (d: Workload) => {
      d.spec.template.spec.containers.push(structuredClone(d.spec.template.spec.containers[0]));
    }));
    expect(only(problems, 'schema').map((p) => p.path)).toEqual(['spec.template.spec.containers[1]']);
    expect(problems[0].message).toMatch(/duplicate entry for name \["web"\].*unique by name/);
  });

  it('rejects a Certificate whose enum value its CRD does not allow', () => {
    const problems = validateObjects(fixtureWith('Certificate', (c: { spec: { privateKey: { algorithm: string } } }) => { c.spec.privateKey.algorithm = 'DSA'; }));
    expect(formatProblems(problems)).toBe(
      'apps/fixture/app.yaml Certificate/fixture/web spec.privateKey.algorithm: "DSA" is not allowed; use one of "RSA", "ECDSA", "Ed25519"',
    );
  });

  it('rejects a Rollout that violates its CRD (misspelt step, wrong type)', () => {
    const problems = validateObjects(fixtureWith('Rollout', (r: { spec: { strategy: { canary: { steps: { setWieght?: number; pause?: { duration?: unknown } }[] } } } }) => {
      r.spec.strategy.canary.steps[0] = { setWieght: 25 };
      r.spec.strategy.canary.steps[1].pause!.duration = ['2m'];
    }));
    expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'spec.strategy.canary.steps[0].setWieght: unknown field "setWieght" in Rollout spec.strategy.canary.steps[] (CRD rollouts.argoproj.io v1alpha1); did you mean "setWeight"?',
      'spec.strategy.canary.steps[1].pause.duration: ["2m"] must be integer or string',
    ]);
  });

  it('validates custom resources\' metadata as ObjectMeta', () => {
    const problems = validateObjects(fixtureWith('Certificate', (c: { metadata: { label?: Record<string, string> } }) => { c.metadata.label = { a: 'b' }; }));
    expect(problems.map((p) => p.path)).toEqual(['metadata.label']);
  });

  it('validates k3s HelmChartConfig against its documented schema', () => {
    const problems = validateObjects(fixtureWith('HelmChartConfig', (h: { spec: { failurePolicy: string; valueContent?: string } }) => { h.spec.failurePolicy = 'ignore'; h.spec.valueContent = 'x'; }));
    expect(problems.map((p) => `${p.path}: ${p.message}`).sort()).toEqual([
      'spec.failurePolicy: "ignore" is not allowed; use one of "abort", "reinstall", "retry"',
      'spec.valueContent: unknown field "valueContent" in HelmChartConfig spec (CRD helmchartconfigs.helm.cattle.io v1); did you mean "valuesContent"?',
    ]);
  });

  it('rejects an unknown kind, an unknown version and a pre-release API', () => {
    const problems = validateSchemas([
      { file: 'x.yaml', object: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'fixture' } } },
      { file: 'x.yaml', object: { apiVersion: 'argoproj.io/v1', kind: 'Rollout', metadata: { name: 'r', namespace: 'fixture' } } },
      { file: 'x.yaml', object: { apiVersion: 'storage.k8s.io/v1beta1', kind: 'VolumeAttributesClass', metadata: { name: 'v' }, driverName: 'd' } },
    ]);
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^unknown kind Widget \(example\.com\/v1\): it is neither a Kubernetes 1\.36\.3 built-in nor in a pinned CRD; add its CRD to cdk8s\.yaml/),
      'unknown version argoproj.io/v1 for kind Rollout; known: argoproj.io/v1alpha1',
      expect.stringMatching(/^storage\.k8s\.io\/v1beta1 VolumeAttributesClass is a pre-release API that Kubernetes 1\.36\.3 does not serve by default; use storage\.k8s\.io\/v1$/),
    ]);
  });
});

describe('whole-output invariants', () => {
  // Each case breaks one thing in the correct fixture and expects exactly that problem.
  const cases: { name: string; objects: () => OutputObject[]; rule: Problem['rule']; path: string; message: RegExp }[] = [
    {
      name: 'a privileged container',
      objects: () => fixtureWith('Deployment', (d: Workload) => { d.spec.template.spec.containers[0].securityContext!.privileged = true; }),
      rule: 'security', path: 'spec.template.spec.containers[0].securityContext.privileged', message: /full access to the node; remove privileged/,
    },
    {
      name: 'a container that may run as root',
      objects: () => fixtureWith('Deployment', (d: Workload) => {
        delete d.spec.template.spec.securityContext!.runAsNonRoot;
        delete d.spec.template.spec.containers[0].securityContext!.runAsNonRoot;
      }),
      rule: 'security', path: 'spec.template.spec.containers[0].securityContext.runAsNonRoot', message: /must be true/,
    },
    {
      name: 'a writable root filesystem',
      objects: () => fixtureWith('Rollout', (r: Workload) => { r.spec.template.spec.containers[0].securityContext!.readOnlyRootFilesystem = false; }),
      rule: 'security', path: 'spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem', message: /must be true; mount an emptyDir/,
    },
    {
      name: 'privilege escalation allowed',
      objects: () => fixtureWith('Deployment', (d: Workload) => { delete d.spec.template.spec.containers[0].securityContext!.allowPrivilegeEscalation; }),
      rule: 'security', path: 'spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation', message: /must be false/,
    },
    {
      name: 'capabilities not dropped',
      objects: () => fixtureWith('Deployment', (d: Workload) => { d.spec.template.spec.containers[0].securityContext!.capabilities = { drop: ['NET_RAW'] }; }),
      rule: 'security', path: 'spec.template.spec.containers[0].securityContext.capabilities.drop', message: /must include "ALL"/,
    },
    {
      name: 'no seccomp profile',
      objects: () => fixtureWith('Deployment', (d: Workload) => { delete d.spec.template.spec.securityContext!.seccompProfile; }),
      rule: 'security', path: 'spec.template.spec.containers[0].securityContext.seccompProfile.type', message: /not set; set seccompProfile.type RuntimeDefault/,
    },
    {
      name: 'a host path volume',
      objects: () => fixtureWith('Deployment', (d: Workload) => { d.spec.template.spec.volumes = [{ name: 'h', hostPath: { path: '/var/log' } }]; }),
      rule: 'security', path: 'spec.template.spec.volumes[0].hostPath', message: /mounts a host path/,
    },
    {
      name: 'a container without limits (in an init container)',
      objects: () => fixtureWith('Deployment', (d: Workload) => {
        const init = structuredClone(d.spec.template.spec.containers[0]);
        init.name = 'migrate';
        delete init.ports; delete init.readinessProbe; delete init.livenessProbe;
        delete init.resources!.limits!.cpu;
        d.spec.template.spec.initContainers = [init];
      }),
      rule: 'resources', path: 'spec.template.spec.initContainers[0].resources.limits.cpu', message: /is missing; every container sets CPU and memory requests and limits/,
    },
    {
      name: 'a request above its limit',
      objects: () => fixtureWith('Rollout', (r: Workload) => { r.spec.template.spec.containers[0].resources!.requests!.memory = '1Gi'; }),
      rule: 'resources', path: 'spec.template.spec.containers[0].resources.requests.memory', message: /1Gi is above the limit 256Mi/,
    },
    {
      name: 'a serving container without a readiness probe',
      objects: () => fixtureWith('Deployment', (d: Workload) => { delete d.spec.template.spec.containers[0].readinessProbe; }),
      rule: 'probes', path: 'spec.template.spec.containers[0].readinessProbe', message: /serves ports, so it needs a readiness probe/,
    },
    {
      name: 'an image on :latest',
      objects: () => fixtureWith('Deployment', (d: Workload) => { d.spec.template.spec.containers[0].image = 'ghcr.io/lms-platform/web:latest'; }),
      rule: 'image', path: 'spec.template.spec.containers[0].image', message: /uses :latest; pin a release tag/,
    },
    {
      name: 'an untagged image',
      objects: () => fixtureWith('Deployment', (d: Workload) => { d.spec.template.spec.containers[0].image = 'registry.example.com:5000/web'; }),
      rule: 'image', path: 'spec.template.spec.containers[0].image', message: /has no tag; pin a release tag/,
    },
    {
      name: 'a Secret carrying data',
      objects: () => fixtureWith('Secret', (s: V1Secret) => { s.stringData = { password: 'hunter2' }; }),
      rule: 'secret-data', path: 'stringData', message: /plain text: never put secret values in a chart/,
    },
    {
      name: 'a CA Secret that also carries a private key',
      objects: () => fixtureWith('Secret', (s: V1Secret) => { s.stringData = { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'tls.key': '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }; }),
      rule: 'secret-data', path: 'stringData', message: /plain text: never put secret values in a chart/,
    },
    {
      name: 'a ca.crt that is not only certificates',
      objects: () => fixtureWith('Secret', (s: V1Secret) => { s.stringData = { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n' }; }),
      rule: 'secret-data', path: 'stringData', message: /plain text: never put secret values in a chart/,
    },
    {
      name: 'an object in a namespace nothing creates',
      objects: () => fixtureWith('Certificate', (c: NamedManifest) => { c.metadata.namespace = 'fixtur'; }),
      rule: 'namespace', path: 'metadata.namespace', message: /"fixtur" is not created by dist\//,
    },
    {
      name: 'a namespaced object without a namespace',
      objects: () => fixtureWith('Certificate', (c: NamedManifest) => { delete c.metadata.namespace; }),
      rule: 'namespace', path: 'metadata.namespace', message: /is missing; Certificate is namespaced/,
    },
    {
      name: 'a Service that selects no pods',
      objects: () => fixtureWith('Service', (s: FixtureService) => { s.spec.selector = { app: 'wbe' }; }, 'web'),
      rule: 'service-target', path: 'spec.selector', message: /\{"app":"wbe"\} selects no pod template .* in namespace fixture/,
    },
    {
      name: 'a Service whose named target port no selected container has',
      objects: () => fixtureWith('Service', (s: FixtureService) => { s.spec.ports[0].targetPort = 'metrics'; }, 'api'),
      rule: 'service-target', path: 'spec.ports[0].targetPort', message: /"metrics" is not a named container port of the selected pods \(Rollout\/api\)/,
    },
    {
      name: 'an HPA whose target does not exist',
      objects: () => fixtureWith('HorizontalPodAutoscaler', (h: { spec: V2HorizontalPodAutoscalerSpec }) => { h.spec.scaleTargetRef.name = 'website'; }),
      rule: 'hpa-target', path: 'spec.scaleTargetRef', message: /apps\/v1\/Deployment website is not in namespace fixture/,
    },
    {
      name: 'an HPA target that also sets replicas',
      objects: () => fixtureWith('Deployment', (d: Workload) => { d.spec.replicas = 2; }),
      rule: 'hpa-target', path: 'spec.replicas', message: /remove it so Flux does not reset the replica count/,
    },
    {
      name: 'a PDB that selects nothing',
      objects: () => fixtureWith('PodDisruptionBudget', (p: { spec: V1PodDisruptionBudgetSpec }) => { p.spec.selector!.matchLabels!.app = 'nothing'; }),
      rule: 'pdb-target', path: 'spec.selector', message: /selects no pod template/,
    },
    {
      name: 'a PDB that blocks every drain',
      objects: () => fixtureWith('PodDisruptionBudget', (p: { spec: V1PodDisruptionBudgetSpec }) => { delete p.spec.maxUnavailable; p.spec.minAvailable = '100%'; }),
      rule: 'pdb-target', path: 'spec.minAvailable', message: /allows no disruption with 2 replica\(s\)/,
    },
    {
      name: 'a workload whose selector misses its own pods',
      objects: () => fixtureWith('Rollout', (r: Workload) => { r.spec.selector.matchLabels!.app = 'apii'; }),
      rule: 'selector', path: 'spec.selector', message: /does not match the labels of spec.template.metadata.labels/,
    },
    {
      name: 'an object defined twice',
      objects: () => [...fixture(), { file: 'other.yaml', object: fixture().find((o) => o.object.kind === 'Certificate')!.object }],
      rule: 'unique', path: 'metadata.name', message: /is also defined in apps\/fixture\/app.yaml/,
    },
  ];

  it.each(cases)('rejects $name', ({ objects, rule, path, message }) => {
    const problems = validateObjects(objects());
    expect(problems, formatProblems(problems)).toHaveLength(1);
    expect(problems[0]).toMatchObject({ rule, path });
    expect(problems[0].message).toMatch(message);
  });

  it('reports the file, object, field and fix on one line', () => {
    const [p] = validateObjects(fixtureWith('Deployment', (d: Workload) => { d.spec.template.spec.containers[0].securityContext!.privileged = true; }));
    expect(formatProblems([p])).toBe('apps/fixture/app.yaml Deployment/fixture/web spec.template.spec.containers[0].securityContext.privileged: '
      + 'a privileged container has full access to the node; remove privileged');
  });
});

describe('configuration', () => {
  it('rejects an invalid hostname with an error naming the field, the value and what is allowed', () => {
    const bad = deepMerge(values, { environments: { production: { hostnames: { web: 'LMS_example.com' } } } });
    expect(() => parseConfig(bad)).toThrow(ConfigError);
    expect(() => parseConfig(bad)).toThrow(
      'config: environments.production.hostnames.web: "LMS_example.com" is not a valid hostname; use a lower-case DNS name like lms.example.com',
    );
  });
});
