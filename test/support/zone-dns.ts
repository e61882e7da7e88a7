/**
 * The authoritative DNS server of the Cloudflare stand-in's zone: Cloudflare is the zone's DNS, so
 * what the API's DNS records say (FakeCloudflare.records, read again on every query) is what DNS
 * answers. An ACME DNS-01 check (cert-manager's propagation check, Pebble's validation) sees the
 * TXT records created through the fake API.
 *
 * One free port on 127.0.0.1, UDP and TCP (RFC 1035 4.2.2 two-byte length framing, several queries
 * per connection). Answers echo the id, the question and the RD/CD bits, authoritative (AA) in the zone:
 * SOA and NS at the apex, A/AAAA/CNAME/TXT from the records (names case-insensitive; a CNAME
 * answers any query type of its name and is followed inside the zone), NODATA with the SOA for a
 * name that exists without that type (empty non-terminals included), NXDOMAIN with the SOA for a
 * name that does not exist, REFUSED outside the zone. A query with an EDNS0 OPT record gets one
 * back; a UDP answer larger than the client's payload size (512 without EDNS) is truncated (TC).
 * Proxied records answer with their content, not Cloudflare's edge addresses.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { FakeCloudflare } from '../../bootstrap/test/fakes/cloudflare.ts';

export type Rcode = 'NOERROR' | 'FORMERR' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED';
export interface ZoneDnsQuery { name: string; type: string; rcode: Rcode; transport: 'udp' | 'tcp' }

const RCODES: Record<Rcode, number> = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
const SERVED = new Set(['A', 'AAAA', 'CNAME', 'TXT']);
/** Cloudflare's "Automatic" TTL (ttl 1) is 300 s. */
const AUTO_TTL = 300;

const norm = (n: string) => n.toLowerCase().replace(/\.$/, '');

export class ZoneDns {
  /** Every query answered, in order. */
  readonly queries: ZoneDnsQuery[] = [];
  /** SOA serial: bumped whenever the zone's records change between two queries. */
  serial = 2025010100;
  private port = 0;
  private udp?: UdpSocket;
  private tcp?: Server;
  private readonly conns = new Set<Socket>();
  private lastRecords = '';

  constructor(readonly fake: FakeCloudflare) {}

  /** `127.0.0.1:<port>`, for a resolver's server list (node:dns setServers, --dns01-recursive-nameservers, pebble -dnsserver). */
  get address(): string {
    if (!this.port) throw new Error('ZoneDns is not started');
    return `127.0.0.1:${this.port}`;
  }

  get zone(): string {
    return norm(this.fake.zone.name);
  }

  /** Listens on 127.0.0.1, one free port for UDP and TCP alike. */
  async start(): Promise<this> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const tcp = createServer((s) => this.serveTcp(s));
      await new Promise<void>((ok, fail) => { tcp.once('error', fail); tcp.listen(0, '127.0.0.1', () => { tcp.off('error', fail); ok(); }); });
      const port = (tcp.address() as AddressInfo).port;
      const udp = createSocket('udp4');
      const bound = await new Promise<boolean>((ok) => {
        udp.once('error', () => ok(false));
        udp.bind(port, '127.0.0.1', () => ok(true));
      });
      if (!bound) {
        udp.close();
        await new Promise<void>((r) => tcp.close(() => r()));
        continue;
      }
      udp.removeAllListeners('error');
      udp.on('error', () => { /* a reply to a client gone away */ });
      udp.on('message', (msg, rinfo) => {
        const reply = this.answer(msg, 'udp');
        if (reply) udp.send(reply, rinfo.port, rinfo.address);
      });
      this.tcp = tcp;
      this.udp = udp;
      this.port = port;
      return this;
    }
    throw new Error('ZoneDns: no port free for both UDP and TCP on 127.0.0.1');
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    await Promise.all([
      new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r())),
      new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r())),
    ]);
    this.udp = undefined;
    this.tcp = undefined;
  }

  private serveTcp(sock: Socket): void {
    this.conns.add(sock);
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const reply = this.answer(msg, 'tcp');
        if (!reply) { sock.destroy(); return; }
        const len = Buffer.alloc(2);
        len.writeUInt16BE(reply.length);
        sock.write(Buffer.concat([len, reply]));
      }
    });
  }

  /** The wire answer to one wire query, or undefined for something that is not a DNS query. */
  private answer(msg: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    let q: dnsPacket.DecodedPacket;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      // Undecodable: FORMERR when there is at least a header to echo the id of.
      if (msg.length < 12 || msg.readUInt16BE(2) & 0x8000) return undefined;
      this.queries.push({ name: '', type: '', rcode: 'FORMERR', transport });
      return dnsPacket.encode({ type: 'response', id: msg.readUInt16BE(0), flags: RCODES.FORMERR, questions: [], answers: [], authorities: [], additionals: [] });
    }
    if (q.type !== 'query') return undefined;
    const opt = q.additionals?.find((a): a is dnsPacket.OptAnswer => a.type === 'OPT');
    const question = q.questions?.[0];
    const opcode = (q.flags ?? 0) & 0x7800;
    const res = {
      answers: [] as dnsPacket.Answer[],
      authorities: [] as dnsPacket.Answer[],
      rcode: 'NOERROR' as Rcode,
    };
    if (opcode !== 0) res.rcode = 'NOTIMP';
    else if (!question || q.questions!.length !== 1) res.rcode = 'FORMERR';
    else Object.assign(res, this.resolve(question.name, question.type));
    this.queries.push({ name: question?.name ?? '', type: question?.type ?? '', rcode: res.rcode, transport });

    const reply = (answers: dnsPacket.Answer[], authorities: dnsPacket.Answer[], tc = 0): Buffer => dnsPacket.encode({
      type: 'response',
      id: q.id,
      // The query's opcode, RD and CD bits; authoritative for the zone (not for what it refuses); no recursion available.
      flags: opcode | ((q.flags ?? 0) & (dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED)) | (res.rcode === 'NOERROR' || res.rcode === 'NXDOMAIN' ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | tc | RCODES[res.rcode],
      questions: question ? [question] : [],
      answers,
      authorities,
      additionals: opt ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
    });
    const full = reply(res.answers, res.authorities);
    const limit = opt ? Math.max(512, Math.min(opt.udpPayloadSize, 1232)) : 512;
    if (transport === 'udp' && full.length > limit) return reply([], [], dnsPacket.TRUNCATED_RESPONSE);
    return full;
  }

  /** Answer, authority and rcode for one question, from the fake's records as they are now. */
  resolve(qname: string, qtype: string): { answers: dnsPacket.Answer[]; authorities: dnsPacket.Answer[]; rcode: Rcode } {
    const zone = this.zone;
    const name = norm(qname);
    if (name !== zone && !name.endsWith(`.${zone}`)) return { answers: [], authorities: [], rcode: 'REFUSED' };
    const records = this.fake.records.filter((r) => SERVED.has(r.type) && (norm(r.name) === zone || norm(r.name).endsWith(`.${zone}`)));
    this.bumpSerial(records);
    const soa = this.soa();
    const answers: dnsPacket.Answer[] = [];
    let owner = qname.replace(/\.$/, '');
    let current = name;
    const seen = new Set<string>();
    for (;;) {
      const own = this.rrset(owner, current, qtype, records);
      if (own === 'nxdomain') {
        // Only the queried name itself makes NXDOMAIN; a dangling in-zone CNAME target leaves NOERROR.
        return answers.length ? { answers, authorities: [soa], rcode: 'NOERROR' } : { answers: [], authorities: [soa], rcode: 'NXDOMAIN' };
      }
      answers.push(...own);
      const cname = own.find((a) => a.type === 'CNAME') as dnsPacket.StringAnswer | undefined;
      if (!cname || qtype === 'CNAME' || qtype === 'ANY') break;
      // Follow the CNAME while its target is in this zone, as an authoritative server does.
      seen.add(current);
      const target = norm(cname.data);
      if (seen.has(target) || (target !== zone && !target.endsWith(`.${zone}`))) break;
      owner = cname.data.replace(/\.$/, '');
      current = target;
    }
    const answered = answers.some((a) => a.type === qtype || qtype === 'ANY' || (qtype === 'CNAME' && a.type === 'CNAME'));
    return { answers, authorities: answered ? [] : [soa], rcode: 'NOERROR' };
  }

  /** The RRset of `qtype` at one name (its CNAME whatever the type), [] for NODATA, or 'nxdomain'. */
  private rrset(owner: string, name: string, qtype: string, records: FakeCloudflare['records']): dnsPacket.Answer[] | 'nxdomain' {
    const zone = this.zone;
    const out: dnsPacket.Answer[] = [];
    if (name === zone) {
      if (qtype === 'SOA' || qtype === 'ANY') out.push({ ...this.soa(), name: owner });
      if (qtype === 'NS' || qtype === 'ANY') out.push(...['ns1', 'ns2'].map((ns): dnsPacket.Answer => ({ type: 'NS', name: owner, ttl: 86400, class: 'IN', data: `${ns}.${zone}` })));
    }
    const here = records.filter((r) => norm(r.name) === name);
    const cname = here.find((r) => r.type === 'CNAME');
    for (const r of cname ? [cname] : here.filter((x) => x.type === qtype || qtype === 'ANY')) {
      const ttl = r.ttl === 1 ? AUTO_TTL : r.ttl;
      if (r.type === 'TXT') out.push({ type: 'TXT', name: owner, ttl, class: 'IN', data: txtStrings(r.content) });
      else out.push({ type: r.type as 'A' | 'AAAA' | 'CNAME', name: owner, ttl, class: 'IN', data: r.content.replace(/\.$/, '') });
    }
    if (out.length || here.length || name === zone) return out;
    // An empty non-terminal (records below it) exists: NODATA, not NXDOMAIN.
    return records.some((r) => norm(r.name).endsWith(`.${name}`)) ? [] : 'nxdomain';
  }

  private soa(): dnsPacket.SoaAnswer {
    const zone = this.zone;
    return {
      type: 'SOA', name: zone, ttl: 300, class: 'IN',
      data: { mname: `ns1.${zone}`, rname: 'dns.cloudflare.com', serial: this.serial, refresh: 10000, retry: 2400, expire: 604800, minimum: 300 },
    };
  }

  private bumpSerial(records: FakeCloudflare['records']): void {
    const now = JSON.stringify(records.map((r) => [r.id, r.type, r.name, r.content, r.ttl]));
    if (this.lastRecords && now !== this.lastRecords) this.serial++;
    this.lastRecords = now;
  }
}

/** TXT content as one character-string per 255 bytes (RFC 1035 3.3.14), as Cloudflare serves long TXT records. */
export function txtStrings(content: string): Buffer[] {
  const bytes = Buffer.from(content, 'utf8');
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out.length ? out : [Buffer.alloc(0)];
}
