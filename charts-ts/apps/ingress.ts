/**
 * The environment's entrance: one cert-manager Certificate for both hosts, Traefik IngressRoutes
 * to the weighted TraefikServices (so Argo Rollouts' weights apply), HTTP -> HTTPS redirect,
 * security headers and a per-client rate limit on authentication endpoints.
 *
 * Client IP: the platform's Traefik trusts X-Forwarded-For only from Cloudflare's ranges
 * (entrypoint forwardedHeaders.trustedIPs = cluster.cloudflare) and strips it from anyone else.
 * Cloudflare appends the address it saw, so the client is the right-most X-Forwarded-For entry
 * that is not a Cloudflare address; the rate limit's `ipStrategy.excludedIPs` picks exactly that
 * (CF-Connecting-IP is never used: Traefik does not strip it from untrusted peers). The staging
 * IP allow-list picks the client address the same way.
 */
import type { Construct } from 'constructs';
import type { Config, Environment } from '../config/schema.ts';
import { durationSeconds } from '../config/sections/apps.ts';
import { Certificate, CertificateSpecPrivateKeyAlgorithm, CertificateSpecPrivateKeyRotationPolicy } from '../imports/certificate-cert-manager.io.ts';
import { IngressRoute, IngressRouteSpecRoutesKind, IngressRouteSpecRoutesServicesKind, IngressRouteSpecRoutesServicesPort } from '../imports/traefik-ingressroute-traefik.io.ts';
import { Middleware, MiddlewareSpecRateLimitPeriod } from '../imports/traefik-middleware-traefik.io.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { names } from '../lib/names.ts';
import { originPullTls } from '../lib/origin-pull.ts';
import { canaryServiceNames, servicePort } from './metrics.ts';
import { probeHost } from './probe.ts';

export const tlsSecretName = 'lms-tls';

/** The SPA's Content-Security-Policy: same-origin only, the API for XHR/WebSocket, no framing. */
export function webContentSecurityPolicy(env: Environment): string {
  const extra = env.apps.web.cspExtraSources;
  const api = `https://${env.hostnames.api}`;
  const directives: [string, string[]][] = [
    ['default-src', ["'self'"]],
    ['script-src', ["'self'", ...(extra['script-src'] ?? [])]],
    ['style-src', ["'self'", ...(extra['style-src'] ?? [])]],
    ['img-src', ["'self'", 'data:', ...(extra['img-src'] ?? [])]],
    ['font-src', ["'self'", ...(extra['font-src'] ?? [])]],
    ['connect-src', ["'self'", api, `wss://${env.hostnames.api}`, ...(extra['connect-src'] ?? [])]],
    ['media-src', ["'self'", ...(extra['media-src'] ?? [])]],
    ['frame-src', extra['frame-src']?.length ? extra['frame-src'] : ["'none'"]],
    ['worker-src', ["'self'", ...(extra['worker-src'] ?? [])]],
    ['object-src', ["'none'"]],
    ['base-uri', ["'self'"]],
    ['form-action', ["'self'"]],
    ['frame-ancestors', ["'none'"]],
  ];
  return `${directives.map(([d, s]) => `${d} ${[...new Set(s)].join(' ')}`).join('; ')}; upgrade-insecure-requests`;
}

/** The API serves JSON only: nothing to load, nothing may frame it. */
export const apiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * Traefik rule matching each path and everything below it, in any letter case: `/auth`, `/auth/`,
 * `/auth/login`, `/AUTH/login`, but not `/authors` (which `PathPrefix(\`/auth\`)` matches, being a
 * plain string prefix, Traefik v3 pkg/muxer/http/matcher.go). Case-insensitive because the API's
 * router is (Express by default): a limit that `/AUTH/login` walks around is no limit. Traefik
 * matches the routing path after cleaning it (`//`, `.`, `..`) and decoding unreserved
 * percent-encodings, so `/%61uth/login` is `/auth/login` too.
 */
export function authPathRule(paths: readonly string[]): string {
  const quote = (p: string) => p.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
  return `PathRegexp(\`(?i)^(${paths.map(quote).join('|')})(/|$)\`)`;
}

/** The probe route's rule: the probe's host for the app, the probe header naming the app, an in-cluster client. */
export const probeRule = (host: string, app: string, clusterCidrs: readonly string[]): string =>
  `Host(\`${host}\`) && Header(\`${names.probe.header}\`, \`${app}\`) && (${clusterCidrs.map((c) => `ClientIP(\`${c}\`)`).join(' || ')})`;

export const middlewareNames = {
  webHeaders: 'web-security-headers',
  apiHeaders: 'api-security-headers',
  authRateLimit: 'auth-rate-limit',
  ipAllowList: 'ip-allow-list',
  httpsRedirect: 'https-redirect',
} as const;

export class IngressChart extends LmsChart {
  private readonly ns: string;
  private readonly ing: Environment['apps']['ingress'];

  constructor(scope: Construct, id: string, config: Config, env: Environment) {
    super(scope, id, { layer: layers.apps(env.name), component: 'ingress', namespace: env.namespace });
    this.ns = env.namespace;
    this.ing = env.apps.ingress;
    const hosts = [env.hostnames.web, env.hostnames.api];
    this.certificate(hosts);
    this.middlewares(config, env);
    this.publicRoutes(config, env);
    if (env.apps.probe.enabled) this.probeRoutes(config);
    this.httpRedirect(hosts);
  }

  /** One certificate for both public hosts, from the configured Let's Encrypt issuer. */
  private certificate(hosts: string[]): void {
    new Certificate(this, 'certificate', {
      metadata: { name: tlsSecretName, namespace: this.ns },
      spec: {
        secretName: tlsSecretName,
        dnsNames: hosts,
        issuerRef: { kind: 'ClusterIssuer', name: names.issuers[this.ing.issuer] },
        privateKey: { algorithm: CertificateSpecPrivateKeyAlgorithm.ECDSA, size: 256, rotationPolicy: CertificateSpecPrivateKeyRotationPolicy.ALWAYS },
        // Let's Encrypt issues for 90 days; renew with a month to spare.
        renewBefore: '720h',
      },
    });
  }

  /** Security headers per app, the optional allow-list, the login rate limit, the HTTPS redirect. */
  private middlewares(config: Config, env: Environment): void {
    const { ns, ing } = this;
    const commonHeaders = {
      stsSeconds: ing.hstsMaxAgeSeconds,
      stsIncludeSubdomains: true,
      forceStsHeader: true,
      contentTypeNosniff: true,
      frameDeny: true,
      referrerPolicy: 'strict-origin-when-cross-origin',
      permissionsPolicy: 'camera=(), microphone=(), geolocation=(), payment=()',
    };
    new Middleware(this, 'web-headers', {
      metadata: { name: middlewareNames.webHeaders, namespace: ns },
      spec: { headers: { ...commonHeaders, contentSecurityPolicy: webContentSecurityPolicy(env) } },
    });
    new Middleware(this, 'api-headers', {
      metadata: { name: middlewareNames.apiHeaders, namespace: ns },
      spec: { headers: { ...commonHeaders, contentSecurityPolicy: apiContentSecurityPolicy } },
    });
    // The client address for both: the right-most X-Forwarded-For entry outside Cloudflare's ranges.
    const clientAddress = { ipStrategy: { excludedIPs: [...config.cluster.cloudflare.ipv4, ...config.cluster.cloudflare.ipv6] } };
    if (ing.ipAllowList) {
      new Middleware(this, 'ip-allow-list', {
        metadata: { name: middlewareNames.ipAllowList, namespace: ns, annotations: { 'lms.dev/owners': ing.ipAllowList.map((r) => `${r.cidr}: ${r.owner}`).join('; ') } },
        // No X-Forwarded-For entry outside Cloudflare (a request that did not come through it) is
        // an empty address, which Traefik refuses.
        spec: { ipAllowList: { sourceRange: ing.ipAllowList.map((r) => r.cidr), ...clientAddress } },
      });
    }
    new Middleware(this, 'auth-rate-limit', {
      metadata: { name: middlewareNames.authRateLimit, namespace: ns },
      spec: {
        rateLimit: {
          average: ing.authRateLimit.average,
          period: MiddlewareSpecRateLimitPeriod.fromString(`${durationSeconds(ing.authRateLimit.period)}s`),
          burst: ing.authRateLimit.burst,
          sourceCriterion: clientAddress,
        },
      },
    });
    new Middleware(this, 'https-redirect', {
      metadata: { name: middlewareNames.httpsRedirect, namespace: ns },
      spec: { redirectScheme: { scheme: 'https', permanent: true } },
    });
  }

  /** Middleware references, the allow-list first: a refused client spends no rate-limit tokens and reaches nothing. */
  private chain(...ms: string[]) {
    const allow = this.ing.ipAllowList ? [middlewareNames.ipAllowList] : [];
    return [...allow, ...ms].map((name) => ({ name, namespace: this.ns }));
  }

  /** The web and API hosts over HTTPS, each to its app's TraefikService (stable and canary). */
  private publicRoutes(config: Config, env: Environment): void {
    const { ns, ing } = this;
    // Only Cloudflare (Authenticated Origin Pulls) completes a TLS handshake with these routers.
    const originPull = originPullTls(this, config, ns);
    new IngressRoute(this, 'web', {
      metadata: { name: 'lms-web', namespace: ns },
      spec: {
        entryPoints: ['websecure'],
        routes: [{
          kind: IngressRouteSpecRoutesKind.RULE,
          match: host(env.hostnames.web),
          middlewares: this.chain(middlewareNames.webHeaders),
          services: traefikService(names.apps.web),
        }],
        tls: { secretName: tlsSecretName, options: originPull },
      },
    });
    new IngressRoute(this, 'api', {
      metadata: { name: 'lms-api', namespace: ns },
      spec: {
        entryPoints: ['websecure'],
        routes: [
          {
            kind: IngressRouteSpecRoutesKind.RULE,
            match: `${host(env.hostnames.api)} && ${authPathRule(ing.authPaths)}`,
            // Higher than the catch-all below whatever the rule lengths.
            priority: 200,
            middlewares: this.chain(middlewareNames.authRateLimit, middlewareNames.apiHeaders),
            services: traefikService(names.apps.api),
          },
          {
            kind: IngressRouteSpecRoutesKind.RULE,
            match: host(env.hostnames.api),
            priority: 100,
            middlewares: this.chain(middlewareNames.apiHeaders),
            services: traefikService(names.apps.api),
          },
        ],
        tls: { secretName: tlsSecretName, options: originPull },
      },
    });
  }

  /**
   * The canary probe (charts-ts/apps/probe.ts): its own internal host name, its header and an
   * in-cluster client address reach the canary alone, through a TraefikService of the canary
   * Service (counted under the canary's label). Not a public router: no Cloudflare client
   * certificate (the probe has none; origin-pull is for the public hosts), Traefik's default TLS
   * options and certificate. Clients outside the cluster arrive from Cloudflare's addresses
   * (externalTrafficPolicy Local keeps them) and cannot match. No allow-list, no rate limit: the
   * probe is not a user; the same response headers as users get.
   */
  private probeRoutes(config: Config): void {
    const ns = this.ns;
    for (const [app, headers] of [
      [names.apps.api, middlewareNames.apiHeaders],
      [names.apps.web, middlewareNames.webHeaders],
    ] as const) {
      new IngressRoute(this, `${app}-canary-probe`, {
        metadata: { name: `${app}-canary-probe`, namespace: ns },
        spec: {
          entryPoints: ['websecure'],
          routes: [{
            kind: IngressRouteSpecRoutesKind.RULE,
            match: probeRule(probeHost(app, ns), app, config.cluster.bootstrap.firewall.clusterCidrs),
            middlewares: [{ name: headers, namespace: ns }],
            services: [{ name: canaryServiceNames(app).probeTraefikService, kind: IngressRouteSpecRoutesServicesKind.TRAEFIK_SERVICE }],
          }],
          tls: {},
        },
      });
    }
  }

  /** Plain HTTP only ever redirects; the Service is required by the CRD but never reached. */
  private httpRedirect(hosts: string[]): void {
    new IngressRoute(this, 'http-redirect', {
      metadata: { name: 'lms-http-redirect', namespace: this.ns },
      spec: {
        entryPoints: ['web'],
        routes: [{
          kind: IngressRouteSpecRoutesKind.RULE,
          match: hosts.map(host).join(' || '),
          middlewares: this.chain(middlewareNames.httpsRedirect),
          services: [{ name: canaryServiceNames(names.apps.web).stable, port: IngressRouteSpecRoutesServicesPort.fromNumber(servicePort) }],
        }],
      },
    });
  }
}

const host = (h: string) => `Host(\`${h}\`)`;
const traefikService = (app: string) => [{ name: canaryServiceNames(app).traefikService, kind: IngressRouteSpecRoutesServicesKind.TRAEFIK_SERVICE }];
