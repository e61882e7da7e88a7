/**
 * The CLI (npm run bootstrap): --dry-run prints each step's plan and touches nothing. Every provider
 * URL points at a local tripwire server that counts requests, and ssh/flux/kubectl on PATH are
 * tripwires that log any invocation: after a dry run of every step, both must be empty.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../main.ts';
import { repoRoot } from './support/config.ts';

let server: Server;
let url = '';
let hits: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'lms-cli-'));
const execLog = join(dir, 'exec.log');

beforeAll(async () => {
  server = createServer((req, res) => { hits.push(`${req.method} ${req.url}`); res.writeHead(500); res.end(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const tool of ['ssh', 'flux', 'kubectl', 'curl']) {
    writeFileSync(join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> ${execLog}\nexit 1\n`, { mode: 0o755 });
  }
  writeFileSync(join(dir, 'values.yaml'), `cluster:\n  objectStorage:\n    endpoint: ${url}\n`);
});
afterAll(() => { server.close(); rmSync(dir, { recursive: true, force: true }); });

const cli = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, ['--import', 'tsx', 'bootstrap/main.ts', ...args], {
  cwd: repoRoot,
  encoding: 'utf8',
  timeout: 60_000,
  env: {
    PATH: `${dir}:${process.env.PATH}`, HOME: dir,
    CONTABO_API_URL: url, CONTABO_AUTH_URL: `${url}/token`, CLOUDFLARE_API_URL: url, LMS_VALUES: join(dir, 'values.yaml'),
    // Credentials are set: a dry run must not use them.
    CONTABO_CLIENT_ID: 'id', CONTABO_CLIENT_SECRET: 's', CONTABO_API_USER: 'u', CONTABO_API_PASSWORD: 'p',
    CLOUDFLARE_API_TOKEN: 't', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', SOPS_AGE_KEY_FILE: '/nonexistent', FLUX_GIT_SSH_KEY_FILE: '/nonexistent',
    ...env,
  },
});

describe('bootstrap CLI', () => {
  it('--dry-run of every step prints the plan and sends nothing, runs nothing', () => {
    hits = [];
    const all = cli(['all', '--dry-run']);
    const snap = cli(['snapshots', '--dry-run']);
    const render = cli(['render', '--dry-run', '--out', join(dir, 'render')]);
    expect(all.stderr).toBe('');
    expect(all.status).toBe(0);
    expect(snap.status).toBe(0);
    expect(render.status).toBe(0);
    expect(hits).toEqual([]);
    expect(existsSync(execLog)).toBe(false);
    expect(existsSync(join(dir, 'render'))).toBe(false);
    // The plan names the calls a real run makes, at the configured endpoints.
    expect(all.stdout).toContain(`Contabo: POST ${url}/token`);
    expect(all.stdout).toContain(`Contabo: POST ${url}/v1/compute/instances {"imageId"`);
    expect(all.stdout).toContain(`Cloudflare: PUT ${url}/zones/<zone>/rulesets/phases/http_ratelimit/entrypoint`);
    expect(all.stdout).toContain(`S3: PUT ${url}/lms-backups?lifecycle`);
    expect(all.stdout).toContain('ssh lmsadmin@<server IPv4>: sudo bash -s < k3s-install.sh');
    expect(all.stdout).toContain('run: flux bootstrap git --kubeconfig=<kubeconfig via tunnel> --url=ssh://git@github.com/lms-platform/lms-gitops.git --branch=clusters --path=clusters/production');
    expect(snap.stdout).toMatch(/Contabo: POST .*\/snapshots \{"name":"nightly-\d{8}"/);
  }, 120_000);

  it('a real run without credentials fails with the variables to set, and annotates GitHub Actions', () => {
    hits = [];
    const r = cli(['snapshots'], { CONTABO_CLIENT_SECRET: '', CONTABO_API_PASSWORD: '', GITHUB_ACTIONS: 'true' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error: snapshots: missing credentials:');
    expect(r.stderr).toContain('CONTABO_CLIENT_SECRET: ClientSecret at https://my.contabo.com/api/details');
    expect(r.stderr).toContain('::error title=bootstrap failed::');
    expect(hits).toEqual([]);
  }, 60_000);

  it('bad config is reported by field before anything runs', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'cluster:\n  bootstrap:\n    contabo:\n      region: EU-north\n');
    const r = cli(['provision', '--dry-run'], { LMS_VALUES: join(dir, 'bad.yaml') });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('config: cluster.bootstrap.contabo.region: "EU-north" is not a Contabo instance region; use EU, US-central');
  }, 60_000);

  it('parses options and rejects unknown ones', () => {
    expect(parseArgs(['provision', '--dry-run', '--reinstall'])).toEqual({ step: 'provision', dryRun: true, options: { reinstall: true }, help: false });
    expect(parseArgs(['k3s', '--host', '203.0.113.10']).options.host).toBe('203.0.113.10');
    expect(() => parseArgs(['k3s', '--host'])).toThrow('--host needs a value');
    expect(() => parseArgs(['k3s', '--hots', 'x'])).toThrow('unknown option --hots');
    expect(() => parseArgs(['k3s', 'flux'])).toThrow('one step at a time');
  });

  it('unknown steps list the valid ones', () => {
    const r = cli(['bogus']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown step "bogus"');
    expect(r.stderr).toContain('provision, cloudflare, lifecycle, github, k3s, flux, snapshots, all, render');
    expect(readFileSync(join(repoRoot, 'package.json'), 'utf8')).toContain('"bootstrap": "tsx bootstrap/main.ts"');
  }, 60_000);
});
