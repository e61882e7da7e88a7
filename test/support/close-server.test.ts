/**
 * Test teardown that cannot hang (close-server.ts): a server with an open client connection closes
 * at once when its sockets are tracked, where a plain close() waits for the client; a hung step is
 * cut off by bounded() and named.
 */
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bounded, closeServer, trackSockets } from './close-server.ts';

const clients: ReturnType<typeof connect>[] = [];
afterEach(() => { for (const c of clients.splice(0)) c.destroy(); vi.restoreAllMocks(); });

async function listeningWithClient(server: Server): Promise<void> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  clients.push(client);
  await once(client, 'connect');
  await sleep(20);
}

const closesWithin = async (close: Promise<void>, ms: number) => Promise.race([close.then(() => true), sleep(ms).then(() => false)]);

describe('closeServer', () => {
  it('closes a server whose client keeps its connection open; a plain close() would wait for the client', async () => {
    const plain = createServer(() => undefined);
    await listeningWithClient(plain);
    expect(await closesWithin(new Promise<void>((done) => plain.close(() => done())), 300)).toBe(false);

    const tracked = trackSockets(createServer(() => undefined));
    await listeningWithClient(tracked);
    expect(await closesWithin(closeServer(tracked), 2_000)).toBe(true);
    expect(tracked.listening).toBe(false);
  });

  it('closes an HTTP server holding an upgraded CONNECT tunnel (which closeAllConnections no longer sees)', async () => {
    const server = trackSockets(createHttpServer());
    server.on('connect', (_req, socket) => { socket.write('HTTP/1.1 200 Connection Established\r\n\r\n'); });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    clients.push(client);
    client.write('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n');
    await once(client, 'data');
    server.closeAllConnections();
    expect(await closesWithin(closeServer(server), 2_000)).toBe(true);
  });

  it('returns for a server never started or already closed', async () => {
    await closeServer(undefined);
    const s = trackSockets(createServer());
    await closeServer(s);
  });
});

describe('bounded', () => {
  it('gives up on a step that hangs, names it, and lets the teardown go on', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const started = Date.now();
    await bounded('stuck step', () => new Promise(() => undefined), 100);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('teardown: stuck step did not stop within 0.1 s'));
  });

  it('reports a failing step by name instead of throwing', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    await bounded('failing step', () => { throw new Error('boom'); });
    expect(warn).toHaveBeenCalledWith('teardown: failing step failed: boom');
  });

  it('waits for a step that finishes in time, without a warning', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    let done = false;
    await bounded('quick step', async () => { await sleep(20); done = true; }, 1_000);
    expect(done).toBe(true);
    expect(warn).not.toHaveBeenCalled();
  });
});
