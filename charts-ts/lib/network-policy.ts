/**
 * The vocabulary of every NetworkPolicy we write, app and data layers alike: who a rule admits or
 * reaches (peers), on which ports, and the egress rules more than one layer needs (cluster DNS, the
 * Kubernetes API). k3s enforces NetworkPolicies with its embedded kube-router.
 */
import { nonPublicRanges } from '../config/fields.ts';
import { names } from './names.ts';
import { kplus } from './plus.ts';

type LabelSelector = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };

/** Who a rule admits or reaches: pods (by namespace and labels) or addresses. */
export type Peer = { namespaceSelector?: LabelSelector; podSelector?: LabelSelector; ipBlock?: { cidr: string; except?: string[] } };

/** The label every namespace carries with its own name (set by the API server). */
export const namespaceLabel = 'kubernetes.io/metadata.name';

/** Pods of another namespace: all of them, or those with these labels. */
export const inNamespace = (namespace: string, podLabels?: Readonly<Record<string, string>>): Peer => ({
  namespaceSelector: { matchLabels: { [namespaceLabel]: namespace } },
  ...(podLabels ? { podSelector: { matchLabels: { ...podLabels } } } : {}),
});

/** Pods of the policy's own namespace with these labels. */
export const samePods = (podLabels: Readonly<Record<string, string>>): Peer => ({ podSelector: { matchLabels: { ...podLabels } } });

/** TCP on each of these ports. */
export const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port: kplus.k8s.IntOrString.fromNumber(port) }));
export type Ports = ReturnType<typeof tcp>;

/** k3s's CoreDNS (kube-system, label k8s-app=kube-dns). */
export const clusterDns = names.dns;

/** The cluster DNS, UDP and TCP. */
export const clusterDnsEgress = {
  to: [inNamespace(clusterDns.namespace, clusterDns.podLabels)],
  ports: (['UDP', 'TCP'] as const).map((protocol) => ({ protocol, port: kplus.k8s.IntOrString.fromNumber(clusterDns.port) })),
};

/**
 * The Kubernetes API: the `kubernetes` Service (k3s's service CIDR 10.43.0.0/16, first address) and,
 * because kube-router sees the connection after the Service is translated, the API server's own
 * port 6443 on the node.
 */
export const kubernetesApiEgress = [
  { to: [{ ipBlock: { cidr: '10.43.0.1/32' } }], ports: tcp(443) },
  { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: tcp(6443) },
];

/** HTTPS to public addresses (a SaaS endpoint whose addresses are not ours to pin). */
export const publicHttpsEgress = {
  to: [{ ipBlock: { cidr: '0.0.0.0/0', except: [...nonPublicRanges] } }],
  ports: tcp(443),
};
