/**
 * The entrance of each environment: TLS from cert-manager, routes to the weighted TraefikServices
 * (so canary weights apply), HTTP -> HTTPS, security headers, and the authentication rate limit
 * keyed on the client address Cloudflare saw.
 */
import { describe, expect, it } from 'vitest';
import { middlewareNames, tlsSecretName, webContentSecurityPolicy } from '../../charts-ts/apps/ingress.ts';
import { canaryServiceNames } from '../../charts-ts/apps/metrics.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { renderAll } from '../support/render.ts';
import { environments, rendered } from './support.ts';

const r = rendered();

describe('ingress', () => {
  it('one Certificate per environment covers both hosts, from the configured ClusterIssuer', () => {
    for (const env of environments(r)) {
      const cert = r.get('Certificate', tlsSecretName, env.namespace);
      expect(cert.spec.dnsNames).toEqual([env.hostnames.web, env.hostnames.api]);
      expect(cert.spec.secretName).toBe(tlsSecretName);
      expect(cert.spec.issuerRef).toEqual({ kind: 'ClusterIssuer', name: names.issuers[env.apps.ingress.issuer] });
    }
    const o = renderAll({ environments: { staging: { apps: { ingress: { issuer: 'staging' } } } } });
    expect(o.get('Certificate', tlsSecretName, 'lms-staging').spec.issuerRef.name).toBe(names.issuers.staging);
  });

  it('routes each host over HTTPS to the app\'s weighted TraefikService, with security headers', () => {
    for (const env of environments(r)) {
      for (const [route, app, host, headers] of [
        ['lms-web', names.apps.web, env.hostnames.web, middlewareNames.webHeaders],
        ['lms-api', names.apps.api, env.hostnames.api, middlewareNames.apiHeaders],
      ] as const) {
        const ir = r.get('IngressRoute', route, env.namespace);
        expect(ir.spec.entryPoints).toEqual(['websecure']);
        expect(ir.spec.tls).toEqual({ secretName: tlsSecretName });
        for (const rt of ir.spec.routes) {
          expect(rt.match).toContain(`Host(\`${host}\`)`);
          expect(rt.services).toEqual([{ name: canaryServiceNames(app).traefikService, kind: 'TraefikService' }]);
          expect(rt.middlewares.map((m: any) => m.name)).toContain(headers);
        }
      }
    }
  });

  it('redirects plain HTTP to HTTPS for both hosts', () => {
    for (const env of environments(r)) {
      const ir = r.get('IngressRoute', 'lms-http-redirect', env.namespace);
      expect(ir.spec.entryPoints).toEqual(['web']);
      expect(ir.spec.routes[0].match).toBe(`Host(\`${env.hostnames.web}\`) || Host(\`${env.hostnames.api}\`)`);
      expect(ir.spec.routes[0].middlewares).toEqual([{ name: middlewareNames.httpsRedirect, namespace: env.namespace }]);
      expect(r.get('Middleware', middlewareNames.httpsRedirect, env.namespace).spec.redirectScheme).toEqual({ scheme: 'https', permanent: true });
    }
  });

  it('sends HSTS, nosniff, no framing, and a same-origin CSP that lets the SPA call its API', () => {
    for (const env of environments(r)) {
      for (const name of [middlewareNames.webHeaders, middlewareNames.apiHeaders]) {
        const h = r.get('Middleware', name, env.namespace).spec.headers;
        expect(h.stsSeconds).toBe(env.apps.ingress.hstsMaxAgeSeconds);
        expect(h.stsIncludeSubdomains).toBe(true);
        expect(h.contentTypeNosniff).toBe(true);
        expect(h.frameDeny).toBe(true);
        expect(h.contentSecurityPolicy).toContain("frame-ancestors 'none'");
      }
      const csp = r.get('Middleware', middlewareNames.webHeaders, env.namespace).spec.headers.contentSecurityPolicy;
      expect(csp).toBe(webContentSecurityPolicy(env));
      expect(csp).toContain(`connect-src 'self' https://${env.hostnames.api} wss://${env.hostnames.api}`);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('unsafe-eval');
      expect(r.get('Middleware', middlewareNames.apiHeaders, env.namespace).spec.headers.contentSecurityPolicy).toContain("default-src 'none'");
    }
    const o = renderAll({ environments: { production: { apps: { web: { cspExtraSources: { 'img-src': ['https://cdn.example.net'] } } } } } });
    expect(o.get('Middleware', middlewareNames.webHeaders, 'lms-production').spec.headers.contentSecurityPolicy).toContain("img-src 'self' data: https://cdn.example.net");
  });

  it('rate-limits authentication endpoints per client, trusting forwarded addresses only past Cloudflare\'s ranges', () => {
    for (const env of environments(r)) {
      const rl = r.get('Middleware', middlewareNames.authRateLimit, env.namespace).spec.rateLimit;
      const cfg = env.apps.ingress.authRateLimit;
      expect([rl.average, rl.burst]).toEqual([cfg.average, cfg.burst]);
      expect(rl.period).toBe('60s');
      expect(rl.sourceCriterion).toEqual({ ipStrategy: { excludedIPs: [...r.config.cluster.cloudflare.ipv4, ...r.config.cluster.cloudflare.ipv6] } });
      const auth = r.get('IngressRoute', 'lms-api', env.namespace).spec.routes.find((rt: any) => rt.middlewares.some((m: any) => m.name === middlewareNames.authRateLimit));
      expect(auth.match).toBe(`Host(\`${env.hostnames.api}\`) && (${env.apps.ingress.authPathPrefixes.map((p) => `PathPrefix(\`${p}\`)`).join(' || ')})`);
      const catchAll = r.get('IngressRoute', 'lms-api', env.namespace).spec.routes.find((rt: any) => rt !== auth);
      expect(auth.priority).toBeGreaterThan(catchAll.priority);
      // Only the auth routes are limited; the web host is not.
      expect(catchAll.middlewares.map((m: any) => m.name)).not.toContain(middlewareNames.authRateLimit);
    }
  });
});
