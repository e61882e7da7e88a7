/**
 * Continuous backup through the Barman Cloud plugin: the ObjectStore (Contabo endpoint, bucket path
 * per environment, credentials by Secret reference, compression, retention, the S3-compatibility
 * env of plugin-barman-cloud #393, sidecar resources), the Cluster's WAL archiver, the nightly
 * ScheduledBackup, and the barman-cloud command lines the drill runs.
 */
import { describe, expect, it } from 'vitest';
import { backupLayout, barmanCommands, barmanPluginName, objectStoreName, objectStoreSpec, type ObjectStoreSpecJson } from '../../charts-ts/data/object-store.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { renderAll } from '../support/render.ts';
import { cnpgGroup, type CnpgClusterJson } from './support/cnpg.ts';

const r = renderAll();
const envs = Object.values(r.config.environments);
const os = r.config.cluster.objectStorage;
/** The ObjectStore as rendered (and a field it must not have). */
type ObjectStoreJson = { spec: ObjectStoreSpecJson & { configuration: { serverName?: string } } };
const objectStore = (namespace: string) => r.getOf<ObjectStoreJson>('barmancloud.cnpg.io', 'ObjectStore', objectStoreName, namespace);

describe('ObjectStore (barmancloud.cnpg.io/v1)', () => {
  it.each(envs.map((e) => [e.name, e] as const))('%s: Contabo endpoint, its own path, credentials by reference', (_n, env) => {
    const store = objectStore(env.namespace);
    expect(store.apiVersion).toBe('barmancloud.cnpg.io/v1');
    const c = store.spec.configuration;
    expect(c.endpointURL).toBe(os.endpoint);
    expect(c.destinationPath).toBe(`s3://${os.bucket}/${r.config.cluster.data.backup.postgresPrefix}/${env.name}`);
    expect(c.s3Credentials).toEqual({
      accessKeyId: { name: os.credentialsSecret, key: 'ACCESS_KEY_ID' },
      secretAccessKey: { name: os.credentialsSecret, key: 'ACCESS_SECRET_KEY' },
    });
    // serverName belongs in the Cluster's plugin parameters, never in the ObjectStore.
    expect(c.serverName).toBeUndefined();
    expect(c.wal.compression).toBe(r.config.cluster.data.backup.walCompression);
    expect(c.data.compression).toBe(r.config.cluster.data.backup.dataCompression);
  });

  it('keeps 30 days by default, per-environment override wins', () => {
    expect(r.config.cluster.data.backup.retentionDays).toBe(30);
    expect(objectStore('lms-production').spec.retentionPolicy).toBe('30d');
    expect(objectStore('lms-staging').spec.retentionPolicy)
      .toBe(`${r.config.environments.staging.database.backup.retentionDays}d`);
  });

  it('sets the checksum env S3-compatible stores need (plugin-barman-cloud #393) and sidecar resources', () => {
    for (const store of r.findOf<ObjectStoreJson>('barmancloud.cnpg.io', 'ObjectStore')) {
      const sidecar = store.spec.instanceSidecarConfiguration;
      expect(sidecar.env).toEqual(expect.arrayContaining([
        { name: 'AWS_REQUEST_CHECKSUM_CALCULATION', value: 'when_required' },
        { name: 'AWS_RESPONSE_CHECKSUM_VALIDATION', value: 'when_required' },
      ]));
      expect(sidecar.resources).toEqual(r.config.cluster.data.backup.sidecar.resources);
    }
  });

  it('is rendered from exactly the spec the drill derives its command lines from', () => {
    for (const env of envs) expect(objectStore(env.namespace).spec).toEqual(objectStoreSpec(r.config, env));
  });

  it('keeps logical dumps and barman data apart: the lifecycle prefix covers every dump and no WAL', () => {
    const lifecyclePrefix = r.config.cluster.bootstrap.objectStorage.logicalDumpPrefix;
    for (const env of envs) {
      const l = backupLayout(r.config, env);
      expect(`${l.logicalPrefix}/`.startsWith(lifecyclePrefix)).toBe(true);
      expect(l.postgresPath.replace(`s3://${l.bucket}/`, '').startsWith(lifecyclePrefix)).toBe(false);
    }
    expect(() => renderAll({ cluster: { data: { backup: { postgresPrefix: lifecyclePrefix.replace(/\/$/, '') } } } }))
      .toThrow(/cluster\.data\.backup\.postgresPrefix: .* overlaps the logical dump prefix/);
  });

  it('keeps the lifecycle expiry behind the CronJob\'s prune', () => {
    expect(() => renderAll({ cluster: { bootstrap: { objectStorage: { logicalDumpExpireDays: 30 } } } }))
      .toThrow(/cluster\.bootstrap\.objectStorage\.logicalDumpExpireDays: 30 must be longer than cluster\.data\.logicalDump\.retentionDays \(30\)/);
  });
});

describe('WAL archiving and nightly base backups', () => {
  it.each(envs.map((e) => [e.name, e] as const))('%s: the Cluster archives WAL through the plugin under its server name', (_n, env) => {
    const c = r.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', names.database.cluster, env.namespace);
    expect(c.spec.plugins).toEqual([{
      name: barmanPluginName,
      isWALArchiver: true,
      parameters: { barmanObjectName: objectStoreName, serverName: env.database.backup.serverName },
    }]);
    // The in-tree barmanObjectStore is deprecated since CloudNativePG 1.26 and goes in 1.31.
    expect(c.spec.backup).toBeUndefined();
  });

  it.each(envs.map((e) => [e.name, e] as const))('%s: a ScheduledBackup with method plugin every night', (_n, env) => {
    const sb = r.getOf<{ spec: { schedule: string } }>(cnpgGroup, 'ScheduledBackup', `${names.database.cluster}-nightly`, env.namespace);
    expect(sb.spec).toMatchObject({
      cluster: { name: names.database.cluster },
      method: 'plugin',
      pluginConfiguration: { name: barmanPluginName },
      schedule: r.config.cluster.data.backup.schedule,
      immediate: true,
      backupOwnerReference: 'self',
    });
    // Six fields, seconds first, once a day.
    const [sec, min, hour, dom, mon, dow] = sb.spec.schedule.split(' ');
    expect([dom, mon, dow]).toEqual(['*', '*', '*']);
    expect([sec, min, hour].every((f: string) => /^\d+$/.test(f))).toBe(true);
  });

  it('rejects a five-field schedule with the expected form', () => {
    expect(() => renderAll({ cluster: { data: { backup: { schedule: '0 2 * * *' } } } }))
      .toThrow(/cluster\.data\.backup\.schedule: "0 2 \* \* \*" is not a six-field schedule \(seconds first\)/);
  });

  it('rejects an archive_timeout longer than the RPO', () => {
    expect(() => renderAll({ cluster: { data: { backup: { archiveTimeout: '10min' } } } }))
      .toThrow(/cluster\.data\.backup\.archiveTimeout: "10min" must be at most the RPO \(objectives\.rpoMinutes = 5\)/);
  });
});

describe('barman-cloud command lines (as plugin-barman-cloud v0.14.0 builds them)', () => {
  const env = r.config.environments.production;
  const spec = objectStoreSpec(r.config, env);
  const cmds = barmanCommands(spec, 'lms-db');
  const dest = spec.configuration.destinationPath;

  it('wal-archive: compression first, then endpoint, provider, destination, server', () => {
    expect(cmds.walArchive).toEqual(['--zstd', '--endpoint-url', os.endpoint, '--cloud-provider', 'aws-s3', dest, 'lms-db']);
  });
  it('backup: as postgres, named, data compression, immediate checkpoint and jobs', () => {
    expect(cmds.backup('b1')).toEqual(['--user', 'postgres', '--name', 'b1', '--gzip', '--immediate-checkpoint', '--jobs', '2', '--endpoint-url', os.endpoint, '--cloud-provider', 'aws-s3', dest, 'lms-db']);
  });
  it('restore and wal-restore read from the same place', () => {
    expect(cmds.restore('20260101T000000', '/var/lib/postgresql/data/pgdata'))
      .toEqual(['--cloud-provider', 'aws-s3', '--endpoint-url', os.endpoint, dest, 'lms-db', '20260101T000000', '/var/lib/postgresql/data/pgdata']);
    expect(cmds.walRestore).toEqual(['--endpoint-url', os.endpoint, '--cloud-provider', 'aws-s3', dest, 'lms-db']);
  });
  it('retention is the recovery window, and the sidecar env carries the checksum settings', () => {
    expect(cmds.retention).toEqual(['--endpoint-url', os.endpoint, '--cloud-provider', 'aws-s3', '--retention-policy', 'RECOVERY WINDOW OF 30 DAYS', dest, 'lms-db']);
    expect(cmds.env).toMatchObject({ AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required', AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required' });
  });
  it('follows a compression change in config', () => {
    const gz = renderAll({ cluster: { data: { backup: { walCompression: 'gzip', dataCompression: 'snappy' } } } });
    const c = barmanCommands(objectStoreSpec(gz.config, gz.config.environments.production), 'lms-db');
    expect(c.walArchive[0]).toBe('--gzip');
    expect(c.backup('x')).toContain('--snappy');
  });
});
