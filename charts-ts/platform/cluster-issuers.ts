/**
 * cert-manager ClusterIssuers for Let's Encrypt: staging (for trying a new hostname without burning
 * the production rate limit) and production. DNS-01 through Cloudflare, so certificates are issued
 * while the origin only accepts Cloudflare's edge, and wildcard names work. The Cloudflare API token
 * is a SOPS-encrypted Secret in the cert-manager namespace (clusters/production/secrets/).
 */
import type { Construct } from 'constructs';
import type { Config } from '../config/schema.ts';
import { ClusterIssuer } from '../imports/clusterissuer-cert-manager.io.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { names } from '../lib/names.ts';

/** ACME directories. Source: https://letsencrypt.org/docs/environments/ */
export const acmeServers = {
  staging: 'https://acme-staging-v02.api.letsencrypt.org/directory',
  production: 'https://acme-v02.api.letsencrypt.org/directory',
} as const;

export class ClusterIssuersChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.configs, component: 'certificates' });
    const token = config.cluster.platform.certificates.cloudflareApiToken;
    for (const env of ['staging', 'production'] as const) {
      const name = names.issuers[env];
      new ClusterIssuer(this, name, {
        metadata: { name },
        spec: {
          acme: {
            server: acmeServers[env],
            email: config.cluster.letsEncryptEmail,
            // The ACME account key cert-manager generates and keeps here.
            privateKeySecretRef: { name: `${name}-account-key` },
            solvers: [{
              selector: { dnsZones: [config.cluster.domain] },
              dns01: { cloudflare: { apiTokenSecretRef: { name: token.name, key: token.key } } },
            }],
          },
        },
      });
    }
  }
}
