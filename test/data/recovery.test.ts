/**
 * Restore as code: `environments.<env>.database.recovery` renders a Cluster that bootstraps from the
 * object store, to the latest WAL or a target time, under a server name that cannot overwrite the
 * backups it restores from.
 */
import { describe, expect, it } from 'vitest';
import { barmanPluginName, objectStoreName } from '../../charts-ts/data/object-store.ts';
import { recoverySourceName } from '../../charts-ts/data/postgres-cluster.ts';
import { nextServerName, postgresTargetTime, recoveryClusterName } from '../../charts-ts/data/recovery.ts';
import { footprintAnnotation } from '../../charts-ts/lib/footprint.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { renderAll } from '../support/render.ts';
import { cnpgGroup, type CnpgClusterJson } from './support/cnpg.ts';

const recovery = (env: 'staging' | 'production', database: Record<string, unknown>) => ({ environments: { [env]: { database } } });

describe('restore as code', () => {
  it('renders no recovery cluster by default', () => {
    const r = renderAll();
    expect(r.findOf<CnpgClusterJson>(cnpgGroup, 'Cluster').filter((c) => c.spec.bootstrap.recovery)).toHaveLength(0);
    expect(r.find('Cluster', { name: recoveryClusterName })).toHaveLength(0);
  });

  it('side-by-side: a second cluster restores to the target time and archives under its own name', () => {
    const r = renderAll(recovery('production', {
      recovery: { mode: 'side-by-side', sourceServerName: 'lms-db', targetTime: '2026-09-01T10:15:00Z', serverName: 'lms-db-recovery-1' },
    }));
    const live = r.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', names.database.cluster, 'lms-production');
    expect(live.spec.bootstrap.initdb).toBeDefined();
    const c = r.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', recoveryClusterName, 'lms-production');
    expect(c.spec.bootstrap).toEqual({
      recovery: {
        source: recoverySourceName, database: names.database.name, owner: names.database.owner,
        recoveryTarget: { targetTime: '2026-09-01T10:15:00Z' },
      },
    });
    expect(c.spec.externalClusters).toEqual([{
      name: recoverySourceName,
      plugin: { name: barmanPluginName, parameters: { barmanObjectName: objectStoreName, serverName: 'lms-db' } },
    }]);
    expect(c.spec.plugins![0]).toMatchObject({ isWALArchiver: true, parameters: { serverName: 'lms-db-recovery-1' } });
    expect(c.spec.instances).toBe(1);
    // Sized for what it does, not like the live cluster: it must fit next to it (test/data/restore.test.ts).
    expect(c.spec.storage.size).toBe('24Gi');
    expect(c.spec.resources).toEqual(r.config.cluster.data.recoveryCluster.resources);
    expect(c.spec.postgresql.parameters.max_connections).toBe(String(r.config.cluster.data.recoveryCluster.maxConnections));
    expect(c.metadata.annotations![footprintAnnotation]).toBeTruthy();
    expect(r.get('PodMonitor', recoveryClusterName, 'lms-production')).toBeTruthy();
  });

  it('in-place: lms-db itself bootstraps from the backups, to the latest point when no target is set', () => {
    const r = renderAll(recovery('production', { backup: { serverName: 'lms-db-r1' }, recovery: { mode: 'in-place', sourceServerName: 'lms-db' } }));
    const c = r.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', names.database.cluster, 'lms-production');
    expect(c.spec.bootstrap.initdb).toBeUndefined();
    expect(c.spec.bootstrap.recovery!.recoveryTarget).toBeUndefined();
    expect(c.spec.externalClusters![0].plugin.parameters.serverName).toBe('lms-db');
    expect(c.spec.plugins![0].parameters.serverName).toBe('lms-db-r1');
    expect(r.find('Cluster', { name: recoveryClusterName })).toHaveLength(0);
    // The app keeps its names: -rw and -app come from the unchanged cluster name and owner.
    expect(c.metadata.name).toBe(names.database.cluster);
    expect(c.spec.bootstrap.recovery!.owner).toBe(names.database.owner);
  });

  it('refuses an in-place restore that would archive into the backups it restores from', () => {
    expect(() => renderAll(recovery('production', { recovery: { mode: 'in-place', sourceServerName: 'lms-db' } })))
      .toThrow(/environments\.production\.database\.backup\.serverName: "lms-db" is the restore source .* set backup\.serverName to e\.g\. "lms-db-r1"/);
  });

  it('refuses a side-by-side cluster without its own, new server name', () => {
    expect(() => renderAll(recovery('staging', { recovery: { mode: 'side-by-side', sourceServerName: 'lms-db' } })))
      .toThrow(/environments\.staging\.database\.recovery\.serverName: missing/);
    expect(() => renderAll(recovery('staging', { recovery: { mode: 'side-by-side', sourceServerName: 'lms-db', serverName: 'lms-db' } })))
      .toThrow(/recovery\.serverName: "lms-db" is already recovery\.sourceServerName/);
  });

  it('sizes the recovery volume for the data and the WAL being replayed, never smaller than the data', () => {
    const r = renderAll(recovery('staging', { recovery: { mode: 'side-by-side', sourceServerName: 'lms-db', serverName: 'x-1', storageSize: '2Gi' } }));
    expect(r.getOf<CnpgClusterJson>(cnpgGroup, 'Cluster', recoveryClusterName, 'lms-staging').spec.storage.size).toBe('2Gi');
    expect(() => renderAll(recovery('production', { recovery: { mode: 'side-by-side', sourceServerName: 'lms-db', serverName: 'x-1', storageSize: '10Gi' } })))
      .toThrow(/environments\.production\.database\.recovery\.storageSize: "10Gi" is smaller than expectedDataSize \(20Gi\).*default 24Gi/);
    expect(() => renderAll(recovery('production', { backup: { serverName: 'lms-db-r1' }, recovery: { mode: 'in-place', sourceServerName: 'lms-db', storageSize: '24Gi' } })))
      .toThrow(/recovery\.storageSize: "24Gi" applies to side-by-side only/);
  });

  it('requires a target time with a zone', () => {
    expect(() => renderAll(recovery('staging', {
      recovery: { mode: 'side-by-side', sourceServerName: 'lms-db', serverName: 'x-1', targetTime: '2026-09-01 10:15:00' },
    }))).toThrow(/recovery\.targetTime: "2026-09-01 10:15:00" is not an RFC 3339 time with a zone/);
  });

  it('turns the target into the recovery_target_time CloudNativePG writes', () => {
    expect(postgresTargetTime('2026-09-01T10:15:00Z')).toBe('2026-09-01 10:15:00.000000+00:00');
    expect(postgresTargetTime('2026-09-01T10:15:00.123456789+03:00')).toBe('2026-09-01 10:15:00.123456+03:00');
  });

  it('numbers server-name generations', () => {
    expect(nextServerName('lms-db')).toBe('lms-db-r1');
    expect(nextServerName('lms-db-r1')).toBe('lms-db-r2');
    expect(nextServerName('lms-db-r9')).toBe('lms-db-r10');
  });
});
