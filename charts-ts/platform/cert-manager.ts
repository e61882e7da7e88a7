/**
 * cert-manager: Let's Encrypt certificates through DNS-01 on Cloudflare (issuers in cluster-issuers.ts).
 * Its leader election stays in its own namespace, and the DNS-01 self-check asks public resolvers
 * (the cluster's CoreDNS would answer from cache or from a split-horizon view).
 */
import type { Construct } from 'constructs';
import type { Config } from '../config/schema.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { FluxHelmRelease } from '../lib/helm-release.ts';
import { platformNs } from '../lib/namespaces.ts';
import { chartSource, pod } from './controller-helpers.ts';

export const certManagerRelease = { name: 'cert-manager', namespace: platformNs.certManager } as const;
export const certManagerPodLabels = { 'app.kubernetes.io/name': 'cert-manager', 'app.kubernetes.io/component': 'controller' } as const;
const components = ['controller', 'webhook', 'cainjector', 'startupapicheck'] as const;

export class CertManagerChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.controllers, component: 'cert-manager' });
    const c = config.cluster.platform.controllers.certManager;
    const r = c.resources;
    new FluxHelmRelease(this, 'release', {
      ...certManagerRelease,
      chart: c.chart.name,
      version: c.chart.version,
      source: chartSource(c.chart),
      images: components.map((k) => `quay.io/jetstack/cert-manager-${k}:${c.imageTag}`),
      providesApiGroups: ['cert-manager.io', 'acme.cert-manager.io'],
      footprint: [
        pod('cert-manager controller', 1, r.controller),
        pod('cert-manager webhook', 1, r.webhook),
        pod('cert-manager cainjector', 1, r.cainjector),
        // Post-install hook Job: counted so the first install fits too.
        pod('cert-manager startupapicheck (install hook)', 1, r.startupapicheck),
      ],
      values: {
        crds: { enabled: true, keep: true },
        replicaCount: 1,
        global: { leaderElection: { namespace: platformNs.certManager } },
        image: { tag: c.imageTag },
        resources: r.controller,
        dns01RecursiveNameservers: c.dns01RecursiveNameservers.join(','),
        dns01RecursiveNameserversOnly: true,
        // Deleting a Certificate removes its Secret too, so renamed certificates leave nothing behind.
        enableCertificateOwnerRef: true,
        prometheus: { enabled: true, servicemonitor: { enabled: false }, podmonitor: { enabled: false } },
        webhook: { replicaCount: 1, image: { tag: c.imageTag }, resources: r.webhook },
        cainjector: { replicaCount: 1, image: { tag: c.imageTag }, resources: r.cainjector },
        startupapicheck: { image: { tag: c.imageTag }, resources: r.startupapicheck },
        acmesolver: { image: { tag: c.imageTag } },
      },
    });
  }
}
