/**
 * The Contabo client and the provision step against a local fake of the Contabo API (127.0.0.1) and
 * a real S3 server (moto) for the bucket: token flow, x-request-id, idempotency, 401, 429 with
 * Retry-After, 5xx retries, no double order after a lost response, wrong region, missing credentials.
 */
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BootstrapError } from '../lib/context.ts';
import { ContaboClient, contaboCredentialsFrom, contaboEndpoints } from '../providers/contabo.ts';
import { s3Client } from '../providers/s3.ts';
import { provision } from '../steps/provision.ts';
import { userData } from '../host/cloud-init.ts';
import { testConfig } from './support/config.ts';
import { testContext } from './support/context.ts';
import { MotoServer } from './support/moto.ts';
import { FakeContabo, requestIdPattern, tokenPath } from './fakes/contabo.ts';

const moto = new MotoServer();
beforeAll(async () => { await moto.start(); });
afterAll(() => moto.stop());

let fake: FakeContabo;
beforeEach(async () => {
  await fake?.stop();
  fake = await new FakeContabo().start();
  fake.s3Urls.EU = moto.url;
});
afterAll(async () => { await fake?.stop(); });

const config = () => testConfig({ cluster: { objectStorage: { endpoint: moto.url, bucket: `lms-backups-${fake.url.split(':').pop()}` } } });
const ctxFor = (p: { env?: Record<string, string | undefined>; reinstall?: boolean } = {}) =>
  testContext({ config: config(), env: { ...fake.env(), ...moto.env, ...p.env }, options: { reinstall: p.reinstall } });
const client = (ctx: ReturnType<typeof ctxFor>) => new ContaboClient(ctx, contaboCredentialsFrom(ctx.env as Record<string, string>), contaboEndpoints(ctx.env));

describe('Contabo client', () => {
  it('logs in with the OAuth2 password grant and sends a fresh UUIDv4 x-request-id on every call', async () => {
    fake.addInstance({ displayName: 'lms-prod-1' });
    const ctx = ctxFor();
    const c = client(ctx);
    await c.findInstances('lms-prod-1');
    await c.listObjectStorages();
    const token = fake.requests.filter((r) => r.path === tokenPath);
    expect(token).toHaveLength(1);
    expect(Object.fromEntries(new URLSearchParams(token[0]!.body))).toEqual({ grant_type: 'password', client_id: 'client-id', client_secret: 'client-secret', username: 'ops@example.com', password: 'api-password' });
    const ids = fake.apiRequests.map((r) => r.headers['x-request-id'] as string);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(requestIdPattern);
    expect(new Set(ids).size).toBe(2);
    expect(new Set(fake.apiRequests.map((r) => r.headers['x-trace-id'])).size).toBe(1);
    expect(fake.apiRequests.every((r) => r.headers.authorization === 'Bearer tok-1')).toBe(true);
  });

  it('keeps exact display-name matches only (the API filter also matches substrings)', async () => {
    fake.addInstance({ displayName: 'lms-prod-1' });
    fake.addInstance({ displayName: 'lms-prod-10' });
    expect((await client(ctxFor()).findInstances('lms-prod-1')).map((i) => i.displayName)).toEqual(['lms-prod-1']);
  });

  it('fails clearly on wrong credentials (401 at the token endpoint) without calling the API', async () => {
    const ctx = ctxFor({ env: { CONTABO_API_PASSWORD: 'wrong' } });
    const err = await client(ctx).findInstances('x').catch((e) => e);
    expect(err).toBeInstanceOf(BootstrapError);
    expect(err.message).toContain('Contabo login failed (HTTP 401, invalid_grant: Invalid user credentials)');
    expect(err.message).toContain('CONTABO_API_PASSWORD');
    expect(fake.apiRequests).toHaveLength(0);
  });

  it('logs in again once when the API rejects the token (401), then succeeds', async () => {
    fake.fail('GET', /^\/v1\/compute\/instances$/, { status: 401, body: { statusCode: 401, message: 'Unauthorized' } });
    const ctx = ctxFor();
    expect(await client(ctx).findInstances('lms-prod-1')).toEqual([]);
    expect(fake.count('POST', new RegExp(tokenPath))).toBe(2);
    expect(ctx.out.text).toContain('access token rejected (401); logging in again');
  });

  it('gives up after a second 401 with a clear message', async () => {
    for (let i = 0; i < 2; i++) fake.fail('GET', /^\/v1\/object-storages$/, { status: 401, body: { statusCode: 401, message: 'Unauthorized' } });
    const err = await client(ctxFor()).listObjectStorages().catch((e) => e);
    expect(err.message).toContain('Contabo rejected the access token twice');
  });

  it('waits as long as Retry-After says on 429, then retries', async () => {
    fake.fail('GET', /^\/v1\/compute\/instances$/, { status: 429, headers: { 'retry-after': '7' }, body: { statusCode: 429, message: 'Too Many Requests' } });
    const ctx = ctxFor();
    await client(ctx).findInstances('lms-prod-1');
    expect(ctx.sleeps).toEqual([7000]);
    expect(fake.count('GET', /^\/v1\/compute\/instances$/)).toBe(2);
    expect(ctx.out.text).toContain('rate limited (429); retrying in 7s as Retry-After asks');
  });

  it('refuses to wait longer than the configured maximum Retry-After', async () => {
    fake.fail('GET', /^\/v1\/object-storages$/, { status: 429, headers: { 'retry-after': '3600' } });
    const err = await client(ctxFor()).listObjectStorages().catch((e) => e);
    expect(err.message).toContain('rate limited (429)');
    expect(err.message).toContain('3600s');
  });

  it('retries 5xx on reads with exponential back-off, and fails after the last attempt', async () => {
    fake.fail('GET', /^\/v1\/object-storages$/, { status: 502 }).fail('GET', /^\/v1\/object-storages$/, { status: 503 });
    const ctx = ctxFor();
    expect(await client(ctx).listObjectStorages()).toEqual([]);
    expect(ctx.sleeps).toEqual([10, 20]);
    for (let i = 0; i < 4; i++) fake.fail('GET', /^\/v1\/object-storages$/, { status: 500, body: { statusCode: 500, message: 'Internal Server Error' } });
    const err = await client(ctx).listObjectStorages().catch((e) => e);
    expect(err.message).toMatch(/GET .*\/v1\/object-storages.* failed with HTTP 500/);
  });
});

describe('provision step', () => {
  it('creates the instance with the generated user-data, the object storage and the bucket', async () => {
    const ctx = ctxFor();
    await provision.run(ctx);
    expect(fake.instances).toHaveLength(1);
    const inst = fake.instances[0]!;
    expect(inst).toMatchObject({ displayName: 'lms-prod-1', productId: 'V94', region: 'EU', imageId: fake.images[0]!.imageId, status: 'running' });
    expect(inst.userData).toBe(userData(ctx.config));
    expect(fake.storages).toEqual([expect.objectContaining({ region: 'EU', status: 'READY', totalPurchasedSpaceTB: 0.25 })]);
    const buckets = await s3Client(ctx.config, moto.credentials).send(new ListBucketsCommand({}));
    expect(buckets.Buckets?.map((b) => b.Name)).toContain(ctx.config.cluster.objectStorage.bucket);
    expect(ctx.out.text).toMatch(/waiting for instance \d+ to be running/);
    expect(ctx.out.text).toMatch(/instance \d+ to be running: (provisioning|installing)/);
  });

  it('is idempotent: a second run orders nothing and keeps the instance', async () => {
    await provision.run(ctxFor());
    const before = fake.requests.length;
    const ctx = ctxFor();
    await provision.run(ctx);
    const second = fake.requests.slice(before);
    expect(second.filter((r) => r.method !== 'GET' && r.path !== tokenPath)).toEqual([]);
    expect(fake.instances).toHaveLength(1);
    expect(fake.storages).toHaveLength(1);
    expect(ctx.out.text).toContain('kept as it is');
    expect(ctx.out.text).toContain('exists');
  });

  it('reinstalls an existing instance only with --reinstall, with fresh user-data', async () => {
    const inst = fake.addInstance({ displayName: 'lms-prod-1', userData: 'old' });
    await provision.run(ctxFor({ reinstall: true }));
    expect(fake.count('PUT', new RegExp(`/v1/compute/instances/${inst.instanceId}$`))).toBe(1);
    expect(fake.count('POST', /^\/v1\/compute\/instances$/)).toBe(0);
    expect(inst.userData).toContain('#cloud-config');
  });

  it('does not order a second VPS when the order response is lost (5xx after the create)', async () => {
    fake.failAfter('POST', /^\/v1\/compute\/instances$/, { status: 502, body: { statusCode: 502, message: 'Bad Gateway' } });
    const ctx = ctxFor();
    await provision.run(ctx);
    expect(fake.instances).toHaveLength(1);
    expect(fake.count('POST', /^\/v1\/compute\/instances$/)).toBe(1);
    expect(ctx.out.text).toContain('checking whether the instance was created before retrying');
  });

  it('orders again when a 5xx order really failed (nothing was created)', async () => {
    fake.fail('POST', /^\/v1\/compute\/instances$/, { status: 503 });
    await provision.run(ctxFor());
    expect(fake.instances).toHaveLength(1);
    expect(fake.count('POST', /^\/v1\/compute\/instances$/)).toBe(2);
  });

  it('stops on an instance in another region, naming both regions and the fix', async () => {
    fake.addInstance({ displayName: 'lms-prod-1', region: 'US-central' });
    const err = await provision.run(ctxFor()).catch((e) => e);
    expect(err).toBeInstanceOf(BootstrapError);
    expect(err.message).toContain('is in region US-central, but bootstrap.contabo.region is EU');
    expect(fake.writes()).toEqual([]);
  });

  it('stops when the object storage of the region serves another endpoint than configured', async () => {
    fake.storages.push({ objectStorageId: 'os-x', region: 'EU', s3Url: 'https://eu9.contabostorage.com', status: 'READY', displayName: 'x', totalPurchasedSpaceTB: 1 });
    const err = await provision.run(ctxFor()).catch((e) => e);
    expect(err.message).toContain('serves https://eu9.contabostorage.com, but cluster.objectStorage.endpoint is');
  });

  it('stops when the product does not match cluster.node (the capacity budget)', async () => {
    const ctx = testContext({ config: testConfig({ cluster: { objectStorage: { endpoint: moto.url }, bootstrap: { contabo: { productId: 'V91' } } } }), env: { ...fake.env(), ...moto.env } });
    const err = await provision.run(ctx).catch((e) => e);
    expect(err.message).toContain('has 4 vCPU, 8 GiB RAM');
    expect(err.message).toContain('cluster.node says 6 vCPU, 12 GiB');
  });

  it('an image name Contabo does not list fails with the fix', async () => {
    fake.images.length = 0;
    const err = await provision.run(ctxFor()).catch((e) => e);
    expect(err.message).toContain('Contabo has no standard image named ubuntu-24.04');
  });

  it('names every missing credential and sends nothing', async () => {
    const ctx = testContext({ config: config(), env: { CONTABO_API_URL: fake.url, CONTABO_CLIENT_ID: 'x' } });
    const err = await provision.run(ctx).catch((e) => e);
    expect(err.message).toContain('provision: missing credentials');
    for (const v of ['CONTABO_CLIENT_SECRET', 'CONTABO_API_USER', 'CONTABO_API_PASSWORD']) expect(err.message).toContain(v);
    expect(err.message).not.toContain('CONTABO_CLIENT_ID:');
    expect(fake.requests).toHaveLength(0);
  });
});
