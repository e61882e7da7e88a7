/**
 * Let's Encrypt for the first-deploy test: Pebble (Let's Encrypt's own ACME test server, built from
 * its Go module like the other components) answering at the Let's Encrypt host names of our
 * ClusterIssuers, so cert-manager registers its accounts, orders the Flux webhook's certificate and
 * solves its DNS-01 challenge as it would in production. Pebble resolves the challenge record
 * through `dnsServer` (the zone's authoritative DNS, test/support/zone-dns.ts) and issues from a
 * root of its own, which `rootPem()` returns so the test can verify the chain.
 *
 * One difference from acme-v02.api.letsencrypt.org, made by the front: Pebble serves its directory at
 * `/dir`, Let's Encrypt at `/directory` (the URL in our ClusterIssuers). The front is an HTTPS
 * reverse proxy presenting a certificate for both Let's Encrypt names (from a throw-away CA the
 * client trusts through SSL_CERT_FILE), mapping that one path and passing everything else through
 * with the Host header unchanged: Pebble builds every URL it hands out (new-account, orders,
 * challenges) from the Host it was asked at, and checks each JWS `url` against it, so the client
 * keeps talking to "Let's Encrypt" throughout.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { acmeServers } from '../../../charts-ts/platform/cluster-issuers.ts';
import { binary } from '../../cluster/support/components.ts';
import { freePort, startProcess, waitFor, type Proc } from '../../cluster/support/processes.ts';
import { testServerCert, type TestServerCert } from '../../support/github-api.ts';
import { closeServer, trackSockets } from '../../support/close-server.ts';

/** The ACME hosts our ClusterIssuers use. */
export const letsEncryptHosts = Object.values(acmeServers).map((u) => new URL(u).hostname);

export interface LetsEncryptStandInOptions {
  /** Working directory (config, certificates, log). */
  readonly dir: string;
  /** `host:port` of the DNS server Pebble resolves challenge records with. */
  readonly dnsServer: string;
}

export class LetsEncryptStandIn {
  private pebble?: Proc;
  private front?: Server;
  private pebblePort = 0;
  private managementPort = 0;
  /** Port of the HTTPS front (route `<host>:443` here). */
  port = 0;
  readonly tls: TestServerCert;
  /** Requests the front passed on, in order (method and path as the client sent them). */
  readonly requests: string[] = [];

  constructor(private readonly opts: LetsEncryptStandInOptions) {
    this.tls = testServerCert(opts.dir, letsEncryptHosts);
  }

  /** PEM of the CA the front's certificate chains to (the client's SSL_CERT_FILE). */
  get caFile(): string { return this.tls.caFile; }

  /** Pebble serves its own endpoints with the front's certificate too, so one CA verifies both. */
  private caPem(): Buffer { return readFileSync(this.tls.caFile); }

  async start(): Promise<this> {
    this.pebblePort = await freePort();
    this.managementPort = await freePort();
    const config = join(this.opts.dir, 'pebble-config.json');
    writeFileSync(config, JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${this.pebblePort}`,
        managementListenAddress: `127.0.0.1:${this.managementPort}`,
        certificate: this.tls.certFile,
        privateKey: this.tls.keyFile,
        // Ports Pebble dials for HTTP-01 and TLS-ALPN-01; our issuers solve DNS-01 only.
        httpPort: 5002,
        tlsPort: 5001,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        retryAfter: { authz: 3, order: 5 },
        keyAlgorithm: 'ecdsa',
        profiles: { default: { description: 'Let\'s Encrypt\'s default (90 days)', validityPeriod: 7_776_000 } },
      },
    }, null, 2));
    this.pebble = startProcess('pebble', binary('pebble'), ['-config', config, '-dnsserver', this.opts.dnsServer], this.opts.dir, {
      // Let's Encrypt neither rejects nonces at random nor sleeps before validating; Pebble does
      // both by default to shake out client bugs, which would only add noise and minutes here.
      PEBBLE_WFE_NONCEREJECT: '0',
      PEBBLE_VA_NOSLEEP: '1',
    });
    const ca = this.caPem();
    this.front = trackSockets(createServer({ cert: readFileSync(this.tls.certFile), key: readFileSync(this.tls.keyFile) }, (req, res) => {
      const host = String(req.headers.host ?? '').replace(/:443$/, '');
      this.requests.push(`${req.method} ${req.url}`);
      const path = req.url === '/directory' ? '/dir' : req.url;
      const up = request({ host: '127.0.0.1', port: this.pebblePort, servername: host, ca, method: req.method, path, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', (e) => { res.writeHead(502, { 'content-type': 'text/plain' }).end(`Pebble: ${e.message}`); });
      req.pipe(up);
    }));
    this.front.listen(0, '127.0.0.1');
    await once(this.front, 'listening');
    this.port = (this.front.address() as AddressInfo).port;
    await waitFor('Pebble serving its directory', () => /ACME directory available/.test(this.pebble!.logTail(20)),
      { timeoutMs: 20_000, intervalMs: 200, procs: [this.pebble] });
    return this;
  }

  /** Pebble's (per-run) root certificate, which the certificates it issues chain to. */
  async rootPem(): Promise<string> {
    return await new Promise<string>((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port: this.managementPort, path: '/roots/0', ca: this.caPem(), servername: letsEncryptHosts[0] }, (res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`Pebble /roots/0: ${res.statusCode} ${body}`))));
      });
      r.on('error', reject);
      r.end();
    });
  }

  /**
   * An issued `tls.crt` (leaf first, then its chain) checked the way a client would: `openssl
   * verify` against Pebble's root, and the leaf's DNS names. Async: the test's servers live on
   * this event loop.
   */
  async inspectIssued(tlsCrt: string, dir: string): Promise<{ certificates: number; leafFile: string; verify: string; dnsNames: string[] }> {
    const pems = tlsCrt.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
    const files = { root: join(dir, 'acme-root.pem'), leaf: join(dir, 'issued-leaf.pem'), chain: join(dir, 'issued-chain.pem') };
    writeFileSync(files.root, await this.rootPem());
    writeFileSync(files.leaf, pems[0] ?? '');
    writeFileSync(files.chain, pems.slice(1).join(''));
    const openssl = async (args: string[]) => (await promisify(execFile)('openssl', args, { encoding: 'utf8' })).stdout.trim();
    const verify = await openssl(['verify', '-CAfile', files.root, '-untrusted', files.chain, files.leaf]);
    const sans = await openssl(['x509', '-in', files.leaf, '-noout', '-ext', 'subjectAltName']);
    return { certificates: pems.length, leafFile: files.leaf, verify, dnsNames: [...sans.matchAll(/DNS:([^,\s]+)/g)].map((m) => m[1]!).sort() };
  }

  logTail(lines = 40): string { return this.pebble?.logTail(lines) ?? ''; }

  async stop(): Promise<void> {
    await closeServer(this.front);
    await this.pebble?.stop();
  }
}
