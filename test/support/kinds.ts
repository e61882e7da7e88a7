/**
 * Kinds as JSON where client-node's types differ from the JSON (client-node names a NetworkPolicy
 * rule's `from` `_from`), for the tests that read rendered objects.
 */
import type { V1LabelSelector, V1NetworkPolicyPeer, V1NetworkPolicyPort, V1ObjectMeta, V1PodSpec } from '@kubernetes/client-node';

/** A NetworkPolicy rule: `from` (ingress) or `to` (egress), and its ports. */
export interface PolicyRuleJson {
  readonly from?: V1NetworkPolicyPeer[];
  readonly to?: V1NetworkPolicyPeer[];
  readonly ports?: V1NetworkPolicyPort[];
}

/** A NetworkPolicy (networking.k8s.io/v1) as JSON. */
export interface NetworkPolicyJson {
  readonly spec: {
    readonly podSelector: V1LabelSelector;
    readonly policyTypes?: string[];
    readonly ingress?: PolicyRuleJson[];
    readonly egress?: PolicyRuleJson[];
  };
}

/** A route of a Traefik IngressRoute (traefik.io/v1alpha1). */
export interface IngressRouteRouteJson {
  readonly match: string;
  readonly kind?: string;
  readonly services?: { readonly name: string; readonly kind?: string; readonly namespace?: string; readonly port?: number | string; readonly [field: string]: unknown }[];
  readonly middlewares?: { readonly name: string; readonly namespace?: string }[];
  readonly [field: string]: unknown;
}

/** A Traefik IngressRoute (traefik.io/v1alpha1) as JSON. */
export interface IngressRouteJson {
  readonly spec: {
    readonly entryPoints?: string[];
    readonly routes: IngressRouteRouteJson[];
    readonly tls?: { readonly secretName?: string; readonly options?: { readonly name: string; readonly namespace?: string }; readonly [field: string]: unknown };
  };
}

/** A Traefik TLSOption (traefik.io/v1alpha1) as JSON. */
export interface TlsOptionJson {
  readonly spec: {
    readonly minVersion?: string;
    readonly clientAuth?: { readonly clientAuthType?: string; readonly secretNames?: string[] };
    readonly [field: string]: unknown;
  };
}

/** A canary step of an Argo Rollout: the fields tests read. */
export interface RolloutStepJson {
  readonly setWeight?: number;
  readonly pause?: { readonly duration?: string | number };
  readonly analysis?: { readonly templates: readonly { readonly templateName: string; readonly [field: string]: unknown }[]; readonly [field: string]: unknown };
  readonly [field: string]: unknown;
}

/** An Argo Rollout (argoproj.io/v1alpha1) as JSON: the fields tests read. */
export interface RolloutJson {
  readonly spec: {
    readonly replicas?: number;
    readonly minReadySeconds?: number;
    readonly selector: V1LabelSelector;
    readonly template: { readonly metadata: V1ObjectMeta; readonly spec: V1PodSpec };
    readonly strategy: {
      readonly canary: {
        readonly steps: readonly RolloutStepJson[];
        readonly canaryService?: string;
        readonly stableService?: string;
        readonly [field: string]: unknown;
      };
    };
    readonly [field: string]: unknown;
  };
}
