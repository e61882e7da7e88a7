/**
 * The stand-in zone's authoritative DNS (zone-dns.ts) asked by real resolvers: node:dns (c-ares)
 * over UDP, a raw TCP query, and dig when it is installed (scripts/setup.d/60-host-tools.sh).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import * as dnsPacket from 'dns-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeCloudflare } from '../../bootstrap/test/fakes/cloudflare.ts';
import { ZoneDns } from './zone-dns.ts';

const run = promisify(execFile);
const hasDig = (() => { try { execFileSync('sh', ['-c', 'command -v dig'], { stdio: 'ignore' }); return true; } catch { return false; } })();

let fake: FakeCloudflare;
let dns: ZoneDns;
let resolver: Resolver;
beforeEach(async () => {
  fake = await new FakeCloudflare().start();
  dns = await new ZoneDns(fake).start();
  resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([dns.address]);
});
afterEach(async () => {
  await dns.stop();
  await fake.stop();
});

const challenge = '_acme-challenge.flux.lms.example.com';
/** Creates a record through the fake API, as cert-manager does. */
async function create(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${fake.url}/client/v4/zones/${fake.zone.id}/dns_records`, {
    method: 'POST', headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const b = await res.json() as { success: boolean; result: { id: string } };
  expect(b.success).toBe(true);
  return b.result.id;
}

const optRecord: dnsPacket.OptAnswer = { type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
const query = (name: string, type: dnsPacket.RecordType, id: number): dnsPacket.Packet => ({
  type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }], additionals: [optRecord],
});

/** A decoded answer: dns-packet sets the response code, which its types leave out. */
type Answer = dnsPacket.DecodedPacket & { rcode: string };

/** One query over UDP with dns-packet. */
async function udpQuery(name: string, type: dnsPacket.RecordType): Promise<Answer> {
  const sock = createSocket('udp4');
  try {
    const [port] = dns.address.split(':').slice(1).map(Number);
    const answer = new Promise<Buffer>((ok) => sock.once('message', ok));
    sock.send(dnsPacket.encode(query(name, type, 4242)), port, '127.0.0.1');
    return dnsPacket.decode(await answer) as Answer;
  } finally {
    sock.close();
  }
}

/** One query over TCP (two-byte length framing) with dns-packet. */
async function tcpQuery(name: string, type: dnsPacket.RecordType, id: number): Promise<Answer> {
  const [host, port] = dns.address.split(':');
  const sock = connect(Number(port), host!);
  try {
    let buf = Buffer.alloc(0);
    const answer = new Promise<Buffer>((ok, fail) => {
      sock.on('error', fail);
      sock.on('data', (c) => {
        buf = Buffer.concat([buf, c]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) ok(buf);
      });
    });
    sock.write(dnsPacket.streamEncode(query(name, type, id)));
    return dnsPacket.streamDecode(await answer) as Answer;
  } finally {
    sock.destroy();
  }
}

describe('ZoneDns: the stand-in zone\'s authoritative DNS', () => {
  it('listens on one port of 127.0.0.1 for UDP and TCP', () => {
    expect(dns.address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('answers the TXT record created through the fake API (UDP, node:dns), and stops when it is deleted', async () => {
    await expect(resolver.resolveTxt(challenge)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    const id = await create({ name: challenge, type: 'TXT', content: 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0', ttl: 120 });
    expect(await resolver.resolveTxt(challenge)).toEqual([['LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0']]);
    // Names are case-insensitive.
    expect(await resolver.resolveTxt('_ACME-Challenge.Flux.LMS.example.com')).toEqual([['LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0']]);
    // Two challenges for one name (a certificate for the name and its wildcard): both values.
    await create({ name: challenge, type: 'TXT', content: 'second-value', ttl: 120 });
    expect((await resolver.resolveTxt(challenge)).map((x) => x.join('')).sort()).toEqual(['LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0', 'second-value']);

    const raw = await udpQuery(challenge, 'TXT');
    expect(raw).toMatchObject({ id: 4242, type: 'response', flag_aa: true, flag_rd: true, flag_ra: false, rcode: 'NOERROR' });
    expect(raw.questions).toEqual([{ name: challenge, type: 'TXT', class: 'IN' }]);
    expect(raw.answers).toHaveLength(2);
    expect(raw.answers![0]).toMatchObject({ name: challenge, type: 'TXT', ttl: 120 });
    expect(raw.additionals).toEqual([expect.objectContaining({ type: 'OPT', name: '.' })]);

    await fetch(`${fake.url}/client/v4/zones/${fake.zone.id}/dns_records/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${fake.token}` } });
    expect(await resolver.resolveTxt(challenge)).toEqual([['second-value']]);
  });

  it('splits long TXT content into 255-byte strings, over TCP when it does not fit in UDP', async () => {
    const long = 'k'.repeat(300) + 'v'.repeat(300) + 'z'.repeat(1400);
    await create({ name: 'dkim._domainkey.lms.example.com', type: 'TXT', content: long, ttl: 1 });
    const [strings] = await resolver.resolveTxt('dkim._domainkey.lms.example.com');
    expect(strings!.map((s) => Buffer.byteLength(s))).toEqual([255, 255, 255, 255, 255, 255, 255, 215]);
    expect(strings!.join('')).toBe(long);
    // Too big for the 1232-byte EDNS payload: truncated over UDP (c-ares retried over TCP above).
    const udp = await udpQuery('dkim._domainkey.lms.example.com', 'TXT');
    expect(udp.flag_tc).toBe(true);
    expect(udp.answers).toEqual([]);
    const tcp = await tcpQuery('dkim._domainkey.lms.example.com', 'TXT', 7);
    expect(tcp.answers).toEqual([expect.objectContaining({ ttl: 300 })]);
  });

  it('answers A/AAAA records, follows a CNAME inside the zone', async () => {
    fake.records.push({ id: 'a1', type: 'A', name: 'api.lms.example.com', content: '203.0.113.10', proxied: true, ttl: 1 });
    fake.records.push({ id: 'a2', type: 'AAAA', name: 'api.lms.example.com', content: '2001:db8::10', proxied: false, ttl: 600 });
    fake.records.push({ id: 'c1', type: 'CNAME', name: 'www.lms.example.com', content: 'api.lms.example.com', proxied: false, ttl: 300 });
    expect(await resolver.resolve4('api.lms.example.com', { ttl: true })).toEqual([{ address: '203.0.113.10', ttl: 300 }]);
    expect(await resolver.resolve6('api.lms.example.com')).toEqual(['2001:db8::10']);
    expect(await resolver.resolve4('www.lms.example.com')).toEqual(['203.0.113.10']);
    expect(await resolver.resolveCname('www.lms.example.com')).toEqual(['api.lms.example.com']);
    const txt = await udpQuery('www.lms.example.com', 'TXT');
    expect(txt.answers).toEqual([expect.objectContaining({ type: 'CNAME', data: 'api.lms.example.com' })]);
    expect(txt.authorities).toEqual([expect.objectContaining({ type: 'SOA', name: 'lms.example.com' })]);
  });

  it('NXDOMAIN for a name with nothing, NODATA for an empty non-terminal or a missing type, REFUSED outside the zone', async () => {
    await create({ name: challenge, type: 'TXT', content: 'v', ttl: 120 });
    await expect(resolver.resolveTxt('nothing.lms.example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolve4(challenge)).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(resolver.resolveTxt('flux.lms.example.com')).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(resolver.resolveTxt('example.org')).rejects.toMatchObject({ code: 'EREFUSED' });

    const nx = await udpQuery('nothing.lms.example.com', 'TXT');
    expect(nx).toMatchObject({ rcode: 'NXDOMAIN', flag_aa: true, answers: [] });
    expect(nx.authorities).toEqual([expect.objectContaining({ type: 'SOA', name: 'lms.example.com' })]);
    // cert-manager finds the zone by asking SOA from the challenge name upwards: NODATA, NODATA, then the SOA.
    const ent = await udpQuery('flux.lms.example.com', 'SOA');
    expect(ent).toMatchObject({ rcode: 'NOERROR', flag_aa: true, answers: [] });
    expect(ent.authorities).toEqual([expect.objectContaining({ type: 'SOA' })]);
    expect((await udpQuery('lms.example.com', 'SOA')).answers).toEqual([expect.objectContaining({ type: 'SOA', name: 'lms.example.com' })]);
    expect((await udpQuery('example.com', 'SOA')).rcode).toBe('REFUSED');

    expect(dns.queries).toContainEqual({ name: 'nothing.lms.example.com', type: 'TXT', rcode: 'NXDOMAIN', transport: 'udp' });
    expect(dns.queries).toContainEqual({ name: 'flux.lms.example.com', type: 'TXT', rcode: 'NOERROR', transport: 'udp' });
    expect(dns.queries).toContainEqual({ name: 'example.org', type: 'TXT', rcode: 'REFUSED', transport: 'udp' });
  });

  it('answers SOA and NS at the apex over TCP, with the id, the question and an OPT record', async () => {
    const soa = await tcpQuery('lms.example.com', 'SOA', 31337);
    expect(soa).toMatchObject({ id: 31337, type: 'response', flag_aa: true, rcode: 'NOERROR' });
    expect(soa.questions).toEqual([{ name: 'lms.example.com', type: 'SOA', class: 'IN' }]);
    expect(soa.answers).toEqual([{
      name: 'lms.example.com', type: 'SOA', ttl: 300, class: 'IN', flush: false,
      data: { mname: 'ns1.lms.example.com', rname: 'dns.cloudflare.com', serial: dns.serial, refresh: 10000, retry: 2400, expire: 604800, minimum: 300 },
    }]);
    expect(soa.additionals).toEqual([expect.objectContaining({ type: 'OPT' })]);
    const ns = await tcpQuery('lms.example.com', 'NS', 2);
    expect(ns.answers!.map((a) => (a as dnsPacket.StringAnswer).data)).toEqual(['ns1.lms.example.com', 'ns2.lms.example.com']);
    expect(await resolver.resolveNs('lms.example.com')).toEqual(['ns1.lms.example.com', 'ns2.lms.example.com']);
    expect(dns.queries).toContainEqual({ name: 'lms.example.com', type: 'SOA', rcode: 'NOERROR', transport: 'tcp' });
    // The serial moves when the records change.
    const before = dns.serial;
    await create({ name: challenge, type: 'TXT', content: 'v', ttl: 120 });
    const after = await tcpQuery('lms.example.com', 'SOA', 3);
    expect((after.answers![0] as dnsPacket.SoaAnswer).data.serial).toBe(before + 1);
  });

  it.skipIf(!hasDig)('answers dig: SOA over TCP and the challenge TXT record', async () => {
    await create({ name: challenge, type: 'TXT', content: 'dig-sees-this', ttl: 120 });
    const [, port] = dns.address.split(':');
    const soa = await run('dig', ['@127.0.0.1', '-p', port!, '+tcp', '+time=2', '+tries=1', 'SOA', 'lms.example.com']);
    expect(soa.stdout).toMatch(/status: NOERROR/);
    expect(soa.stdout).toMatch(/flags: qr aa rd;/);
    expect(soa.stdout).toMatch(/OPT PSEUDOSECTION/);
    expect(soa.stdout).toMatch(/^lms\.example\.com\.\s+300\s+IN\s+SOA\s+ns1\.lms\.example\.com\. dns\.cloudflare\.com\. \d+ 10000 2400 604800 300$/m);
    const txt = await run('dig', ['@127.0.0.1', '-p', port!, '+time=2', '+tries=1', '+short', 'TXT', challenge]);
    expect(txt.stdout.trim()).toBe('"dig-sees-this"');
    const nx = await run('dig', ['@127.0.0.1', '-p', port!, '+time=2', '+tries=1', 'TXT', 'missing.lms.example.com']);
    expect(nx.stdout).toMatch(/status: NXDOMAIN/);
  });
});
