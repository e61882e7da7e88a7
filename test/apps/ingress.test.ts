/**
 * The entrance of each environment: TLS from cert-manager, routes to the weighted TraefikServices
 * (so canary weights apply), HTTP -> HTTPS, security headers, and the authentication rate limit
 * keyed on the client address Cloudflare saw.
 */
import { describe, expect, it } from 'vitest';
import { authPathRule, middlewareNames, tlsSecretName, webContentSecurityPolicy } from '../../charts-ts/apps/ingress.ts';
import { canaryServiceNames } from '../../charts-ts/apps/metrics.ts';
import { parseConfig } from '../../charts-ts/config/load.ts';
import { values } from '../../charts-ts/config/values.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { originPull } from '../../charts-ts/lib/origin-pull.ts';
import type { IngressRouteJson } from '../support/kinds.ts';
import { renderAll, type Rendered } from '../support/render.ts';
import { environments, rendered } from './support.ts';
import { inRanges, poolStrategyAddress, rateLimited, ruleMatches } from './traefik-semantics.ts';

const r = rendered();
/** A Traefik Middleware (traefik.io/v1alpha1): the fields read. */
interface MiddlewareJson {
  spec: {
    redirectScheme?: unknown;
    headers?: { stsSeconds?: number; stsIncludeSubdomains?: boolean; contentTypeNosniff?: boolean; frameDeny?: boolean; contentSecurityPolicy?: string };
    rateLimit?: { average: number; burst: number; period: string; sourceCriterion?: unknown };
    ipAllowList?: { sourceRange: string[]; ipStrategy: { excludedIPs: string[] } };
  };
}
const middleware = (x: Rendered, name: string, namespace: string) => x.getOf<MiddlewareJson>('traefik.io', 'Middleware', name, namespace).spec;
const ingressRoute = (x: Rendered, name: string, namespace: string) => x.getOf<IngressRouteJson>('traefik.io', 'IngressRoute', name, namespace);

describe('ingress', () => {
  it('one Certificate per environment covers both hosts, from the configured ClusterIssuer', () => {
    for (const env of environments(r)) {
      const cert = r.getOf<{ spec: { dnsNames: string[]; secretName: string; issuerRef: { name: string } } }>('cert-manager.io', 'Certificate', tlsSecretName, env.namespace);
      expect(cert.spec.dnsNames).toEqual([env.hostnames.web, env.hostnames.api]);
      expect(cert.spec.secretName).toBe(tlsSecretName);
      expect(cert.spec.issuerRef).toEqual({ kind: 'ClusterIssuer', name: names.issuers[env.apps.ingress.issuer] });
    }
    const o = renderAll({ environments: { staging: { apps: { ingress: { issuer: 'staging' } } } } });
    expect(o.getOf<{ spec: { issuerRef: { name: string } } }>('cert-manager.io', 'Certificate', tlsSecretName, 'lms-staging').spec.issuerRef.name).toBe(names.issuers.staging);
  });

  it('routes each host over HTTPS to the app\'s weighted TraefikService, with security headers', () => {
    for (const env of environments(r)) {
      for (const [route, app, host, headers] of [
        ['lms-web', names.apps.web, env.hostnames.web, middlewareNames.webHeaders],
        ['lms-api', names.apps.api, env.hostnames.api, middlewareNames.apiHeaders],
      ] as const) {
        const ir = ingressRoute(r, route, env.namespace);
        expect(ir.spec.entryPoints).toEqual(['websecure']);
        // Public routers admit only Cloudflare's origin-pull client certificate (test/platform/origin-pull.test.ts).
        expect(ir.spec.tls).toEqual({ secretName: tlsSecretName, options: { name: originPull.tlsOption, namespace: env.namespace } });
        for (const rt of ir.spec.routes) {
          expect(rt.match).toContain(`Host(\`${host}\`)`);
          expect(rt.services).toEqual([{ name: canaryServiceNames(app).traefikService, kind: 'TraefikService' }]);
          expect(rt.middlewares!.map((m) => m.name)).toContain(headers);
        }
      }
    }
  });

  it('redirects plain HTTP to HTTPS for both hosts', () => {
    for (const env of environments(r)) {
      const ir = ingressRoute(r, 'lms-http-redirect', env.namespace);
      expect(ir.spec.entryPoints).toEqual(['web']);
      expect(ir.spec.routes[0].match).toBe(`Host(\`${env.hostnames.web}\`) || Host(\`${env.hostnames.api}\`)`);
      const allowList = env.apps.ingress.ipAllowList ? [{ name: middlewareNames.ipAllowList, namespace: env.namespace }] : [];
      expect(ir.spec.routes[0].middlewares).toEqual([...allowList, { name: middlewareNames.httpsRedirect, namespace: env.namespace }]);
      expect(middleware(r, middlewareNames.httpsRedirect, env.namespace).redirectScheme).toEqual({ scheme: 'https', permanent: true });
    }
  });

  it('sends HSTS, nosniff, no framing, and a same-origin CSP that lets the SPA call its API', () => {
    for (const env of environments(r)) {
      for (const name of [middlewareNames.webHeaders, middlewareNames.apiHeaders]) {
        const h = middleware(r, name, env.namespace).headers!;
        expect(h.stsSeconds).toBe(env.apps.ingress.hstsMaxAgeSeconds);
        expect(h.stsIncludeSubdomains).toBe(true);
        expect(h.contentTypeNosniff).toBe(true);
        expect(h.frameDeny).toBe(true);
        expect(h.contentSecurityPolicy).toContain("frame-ancestors 'none'");
      }
      const csp = middleware(r, middlewareNames.webHeaders, env.namespace).headers!.contentSecurityPolicy;
      expect(csp).toBe(webContentSecurityPolicy(env));
      expect(csp).toContain(`connect-src 'self' https://${env.hostnames.api} wss://${env.hostnames.api}`);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('unsafe-eval');
      expect(middleware(r, middlewareNames.apiHeaders, env.namespace).headers!.contentSecurityPolicy).toContain("default-src 'none'");
    }
    const o = renderAll({ environments: { production: { apps: { web: { cspExtraSources: { 'img-src': ['https://cdn.example.net'] } } } } } });
    expect(middleware(o, middlewareNames.webHeaders, 'lms-production').headers!.contentSecurityPolicy).toContain("img-src 'self' data: https://cdn.example.net");
  });

  it('rate-limits authentication endpoints per client, trusting forwarded addresses only past Cloudflare\'s ranges', () => {
    for (const env of environments(r)) {
      const rl = middleware(r, middlewareNames.authRateLimit, env.namespace).rateLimit!;
      const cfg = env.apps.ingress.authRateLimit;
      expect([rl.average, rl.burst]).toEqual([cfg.average, cfg.burst]);
      expect(rl.period).toBe('60s');
      expect(rl.sourceCriterion).toEqual({ ipStrategy: { excludedIPs: [...r.config.cluster.cloudflare.ipv4, ...r.config.cluster.cloudflare.ipv6] } });
      const auth = ingressRoute(r, 'lms-api', env.namespace).spec.routes.find((rt) => rt.middlewares!.some((m) => m.name === middlewareNames.authRateLimit))!;
      expect(auth.match).toBe(`Host(\`${env.hostnames.api}\`) && ${authPathRule(env.apps.ingress.authPaths)}`);
      const catchAll = ingressRoute(r, 'lms-api', env.namespace).spec.routes.find((rt) => rt !== auth)!;
      expect(auth.priority).toBeGreaterThan(catchAll.priority!);
      // Only the auth routes are limited; the web host is not.
      expect(catchAll.middlewares!.map((m) => m.name)).not.toContain(middlewareNames.authRateLimit);
    }
  });

  it('limits /auth and everything below it, in any letter case, and not /authors (Traefik\'s rule semantics)', () => {
    for (const env of environments(r)) {
      const routes = ingressRoute(r, 'lms-api', env.namespace).spec.routes;
      const limited = (path: string, host = env.hostnames.api) => {
        // The highest-priority matching route wins (Traefik sorts by priority).
        const route = [...routes].sort((a, b) => b.priority! - a.priority!).find((rt) => ruleMatches(rt.match, { host, path }));
        return route?.middlewares!.some((m) => m.name === middlewareNames.authRateLimit) ?? false;
      };
      for (const path of ['/auth', '/auth/', '/auth/login', '/auth/password-reset/confirm', '/AUTH/login', '/Auth', '//auth/login', '/x/../auth/login', '/auth/./login', '/%61uth/login', '/%41UTH/Login']) {
        expect(limited(path), `${env.name} ${path}`).toBe(true);
      }
      // `/auth%2Flogin` keeps its encoded slash: the API sees one segment, no auth route.
      for (const path of ['/authors', '/authors/1', '/authority', '/author', '/auth-x', '/api/auth', '/', '/courses/auth', '/auth%2Flogin']) {
        expect(limited(path), `${env.name} ${path}`).toBe(false);
      }
      expect(limited('/auth/login', env.hostnames.web)).toBe(false);
    }
    // What the old rule did: a plain prefix limits /authors and lets /AUTH/login through.
    expect(ruleMatches('Host(`a`) && PathPrefix(`/auth`)', { host: 'a', path: '/authors' })).toBe(true);
    expect(ruleMatches('Host(`a`) && PathPrefix(`/auth`)', { host: 'a', path: '/AUTH/login' })).toBe(false);
    expect(authPathRule(['/auth', '/v2/session'])).toBe('PathRegexp(`(?i)^(/auth|/v2/session)(/|$)`)');
  });

  it('staging answers only its allow-list, by the address Cloudflare saw; production is public', () => {
    const cloudflare = [...r.config.cluster.cloudflare.ipv4, ...r.config.cluster.cloudflare.ipv6];
    const staging = r.config.environments.staging;
    const list = staging.apps.ingress.ipAllowList!;
    expect(list.length).toBeGreaterThan(0);
    const allow = middleware(r, middlewareNames.ipAllowList, staging.namespace).ipAllowList!;
    expect(allow).toEqual({ sourceRange: list.map((x) => x.cidr), ipStrategy: { excludedIPs: cloudflare } });
    // First on every route of both hosts, before the rate limit spends a token.
    for (const name of ['lms-web', 'lms-api', 'lms-http-redirect']) {
      for (const route of ingressRoute(r, name, staging.namespace).spec.routes) {
        expect(route.middlewares![0], `${name} ${route.match}`).toEqual({ name: middlewareNames.ipAllowList, namespace: staging.namespace });
      }
    }
    const production = r.config.environments.production;
    expect(production.apps.ingress.ipAllowList).toBeUndefined();
    expect(r.find('Middleware', { namespace: production.namespace, name: middlewareNames.ipAllowList })).toEqual([]);
    for (const name of ['lms-web', 'lms-api']) {
      for (const route of ingressRoute(r, name, production.namespace).spec.routes) {
        expect(route.middlewares!.map((m) => m.name)).not.toContain(middlewareNames.ipAllowList);
      }
    }

    // Which requests get through, with Traefik's address selection and the rendered lists.
    const operator = list[0].cidr.replace(/0\/\d+$/, '7');
    const edge = '172.70.1.1'; // a Cloudflare address (172.64.0.0/13)
    const passes = (xff: string) => inRanges(poolStrategyAddress(xff, allow.ipStrategy.excludedIPs), allow.sourceRange);
    // Cloudflare appends the client it saw; Traefik (trusting Cloudflare) appends the edge.
    expect(passes(`${operator}, ${edge}`)).toBe(true);
    expect(passes(`192.0.2.44, ${edge}`)).toBe(false);
    // A client cannot claim an allowed address: it can only prepend, Cloudflare appends the real one.
    expect(passes(`${operator}, 192.0.2.44, ${edge}`)).toBe(false);
    // No address outside Cloudflare (the request did not come through it): refused.
    expect(passes(edge)).toBe(false);
    expect(passes('')).toBe(false);
  });

  it('refuses a public staging, naming the field', () => {
    const publicStaging = structuredClone(values);
    delete publicStaging.environments.staging.apps.ingress.ipAllowList;
    expect(() => parseConfig(publicStaging))
      .toThrow('config: environments.staging.apps.ingress.ipAllowList: missing is required: staging runs unreleased code and must not be public');
    expect(() => renderAll({ environments: { staging: { apps: { ingress: { ipAllowList: [] } } } } }))
      .toThrow('config: environments.staging.apps.ingress.ipAllowList: [] must list at least one range');
  });

  it('sizes the auth limit for a school class behind one NAT, and still stops a flood from one address', () => {
    for (const env of environments(r)) {
      const cfg = env.apps.ingress.authRateLimit;
      const rl = middleware(r, middlewareNames.authRateLimit, env.namespace).rateLimit!;
      const limit = { average: rl.average, periodSeconds: Number(rl.period.replace(/s$/, '')), burst: rl.burst };
      // 40 students, 3 requests each, all within the first 20 seconds of the lesson.
      const clients = cfg.sharedAddressClients;
      expect(clients).toBeGreaterThanOrEqual(40);
      const lesson = Array.from({ length: clients * cfg.requestsPerLogin }, (_, i) => (20 * i) / (clients * cfg.requestsPerLogin));
      expect(rateLimited(limit, lesson).every(Boolean), env.name).toBe(true);
      // The limit before issue 16 (10 a minute, bursts of 10) turned most of that class away.
      expect(rateLimited({ average: 10, periodSeconds: 60, burst: 10 }, lesson).filter(Boolean).length).toBeLessThan(15);
      // One address sending 10 requests a second for a minute gets the burst plus a minute's refill.
      const flood = Array.from({ length: 600 }, (_, i) => i / 10);
      const passed = rateLimited(limit, flood).filter(Boolean).length;
      expect(passed).toBeLessThanOrEqual(limit.burst + limit.average * (60 / limit.periodSeconds) + 1);
      expect(passed).toBeLessThan(flood.length / 2);
    }
  });

  it('refuses an auth limit a class behind one NAT cannot log in through, naming the field', () => {
    expect(() => renderAll({ environments: { production: { apps: { ingress: { authRateLimit: { burst: 10 } } } } } }))
      .toThrow('config: environments.production.apps.ingress.authRateLimit.burst: 10 must let 40 clients behind one address (sharedAddressClients, a class behind a school NAT) log in at once: at least 40 x 3 requests (requestsPerLogin) = 120');
    // Cloudflare counts per address too: its login rule must not lock out the class first.
    const edge = r.config.cluster.bootstrap.cloudflare.rateLimits.map((rule) => (rule.ref === 'lms-login' ? { ...rule, requestsPerPeriod: 10 } : rule));
    const login = edge.findIndex((rule) => rule.ref === 'lms-login');
    expect(() => renderAll({ cluster: { bootstrap: { cloudflare: { rateLimits: edge } } } }))
      .toThrow(`config: cluster.bootstrap.cloudflare.rateLimits[${login}].requestsPerPeriod: 10 counts the auth paths per address like environments.staging.apps.ingress.authRateLimit, which lets 40 clients behind one address (a school class) log in at once: allow at least 120 requests per period`);
    expect(() => renderAll({ environments: { production: { apps: { ingress: { authPaths: ['/auth/'] } } } } }))
      .toThrow('config: environments.production.apps.ingress.authPaths[0]: "/auth/" must be an absolute URL path without a trailing slash');
  });
});
