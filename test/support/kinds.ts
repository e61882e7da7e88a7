/**
 * Kinds as JSON where client-node's types differ from the JSON (client-node names a NetworkPolicy
 * rule's `from` `_from`) or has none (custom resources), for the tests that read rendered objects
 * and the cluster tests that read live ones.
 */
import type { V1JobSpec, V1LabelSelector, V1NetworkPolicyPeer, V1NetworkPolicyPort, V1ObjectMeta, V1PodSpec } from '@kubernetes/client-node';

/** A status condition as custom resources write it (reason and message may be absent). */
export interface ConditionJson {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly observedGeneration?: number;
}

/** An object whose status carries conditions (cert-manager, Flux, CloudNativePG kinds). */
export interface ConditionsJson { readonly status?: { readonly conditions?: readonly ConditionJson[]; readonly [field: string]: unknown } }

/** A cert-manager Certificate (cert-manager.io/v1): the fields tests read. */
export interface CertificateJson extends ConditionsJson {
  readonly spec: { readonly secretName: string; readonly dnsNames: string[]; readonly [field: string]: unknown };
}

/** An ACME Challenge (acme.cert-manager.io/v1): the fields tests read. */
export interface ChallengeJson { readonly spec?: { readonly dnsName?: string }; readonly status?: { readonly reason?: string; readonly [field: string]: unknown } }

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
  readonly priority?: number;
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
        readonly analysis?: { readonly templates: readonly { readonly templateName: string }[]; readonly startingStep: number };
        readonly trafficRouting?: unknown;
        readonly dynamicStableScale?: boolean;
        readonly [field: string]: unknown;
      };
    };
    readonly [field: string]: unknown;
  };
}

/** An Argo Rollout's status as the controller writes it: the fields tests read. */
export interface RolloutStatusJson {
  readonly phase?: string;
  readonly message?: string;
  /** A string, unlike other kinds' (Argo Rollouts writes the generation as text). */
  readonly observedGeneration?: string;
  readonly currentStepIndex?: number;
  readonly currentPodHash?: string;
  readonly stableRS?: string;
  readonly abort?: boolean;
  readonly controllerPause?: boolean;
  readonly pauseConditions?: readonly { readonly reason: string; readonly startTime?: string }[];
  readonly canary?: { readonly currentStepAnalysisRunStatus?: { readonly name?: string; readonly status?: string; readonly message?: string }; readonly [field: string]: unknown };
  readonly [field: string]: unknown;
}

/** An Argo Rollout as the API server serves it: spec and status. */
export interface LiveRolloutJson extends RolloutJson { readonly status?: RolloutStatusJson }

/** A metric of an Argo Rollouts (Cluster)AnalysisTemplate: the fields tests read. */
export interface AnalysisMetricJson {
  readonly name: string;
  readonly provider: {
    readonly prometheus?: { readonly query: string; readonly [field: string]: unknown };
    readonly job?: { readonly metadata?: V1ObjectMeta; readonly spec: V1JobSpec };
    readonly [field: string]: unknown;
  };
  readonly successCondition?: string;
  readonly failureCondition?: string;
  readonly interval?: string;
  readonly initialDelay?: string;
  readonly count?: number;
  readonly failureLimit?: number;
  readonly inconclusiveLimit?: number;
  readonly consecutiveErrorLimit?: number;
  readonly [field: string]: unknown;
}

/** An Argo Rollouts (Cluster)AnalysisTemplate (argoproj.io/v1alpha1) as JSON. */
export interface AnalysisTemplateJson {
  readonly spec: { readonly metrics: AnalysisMetricJson[]; readonly [field: string]: unknown };
}

/** A rule of a PrometheusRule group: a recording rule (`record`) or an alert (`alert`). */
export interface PrometheusRuleRuleJson {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly [field: string]: unknown;
}

/** A group of a PrometheusRule. */
export interface PrometheusRuleGroupJson { readonly name: string; readonly interval?: string; readonly rules: PrometheusRuleRuleJson[]; readonly [field: string]: unknown }

/** A PrometheusRule (monitoring.coreos.com/v1) as JSON. */
export interface PrometheusRuleJson { readonly spec: { readonly groups: PrometheusRuleGroupJson[] } }

/** An endpoint of a PodMonitor or ServiceMonitor. */
export interface MonitorEndpointJson { readonly port?: string; readonly interval?: string; readonly honorLabels?: boolean; readonly [field: string]: unknown }

/** A PodMonitor or ServiceMonitor (monitoring.coreos.com/v1) as JSON. */
export interface MonitorJson {
  readonly spec: {
    readonly selector?: V1LabelSelector;
    readonly namespaceSelector?: { readonly matchNames?: string[]; readonly any?: boolean };
    readonly podMetricsEndpoints?: MonitorEndpointJson[];
    readonly endpoints?: MonitorEndpointJson[];
    readonly [field: string]: unknown;
  };
}
