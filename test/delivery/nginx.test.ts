/**
 * The web image's nginx.conf, checked by the real Nginx (Debian's, installed by
 * scripts/setup.d/70-delivery-tools.sh): `nginx -t`, then a server on 127.0.0.1 serving a sample
 * built SPA. Only the container paths (pid, temp dirs, document root) and the listen address are
 * rewritten so it runs outside the container; every directive under test is the shipped one.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appsValues } from '../../charts-ts/config/sections/apps.ts';
import { values } from '../../charts-ts/config/values.ts';

const apps = appsValues.production;

const repoRoot = resolve(import.meta.dirname, '../..');
const confPath = join(repoRoot, 'images/web/nginx.conf');
const nginxBin = ['/usr/sbin/nginx', '/usr/local/sbin/nginx'].find((p) => { try { execFileSync(p, ['-v'], { stdio: 'ignore' }); return true; } catch { return false; } });

/** Replace `from` by `to`, insisting `from` is there (so a changed config breaks loudly here). */
function rewrite(conf: string, from: string, to: string): string {
  if (!conf.includes(from)) throw new Error(`nginx.conf no longer contains ${JSON.stringify(from)}; update test/delivery/nginx.test.ts`);
  return conf.split(from).join(to);
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.end();
  });
}

const indexHtml = '<!doctype html><html><head><script type="module" src="/assets/index-BXa1c2d3.js"></script></head><body><div id="app"></div></body></html>\n';
// Big enough to be worth compressing (gzip_min_length 1024).
const appJs = `export const routes = ${JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ path: `/courses/${i}`, title: `Course ${i}` })))};\n`;

let dir: string;
let port: number;
let statusPort: number;
let nginx: ChildProcess | undefined;
let stderr = '';
let conf: string;

beforeAll(async () => {
  if (!nginxBin) throw new Error('nginx is not installed: run `npm run setup` (scripts/setup.d/70-delivery-tools.sh installs Debian\'s nginx)');
  dir = mkdtempSync(join(tmpdir(), 'nginx-test-'));
  const html = join(dir, 'html');
  mkdirSync(join(html, 'assets'), { recursive: true });
  writeFileSync(join(html, 'index.html'), indexHtml);
  writeFileSync(join(html, 'assets/index-BXa1c2d3.js'), appJs);
  writeFileSync(join(html, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n');
  // The runtime configuration the web chart mounts from a ConfigMap.
  mkdirSync(join(html, 'runtime-config'));
  writeFileSync(join(html, 'runtime-config/config.json'), '{"environment":"staging"}\n');
  writeFileSync(join(html, '.env'), 'SECRET=1\n');
  // Workers run as nobody when the test runs as root: the site must be world-readable.
  for (const d of [dir, html, join(html, 'assets'), join(html, 'runtime-config')]) chmodSync(d, 0o755);
  port = await freePort();
  statusPort = await freePort();

  conf = readFileSync(confPath, 'utf8');
  conf = rewrite(conf, 'pid /tmp/nginx.pid;', `pid ${dir}/nginx.pid;`);
  for (const t of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) conf = rewrite(conf, `/tmp/${t}_temp`, `${dir}/${t}_temp`);
  conf = rewrite(conf, 'root /usr/share/nginx/html;', `root ${html};`);
  conf = rewrite(conf, `listen ${values.environments.production.apps.web.port};`, `listen 127.0.0.1:${port};`);
  conf = rewrite(conf, `listen 127.0.0.1:${apps.web.stubStatusPort};`, `listen 127.0.0.1:${statusPort};`);
  writeFileSync(join(dir, 'nginx.conf'), conf);
});

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    const exited = new Promise((r) => nginx!.once('exit', r));
    nginx.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('web image nginx.conf', () => {
  it('serves the port, probe path and loopback stub_status the web workload is configured with, in both environments', () => {
    const raw = readFileSync(confPath, 'utf8');
    for (const env of ['staging', 'production'] as const) {
      expect(raw).toContain(`listen ${values.environments[env].apps.web.port};`);
      expect(raw).toContain(`listen 127.0.0.1:${appsValues[env].web.stubStatusPort};`);
      expect(raw).toContain(`location = ${appsValues[env].web.probePath} {`);
    }
    // Everything the server writes is under /tmp (the pod's only writable mount); the test moved all of it.
    expect(raw.match(/\/tmp\/[a-z_.]+/g)?.sort()).toEqual(['/tmp/client_temp', '/tmp/fastcgi_temp', '/tmp/nginx.pid', '/tmp/proxy_temp', '/tmp/scgi_temp', '/tmp/uwsgi_temp']);
    expect(conf).not.toMatch(/[ ;]\/tmp\/(nginx\.pid|[a-z]+_temp)/);
  });

  // nginx opens /dev/stdout for the access log: give it a file, as a container runtime gives it a pipe
  // (Node's own stdio pipes are sockets, which /dev/stdout cannot be opened on).
  const nginxTest = (file: string) => spawnSync(nginxBin!, ['-t', '-p', dir, '-c', join(dir, file)], {
    encoding: 'utf8', stdio: ['ignore', openSync(join(dir, 'access.log'), 'a'), 'pipe'],
  });

  it('passes nginx -t', () => {
    const r = nginxTest('nginx.conf');
    expect(r.stderr).toMatch(/syntax is ok[\s\S]*test is successful/);
    expect(r.status).toBe(0);
  });

  it('nginx -t rejects a broken copy (the check can fail)', () => {
    writeFileSync(join(dir, 'broken.conf'), rewrite(conf, 'try_files $uri /index.html;', 'try_files $uri /index.html'));
    const r = nginxTest('broken.conf');
    expect(r.stderr).toMatch(/test failed/);
    expect(r.status).not.toBe(0);
  });

  describe('a real nginx serving a built SPA on 127.0.0.1', () => {
    beforeAll(async () => {
      nginx = spawn(nginxBin!, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', openSync(join(dir, 'access.log'), 'a'), 'pipe'] });
      nginx.stderr!.on('data', (d) => { stderr += d; });
      for (let i = 0; i < 100; i++) {
        if (nginx.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
        try { await get(port, '/healthz'); return; } catch { await new Promise((r) => setTimeout(r, 100)); }
      }
      throw new Error(`nginx did not answer on 127.0.0.1:${port}: ${stderr}`);
    });

    const securityHeaders = (r: Reply) => {
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
      expect(r.headers['permissions-policy']).toContain('camera=()');
      expect(r.headers['cross-origin-opener-policy']).toBe('same-origin');
      // The baseline policy: what the edge (Traefik) policy restricts as well, never more.
      expect(r.headers['content-security-policy']).toBe("object-src 'none'; base-uri 'self'; frame-ancestors 'none'");
      expect(r.headers.server).toBe('nginx'); // no version
    };

    it('answers /healthz', async () => {
      const r = await get(port, '/healthz');
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe('ok\n');
    });

    it('serves index.html with security headers and no caching', async () => {
      const r = await get(port, '/');
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(indexHtml);
      expect(r.headers['cache-control']).toBe('no-cache');
      securityHeaders(r);
    });

    it('falls back to index.html for client-side routes (not cached)', async () => {
      const r = await get(port, '/courses/42/lessons/7');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      expect(r.body.toString()).toBe(indexHtml);
      expect(r.headers['cache-control']).toBe('no-cache');
    });

    it('caches hashed assets for a year, immutable, and keeps the security headers there', async () => {
      const r = await get(port, '/assets/index-BXa1c2d3.js');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/javascript/);
      expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      securityHeaders(r);
    });

    it('does not long-cache unhashed files, the runtime configuration above all', async () => {
      for (const path of ['/favicon.svg', '/runtime-config/config.json']) {
        const r = await get(port, path);
        expect(r.status, path).toBe(200);
        expect(r.headers['cache-control'], path).toBe('no-cache');
      }
    });

    it('serves stub_status on loopback for the exporter, and not on the public port', async () => {
      const r = await get(statusPort, '/stub_status');
      expect(r.status).toBe(200);
      expect(r.body.toString()).toMatch(/^Active connections: \d+/);
      const pub = await get(port, '/stub_status');
      expect(pub.body.toString()).not.toMatch(/Active connections/);
    });

    it('gzips text assets for clients that accept it', async () => {
      const r = await get(port, '/assets/index-BXa1c2d3.js', { 'Accept-Encoding': 'gzip' });
      expect(r.headers['content-encoding']).toBe('gzip');
      expect(r.headers.vary).toMatch(/Accept-Encoding/);
      expect(r.body.length).toBeLessThan(Buffer.byteLength(appJs) / 3);
      expect(gunzipSync(r.body).toString()).toBe(appJs);
      const plain = await get(port, '/assets/index-BXa1c2d3.js');
      expect(plain.headers['content-encoding']).toBeUndefined();
    });

    it('404s a missing hashed asset instead of returning index.html', async () => {
      const r = await get(port, '/assets/index-DEADBEEF.js');
      expect(r.status).toBe(404);
      expect(r.body.toString()).not.toContain('<div id="app">');
    });

    it('logs each request as one JSON line on stdout', async () => {
      await get(port, '/courses/1?tab=2');
      await new Promise((r) => setTimeout(r, 200));
      const lines = readFileSync(join(dir, 'access.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.find((l) => l.uri === '/courses/1?tab=2')).toMatchObject({ method: 'GET', status: 200 });
      // Probes are not logged.
      expect(lines.some((l) => l.uri === '/healthz')).toBe(false);
    });

    it('never serves dotfiles', async () => {
      const r = await get(port, '/.env');
      expect(r.status).toBe(404);
      expect(r.body.toString()).not.toContain('SECRET');
    });
  });
});
