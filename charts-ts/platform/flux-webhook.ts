/**
 * Exposes Flux's webhook receiver (notification-controller's `webhook-receiver` Service, created by
 * flux bootstrap) at the configured hostname with a Let's Encrypt certificate. Only /hook/ paths are
 * routed; payloads are authenticated by the Receiver's HMAC check, and a rate limit keeps a flood from
 * reaching the controller. In the configs layer: it needs cert-manager's CRDs.
 */
import type { Construct } from 'constructs';
import type { Config } from '../config/schema.ts';
import { Certificate, CertificateSpecPrivateKeyAlgorithm, CertificateSpecPrivateKeyRotationPolicy } from '../imports/certificate-cert-manager.io.ts';
import { IngressRoute, IngressRouteSpecRoutesKind, IngressRouteSpecRoutesServicesPort } from '../imports/traefik-ingressroute-traefik.io.ts';
import { Middleware } from '../imports/traefik-middleware-traefik.io.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { names } from '../lib/names.ts';
import { platformNs } from '../lib/namespaces.ts';
import { originPullTls } from '../lib/origin-pull.ts';

/** Service and port of Flux's notification-controller webhook receiver. */
export const fluxWebhookService = { name: 'webhook-receiver', port: 80 } as const;
export const fluxWebhookTlsSecret = 'flux-webhook-tls';

export class FluxWebhookChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.configs, component: 'flux-webhook' });
    const namespace = platformNs.flux;
    const host = config.cluster.platform.flux.receiver.hostname;

    new Certificate(this, 'certificate', {
      metadata: { name: 'flux-webhook', namespace },
      spec: {
        secretName: fluxWebhookTlsSecret,
        dnsNames: [host],
        issuerRef: { kind: 'ClusterIssuer', name: names.issuers.production, group: 'cert-manager.io' },
        privateKey: { algorithm: CertificateSpecPrivateKeyAlgorithm.ECDSA, size: 256, rotationPolicy: CertificateSpecPrivateKeyRotationPolicy.ALWAYS },
      },
    });
    new Middleware(this, 'rate-limit', {
      metadata: { name: 'flux-webhook-rate-limit', namespace },
      spec: { rateLimit: { average: 10, burst: 20 } },
    });
    new IngressRoute(this, 'route', {
      metadata: { name: 'flux-webhook', namespace },
      spec: {
        entryPoints: ['websecure'],
        routes: [{
          kind: IngressRouteSpecRoutesKind.RULE,
          match: `Host(\`${host}\`) && PathPrefix(\`/hook/\`)`,
          middlewares: [{ name: 'flux-webhook-rate-limit', namespace }],
          services: [{ name: fluxWebhookService.name, namespace, port: IngressRouteSpecRoutesServicesPort.fromNumber(fluxWebhookService.port) }],
        }],
        // GitHub's deliveries come through Cloudflare like all public traffic (Authenticated Origin Pulls).
        tls: { secretName: fluxWebhookTlsSecret, options: originPullTls(this, config, namespace) },
      },
    });
  }
}
