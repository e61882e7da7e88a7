/**
 * Origin lockdown (Authenticated Origin Pulls): every public Traefik router requires a client
 * certificate from the origin-pull CA, and the rendered TLSOption/Secret do what they say in a real
 * TLS handshake. Traefik is not run here; `openssl s_server` stands in, configured FROM the rendered
 * objects (the CA from the Secret the TLSOption names, Require-and-verify from its clientAuthType,
 * the minimum version from minVersion). The chart is rendered with a CA made in the test (we cannot
 * sign with Cloudflare's key); the default render carries Cloudflare's published CA.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Secret } from '@kubernetes/client-node';
import { originPull } from '../../charts-ts/lib/origin-pull.ts';
import { ruleMatches } from '../apps/traefik-semantics.ts';
import type { IngressRouteJson, TlsOptionJson } from '../support/kinds.ts';
import { renderAll, type Rendered } from '../support/render.ts';

const dir = mkdtempSync(join(tmpdir(), 'origin-pull-'));
const f = (n: string) => join(dir, n);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** A CA and a client certificate it signs (the Cloudflare side of the test). */
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name} CA`, '-keyout', f(`${name}-ca.key`), '-out', f(`${name}-ca.pem`),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name} client`, '-keyout', f(`${name}-client.key`), '-out', f(`${name}-client.csr`));
  writeFileSync(f('client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  openssl('x509', '-req', '-in', f(`${name}-client.csr`), '-CA', f(`${name}-ca.pem`), '-CAkey', f(`${name}-ca.key`), '-CAcreateserial', '-days', '1', '-extfile', f('client.ext'), '-out', f(`${name}-client.pem`));
}

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

/** s_server options for a rendered TLSOption (what Traefik does with the same fields). */
export function sServerArgs(tlsOption: TlsOptionJson, caFile: string): string[] {
  const ca = tlsOption.spec.clientAuth;
  const verify: Record<string, string[]> = {
    RequireAndVerifyClientCert: ['-Verify', '2'],
    VerifyClientCertIfGiven: ['-verify', '2'],
  };
  const args = [...(verify[ca?.clientAuthType as string] ?? []), '-CAfile', caFile, '-verify_return_error'];
  const min: Record<string, string> = { VersionTLS12: 'TLSv1.2', VersionTLS13: 'TLSv1.3' };
  if (tlsOption.spec.minVersion) args.push('-min_protocol', min[tlsOption.spec.minVersion]!);
  return args;
}

let r: Rendered;
let defaultRender: Rendered;
let server: ChildProcess;
let port = 0;

beforeAll(async () => {
  makeCa('test');
  makeCa('other');
  r = renderAll({ cluster: { cloudflare: { originPullCa: readFileSync(f('test-ca.pem'), 'utf8') } } });
  defaultRender = renderAll();
  // The server certificate (what cert-manager issues): self-signed here, the client does not check it.
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=api.lms.example.com', '-keyout', f('server.key'), '-out', f('server.pem'));

  // The origin as the rendered configuration of lms-production's API router describes it.
  const route = r.findOf<IngressRouteJson>('traefik.io', 'IngressRoute', { namespace: 'lms-production', name: 'lms-api' })[0];
  const opt = r.findOf<TlsOptionJson>('traefik.io', 'TLSOption', { namespace: route.spec.tls!.options!.namespace, name: route.spec.tls!.options!.name })[0];
  const secret = r.findOf<V1Secret>('', 'Secret', { namespace: opt.metadata.namespace, name: opt.spec.clientAuth!.secretNames![0] })[0];
  writeFileSync(f('rendered-ca.pem'), secret.stringData![originPull.caKey]);
  port = await freePort();
  server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', f('server.pem'), '-key', f('server.key'), '-naccept', '100', '-www', ...sServerArgs(opt, f('rendered-ca.pem'))], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('s_server did not start')), 10_000);
    server.stdout!.on('data', (d) => { if (String(d).includes('ACCEPT')) { clearTimeout(t); resolve(); } });
    server.on('exit', (code) => reject(new Error(`s_server exited ${code}`)));
  });
}, 300_000);

afterAll(() => {
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** A real handshake plus one HTTP request; the status line when the server answered. */
function connect(client?: string): { ok: boolean; out: string } {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'api.lms.example.com', '-ign_eof', '-quiet'];
  if (client) args.push('-cert', f(`${client}-client.pem`), '-key', f(`${client}-client.key`));
  try {
    const out = execFileSync('openssl', args, { cwd: dir, input: 'GET / HTTP/1.0\r\n\r\n', timeout: 10_000, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
    return { ok: /HTTP\/1\.0 200/.test(out), out };
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer };
    return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

describe('origin lockdown: the rendered TLSOption in a real TLS handshake', () => {
  it('a client with a certificate from the origin-pull CA completes the handshake and gets an answer', () => {
    const c = connect('test');
    expect(c.ok, c.out).toBe(true);
  });

  it('a client without a certificate is refused in the handshake (a scanner that found the origin address)', () => {
    const c = connect();
    expect(c.ok).toBe(false);
    expect(c.out).toMatch(/alert|certificate required|handshake failure/i);
  });

  it('a client with a certificate from another CA is refused (another Cloudflare account\'s own CA, a self-made one)', () => {
    const c = connect('other');
    expect(c.ok).toBe(false);
    expect(c.out).toMatch(/alert|unknown ca|certificate verify failed|bad certificate/i);
  });

  it('a TLSOption without client auth would let everyone in (the check can fail)', () => {
    expect(sServerArgs({ spec: { minVersion: 'VersionTLS12' } }, 'x')).not.toContain('-Verify');
    expect(sServerArgs({ spec: { clientAuth: { clientAuthType: 'RequireAndVerifyClientCert' } } }, 'x')).toEqual(expect.arrayContaining(['-Verify', '-verify_return_error']));
  });
});

describe('origin lockdown: every public router', () => {
  /**
   * Whether only clients inside the cluster can match the IngressRoute's routes: a request with
   * every host and header value its rules ask for matches from a pod address, and the same request
   * from a Cloudflare address does not (the
   * canary probe's routes, `ClientIP` of the cluster's ranges: charts-ts/apps/probe.ts). Those are
   * not public routers; their internal host names share no TLS policy with a public host.
   */
  const inClusterOnly = (x: Rendered, o: IngressRouteJson) => o.spec.routes.every((rt) => {
    const match = String(rt.match);
    const hosts = [...match.matchAll(/Host\(`([^`]+)`\)/g)].map((m) => m[1]!);
    const headers = Object.fromEntries([...match.matchAll(/Header\(`([^`]+)`,\s*`([^`]+)`\)/g)].map((m) => [m[1]!, m[2]!]));
    const outside = x.config.cluster.cloudflare.ipv4[0]!.replace(/\/\d+$/, '');
    const inside = x.config.cluster.bootstrap.firewall.clusterCidrs[0]!.replace(/\.0\/\d+$/, '.9');
    // Matches from inside the cluster, never from outside with the same request.
    return hosts.length > 0 && hosts.every((host) => ruleMatches(match, { host, path: '/', headers, remoteAddr: inside })
      && !ruleMatches(match, { host, path: '/', headers, remoteAddr: outside }));
  });
  const websecure = (x: Rendered) => x.findOf<IngressRouteJson>('traefik.io', 'IngressRoute').filter((o) => ((o.spec.entryPoints ?? []).includes('websecure') || o.spec.tls) && !inClusterOnly(x, o));

  it('the canary probe\'s routes are the only in-cluster-only ones, on hosts of their own', () => {
    const internal = r.findOf<IngressRouteJson>('traefik.io', 'IngressRoute').filter((o) => inClusterOnly(r, o));
    expect(internal.map((o) => o.metadata.name).every((n: string) => n.endsWith('-canary-probe'))).toBe(true);
    for (const o of internal) expect(String(o.spec.routes[0].match)).toMatch(/^Host\(`[^`]+\.canary-probe\.internal`\)/);
  });

  it('every TLS IngressRoute (staging, production, the Flux webhook) names the origin-pull TLSOption of its namespace', () => {
    const routes = websecure(r);
    expect(routes.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(expect.arrayContaining([
      'lms-staging/lms-web', 'lms-staging/lms-api', 'lms-production/lms-web', 'lms-production/lms-api',
    ]));
    for (const o of routes) {
      expect(o.spec.tls?.options, `${o.metadata.namespace}/${o.metadata.name}`).toEqual({ name: originPull.tlsOption, namespace: o.metadata.namespace });
    }
  });

  it('one TLS policy per host: Traefik drops to its default options (no client auth) when routers of a host disagree', () => {
    const byHost = new Map<string, Set<string>>();
    for (const o of websecure(r)) {
      for (const route of o.spec.routes) {
        for (const m of String(route.match).matchAll(/Host\(`([^`]+)`\)/g)) {
          const set = byHost.get(m[1]!) ?? new Set<string>();
          set.add(JSON.stringify(o.spec.tls?.options ?? null));
          byHost.set(m[1]!, set);
        }
      }
    }
    for (const [host, opts] of byHost) expect([...opts], host).toHaveLength(1);
  });

  it('each such namespace has the TLSOption (require and verify, TLS 1.2+, strict SNI) and the CA Secret it names', () => {
    const namespaces = [...new Set(websecure(r).map((o) => o.metadata.namespace))];
    for (const ns of namespaces) {
      const [opt] = r.findOf<TlsOptionJson>('traefik.io', 'TLSOption', { namespace: ns, name: originPull.tlsOption });
      expect(opt?.spec, ns).toEqual({ minVersion: 'VersionTLS12', sniStrict: true, clientAuth: { secretNames: [originPull.caSecret], clientAuthType: 'RequireAndVerifyClientCert' } });
      expect(r.findOf<V1Secret>('', 'Secret', { namespace: ns, name: originPull.caSecret })[0]?.stringData).toEqual({ [originPull.caKey]: readFileSync(f('test-ca.pem'), 'utf8') });
    }
  });

  it('the default render trusts Cloudflare\'s published origin-pull CA, and only certificates (no key) are in the Secret', () => {
    const [secret] = defaultRender.findOf<V1Secret>('', 'Secret', { namespace: 'lms-production', name: originPull.caSecret });
    const pem: string = secret.stringData![originPull.caKey];
    expect(pem).not.toMatch(/PRIVATE KEY/);
    writeFileSync(f('cf.pem'), pem);
    const info = openssl('x509', '-in', f('cf.pem'), '-noout', '-subject', '-fingerprint', '-sha256');
    expect(info).toContain('CN = origin-pull.cloudflare.net');
    // SHA-256 fingerprint of https://developers.cloudflare.com/ssl/static/authenticated_origin_pull_ca.pem
    expect(info).toContain('9A:1A:C2:B4:BE:15:F9:F2:7E:EE:20:A7:34:CB:A4:E9:89:8F:61:00:1B:3B:D7:C8:4B:69:B5:6A:3E:25:A2:B9');
    expect(openssl('verify', '-CAfile', f('cf.pem'), f('cf.pem'))).toContain('OK');
  });
});
