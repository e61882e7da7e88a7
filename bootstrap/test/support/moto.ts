/**
 * A real S3-compatible server on 127.0.0.1 for the bucket and lifecycle tests: moto's standalone
 * server (PyPI moto[server], installed by scripts/setup.d/40-data-tools.sh, the same one the drill uses), with
 * request authentication ON: it verifies each SigV4 signature against an IAM access key created at
 * start, so a wrong secret really fails (SignatureDoesNotMatch).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { motoServerPath } from '../../../drill/tools.ts';

const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  s.on('error', reject);
});
const accepts = (port: number): Promise<boolean> => new Promise((r) => {
  const c = connect({ host: '127.0.0.1', port }, () => { c.destroy(); r(true); });
  c.on('error', () => r(false));
});

// The first three IAM calls (user, key, policy) run before authentication starts.
const bootstrapCalls = 3;
const unsigned = 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0';

export class MotoServer {
  private child?: ChildProcess;
  url = '';
  /** AWS_* variables with the access key moto checks signatures against. */
  env: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string } = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' };

  async start(): Promise<this> {
    const bin = motoServerPath();
    const port = await freePort();
    this.child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore', env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: String(bootstrapCalls) } });
    for (let i = 0; i < 150 && !this.url; i++) {
      if (await accepts(port)) this.url = `http://127.0.0.1:${port}`;
      else if (this.child.exitCode !== null) break;
      else await new Promise((r) => setTimeout(r, 100));
    }
    if (!this.url) throw new Error('moto_server did not start on 127.0.0.1');
    const iam = async (params: Record<string, string>) => {
      const res = await fetch(`${this.url}/`, { method: 'POST', headers: { host: 'iam.amazonaws.com', authorization: unsigned, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...params, Version: '2010-05-08' }) });
      const text = await res.text();
      if (!res.ok) throw new Error(`moto IAM ${params.Action}: ${text}`);
      return text;
    };
    await iam({ Action: 'CreateUser', UserName: 'lms-backup' });
    const key = await iam({ Action: 'CreateAccessKey', UserName: 'lms-backup' });
    await iam({ Action: 'PutUserPolicy', UserName: 'lms-backup', PolicyName: 's3', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }) });
    this.env = {
      AWS_ACCESS_KEY_ID: /<AccessKeyId>([^<]+)</.exec(key)![1]!,
      AWS_SECRET_ACCESS_KEY: /<SecretAccessKey>([^<]+)</.exec(key)![1]!,
    };
    return this;
  }

  get credentials() { return { accessKeyId: this.env.AWS_ACCESS_KEY_ID, secretAccessKey: this.env.AWS_SECRET_ACCESS_KEY }; }

  stop(): void { this.child?.kill(); }
}
