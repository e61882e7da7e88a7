/**
 * The harness's explicit exceptions. Every entry says why; an allowance that no longer matches a
 * problem in the output fails the harness's own test (test/foundation/harness.test.ts), so the list
 * cannot rot.
 */
import type { Manifest } from '../../charts-ts/lib/workloads.ts';
import type { Rule } from './problem.ts';

/**
 * Namespaces that exist on the cluster without being in dist/: k3s creates kube-system (and default)
 * itself, and the Flux bootstrap creates flux-system before any of dist/ is applied.
 */
export const externalNamespaces: Record<string, string> = {
  'kube-system': 'created by Kubernetes; k3s runs CoreDNS, metrics-server and the bundled Traefik there',
  default: 'created by Kubernetes',
  'flux-system': 'created by the Flux bootstrap (bootstrap/), which installs the controllers dist/ is applied by',
};

/**
 * Pods made by operators from custom resources in the output: a Service, PodDisruptionBudget or
 * NetworkPolicy may select them. Each entry gives the label sets the operator puts on the pods of
 * one object (one set per kind of pod it runs).
 */
export const operatorPodLabels: { group: string; kind: string; source: string; labels: (o: Manifest) => Record<string, string>[] }[] = [
  {
    group: 'postgresql.cnpg.io', kind: 'Cluster',
    // Labels from https://github.com/cloudnative-pg/cloudnative-pg/blob/v1.30.0/pkg/utils/labels_annotations.go
    source: 'CloudNativePG instance pods',
    labels: (o) => ['primary', 'replica'].map((role) => ({
      'cnpg.io/cluster': o.metadata!.name!,
      'cnpg.io/podRole': 'instance',
      'cnpg.io/instanceRole': role,
      role,
    })),
  },
  {
    group: 'postgresql.cnpg.io', kind: 'Pooler',
    source: 'CloudNativePG PgBouncer pods',
    labels: (o) => [{ 'cnpg.io/poolerName': o.metadata!.name!, 'cnpg.io/podRole': 'pooler', 'cnpg.io/cluster': (o as Manifest & CnpgPooler).spec?.cluster?.name ?? '' }],
  },
];

/** What the labels of a CloudNativePG Pooler's pods are made from. */
interface CnpgPooler { readonly spec?: { readonly cluster?: { readonly name?: string } } }

export interface Allowance {
  readonly rule: Rule;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  /**
   * Only problems at this field or below (e.g. `spec.template.spec.volumes`); default: every problem of
   * the rule on this object. Keep it as narrow as the reason.
   */
  readonly path?: string;
  /** Why the rule does not apply (reviewed like code). */
  readonly why: string;
}

/**
 * Problems that are accepted, each with its reason. Prefer fixing the object; add an entry only when
 * the rule cannot hold, e.g. a node agent that must read host paths, or a Service in front of pods a
 * HelmRelease runs (their templates are not in dist/).
 */
export const allowances: Allowance[] = [
  {
    rule: 'security', kind: 'Deployment', namespace: 'system-upgrade', name: 'system-upgrade-controller', path: 'spec.template.spec.volumes',
    why: 'like the upstream manifest (rancher/system-upgrade-controller manifests/system-upgrade-controller.yaml), the controller '
      + 'reads the host\'s CA bundles (/etc/ssl, /etc/pki, /etc/ca-certificates) to verify the k3s release downloads; '
      + 'the namespace is privileged for the upgrade Jobs anyway (charts-ts/lib/namespaces.ts)',
  },
];
