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

export const platformNamespaces: PlatformNamespace[] = [
  { name: 'argo-rollouts', podSecurity: 'restricted' },
  { name: 'cert-manager', podSecurity: 'restricted' },
  { name: 'cnpg-system', podSecurity: 'restricted' },
  { name: 'monitoring', podSecurity: 'privileged', why: 'node-exporter and Alloy read host metrics and logs (hostPath, hostNetwork, hostPID)' },
  { name: 'system-upgrade', podSecurity: 'privileged', why: 'the k3s upgrade job replaces the k3s binary on the host' },
];
