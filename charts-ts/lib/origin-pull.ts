/**
 * Origin lockdown (Authenticated Origin Pulls): every public router of Traefik requires a TLS client
 * certificate signed by the origin-pull CA (config cluster.cloudflare.originPullCa, Cloudflare's
 * published CA). Cloudflare presents such a certificate on every request it proxies for a zone with
 * Authenticated Origin Pulls on (the cloudflare bootstrap step turns it on); anything else that
 * reaches 443, a scanner or a client that found the origin address, fails the TLS handshake before
 * any router, middleware or app sees a byte.
 *
 * A TLSOption is namespaced and an IngressRoute references one in its own namespace (no
 * cross-namespace references), so each namespace with a public router gets the TLSOption and the CA
 * Secret (Traefik reads client-auth CAs from Secrets only, key `ca.crt`; the certificate is public).
 */
import type { Construct } from 'constructs';
import { ApiObject } from 'cdk8s';
import type { Config } from '../config/schema.ts';
import { TlsOption, TlsOptionSpecClientAuthClientAuthType } from '../imports/traefik-tlsoption-traefik.io.ts';

export const originPull = {
  tlsOption: 'origin-pull',
  caSecret: 'cloudflare-origin-pull-ca',
  caKey: 'ca.crt',
  clientAuthType: TlsOptionSpecClientAuthClientAuthType.REQUIRE_AND_VERIFY_CLIENT_CERT,
  /** Cloudflare connects to origins with TLS 1.2 or 1.3. */
  minVersion: 'VersionTLS12',
} as const;

/** The CA Secret and the TLSOption in `namespace`; returns the IngressRoute `tls.options` reference. */
export function originPullTls(scope: Construct, config: Config, namespace: string): { name: string; namespace: string } {
  new ApiObject(scope, `origin-pull-ca-${namespace}`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: originPull.caSecret,
      namespace,
      annotations: { 'lms.example.com/public': 'the CA certificate of Authenticated Origin Pulls (no private key)' },
    },
    type: 'Opaque',
    stringData: { [originPull.caKey]: config.cluster.cloudflare.originPullCa },
  });
  new TlsOption(scope, `origin-pull-${namespace}`, {
    metadata: { name: originPull.tlsOption, namespace },
    spec: {
      minVersion: originPull.minVersion,
      // No default certificate for a name the router does not serve (an IP-only probe gets nothing).
      sniStrict: true,
      clientAuth: { secretNames: [originPull.caSecret], clientAuthType: originPull.clientAuthType },
    },
  });
  return { name: originPull.tlsOption, namespace };
}
