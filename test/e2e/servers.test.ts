/**
 * The first-deploy suite's loopback servers (test/e2e/support), each against the real client that
 * uses it in the suite: the git smart-HTTP server with the `git` client and `publish()`, the Helm
 * chart repository with an independent reading of every package (GNU tar, sha256), the egress
 * proxy with a client that does what kube-apiserver's egress dialer does (mutual TLS to the proxy,
 * CONNECT by ClusterIP, TLS to the webhook through the tunnel). Part of `npm test`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { publish } from '../../charts-ts/tools/publish.ts';
import { request as httpsRequest } from 'node:https';
import { GitHubApi, TlsFront, type CommitStatus } from '../support/github-api.ts';
import { EgressProxy, egressSelectorConfig, normaliseTarget, serviceAddressFor } from './support/egress-proxy.ts';
import { GitServer, parseRefUpdates, type PushEvent } from './support/git-server.ts';
import { buildIndex, chartsDir, compareVersionsDesc, HelmRepoServer, type HelmIndex } from './support/helm-repo.ts';

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.invalid',
  GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0',
};
/**
 * Runs git; returns its exit code and output (never throws). Asynchronously: the servers run in
 * this process, so a synchronous git (execFileSync) would block the very event loop that has to
 * answer it and hang.
 */
const gitRun = (cwd: string, ...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
  execFile('git', args, { cwd, env: gitEnv, encoding: 'utf8' }, (error, stdout, stderr) =>
    done({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, stdout: stdout.trim(), stderr: stderr.trim() }));
});
const git = async (cwd: string, ...args: string[]): Promise<string> => {
  const r = await gitRun(cwd, ...args);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
};
const pkt = (line: string) => `${(line.length + 4).toString(16).padStart(4, '0')}${line}`;

describe('git smart-HTTP server', () => {
  const server = new GitServer();
  let work: string;
  let repoUrl: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'git-server-test-'));
    await server.start();
    repoUrl = server.createRepo('lms-gitops');
  });
  afterAll(async () => {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('lets the writer clone the empty repository and push, and reports the push with the refs it changed', async () => {
    const dir = join(work, 'writer');
    await git(work, 'clone', '--quiet', server.url('lms-gitops', 'writer'), dir);
    writeFileSync(join(dir, 'README.md'), 'lms\n');
    await git(dir, 'add', 'README.md');
    await git(dir, 'commit', '--quiet', '-m', 'initial');
    const commit = await git(dir, 'rev-parse', 'HEAD');
    const pushed = server.nextPush('lms-gitops');
    const before = Date.now();
    await git(dir, 'push', '--quiet', 'origin', 'HEAD:main');
    const event: PushEvent = await pushed;
    expect(event).toMatchObject({ repo: 'lms-gitops', user: 'ci', refs: [{ ref: 'refs/heads/main', new: commit }] });
    expect(event.at).toBeGreaterThanOrEqual(before);
    expect(server.pushCount('lms-gitops')).toBe(1);
    expect(server.lastPushAt()).toBe(event.at);
    expect(server.head('lms-gitops', 'main')).toBe(commit);
    // git first asks without credentials (401 + Basic challenge), then with the writer's.
    const pushes = server.log.filter((l) => l.path === '/lms-gitops.git/git-receive-pack');
    expect(pushes.at(-1)).toMatchObject({ method: 'POST', user: 'ci', status: 200 });
    expect(server.log.some((l) => l.status === 401 && l.user === undefined)).toBe(true);
  });

  it('lets the reader clone and fetch over protocol v2 but refuses its push with 403', async () => {
    const dir = join(work, 'reader');
    await git(work, '-c', 'protocol.version=2', 'clone', '--quiet', server.url('lms-gitops', 'reader'), dir);
    expect(await git(dir, 'rev-parse', 'HEAD')).toBe(server.head('lms-gitops', 'main'));
    await git(dir, 'fetch', '--quiet', 'origin');
    const pushesBefore = server.pushCount();
    await git(dir, 'commit', '--quiet', '--allow-empty', '-m', 'not allowed');
    const push = await gitRun(dir, 'push', 'origin', 'HEAD:main');
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/403/);
    expect(server.pushCount()).toBe(pushesBefore);
    expect(server.log.filter((l) => l.user === 'flux' && l.status === 403).map((l) => l.query)).toContain('service=git-receive-pack');
    const fetches = server.log.filter((l) => l.user === 'flux' && l.path.endsWith('/git-upload-pack'));
    expect(fetches.length).toBeGreaterThan(0);
    expect(fetches.every((l) => l.status === 200)).toBe(true);
  });

  it('answers 401 with a Basic challenge without credentials or with a wrong password', async () => {
    const info = `${repoUrl.replace(/\.git$/, '')}.git/info/refs?service=git-upload-pack`;
    const anonymous = await fetch(info);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic /);
    const wrong = await fetch(info, { headers: { Authorization: `Basic ${Buffer.from('flux:wrong').toString('base64')}` } });
    expect(wrong.status).toBe(401);
    const clone = await gitRun(work, 'clone', '--quiet', repoUrl, join(work, 'anonymous'));
    expect(clone.code).not.toBe(0);
    expect(clone.stderr).toMatch(/Authentication failed|401|could not read Username/);
    expect((await fetch(`${server.url()}/no-such-repo.git/info/refs`)).status).toBe(401);
    const reader = { Authorization: `Basic ${Buffer.from(`${server.credentials('reader').username}:${server.credentials('reader').password}`).toString('base64')}` };
    expect((await fetch(`${server.url()}/no-such-repo.git/info/refs`, { headers: reader })).status).toBe(404);
  });

  it('passes Git-Protocol and gzip request bodies to git http-backend (protocol v2 ls-refs)', async () => {
    const auth = { Authorization: `Basic ${Buffer.from(`${server.credentials('reader').username}:${server.credentials('reader').password}`).toString('base64')}` };
    const advert = await fetch(`${server.url()}/lms-gitops.git/info/refs?service=git-upload-pack`, { headers: { ...auth, 'Git-Protocol': 'version=2' } });
    expect(advert.status).toBe(200);
    expect(advert.headers.get('content-type')).toBe('application/x-git-upload-pack-advertisement');
    expect(await advert.text()).toContain('version 2');
    const request = `${pkt('command=ls-refs\n')}0001${pkt('ref-prefix refs/heads/\n')}0000`;
    const res = await fetch(`${server.url()}/lms-gitops.git/git-upload-pack`, {
      method: 'POST',
      headers: { ...auth, 'Git-Protocol': 'version=2', 'Content-Type': 'application/x-git-upload-pack-request', 'Content-Encoding': 'gzip' },
      body: gzipSync(request),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`${server.head('lms-gitops', 'main')} refs/heads/main`);
  });

  it('takes the clusters branch from publish() through an http remote with the writer credential', async () => {
    const source = join(work, 'source');
    mkdirSync(join(source, 'dist', 'apps', 'staging'), { recursive: true });
    writeFileSync(join(source, 'dist', 'apps', 'staging', 'api.yaml'), 'kind: Rollout\n');
    await git(work, 'init', '--quiet', '--initial-branch=main', source);
    await git(source, 'add', '-A');
    await git(source, 'commit', '--quiet', '-m', 'synth');
    // The credential lives only in this throw-away clone's remote URL.
    await git(source, 'remote', 'add', 'origin', server.url('lms-gitops', 'writer'));
    const pushed = server.nextPush('lms-gitops');
    const result = await publish({ repo: source, paths: ['apps/staging'], log: () => {} });
    expect(result.changed).toBe(true);
    const event = await pushed;
    expect(event.refs).toEqual([{ ref: 'refs/heads/clusters', old: '0'.repeat(40), new: result.commit }]);
    expect(server.head('lms-gitops', 'clusters')).toBe(result.commit);
    expect(await git(server.repoPath('lms-gitops'), 'show', 'clusters:apps/staging/api.yaml')).toBe('kind: Rollout');
    // Nothing changed: publish() makes no commit, so no push is reported.
    const count = server.pushCount();
    expect((await publish({ repo: source, paths: ['apps/staging'], log: () => {} })).changed).toBe(false);
    expect(server.pushCount()).toBe(count);
  });

  it('parses the ref updates of a receive-pack request', () => {
    const a = 'a'.repeat(40);
    const b = 'b'.repeat(40);
    const body = Buffer.from(`${pkt(`${a} ${b} refs/heads/main\0report-status side-band-64k\n`)}${pkt(`${'0'.repeat(40)} ${b} refs/heads/x\n`)}0000PACK`);
    expect(parseRefUpdates(body)).toEqual([{ old: a, new: b, ref: 'refs/heads/main' }, { old: '0'.repeat(40), new: b, ref: 'refs/heads/x' }]);
  });
});

describe('Helm chart repository', () => {
  const dir = chartsDir();
  const server = new HelmRepoServer();
  let index: HelmIndex;
  const packages = readdirSync(dir).filter((f) => f.endsWith('.tgz')).sort();

  beforeAll(async () => {
    await server.start();
    const res = await fetch(`${server.url}/index.yaml`);
    expect(res.status).toBe(200);
    index = parse(await res.text()) as HelmIndex;
  });
  afterAll(() => server.stop());

  it('lists every package of the charts dir with its own Chart.yaml fields (read with GNU tar) and a fixed timestamp', () => {
    expect(packages.length).toBeGreaterThan(0);
    expect(index.apiVersion).toBe('v1');
    expect(typeof index.generated).toBe('string');
    const listed = Object.values(index.entries).flat();
    expect(listed).toHaveLength(packages.length);
    for (const file of packages) {
      const path = join(dir, file);
      const chartYaml = execFileSync('tar', ['-tzf', path], { encoding: 'utf8' }).split('\n').filter((p) => /^[^/]+\/Chart\.yaml$/.test(p));
      expect(chartYaml, file).toHaveLength(1);
      const meta = parse(execFileSync('tar', ['-xzOf', path, chartYaml[0]], { encoding: 'utf8' }));
      const entry = index.entries[meta.name]?.find((e) => e.version === String(meta.version));
      expect(entry, `${file} in index.yaml`).toBeDefined();
      expect(file).toBe(`${meta.name}-${meta.version}.tgz`);
      expect(entry).toMatchObject({ urls: [`${server.url}/${file}`], created: index.generated });
      for (const field of ['apiVersion', 'appVersion', 'description', 'type', 'kubeVersion', 'dependencies', 'home', 'sources', 'keywords', 'maintainers', 'icon', 'annotations']) {
        expect(entry![field], `${file}: ${field}`).toEqual(meta[field]);
      }
    }
    for (const versions of Object.values(index.entries)) {
      expect(versions.map((v) => v.version)).toEqual([...versions.map((v) => v.version)].sort(compareVersionsDesc));
    }
  });

  it('serves each package byte for byte with the digest the index states', async () => {
    for (const entry of Object.values(index.entries).flat()) {
      const res = await fetch(entry.urls[0]);
      expect(res.status, entry.urls[0]).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      expect(createHash('sha256').update(body).digest('hex')).toBe(entry.digest);
      const file = entry.urls[0].split('/').pop()!;
      expect(body.equals(readFileSync(join(dir, file)))).toBe(true);
    }
  });

  it('answers 404 for anything else, is deterministic, and logs requests', async () => {
    for (const path of ['/nope-1.0.0.tgz', '/SOURCES.md', '/%2e%2e/charts/alloy-1.11.1.tgz', '/charts/index.yaml', '/%E0%A4%A.tgz']) {
      expect((await fetch(`${server.url}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${server.url}/index.yaml`, { method: 'POST' })).status).toBe(405);
    expect(buildIndex(dir, { baseUrl: 'http://x' }).index).toEqual(buildIndex(dir, { baseUrl: 'http://x' }).index);
    expect(server.log.find((l) => l.path === '/index.yaml')).toMatchObject({ method: 'GET', status: 200 });
    expect(server.log.find((l) => l.path === '/SOURCES.md')).toMatchObject({ status: 404 });
    expect(['41.3.0', '39.0.7', '39.0.7-rc.1', '4.0.0'].sort(compareVersionsDesc)).toEqual(['41.3.0', '39.0.7', '39.0.7-rc.1', '4.0.0']);
  });
});

/** Writes CONNECT and reads the proxy's answer up to the empty line; `extra` is what came after it. */
async function connectThrough(socket: Socket | TLSSocket, target: string): Promise<{ status: number; head: string; extra: Buffer }> {
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  let buf = Buffer.alloc(0);
  return new Promise((done, fail) => {
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = buf.subarray(0, end).toString();
      done({ status: Number(head.split(' ')[1]), head, extra: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', fail);
    socket.once('close', () => fail(new Error(`closed before a response; got ${JSON.stringify(buf.toString())}`)));
  });
}

describe('egress CONNECT proxy', () => {
  const proxy = new EgressProxy();
  let work: string;
  let webhook: ReturnType<typeof createTlsServer>;
  let echo: TcpServer;
  let webhookCa: Buffer;
  const service = 'cnpg-webhook-service.cnpg-system.svc';
  const cluster = {
    services: [{ metadata: { name: 'cnpg-webhook-service', namespace: 'cnpg-system' }, spec: { clusterIP: '10.43.0.17', clusterIPs: ['10.43.0.17'], ports: [{ name: 'webhook-server', port: 443 }] } }],
    endpointSlices: [{
      metadata: { namespace: 'cnpg-system', labels: { 'kubernetes.io/service-name': 'cnpg-webhook-service' } },
      ports: [{ name: 'webhook-server', port: 9443 }],
      endpoints: [{ addresses: ['10.42.0.5'] }],
    }],
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'egress-proxy-test-'));
    // The webhook: TLS with a certificate for its service name, as cert-manager issues it.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'webhook.key',
      '-out', 'webhook.crt', '-days', '1', '-subj', `/CN=${service}`, '-addext', `subjectAltName=DNS:${service}`], { cwd: work, stdio: 'ignore' });
    webhookCa = readFileSync(join(work, 'webhook.crt'));
    webhook = createTlsServer({ cert: webhookCa, key: readFileSync(join(work, 'webhook.key')) }, (s) => s.pipe(s));
    echo = createTcpServer((s) => s.pipe(s));
    for (const s of [webhook, echo]) { s.listen(0, '127.0.0.1'); await new Promise((r) => s.once('listening', r)); }
    proxy.setResolver((target) => serviceAddressFor(target, cluster));
    await proxy.start();
    proxy.route(`${service}:443`, `127.0.0.1:${(webhook.address() as AddressInfo).port}`);
    proxy.route('barman-cloud.cnpg-system.svc:9090', (echo.address() as AddressInfo).port);
  });
  afterAll(async () => {
    await proxy.stop();
    webhook?.close();
    echo?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const egressClient = async (tls: boolean): Promise<Socket | TLSSocket> => {
    const { port } = new URL(tls ? proxy.egressUrl : proxy.url);
    const socket = tls
      ? tlsConnect({ host: '127.0.0.1', port: Number(port), ca: readFileSync(proxy.tls.caBundle), cert: readFileSync(proxy.tls.clientCert), key: readFileSync(proxy.tls.clientKey) })
      : tcpConnect({ host: '127.0.0.1', port: Number(port) });
    await new Promise<void>((done, fail) => { socket.once(tls ? 'secureConnect' : 'connect', () => done()); socket.once('error', fail); });
    return socket;
  };

  it('tunnels the API server\'s CONNECT to a ClusterIP (mutual TLS) to the webhook process, TLS end to end', async () => {
    const socket = await egressClient(true);
    const answer = await connectThrough(socket, '10.43.0.17:443');
    expect(answer.status).toBe(200);
    expect(answer.extra.length).toBe(0); // the API server rejects any byte after the 200
    const inner = tlsConnect({ socket, servername: service, ca: webhookCa });
    await new Promise<void>((done, fail) => { inner.once('secureConnect', () => done()); inner.once('error', fail); });
    expect(inner.authorized).toBe(true);
    inner.write('AdmissionReview');
    const [echoed] = await new Promise<Buffer[]>((done) => inner.once('data', (d: Buffer) => done([d])));
    expect(echoed.toString()).toBe('AdmissionReview');
    inner.destroy();
    expect(proxy.log.find((l) => l.target === '10.43.0.17:443')).toMatchObject({ listener: 'tls', status: 200, route: `${service}:443` });
  });

  it('routes an endpoint IP and target port (--enable-aggregator-routing) and service names as HTTPS_PROXY clients send them', async () => {
    for (const [target, listener] of [['10.42.0.5:9443', true], [`${service}:443`, true], ['barman-cloud.cnpg-system.svc.cluster.local:9090', false], ['barman-cloud.cnpg-system:9090', false]] as const) {
      const socket = await egressClient(listener);
      expect((await connectThrough(socket, target)).status, target).toBe(200);
      socket.destroy();
    }
    const plain = await egressClient(false);
    expect((await connectThrough(plain, 'barman-cloud.cnpg-system.svc:9090')).status).toBe(200);
    plain.write('ping');
    const [reply] = await new Promise<Buffer[]>((done) => plain.once('data', (d: Buffer) => done([d])));
    expect(reply.toString()).toBe('ping');
    plain.destroy();
  });

  it('answers 502 for an unknown target or a dead upstream and logs the target; never dials elsewhere', async () => {
    for (const target of ['unknown.default.svc:443', '10.43.9.9:443', '93.184.215.14:443']) {
      const socket = await egressClient(true);
      const answer = await connectThrough(socket, target).catch((e) => ({ status: 0, head: String(e), extra: Buffer.alloc(0) }));
      expect(answer.status, target).toBe(502);
      socket.destroy();
      expect(proxy.log.find((l) => l.target === target)).toMatchObject({ status: 502, method: 'CONNECT' });
    }
    const { port: deadPort } = await new Promise<AddressInfo>((done) => {
      const s = createTcpServer().listen(0, '127.0.0.1', () => { const a = s.address() as AddressInfo; s.close(() => done(a)); });
    });
    proxy.route('gone.default.svc:80', deadPort);
    const socket = await egressClient(false);
    expect((await connectThrough(socket, 'gone.default.svc:80')).status).toBe(502);
    socket.destroy();
    expect(proxy.log.find((l) => l.target === 'gone.default.svc:80')?.note).toMatch(/ECONNREFUSED/);
    expect(() => proxy.route('x.default.svc:443', '10.0.0.1:443')).toThrow(/only 127\.0\.0\.1/);
  });

  it('refuses a TLS client without the API server\'s client certificate', async () => {
    const { port } = new URL(proxy.egressUrl);
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), ca: readFileSync(proxy.tls.caBundle) });
    const result = await new Promise<string>((done) => {
      socket.once('error', (e) => done(`error: ${e.message}`));
      socket.once('secureConnect', () => {
        socket.write('CONNECT 10.43.0.17:443 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        socket.once('data', (d) => done(d.toString()));
        socket.once('close', () => done('closed'));
      });
    });
    socket.destroy();
    expect(result).not.toMatch(/^HTTP\/1\.1 200/);
  });

  it('writes the v1beta1 EgressSelectorConfiguration k3s uses (https with client certificate), refusing http', () => {
    const config = parse(proxy.egressSelectorConfig());
    expect(config).toEqual({
      apiVersion: 'apiserver.k8s.io/v1beta1',
      kind: 'EgressSelectorConfiguration',
      egressSelections: [{
        name: 'cluster',
        connection: {
          proxyProtocol: 'HTTPConnect',
          transport: { tcp: { url: proxy.egressUrl, tlsConfig: { caBundle: proxy.tls.caBundle, clientCert: proxy.tls.clientCert, clientKey: proxy.tls.clientKey } } },
        },
      }],
    });
    for (const f of Object.values(proxy.tls)) expect(readFileSync(f).length).toBeGreaterThan(0);
    expect(() => egressSelectorConfig(proxy.url)).toThrow(/panics without tlsConfig/);
    expect(normaliseTarget('Svc.NS.svc.cluster.local.:443')).toBe('svc.ns.svc:443');
  });
});

describe('GitHub API stand-in (commit statuses, repository dispatches) behind its TLS front', () => {
  const sha = 'a'.repeat(40);
  const api = new GitHubApi({ repos: { 'lms-platform/lms-gitops': (s) => s === sha }, tokens: () => ['good-token'] });
  let front: TlsFront;
  let dir: string;

  /** An HTTPS request to api.github.com through the front, trusting only the test CA. */
  const call = (method: string, path: string, body?: unknown, token = 'good-token', servername = 'api.github.com') =>
    new Promise<{ status: number; json: unknown }>((done, fail) => {
      const req = httpsRequest({
        host: '127.0.0.1', port: front.port, servername, method, path, ca: readFileSync(front.caFile),
        headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'content-type': 'application/json' },
      }, (res) => {
        let text = '';
        res.on('data', (c) => { text += c; });
        res.on('end', () => done({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
      });
      req.on('error', fail);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'github-api-test-'));
    await api.start();
    await api.refreshTokens();
    front = await new TlsFront(dir, 'api.github.com', () => api.port).start();
  });
  afterAll(async () => {
    await front.stop();
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 401 Bad credentials to a wrong token and 404 for a repository it does not have', async () => {
    expect(await call('GET', `/repos/lms-platform/lms-gitops/commits/${sha}/statuses`, undefined, 'wrong')).toMatchObject({ status: 401, json: { message: 'Bad credentials' } });
    expect((await call('GET', `/repos/other/repo/commits/${sha}/statuses`)).status).toBe(404);
  });

  it('creates commit statuses as documented (201, 422 for a bad state or an unknown commit), lists newest first and combines per context', async () => {
    expect((await call('POST', `/repos/lms-platform/lms-gitops/statuses/${sha}`, { state: 'done', context: 'flux/x' })).status).toBe(422);
    expect(await call('POST', `/repos/lms-platform/lms-gitops/statuses/${'b'.repeat(40)}`, { state: 'success', context: 'flux/x' })).toMatchObject({ status: 422, json: { message: expect.stringMatching(/No commit found/) } });
    const created = await call('POST', `/repos/lms-platform/lms-gitops/statuses/${sha}`, { state: 'failure', context: 'flux/apps-production', description: 'health check failed' });
    expect(created).toMatchObject({ status: 201, json: { state: 'failure', context: 'flux/apps-production', description: 'health check failed', url: expect.stringContaining(sha) } });
    await call('POST', `/repos/lms-platform/lms-gitops/statuses/${sha}`, { state: 'success', context: 'flux/apps-production', description: 'reconciliation succeeded' });
    await call('POST', `/repos/lms-platform/lms-gitops/statuses/${sha}`, { state: 'success', context: 'flux/platform-data' });
    const list = await call('GET', `/repos/lms-platform/lms-gitops/commits/${sha}/statuses?per_page=2`);
    expect((list.json as CommitStatus[]).map((s) => `${s.context}=${s.state}`)).toEqual(['flux/platform-data=success', 'flux/apps-production=success']);
    const combined = await call('GET', `/repos/lms-platform/lms-gitops/commits/${sha}/status`);
    expect(combined.json).toMatchObject({ state: 'success', total_count: 2 });
  });

  it('takes a repository dispatch (204) and refuses one without event_type or with more than 10 payload properties (422)', async () => {
    expect((await call('POST', '/repos/lms-platform/lms-gitops/dispatches', { event_type: 'canary-paused', client_payload: { rollout: 'lms-api' } })).status).toBe(204);
    expect((await call('POST', '/repos/lms-platform/lms-gitops/dispatches', { client_payload: {} })).status).toBe(422);
    const big = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i]));
    expect((await call('POST', '/repos/lms-platform/lms-gitops/dispatches', { event_type: 'x', client_payload: big })).status).toBe(422);
    expect(api.dispatches.get('lms-platform/lms-gitops')?.map((d) => d.event_type)).toEqual(['canary-paused']);
  });

  it('presents a certificate for api.github.com only, from its own CA', async () => {
    await expect(call('GET', `/repos/lms-platform/lms-gitops/commits/${sha}/statuses`, undefined, 'good-token', 'github.com')).rejects.toThrow(/altnames|Hostname/i);
  });
});
