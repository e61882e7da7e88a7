/**
 * The shape of an admission policy definition. Each policy is plain data (CEL expressions and the
 * messages users see); charts-ts/platform/admission-policies.ts turns each one into a
 * ValidatingAdmissionPolicy plus its Binding (admissionregistration.k8s.io/v1).
 */

export interface ResourceRule {
  readonly apiGroups: string[];
  readonly apiVersions: string[];
  readonly resources: string[];
  readonly operations: ('CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT')[];
}

/** Which namespaces a policy is bound to. */
export type NamespaceScope =
  /** Every namespace except the listed ones (used to leave out k3s/Flux system namespaces). */
  | { readonly allExcept: string[] }
  /** Namespaces carrying this label value (e.g. lms.dev/tier=apps). */
  | { readonly withLabel: { readonly key: string; readonly values: string[] } };

export interface NamedExpression {
  readonly name: string;
  readonly expression: string;
}

export interface Validation {
  /** CEL; true means the object is admitted. */
  readonly expression: string;
  /** Shown when `messageExpression` cannot be evaluated; says what to fix. */
  readonly message: string;
  /** CEL producing the message with the offending names filled in. */
  readonly messageExpression?: string;
  readonly reason?: 'Invalid' | 'Forbidden';
}

export interface AdmissionPolicy {
  /** ValidatingAdmissionPolicy name, also the binding's. */
  readonly name: string;
  /** One sentence: what it enforces and why. */
  readonly description: string;
  readonly resourceRules: ResourceRule[];
  readonly namespaces: NamespaceScope;
  /** Objects for which all are true are checked (CEL). */
  readonly matchConditions?: NamedExpression[];
  /** Evaluated lazily, available as `variables.<name>` (CEL). */
  readonly variables?: NamedExpression[];
  readonly validations: Validation[];
}

/** What the policies are parameterised with (from charts-ts config and names). */
export interface PolicyContext {
  /** Image prefixes (registry/path/) allowed anywhere in the cluster. */
  readonly allowedImagePrefixes: string[];
  /** Namespaces managed by k3s and flux bootstrap, left out of cluster-wide policies. */
  readonly systemNamespaces: string[];
  /** The label marking app namespaces (key and value). */
  readonly appNamespaceLabel: { readonly key: string; readonly value: string };
  /** The only namespace where Services may be NodePort/LoadBalancer (the ingress). */
  readonly ingressNamespace: string;
  /** Where system-upgrade-controller creates its upgrade Jobs (their pods get LimitRange defaults). */
  readonly upgradeNamespace: string;
}
