/**
 * A small, complete and correct output (namespace, Deployment + Service + HPA + PDB, an Argo Rollout,
 * a Certificate, a k3s HelmChartConfig) that the harness must accept. The negative tests break one
 * thing at a time and expect exactly that to be reported.
 */
import type { NamedManifest } from '../../charts-ts/lib/workloads.ts';
import type { OutputObject } from '../harness/index.ts';

const ns = 'fixture';
const labels = { 'app.kubernetes.io/part-of': 'lms', 'app.kubernetes.io/managed-by': 'cdk8s' };
const digest = `sha256:${'a'.repeat(64)}`;

const container = (name: string, port: number) => ({
  name,
  image: `ghcr.io/lms-platform/${name}:1.0.0@${digest}`,
  ports: [{ name: 'http', containerPort: port }],
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
  securityContext: {
    runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  },
  readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
  livenessProbe: { httpGet: { path: '/live', port: 'http' } },
});

const podSpec = (name: string, port: number) => ({
  securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
  automountServiceAccountToken: false,
  containers: [container(name, port)],
});

export function fixture(): OutputObject[] {
  const file = 'apps/fixture/app.yaml';
  const objects: NamedManifest[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } },
    {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: 'web', namespace: ns, labels },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: podSpec('web', 8080) },
      },
    },
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: ns, labels },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
    {
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web', namespace: ns, labels },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        minReplicas: 2, maxReplicas: 4,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      },
    },
    {
      apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web', namespace: ns, labels },
      spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'web' } } },
    },
    {
      apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'api', namespace: ns, labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'api' } },
        template: { metadata: { labels: { app: 'api' } }, spec: podSpec('api', 3000) },
        strategy: {
          canary: {
            canaryService: 'api-canary', stableService: 'api',
            trafficRouting: { traefik: { weightedTraefikServiceName: 'api' } },
            steps: [{ setWeight: 25 }, { pause: { duration: '2m' } }, { setWeight: 50 }, { pause: {} }, { setWeight: 100 }],
          },
        },
      },
    },
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: ns, labels },
      spec: { selector: { app: 'api' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'api-canary', namespace: ns, labels },
      spec: { selector: { app: 'api' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
    {
      apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'web', namespace: ns, labels },
      spec: {
        secretName: 'web-tls', dnsNames: ['lms.example.com'],
        issuerRef: { kind: 'ClusterIssuer', name: 'letsencrypt-production' },
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      },
    },
    {
      apiVersion: 'helm.cattle.io/v1', kind: 'HelmChartConfig', metadata: { name: 'traefik', namespace: 'kube-system', labels },
      spec: { valuesContent: 'deployment:\n  replicas: 1\n', failurePolicy: 'reinstall' },
    },
    {
      apiVersion: 'v1', kind: 'Secret', metadata: { name: 'empty-by-design', namespace: ns, labels },
      type: 'Opaque',
    },
  ];
  return objects.map((object) => ({ file, object }));
}

/**
 * A deep copy of the fixture with `change` applied to the first object of `kind` (and `name`).
 * `change` declares the part of the object it edits (`T`), which may be invalid on purpose.
 */
export function fixtureWith<T extends object>(kind: string, change: (o: T) => void, name?: string): OutputObject[] {
  const objects = structuredClone(fixture());
  const target = objects.find((o) => o.object.kind === kind && (name === undefined || o.object.metadata!.name === name));
  if (!target) throw new Error(`fixture has no ${kind} ${name ?? ''}`);
  change(target.object as T);
  return objects;
}
