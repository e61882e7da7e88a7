/**
 * Restore as code: what `environments.<env>.database.recovery` turns into, and the rules that keep a
 * restore from ever writing into the backups it restores from.
 *
 *  - side-by-side: an extra Cluster `lms-db-recovery` bootstraps from `sourceServerName` (to
 *    `targetTime` or the latest WAL) and archives under its own new `serverName`. The live cluster
 *    is untouched.
 *  - in-place: the main Cluster `lms-db` bootstraps from `sourceServerName`; it keeps archiving
 *    under `backup.serverName`, which therefore must be a new name.
 */
import { ConfigError } from '../config/load.ts';
import { environmentNames, type Config, type Environment } from '../config/schema.ts';
import { names } from '../lib/names.ts';
import { GiB, memoryBytes } from '../lib/quantity.ts';

export const recoveryClusterName = `${names.database.cluster}-recovery`;

export interface RecoveryPlan {
  readonly mode: 'side-by-side' | 'in-place';
  /** The Cluster that bootstraps from the object store. */
  readonly clusterName: string;
  readonly sourceServerName: string;
  /** Where the restored cluster archives its own WAL. */
  readonly archiveServerName: string;
  readonly targetTime?: string;
  /** side-by-side: the recovery cluster's volume (in-place: the live cluster's storageSize). */
  readonly storageSize: string;
}

/**
 * The volume a side-by-side recovery cluster needs: the data as restored (expectedDataSize, the
 * figure the RTO projection uses, + 10 % for growth since it was last set) and pg_wal during replay
 * (restored segments are recycled at each restartpoint, every max_wal_size = 1GB: 2Gi covers two
 * cycles), rounded up to whole Gi. Production: 20Gi -> 24Gi, so 30 + 24 + Redis 2 fits the 60Gi
 * quota where a second 30Gi volume did not.
 */
export function recoveryVolumeSize(env: Environment): string {
  const bytes = memoryBytes(env.database.expectedDataSize) * 1.1 + 2 * GiB;
  return `${Math.ceil(bytes / GiB)}Gi`;
}

/**
 * While a side-by-side recovery cluster exists, the Flux layers of the apps are suspended (the steps
 * of `npm run restore`, until `--finish` has removed it): no release starts, so no canary pod or
 * migration Job runs, and the capacity budget and the quotas count the recovery cluster in their
 * place. An in-place restore adds no pods (and on a new server the apps layers are not suspended),
 * so it is counted as usual.
 */
export const releasesFrozen = (config: Config): boolean =>
  environmentNames.some((n) => config.environments[n].database.recovery?.mode === 'side-by-side');

export function recoveryPlan(env: Environment): RecoveryPlan | undefined {
  const r = env.database.recovery;
  if (!r) return undefined;
  const at = `environments.${env.name}.database`;
  const live = env.database.backup.serverName;
  const problems: string[] = [];
  let archiveServerName: string;
  if (r.mode === 'in-place') {
    if (r.serverName !== undefined) {
      problems.push(`${at}.recovery.serverName: "${r.serverName}" applies to side-by-side only; an in-place restore archives under backup.serverName`);
    }
    if (live === r.sourceServerName) {
      problems.push(
        `${at}.backup.serverName: "${live}" is the restore source (recovery.sourceServerName); a restored cluster must archive under a new name ` +
        `so it cannot overwrite the backups it restores from: set backup.serverName to e.g. "${nextServerName(r.sourceServerName)}"`,
      );
    }
    archiveServerName = live;
    if (r.storageSize !== undefined) {
      problems.push(`${at}.recovery.storageSize: "${r.storageSize}" applies to side-by-side only; an in-place restore uses storageSize`);
    }
  } else {
    if (r.storageSize !== undefined && memoryBytes(r.storageSize) < memoryBytes(env.database.expectedDataSize)) {
      problems.push(`${at}.recovery.storageSize: "${r.storageSize}" is smaller than expectedDataSize (${env.database.expectedDataSize}); the restored data would not fit: leave it out (default ${recoveryVolumeSize(env)})`);
    }
    if (r.serverName === undefined) {
      problems.push(`${at}.recovery.serverName: missing; a side-by-side recovery cluster archives under its own new name, e.g. "${recoveryClusterName}-1"`);
      archiveServerName = '';
    } else {
      archiveServerName = r.serverName;
      for (const [field, taken] of [['recovery.sourceServerName', r.sourceServerName], ['backup.serverName', live]] as const) {
        if (r.serverName === taken) {
          problems.push(
            `${at}.recovery.serverName: "${r.serverName}" is already ${field}; the recovery cluster must archive under a new name ` +
            `so neither the source backups nor the live cluster's archive are written to (e.g. "${recoveryClusterName}-1")`,
          );
        }
      }
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    mode: r.mode,
    clusterName: r.mode === 'in-place' ? names.database.cluster : recoveryClusterName,
    sourceServerName: r.sourceServerName,
    archiveServerName,
    targetTime: r.targetTime,
    storageSize: r.mode === 'in-place' ? env.database.storageSize : r.storageSize ?? recoveryVolumeSize(env),
  };
}

/** lms-db -> lms-db-r1, lms-db-r1 -> lms-db-r2. */
export function nextServerName(current: string): string {
  const m = /^(.*)-r(\d+)$/.exec(current);
  return m ? `${m[1]}-r${Number(m[2]) + 1}` : `${current}-r1`;
}

/**
 * The recovery_target_time CloudNativePG writes for an RFC 3339 `targetTime`
 * (machinery pkg/postgres/time ConvertToPostgresFormat): "2026-09-01 10:15:00.000000+00:00".
 */
export function postgresTargetTime(rfc3339: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(rfc3339);
  if (!m) throw new Error(`"${rfc3339}" is not an RFC 3339 time with a zone`);
  const micros = (m[3] ?? '').padEnd(6, '0').slice(0, 6);
  return `${m[1]} ${m[2]}.${micros}${m[4] === 'Z' ? '+00:00' : m[4]}`;
}
