/**
 * Closing a server in a test: `server.close()` waits for every open connection to end, and a
 * keep-alive client, a piped TLS front or an upgraded CONNECT tunnel (which http's
 * closeAllConnections no longer tracks) can keep one open for as long as the peer lives. A
 * stop() that waits on that hangs the suite's teardown (CI once spent its whole hook timeout
 * there), so every test server tracks its sockets and destroys them on close.
 */
import type { Server } from 'node:net';
import type { Socket } from 'node:net';

const tracked = new WeakMap<Server, Set<Socket>>();

/** Start tracking the raw sockets `server` accepts; call before listen(). Returns the server. */
export function trackSockets<S extends Server>(server: S): S {
  const sockets = new Set<Socket>();
  tracked.set(server, sockets);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return server;
}

/** Destroy every socket `server` accepted (tunnels included) and wait for it to close. */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  for (const s of tracked.get(server) ?? []) s.destroy();
  await new Promise<void>((done) => {
    if (!server.listening) { done(); return; }
    server.close(() => done());
  });
}

/**
 * Run one teardown step, but never for longer than `ms`: a step that hangs is reported by name and
 * the rest of the teardown still runs (a hung stop() must not hide which part hung, or keep
 * the processes after it alive).
 */
export async function bounded(name: string, step: () => Promise<unknown> | unknown, ms = 60_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((done) => { timer = setTimeout(() => done('timeout'), ms); });
  try {
    const result = await Promise.race([Promise.resolve().then(step).then(() => 'done' as const), timeout]);
    if (result === 'timeout') console.warn(`teardown: ${name} did not stop within ${ms / 1000} s; going on`);
  } catch (e) {
    console.warn(`teardown: ${name} failed: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
