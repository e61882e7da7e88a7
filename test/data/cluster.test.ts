/**
 * The CloudNativePG Cluster per environment: names the other charts rely on, pinned image, no
 * superuser, the app database, memory-sized parameters (also parsed by a real PostgreSQL), the
 * PodMonitor, the footprint, and who may connect.
 */
import { mkdtempSync, rmSync, chownSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { $ } from 'zx';
import { imageRef } from '../../charts-ts/config/schema.ts';
import { MemoryBudgetError, planMemory, postgresParameters } from '../../charts-ts/data/postgres-parameters.ts';
import { footprintAnnotation } from '../../charts-ts/lib/footprint.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { cpuCores, memoryBytes, MiB } from '../../charts-ts/lib/quantity.ts';
import { findTools } from '../../drill/tools.ts';
import type { NetworkPolicyJson } from '../support/kinds.ts';
import { renderAll } from '../support/render.ts';
import { cnpgGroup, type CnpgClusterJson, type PodMonitorJson } from './support/cnpg.ts';

const r = renderAll();
const envs = Object.values(r.config.environments);
const netpol = (name: string, namespace: string) => r.getOf<NetworkPolicyJson>('networking.k8s.io', 'NetworkPolicy', name, namespace).spec;
/** The footprint annotation's first pod: the fields read. */
type FootprintPod = { replicas: number; requests: { cpu: string }; limits: { memory: string } };

describe('CloudNativePG Cluster', () => {
  it.each(envs.map((e) => [e.name, e] as const))('%s: lms-db in the app namespace, as names.ts promises', (_n, env) => {
    const c = r.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', names.database.cluster, env.namespace);
    expect(c.apiVersion).toBe('postgresql.cnpg.io/v1');
    // The operator derives <cluster>-rw and <cluster>-app from the name and the bootstrap owner.
    expect(`${c.metadata.name}-rw`).toBe(names.database.rwService);
    expect(`${c.metadata.name}-app`).toBe(names.database.appSecret);
    expect(c.spec.bootstrap.initdb).toMatchObject({ database: names.database.name, owner: names.database.owner, dataChecksums: true });
    expect(c.spec.enableSuperuserAccess).toBe(false);
    expect(c.spec.instances).toBe(env.database.instances);
    expect(c.spec.storage).toEqual({ storageClass: r.config.cluster.storageClass, size: env.database.storageSize });
    expect(c.spec.resources).toEqual(env.database.resources);
  });

  it('runs the pinned PostgreSQL major, by digest', () => {
    const pg = r.config.cluster.data.postgres;
    for (const c of r.findOf<CnpgClusterJson>(cnpgGroup, 'Cluster')) {
      expect(c.spec.imageName).toBe(imageRef(pg.image));
      expect(c.spec.imageName).toMatch(new RegExp(`:${pg.majorVersion}\\.\\d+-[^@]+@sha256:[a-f0-9]{64}$`));
    }
  });

  it('rejects an image tag of another major than configured', () => {
    expect(() => renderAll({ cluster: { data: { postgres: { majorVersion: 17 } } } }))
      .toThrow(/cluster\.data\.postgres\.image\.tag: .*must start with the major version/);
  });

  it('enables pg_stat_statements through its parameters and keeps the operator-owned ones out', () => {
    for (const c of r.findOf<CnpgClusterJson>(cnpgGroup, 'Cluster')) {
      const p = c.spec.postgresql.parameters;
      expect(Object.keys(p).some((k) => k.startsWith('pg_stat_statements.'))).toBe(true);
      // Values are strings (the CRD's map[string]string), and none is on the operator's fixed list.
      for (const v of Object.values(p)) expect(typeof v).toBe('string');
      for (const fixed of ['archive_command', 'archive_mode', 'shared_preload_libraries', 'listen_addresses', 'port', 'restore_command']) {
        expect(p).not.toHaveProperty(fixed);
      }
      expect(p.archive_timeout).toBe(r.config.cluster.data.backup.archiveTimeout);
    }
  });

  it('has its own PodMonitor (the operator-made one is deprecated) and not the deprecated flag', () => {
    for (const env of envs) {
      const c = r.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', names.database.cluster, env.namespace);
      expect(c.spec.monitoring?.enablePodMonitor).toBeUndefined();
      const pm = r.getOf<PodMonitorJson>('monitoring.coreos.com', 'PodMonitor', names.database.cluster, env.namespace);
      expect(pm.spec.selector.matchLabels).toEqual({ 'cnpg.io/cluster': names.database.cluster });
      expect(pm.spec.podMetricsEndpoints).toEqual([{ port: 'metrics' }]);
    }
  });

  it('declares the pods the operator will create: postgres + barman sidecar per instance', () => {
    for (const env of envs) {
      const c = r.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', names.database.cluster, env.namespace);
      const [pod] = JSON.parse(c.metadata.annotations![footprintAnnotation]) as FootprintPod[];
      const sidecar = r.config.cluster.data.backup.sidecar.resources;
      expect(pod.replicas).toBe(env.database.instances);
      expect(cpuCores(pod.requests.cpu)).toBeCloseTo(cpuCores(env.database.resources.requests.cpu) + cpuCores(sidecar.requests.cpu));
      expect(memoryBytes(pod.limits.memory)).toBe(memoryBytes(env.database.resources.limits.memory) + memoryBytes(sidecar.limits.memory));
    }
    const two = renderAll({ environments: { staging: { database: { instances: 2 } } } });
    const [pod] = JSON.parse(two.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', names.database.cluster, 'lms-staging').metadata.annotations![footprintAnnotation]) as FootprintPod[];
    expect(pod.replicas).toBe(2);
    expect(two.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', names.database.cluster, 'lms-staging').spec.primaryUpdateMethod).toBe('switchover');
  });

  it('refuses an expected data size that does not fit the volume (the RTO projection reads it)', () => {
    expect(() => renderAll({ environments: { production: { database: { expectedDataSize: '40Gi' } } } }))
      .toThrow(/environments\.production\.database\.expectedDataSize: "40Gi" must fit the volume \(storageSize 30Gi\)/);
  });

  it('refuses more instances than the single node makes sense of', () => {
    expect(() => renderAll({ environments: { production: { database: { instances: 3 } } } }))
      .toThrow(/environments\.production\.database\.instances: 3 must be 1 or 2/);
  });

  it('lets only its own namespace reach PostgreSQL; the operator its status port; Prometheus the exporter', () => {
    for (const env of envs) {
      const np = netpol(`${names.database.cluster}-ingress`, env.namespace);
      expect(np.podSelector).toEqual({ matchExpressions: [{ key: 'cnpg.io/cluster', operator: 'Exists' }] });
      const byPort = Object.fromEntries(np.ingress!.map((i) => [i.ports![0].port, i.from!]));
      expect(byPort[5432]).toEqual([{ podSelector: {} }]);
      expect(byPort[8000][0].namespaceSelector!.matchLabels!['kubernetes.io/metadata.name']).toBe('cnpg-system');
      expect(byPort[9187][0].namespaceSelector!.matchLabels!['kubernetes.io/metadata.name']).toBe(names.monitoring.namespace);
    }
  });

  it('lets the database pods out to exactly the cluster DNS, the API server, each other and Object Storage over HTTPS (the namespace denies by default)', () => {
    for (const env of envs) {
      const np = netpol(`${names.database.cluster}-egress`, env.namespace);
      expect(np.policyTypes).toEqual(['Egress']);
      const ports = np.egress!.flatMap((e) => e.ports!.map((p) => p.port as number)).sort((a, b) => a - b);
      expect(ports).toEqual([53, 53, 443, 443, 5432, 6443, 8000]);
      // DNS in the data layer's own policy: allow-dns (apps layers) lands after the Cluster must be Ready.
      expect(np.egress![0]).toEqual({
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
        ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
      });
      const https = np.egress!.find((e) => e.to![0].ipBlock?.cidr === '0.0.0.0/0' && e.ports![0].port === 443);
      expect(https!.to![0].ipBlock!.except).toEqual(expect.arrayContaining(['10.0.0.0/8', '192.168.0.0/16']));
      const dump = netpol('lms-db-dump-egress', env.namespace);
      expect(dump.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'lms-db-dump' });
      expect(dump.egress!.map((e) => e.ports![0].port)).toEqual([53, 5432, 443]);
    }
  });
});

describe('PostgreSQL parameters sized to the memory limit', () => {
  it.each(envs.map((e) => [e.name, e] as const))('%s: the worst case fits the limit', (_n, env) => {
    const m = planMemory(env.database.resources.limits.memory, env.database.maxConnections);
    expect(m.worstCaseMiB).toBeLessThanOrEqual(m.limitMiB * 0.9);
    expect(m.workMemMiB).toBeGreaterThanOrEqual(1);
    expect(m.sharedBuffersMiB).toBe(Math.floor(memoryBytes(env.database.resources.limits.memory) / MiB / 4));
  });

  it('grows work_mem with memory and shrinks it with connections', () => {
    expect(planMemory('4Gi', 100).workMemMiB).toBeGreaterThan(planMemory('2Gi', 100).workMemMiB);
    expect(planMemory('2Gi', 50).workMemMiB).toBeGreaterThan(planMemory('2Gi', 150).workMemMiB);
  });

  it('fails with the fix when the connections cannot fit the memory', () => {
    expect(() => planMemory('512Mi', 200)).toThrow(MemoryBudgetError);
    expect(() => renderAll({ environments: { staging: { database: { maxConnections: 400 } } } }))
      .toThrow(/environments\.staging\.database\.maxConnections: 400 connections do not fit a 512Mi memory limit.*lower maxConnections \(use the pooler\) or raise resources\.limits\.memory/);
  });

  it('is accepted by a real PostgreSQL server (every name and value parsed)', async () => {
    const tools = await findTools();
    const dir = mkdtempSync(join(tmpdir(), 'lms-pgparams-'));
    try {
      chmodSync(dir, 0o755);
      if (tools.pgOwner) chownSync(dir, tools.pgOwner.uid, tools.pgOwner.gid);
      const data = join(dir, 'data');
      await $({ quiet: true })`${tools.asPostgres} ${join(tools.pgBin, 'initdb')} -D ${data} --no-instructions`;
      for (const env of envs) {
        const params = postgresParameters({
          memoryLimit: env.database.resources.limits.memory,
          cpuLimitCores: cpuCores(env.database.resources.limits.cpu),
          maxConnections: env.database.maxConnections,
          archiveTimeout: r.config.cluster.data.backup.archiveTimeout,
        });
        // `postgres -C` loads the configuration with these overrides, validates every setting and
        // prints one back; an unknown name or a bad value makes it exit non-zero.
        const flags = Object.entries(params).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
        const out = await $({ quiet: true, nothrow: true })`${tools.asPostgres} ${join(tools.pgBin, 'postgres')} -D ${data} ${flags} -C work_mem`;
        expect(out.stderr).toBe('');
        expect(out.exitCode).toBe(0);
        // -C prints memory settings in kB.
        expect(Number(out.stdout.trim())).toBe(parseInt(params.work_mem, 10) * 1024);
      }
      const bad = await $({ quiet: true, nothrow: true })`${tools.asPostgres} ${join(tools.pgBin, 'postgres')} -D ${data} -c work_mem=lots -C work_mem`;
      expect(bad.exitCode).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
