/**
 * Every namespace the platform uses and the Pod Security level it enforces. App namespaces come from
 * config and always enforce `restricted`; a platform namespace is `privileged` only where its
 * workload needs host access (node-exporter, log collection, the k3s upgrade job).
 */
export type PodSecurityLevel = 'restricted' | 'baseline' | 'privileged';

export interface PlatformNamespace {
  readonly name: string;
  readonly podSecurity: PodSecurityLevel;
  /** Why a namespace is not `restricted`. */
  readonly why?: string;
}

/** Namespaces the platform charts install into (Flux itself lives in flux-system, made by bootstrap). */
export const platformNs = {
  argoRollouts: 'argo-rollouts',
  certManager: 'cert-manager',
  cnpg: 'cnpg-system',
  monitoring: 'monitoring',
  systemUpgrade: 'system-upgrade',
  flux: 'flux-system',
} as const;

export const platformNamespaces: PlatformNamespace[] = [
  { name: platformNs.argoRollouts, podSecurity: 'restricted' },
  { name: platformNs.certManager, podSecurity: 'restricted' },
  { name: platformNs.cnpg, podSecurity: 'restricted' },
  { name: platformNs.monitoring, podSecurity: 'privileged', why: 'node-exporter and Alloy read host metrics and logs (hostPath, hostNetwork, hostPID)' },
  { name: platformNs.systemUpgrade, podSecurity: 'privileged', why: 'the k3s upgrade job replaces the k3s binary on the host' },
];
