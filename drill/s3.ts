/**
 * A real S3-compatible server on loopback for the drill: moto's server mode (PyPI `moto[server]`,
 * Apache-2.0), with the bucket from config created through the S3 API.
 */
import { createServer } from 'node:net';
import { background, type Tools } from './tools.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolvePort(port));
    });
  });
}

export interface S3Server {
  readonly endpoint: string;
  /** Dummy credentials (moto accepts any). */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  stop(): Promise<void>;
  /** For signal handlers. */
  killSync(): void;
}

export async function startS3(tools: Tools, bucket: string): Promise<S3Server> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const proc = background([tools.motoServer, '-H', '127.0.0.1', '-p', String(port)]);
  const stop = () => proc.stop();
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(5000) });
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (proc.exited() || Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not start on ${endpoint}: ${proc.output()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // CreateBucket (PUT /<bucket>); moto does not check signatures.
  const created = await fetch(`${endpoint}/${bucket}`, { method: 'PUT' });
  if (!created.ok) {
    await stop();
    throw new Error(`CreateBucket ${bucket} on ${endpoint}: HTTP ${created.status}`);
  }
  return { endpoint, accessKeyId: 'drill-access-key', secretAccessKey: 'drill-secret-key', stop, killSync: proc.killSync };
}
