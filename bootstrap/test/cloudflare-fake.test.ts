/**
 * The Cloudflare stand-in as cert-manager's DNS-01 solver (v1.21.1, pkg/issuer/acme/dns/cloudflare)
 * uses it: the real base path /client/v4, a settable token, TXT records with `proxied` left out.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeCloudflare } from './fakes/cloudflare.ts';

let fake: FakeCloudflare;
beforeEach(async () => { fake = await new FakeCloudflare('cm-dns01-token').start(); });
afterEach(async () => { await fake.stop(); });

const fqdn = '_acme-challenge.flux.lms.example.com';
/** The API's envelope; `result` is what the call returns (unknown unless the caller says). */
interface Envelope<T> { success: boolean; errors: { code: number; message: string }[]; messages: unknown[]; result: T }
const call = async <T = unknown>(method: string, path: string, body?: unknown, token = fake.token) => {
  const res = await fetch(`${fake.url}/client/v4${path}`, {
    method,
    // As cert-manager's client sends it: JSON without a Content-Type header (bytes, so fetch adds none).
    headers: { authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
  });
  return { status: res.status, body: await res.json() as Envelope<T> };
};

describe('the Cloudflare stand-in: what cert-manager\'s DNS-01 solver sends', () => {
  it('finds the zone, creates the challenge TXT record, finds it by name and type, deletes it', async () => {
    expect(fake.token).toBe('cm-dns01-token');
    const zones = await call<{ id: string }[]>('GET', '/zones?name=lms.example.com');
    expect(zones.status).toBe(200);
    expect(zones.body).toMatchObject({ success: true, errors: [], messages: [], result: [{ id: fake.zone.id, name: 'lms.example.com' }] });
    const zoneId = zones.body.result[0].id;

    const created = await call<{ id: string }>('POST', `/zones/${zoneId}/dns_records`, { name: fqdn, type: 'TXT', content: 'Xq8cR1n3-challenge-digest', ttl: 120 });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ success: true, errors: [], result: { name: fqdn, type: 'TXT', content: 'Xq8cR1n3-challenge-digest', ttl: 120, proxied: false } });
    expect(fake.records).toEqual([expect.objectContaining({ name: fqdn, type: 'TXT', proxied: false })]);

    const found = await call('GET', `/zones/${zoneId}/dns_records?per_page=100&type=TXT&name=${fqdn}`);
    expect(found.body).toMatchObject({ success: true, result: [{ id: created.body.result.id, content: 'Xq8cR1n3-challenge-digest' }] });
    expect((await call('GET', `/zones/${zoneId}/dns_records?per_page=100&type=A&name=${fqdn}`)).body.result).toEqual([]);

    const deleted = await call('DELETE', `/zones/${zoneId}/dns_records/${created.body.result.id}`);
    expect(deleted).toEqual({ status: 200, body: { success: true, errors: [], messages: [], result: { id: created.body.result.id } } });
    expect(fake.records).toEqual([]);
    expect((await call('DELETE', `/zones/${zoneId}/dns_records/${created.body.result.id}`)).body.errors).toEqual([{ code: 81044, message: 'Record does not exist.' }]);
    // Recorded as sent, with the base path.
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toContain(`POST /client/v4/zones/${zoneId}/dns_records`);
  });

  it('serves the same API without the base path, and a token set later', async () => {
    fake.token = 'rotated';
    const res = await fetch(`${fake.url}/zones?name=lms.example.com`, { headers: { authorization: 'Bearer rotated' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Envelope<unknown[]>).result).toHaveLength(1);
    expect(fake.env().CLOUDFLARE_API_TOKEN).toBe('rotated');
  });

  it('answers a wrong token with 401 (code 10000)', async () => {
    const res = await call('GET', '/zones?name=lms.example.com', undefined, 'cf-token');
    expect(res).toEqual({ status: 401, body: { success: false, errors: [{ code: 10000, message: 'Authentication error' }], messages: [], result: null } });
    const post = await call('POST', `/zones/${fake.zone.id}/dns_records`, { name: fqdn, type: 'TXT', content: 'x', ttl: 120 }, 'wrong');
    expect(post.status).toBe(401);
    expect(fake.records).toEqual([]);
  });

  it('validates TXT records as the real API does: not proxied (9004), content up to 2048 characters, proxied a boolean when present (9003)', async () => {
    const post = (body: Record<string, unknown>) => call('POST', `/zones/${fake.zone.id}/dns_records`, { name: fqdn, type: 'TXT', content: 'v', ttl: 120, ...body });
    expect(await post({ proxied: true })).toEqual({ status: 400, body: { success: false, errors: [{ code: 9004, message: 'This record type cannot be proxied.' }], messages: [], result: null } });
    expect((await post({ proxied: 'yes' })).body.errors[0].code).toBe(9003);
    expect((await post({ content: 'x'.repeat(2049) })).status).toBe(400);
    expect((await post({ ttl: 30 })).body.errors[0].code).toBe(9021);
    expect((await post({ type: 'MX' })).body.errors[0].code).toBe(9004);
    expect(fake.records).toEqual([]);

    expect((await post({ content: 'x'.repeat(2048), proxied: false })).status).toBe(200);
    expect((await post({ content: 'x'.repeat(2048) })).body.errors).toEqual([{ code: 81058, message: 'An identical record already exists.' }]);
    // Other types still need valid content; `proxied` may be left out there too.
    expect((await post({ type: 'A', content: 'not-an-ip' })).body.errors[0].code).toBe(9005);
    expect((await post({ type: 'A', content: '203.0.113.10', name: 'lms.example.com' })).body.result).toMatchObject({ proxied: false });
  });
});
