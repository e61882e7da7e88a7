/**
 * Renders the admission policies defined in policies/ as ValidatingAdmissionPolicy + Binding
 * (admissionregistration.k8s.io/v1): enforced by the API server itself, no extra controller using
 * memory on the node. Bindings deny (validationActions: Deny); a broken expression fails closed.
 */
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import { admissionPolicies, type AdmissionPolicy, type PolicyContext } from '../../policies/index.ts';
import type { Config } from '../config/schema.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { names } from '../lib/names.ts';
import { platformNs } from '../lib/namespaces.ts';

/** Namespaces owned by k3s and flux bootstrap, whose images and resources they pin themselves. */
export const systemNamespaces = ['kube-system', 'kube-public', 'kube-node-lease', platformNs.flux];

export const policyContext = (config: Config): PolicyContext => ({
  allowedImagePrefixes: config.cluster.platform.allowedImagePrefixes,
  systemNamespaces,
  appNamespaceLabel: { key: 'lms.dev/tier', value: 'apps' },
  ingressNamespace: names.ingress.namespace,
  upgradeNamespace: platformNs.systemUpgrade,
});

const namespaceSelector = (p: AdmissionPolicy) =>
  'allExcept' in p.namespaces
    ? { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: p.namespaces.allExcept }] }
    : { matchExpressions: [{ key: p.namespaces.withLabel.key, operator: 'In', values: p.namespaces.withLabel.values }] };

export class AdmissionPoliciesChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.configs, component: 'admission-policies' });
    for (const p of admissionPolicies(policyContext(config))) {
      new ApiObject(this, p.name, {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: p.name, annotations: { 'lms.dev/description': p.description } },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: p.resourceRules.map((r) => ({ ...r, scope: 'Namespaced' })),
            matchPolicy: 'Equivalent',
          },
          ...(p.matchConditions ? { matchConditions: p.matchConditions } : {}),
          ...(p.variables ? { variables: p.variables } : {}),
          validations: p.validations,
        },
      });
      new ApiObject(this, `${p.name}-binding`, {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name: p.name },
        spec: {
          policyName: p.name,
          validationActions: ['Deny'],
          matchResources: { namespaceSelector: namespaceSelector(p) },
        },
      });
    }
  }
}
