/**
 * Redis as rendered, and run for real: the generated redis.conf and the container's own start
 * command are executed with a real redis-server (Debian's, scripts/setup.d/25-apps-tools.sh) on
 * loopback, with only the absolute paths moved into a temp dir and the port made free. The probes'
 * command runs against it too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { V1ConfigMap, V1PodSpec, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryBytes } from '../../charts-ts/lib/quantity.ts';
import { names } from '../../charts-ts/lib/names.ts';
import type { MonitorJson } from '../support/kinds.ts';
import { renderAll } from '../support/render.ts';
import { environments, rendered, tempDir } from './support.ts';

const r = rendered();
const production = r.config.environments.production;
/** The redis StatefulSet: spec and pod spec, which it sets. */
const sts = (ns: string) => r.getOf<V1StatefulSet & { spec: { template: { spec: V1PodSpec } } }>('apps', 'StatefulSet', names.redis.service, ns);
const redisConf = (ns: string) => r.getOf<V1ConfigMap>('', 'ConfigMap', `${names.redis.service}-config`, ns).data!['redis.conf'];

describe('redis as rendered', () => {
  it('is one StatefulSet pod with a PersistentVolumeClaim of the configured size', () => {
    for (const env of environments(r)) {
      const s = sts(env.namespace);
      expect(s.spec.replicas).toBe(1);
      expect(s.spec.volumeClaimTemplates).toEqual([{
        metadata: { name: 'data' },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: r.config.cluster.storageClass, resources: { requests: { storage: env.apps.redis.storageSize } } },
      }]);
      expect(s.spec.template.spec.containers[0].volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    }
  });

  it('takes AOF, maxmemory and the eviction policy from config; the password only from the Secret', () => {
    for (const env of environments(r)) {
      const conf = redisConf(env.namespace);
      expect(conf).toContain('appendonly yes');
      expect(conf).toContain(`appendfsync ${env.apps.redis.appendfsync}`);
      expect(conf).toContain(`maxmemory ${memoryBytes(env.apps.redis.maxmemory)}`);
      expect(conf).toContain(`maxmemory-policy ${env.apps.redis.maxmemoryPolicy}`);
      expect(conf).not.toMatch(/requirepass\s+\S+(?<!auth\.conf)$/m);
      const c = sts(env.namespace).spec.template.spec.containers.find((x) => x.name === 'redis')!;
      const ref = { secretKeyRef: { name: names.redis.passwordSecret, key: names.redis.passwordKey } };
      expect(c.env).toEqual([{ name: 'REDIS_PASSWORD', valueFrom: ref }, { name: 'REDISCLI_AUTH', valueFrom: ref }]);
      const exporter = sts(env.namespace).spec.template.spec.containers.find((x) => x.name === 'redis-exporter')!;
      expect(exporter.env).toContainEqual({ name: 'REDIS_PASSWORD', valueFrom: ref });
    }
  });

  it('is scraped through its exporter by a ServiceMonitor', () => {
    for (const env of environments(r)) {
      const sm = r.getOf<MonitorJson>('monitoring.coreos.com', 'ServiceMonitor', names.redis.service, env.namespace);
      const svc = r.getOf<V1Service>('', 'Service', names.redis.service, env.namespace);
      expect(Object.entries(sm.spec.selector!.matchLabels!).every(([k, v]) => svc.metadata.labels![k] === v)).toBe(true);
      expect(svc.spec!.ports!.map((p) => p.name)).toEqual(['redis', 'metrics']);
      expect(sm.spec.endpoints![0].port).toBe('metrics');
    }
  });

  it('rejects a maxmemory the container limit cannot hold', () => {
    expect(() => renderAll({ environments: { production: { apps: { redis: { maxmemory: '180Mi' } } } } }))
      .toThrow('config: environments.production.apps.redis.maxmemory: "180Mi" must be at most 75 % of resources.limits.memory (192Mi)');
  });
});

const freePort = () => new Promise<number>((resolve, reject) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address() as { port: number };
    s.close(() => resolve(port));
  });
  s.on('error', reject);
});

describe('redis run for real with the generated config and start command', () => {
  const dir = tempDir('redis');
  const password = randomBytes(24).toString('hex');
  let port = 0;
  let server: ChildProcess | undefined;
  const container = sts(production.namespace).spec.template.spec.containers.find((x) => x.name === 'redis')!;
  const cli = (args: string[], auth = true) => spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    encoding: 'utf8', env: { ...process.env, ...(auth ? { REDISCLI_AUTH: password } : {}) }, timeout: 10_000,
  });

  beforeAll(async () => {
    port = await freePort();
    for (const d of ['data', 'run', 'etc']) mkdirSync(join(dir, d));
    const conf = redisConf(production.namespace);
    writeFileSync(join(dir, 'etc', 'redis.conf'), conf.replace('dir /data', `dir ${dir}/data`).replace('/run/redis/', `${dir}/run/`));
    expect(container.command!.slice(0, 2)).toEqual(['sh', '-c']);
    const script = (container.command![2] as string)
      .replaceAll('/run/redis/', `${dir}/run/`)
      .replace('/etc/redis/redis.conf', `${dir}/etc/redis.conf --port ${port} --bind 127.0.0.1`);
    server = spawn('sh', ['-c', script], { env: { ...process.env, REDIS_PASSWORD: password }, stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      if (cli(['ping']).stdout.trim() === 'PONG') return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('redis-server did not answer within 5 s (is redis-server installed? run `npm run setup`)');
  });

  afterAll(async () => {
    if (!server || server.exitCode !== null) return;
    const exited = new Promise((res) => server!.once('exit', res));
    server.kill('SIGTERM');
    await exited;
  });

  it('requires the password from the Secret and keeps it out of the config file', () => {
    expect(cli(['ping'], false).stdout).toMatch(/NOAUTH/);
    expect(cli(['ping']).stdout.trim()).toBe('PONG');
    const auth = join(dir, 'run', 'auth.conf');
    expect(statSync(auth).mode & 0o077).toBe(0);
  });

  it('runs with the configured maxmemory, eviction policy and AOF persistence', () => {
    const get = (k: string) => cli(['config', 'get', k]).stdout.trim().split('\n')[1];
    expect(Number(get('maxmemory'))).toBe(memoryBytes(production.apps.redis.maxmemory));
    expect(get('maxmemory-policy')).toBe(production.apps.redis.maxmemoryPolicy);
    expect(get('appendonly')).toBe('yes');
    expect(get('appendfsync')).toBe(production.apps.redis.appendfsync);
    expect(cli(['set', 'session:1', 'x']).stdout.trim()).toBe('OK');
    expect(existsSync(join(dir, 'data', 'appendonlydir'))).toBe(true);
    expect(readdirSync(join(dir, 'data', 'appendonlydir')).some((f) => f.endsWith('.aof'))).toBe(true);
  });

  it('the probe command succeeds with REDISCLI_AUTH and fails without it', () => {
    const probe = container.readinessProbe!.exec!.command as string[];
    const script = probe[2].replace('redis-cli -h 127.0.0.1', `redis-cli -h 127.0.0.1 -p ${port}`);
    const run = (auth: boolean) => spawnSync(probe[0], [probe[1], script], { env: { ...process.env, ...(auth ? { REDISCLI_AUTH: password } : { REDISCLI_AUTH: '' }) }, timeout: 10_000 }).status;
    expect(run(true)).toBe(0);
    expect(run(false)).not.toBe(0);
  });
});
