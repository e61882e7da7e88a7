/**
 * The HTTP CONNECT proxy behind kube-apiserver's egress selector, standing in for the one k3s runs
 * in its supervisor: k3s starts the API server with `--egress-selector-config-file` (an
 * EgressSelectorConfiguration whose `cluster` selection is `proxyProtocol: HTTPConnect` over TCP
 * with mutual TLS) and `--enable-aggregator-routing=true`, so every call the API server makes into
 * the cluster (admission webhooks, conversion webhooks, aggregated APIs, kubelet) is a `CONNECT
 * <address>` to that proxy, which tunnels it to the node that runs the endpoint.
 *
 * Real in the parts the API server exercises: the API server's own egress dialer connects with its
 * client certificate, sends `CONNECT <address> HTTP/1.1`, requires a bare `200` and nothing after
 * it, then speaks TLS to the webhook through the tunnel and checks the webhook's certificate for
 * `<service>.<namespace>.svc` itself. Here the "node" is this machine: a routing table maps the
 * address dialled to `127.0.0.1:<port>` of the real component running as a local process. Nothing
 * other than 127.0.0.1 is ever dialled; an address the table (and the optional resolver) does not
 * know gets `502 Bad Gateway` and is logged, so a missing route shows up in the log by name.
 *
 * What the API server dials (k8s.io/apiserver pkg/util/webhook/client.go, v0.36.3): it builds the
 * URL `https://<service>.<namespace>.svc:<port>` but its dialer replaces that address with the
 * service resolver's answer, the Service's ClusterIP and port (`10.43.x.y:443`), or with
 * `--enable-aggregator-routing` (as k3s sets it) an endpoint's pod IP and target port. So routes
 * keyed by service name serve processes that use the proxy as HTTPS_PROXY (they CONNECT by name),
 * and the API server's IP:port targets reach them through `resolve` (see `serviceAddressFor`), or
 * through a route keyed by that IP:port.
 *
 * Two listeners, one routing table: `url` (plain HTTP, for HTTPS_PROXY of local processes) and
 * `egressUrl` (HTTPS with client-certificate authentication, for the API server, which in v1.36
 * only dials its TCP transport with TLS: see `egressSelectorConfig`). The TLS material is made
 * with openssl per instance. Like the other loopback servers it runs on the test process's event
 * loop, so a long synchronous call in the test stalls the tunnels (and the API server's webhook
 * calls) meanwhile.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, isIP, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { stringify } from 'yaml';
import { closeServer, trackSockets } from '../../support/close-server.ts';

/** Files the API server's egress dialer needs (EgressSelectorConfiguration `tlsConfig`). */
export interface EgressTlsFiles {
  /** CA that signed the proxy's serving certificate. */
  readonly caBundle: string;
  /** Client certificate and key the API server presents to the proxy. */
  readonly clientCert: string;
  readonly clientKey: string;
}

/** Maps an address the table does not have (a ClusterIP or pod IP and port) to one it has, or undefined. */
export type EgressResolver = (target: string) => Promise<string | undefined> | string | undefined;

export interface EgressProxyOptions {
  /** Routes known from the start: address dialled -> `127.0.0.1:<port>`. */
  readonly routes?: Readonly<Record<string, string>>;
  readonly resolve?: EgressResolver;
  /** Where the TLS material is written; default a temp dir, removed by `stop()`. */
  readonly dir?: string;
  /** Also append every CONNECT to this file (JSON lines). */
  readonly logFile?: string;
}

export interface EgressLogEntry {
  readonly at: string;
  /** `http` (HTTPS_PROXY clients) or `tls` (the API server's egress selector). */
  readonly listener: 'http' | 'tls';
  readonly method: string;
  /** The address asked for, as sent. */
  readonly target: string;
  /** The routing-table key it matched (after normalisation or the resolver), if any. */
  readonly route?: string;
  /** The local address the tunnel went to. */
  readonly upstream?: string;
  readonly status: number;
  readonly note?: string;
}

const loopbackTarget = /^127\.0\.0\.1:(\d{1,5})$/;

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, the proxy's serving certificate for 127.0.0.1 and a client certificate, as files in `dir`. */
function makeTls(dir: string): EgressTlsFiles & { serverCert: string; serverKey: string } {
  const key = (f: string) => openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f]);
  key('ca.key');
  openssl(dir, ['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=lms-egress-proxy-ca', '-days', '2', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.crt']);
  const signed = (name: string, subject: string, ext: string[]) => {
    key(`${name}.key`);
    writeFileSync(join(dir, `${name}.ext`), ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', ...ext].join('\n'));
    openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  };
  signed('proxy', '/CN=egress-proxy', ['extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
  signed('apiserver-client', '/CN=kube-apiserver-egress', ['extendedKeyUsage=clientAuth']);
  const p = (f: string) => join(dir, f);
  return { caBundle: p('ca.crt'), clientCert: p('apiserver-client.crt'), clientKey: p('apiserver-client.key'), serverCert: p('proxy.crt'), serverKey: p('proxy.key') };
}

/** `host:port` -> [host, port]; IPv6 in brackets. */
function splitTarget(target: string): [string, number] | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(target);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? [m[1].replace(/^\[|\]$/g, ''), port] : undefined;
}

/**
 * The routing-table form of an address: lower case, no trailing dot, `.svc.cluster.local` and
 * `<name>.<namespace>` both as `<name>.<namespace>.svc` (what in-cluster DNS makes equivalent).
 */
export function normaliseTarget(target: string): string {
  const parts = splitTarget(target.trim());
  if (!parts) return target.trim().toLowerCase();
  let [host] = parts;
  host = host.toLowerCase().replace(/\.+$/, '');
  if (!isIP(host)) {
    host = host.replace(/\.svc\.cluster\.local$/, '.svc');
    if (host.split('.').length === 2) host = `${host}.svc`;
  }
  return `${isIP(host) === 6 ? `[${host}]` : host}:${parts[1]}`;
}

interface ServiceLike {
  metadata: { name: string; namespace?: string };
  spec?: { clusterIP?: string; clusterIPs?: string[]; ports?: { name?: string; port: number }[] };
}
interface EndpointSliceLike {
  metadata: { namespace?: string; labels?: Record<string, string> };
  ports?: { name?: string | null; port?: number | null }[] | null;
  endpoints?: { addresses?: string[] }[] | null;
}

/**
 * What the API server's dial of `<ip>:<port>` means as a service address `<name>.<namespace>.svc:<port>`:
 * a Service's ClusterIP and port (the default resolver), or an endpoint's pod IP and target port
 * (`--enable-aggregator-routing`, as k3s runs it) mapped back through its EndpointSlice to the
 * Service port of the same name. Undefined when nothing matches.
 */
export function serviceAddressFor(target: string, cluster: { services: readonly ServiceLike[]; endpointSlices?: readonly EndpointSliceLike[] }): string | undefined {
  const parts = splitTarget(target);
  if (!parts) return undefined;
  const [ip, port] = parts;
  for (const s of cluster.services) {
    const ips = [s.spec?.clusterIP, ...(s.spec?.clusterIPs ?? [])];
    if (ips.includes(ip) && s.spec?.ports?.some((p) => p.port === port)) return `${s.metadata.name}.${s.metadata.namespace}.svc:${port}`;
  }
  for (const slice of cluster.endpointSlices ?? []) {
    if (!slice.endpoints?.some((e) => e.addresses?.includes(ip))) continue;
    const slicePort = slice.ports?.find((p) => p.port === port);
    const name = slice.metadata.labels?.['kubernetes.io/service-name'];
    if (!slicePort || !name) continue;
    const svc = cluster.services.find((s) => s.metadata.name === name && s.metadata.namespace === slice.metadata.namespace);
    const svcPort = svc?.spec?.ports?.find((p) => (p.name ?? '') === (slicePort.name ?? ''));
    if (svcPort) return `${name}.${slice.metadata.namespace}.svc:${svcPort.port}`;
  }
  return undefined;
}

/**
 * The EgressSelectorConfiguration (apiserver.k8s.io/v1beta1) for `--egress-selector-config-file`:
 * the `cluster` selection over HTTP CONNECT to the proxy, as k3s writes it.
 *
 * The URL must be https with `tls`: kube-apiserver v1.36 validates `http://` (without tlsConfig)
 * but its dialer (k8s.io/apiserver egressselector, connectionToDialerCreator) reads
 * `tlsConfig.clientCert` unconditionally and always dials TLS, so `http://` makes the API server
 * panic at startup (kubernetes/kubernetes#92690; the fix, #136470, was not merged). Use
 * `EgressProxy.egressSelectorConfig()`, or this with `proxy.egressUrl` and `proxy.tls`.
 */
export function egressSelectorConfig(proxyUrl: string, tls?: EgressTlsFiles): string {
  const u = new URL(proxyUrl);
  if (u.protocol !== 'https:') {
    throw new Error(`egress selector: ${proxyUrl} is not https; kube-apiserver v1.36 dials the HTTPConnect TCP transport only with TLS and panics without tlsConfig. Use proxy.egressSelectorConfig() (the proxy's egressUrl and client certificate).`);
  }
  if (!tls) throw new Error('egress selector: an https proxy URL needs tlsConfig (caBundle, clientCert, clientKey): pass proxy.tls');
  if (u.hostname !== '127.0.0.1') throw new Error(`egress selector: the proxy must listen on 127.0.0.1, not ${u.hostname}`);
  return stringify({
    apiVersion: 'apiserver.k8s.io/v1beta1',
    kind: 'EgressSelectorConfiguration',
    egressSelections: [{
      name: 'cluster',
      connection: {
        proxyProtocol: 'HTTPConnect',
        transport: { tcp: { url: `https://${u.host}`, tlsConfig: { caBundle: tls.caBundle, clientCert: tls.clientCert, clientKey: tls.clientKey } } },
      },
    }],
  });
}

export class EgressProxy {
  readonly log: EgressLogEntry[] = [];
  private readonly table = new Map<string, string>();
  private resolver: EgressResolver | undefined;
  private readonly dir: string;
  private readonly ownsDir: boolean;
  private readonly sockets = new Set<Duplex>();
  private plain: Server | undefined;
  private secure: Server | undefined;
  private files: (EgressTlsFiles & { serverCert: string; serverKey: string }) | undefined;

  constructor(private readonly opts: EgressProxyOptions = {}) {
    this.ownsDir = opts.dir === undefined;
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'lms-egress-proxy-'));
    this.resolver = opts.resolve;
    for (const [target, local] of Object.entries(opts.routes ?? {})) this.route(target, local);
  }

  /** Makes the TLS material and listens on two free ports of 127.0.0.1; returns `url`. */
  async start(): Promise<string> {
    if (this.plain) return this.url;
    this.files = makeTls(this.dir);
    const plain = trackSockets(createHttpServer((req, res) => this.refuse(req, res, 'http')));
    plain.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => { void this.tunnel(req, socket, head, 'http'); });
    const secure = trackSockets(createHttpsServer({
      cert: readFileSync(this.files.serverCert), key: readFileSync(this.files.serverKey), ca: readFileSync(this.files.caBundle),
      requestCert: true, rejectUnauthorized: true,
    }, (req, res) => this.refuse(req, res, 'tls')));
    secure.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => { void this.tunnel(req, socket, head, 'tls'); });
    for (const s of [plain, secure]) {
      s.listen(0, '127.0.0.1');
      await once(s, 'listening');
    }
    this.plain = plain;
    this.secure = secure;
    return this.url;
  }

  /** Plain HTTP CONNECT proxy: HTTPS_PROXY for local processes that call Services. */
  get url(): string {
    if (!this.plain) throw new Error('egress proxy: start() it first');
    return `http://127.0.0.1:${(this.plain.address() as AddressInfo).port}`;
  }

  /** HTTPS CONNECT proxy with client-certificate authentication: the API server's egress selector. */
  get egressUrl(): string {
    if (!this.secure) throw new Error('egress proxy: start() it first');
    return `https://127.0.0.1:${(this.secure.address() as AddressInfo).port}`;
  }

  /** The CA bundle and client certificate for the API server (EgressSelectorConfiguration tlsConfig). */
  get tls(): EgressTlsFiles {
    if (!this.files) throw new Error('egress proxy: start() it first');
    return { caBundle: this.files.caBundle, clientCert: this.files.clientCert, clientKey: this.files.clientKey };
  }

  /** The file content for kube-apiserver `--egress-selector-config-file`. */
  egressSelectorConfig(): string {
    return egressSelectorConfig(this.egressUrl, this.tls);
  }

  /**
   * Tunnels CONNECTs to `target` (`<name>.<namespace>.svc:<port>`, or an `<ip>:<port>` the API
   * server dials) to `local` (`127.0.0.1:<port>`, or the port alone). Replaces an earlier route.
   */
  route(target: string, local: string | number): void {
    const upstream = typeof local === 'number' ? `127.0.0.1:${local}` : local;
    if (!loopbackTarget.test(upstream)) throw new Error(`egress proxy: route ${target} -> ${upstream}: only 127.0.0.1:<port> may be dialled`);
    if (!splitTarget(target)) throw new Error(`egress proxy: route target "${target}" is not <host>:<port>`);
    this.table.set(normaliseTarget(target), upstream);
  }

  unroute(target: string): void {
    this.table.delete(normaliseTarget(target));
  }

  /** The routing table: normalised target -> local address. */
  routes(): ReadonlyMap<string, string> {
    return new Map(this.table);
  }

  /** Sets (or clears) the resolver for targets the table does not have; e.g. after the API server is up. */
  setResolver(resolve: EgressResolver | undefined): void {
    this.resolver = resolve;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    for (const server of [this.plain, this.secure]) {
      await closeServer(server);
    }
    this.plain = undefined;
    this.secure = undefined;
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  private record(entry: Omit<EgressLogEntry, 'at'>): void {
    const line = { at: new Date().toISOString(), ...entry };
    this.log.push(line);
    if (this.opts.logFile) appendFileSync(this.opts.logFile, `${JSON.stringify(line)}\n`);
  }

  /** Anything but CONNECT (a forward-proxy GET, a probe) is refused: this proxy only tunnels. */
  private refuse(req: IncomingMessage, res: ServerResponse, listener: 'http' | 'tls'): void {
    req.resume();
    res.writeHead(405, { Allow: 'CONNECT', 'Content-Type': 'text/plain' });
    res.end('only CONNECT is supported\n');
    this.record({ listener, method: req.method ?? '?', target: req.url ?? '', status: 405 });
  }

  /** The table entry for a target: directly, else through the resolver. */
  private async lookup(target: string): Promise<{ route?: string; upstream?: string; note?: string }> {
    const key = normaliseTarget(target);
    const direct = this.table.get(key);
    if (direct) return { route: key, upstream: direct };
    if (!this.resolver) return { note: 'no route' };
    try {
      const resolved = await this.resolver(target);
      if (!resolved) return { note: 'no route; the resolver does not know it' };
      const via = normaliseTarget(resolved);
      const upstream = this.table.get(via);
      return upstream ? { route: via, upstream } : { route: via, note: `resolved to ${via}, which has no route` };
    } catch (e) {
      return { note: `resolver failed: ${(e as Error).message}` };
    }
  }

  private async tunnel(req: IncomingMessage, client: Duplex, head: Buffer, listener: 'http' | 'tls'): Promise<void> {
    const target = req.url ?? '';
    this.sockets.add(client);
    client.on('error', () => client.destroy());
    client.once('close', () => this.sockets.delete(client));
    const fail = (status: number, reason: string, detail: { route?: string; upstream?: string; note?: string }) => {
      const body = `${status} ${reason}: ${target} ${detail.note ?? ''}\n`;
      client.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      this.record({ listener, method: 'CONNECT', target, status, ...detail });
    };
    if (!splitTarget(target)) return fail(400, 'Bad Request', { note: 'CONNECT needs <host>:<port>' });
    const found = await this.lookup(target);
    if (!found.upstream) return fail(502, 'Bad Gateway', found);
    const port = Number(loopbackTarget.exec(found.upstream)![1]);
    const upstream: Socket = connect({ host: '127.0.0.1', port });
    let tunnelled = false;
    this.sockets.add(upstream);
    upstream.once('close', () => this.sockets.delete(upstream));
    upstream.on('error', (e) => {
      if (tunnelled) client.destroy();
      else fail(502, 'Bad Gateway', { ...found, note: `dial ${found.upstream} failed: ${e.message}` });
      upstream.destroy();
    });
    upstream.once('connect', () => {
      tunnelled = true;
      // Exactly the status line and an empty line: the API server refuses any byte after it.
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      this.record({ listener, method: 'CONNECT', target, status: 200, ...found });
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
  }
}
