/**
 * Contabo Object Storage as the Barman Cloud plugin sees it: the bucket layout, the ObjectStore spec,
 * and the barman-cloud command lines the plugin derives from that spec. The DR drill runs the same
 * command lines (drill/), so the flags it tests cannot drift from what the cluster runs.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { ConfigError } from '../config/load.ts';
import type { Config, Environment } from '../config/schema.ts';
import { memoryBytes } from '../lib/quantity.ts';
import { ObjectStore } from '../imports/barman-objectstore-barmancloud.cnpg.io.ts';

export const barmanPluginName = 'barman-cloud.cloudnative-pg.io';
/** One ObjectStore per app namespace; WAL archiving, base backups and recovery all use it. */
export const objectStoreName = 'lms-db-backups';

/**
 * boto3 >= 1.36 computes CRC checksums on every request by default, which S3-compatible stores such
 * as Contabo reject; only send them where the API requires them.
 * https://github.com/cloudnative-pg/plugin-barman-cloud/issues/393
 */
export const s3CompatibilityEnv: ReadonlyArray<{ name: string; value: string }> = [
  { name: 'AWS_REQUEST_CHECKSUM_CALCULATION', value: 'when_required' },
  { name: 'AWS_RESPONSE_CHECKSUM_VALIDATION', value: 'when_required' },
];

/** Keys of the credentials Secret (cluster.objectStorage.credentialsSecret) in each app namespace. */
export const credentialKeys = { accessKeyId: 'ACCESS_KEY_ID', secretAccessKey: 'ACCESS_SECRET_KEY' } as const;

export interface BackupLayout {
  readonly bucket: string;
  readonly endpoint: string;
  readonly region: string;
  /** Barman destinationPath: base backups and WAL under `<serverName>/`. */
  readonly postgresPath: string;
  /** Key prefix of the encrypted logical dumps (no leading or trailing slash). */
  readonly logicalPrefix: string;
}

/**
 * Where an environment's backups live. The bootstrap's bucket lifecycle rule expires everything
 * under cluster.bootstrap.objectStorage.logicalDumpPrefix, i.e. the logical dumps of every
 * environment, and nothing of Barman's (it applies its own retention).
 */
export function backupLayout(config: Config, env: Pick<Environment, 'name'>): BackupLayout {
  const os = config.cluster.objectStorage;
  return {
    bucket: os.bucket,
    endpoint: os.endpoint,
    region: os.region,
    postgresPath: `s3://${os.bucket}/${config.cluster.data.backup.postgresPrefix}/${env.name}`,
    logicalPrefix: `${config.cluster.bootstrap.objectStorage.logicalDumpPrefix}${env.name}`,
  };
}

/** Rules between the data layer and the bucket lifecycle (bootstrap); ConfigError names the field. */
export function checkBucketLayout(config: Config): void {
  const dump = config.cluster.data.logicalDump;
  const boot = config.cluster.bootstrap.objectStorage;
  const pg = `${config.cluster.data.backup.postgresPrefix}/`;
  const problems: string[] = [];
  if (boot.logicalDumpExpireDays <= dump.retentionDays) {
    problems.push(
      `cluster.bootstrap.objectStorage.logicalDumpExpireDays: ${boot.logicalDumpExpireDays} must be longer than cluster.data.logicalDump.retentionDays (${dump.retentionDays}): ` +
      'the lifecycle rule is the backstop behind the CronJob\'s prune, not the retention itself',
    );
  }
  if (pg.startsWith(boot.logicalDumpPrefix) || boot.logicalDumpPrefix.startsWith(pg)) {
    problems.push(
      `cluster.data.backup.postgresPrefix: "${config.cluster.data.backup.postgresPrefix}" overlaps the logical dump prefix "${boot.logicalDumpPrefix}": ` +
      'the lifecycle rule would expire base backups and WAL; use separate prefixes',
    );
  }
  if (problems.length) throw new ConfigError(problems);
}

/** The JSON spec of the ObjectStore (barmancloud.cnpg.io/v1), as rendered. */
export interface ObjectStoreSpecJson {
  configuration: {
    destinationPath: string;
    endpointURL: string;
    s3Credentials: {
      accessKeyId: { name: string; key: string };
      secretAccessKey: { name: string; key: string };
    };
    wal: { compression: string; maxParallel: number };
    data: { compression: string; immediateCheckpoint: boolean; jobs: number };
  };
  retentionPolicy: string;
  instanceSidecarConfiguration: {
    env: { name: string; value: string }[];
    resources: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
    logLevel: string;
  };
}

/**
 * Memory of one barman-cloud-wal-restore (or -archive) process: Python with boto3 and the
 * decompressor, 58 MB resident measured for barman-cloud 3.19.1, plus the segment in flight.
 */
export const walProcessBytes = 80 * 2 ** 20;
/** Upper bound of wal.maxParallel: beyond it the 10 MB/s link, not process start-up, sets the pace. */
export const maxWalParallel = 8;

/**
 * wal.maxParallel: how many WAL segments the sidecar fetches at once during a restore (and archives
 * at once after a burst). Each is its own process, so the sidecar's memory limit decides: the
 * processes and the sidecar's own request stay within 75 % of the limit. Parallel fetch is what
 * takes the per-segment start-up (about a second of Python) off the RTO (charts-ts/data/rto.ts).
 */
export function walRestoreParallelism(config: Config): number {
  const sidecar = config.cluster.data.backup.sidecar.resources;
  const room = 0.75 * memoryBytes(sidecar.limits.memory) - memoryBytes(sidecar.requests.memory);
  return Math.max(1, Math.min(maxWalParallel, Math.floor(room / walProcessBytes)));
}

export function objectStoreSpec(config: Config, env: Environment): ObjectStoreSpecJson {
  const b = config.cluster.data.backup;
  const layout = backupLayout(config, env);
  const secret = config.cluster.objectStorage.credentialsSecret;
  return {
    configuration: {
      destinationPath: layout.postgresPath,
      endpointURL: layout.endpoint,
      s3Credentials: {
        accessKeyId: { name: secret, key: credentialKeys.accessKeyId },
        secretAccessKey: { name: secret, key: credentialKeys.secretAccessKey },
      },
      // Restore: this many segments fetched per restore_command call (plugin-barman-cloud prefetches
      // into its spool); archive: this many uploads at once after a burst. Sized by the sidecar's memory.
      wal: { compression: b.walCompression, maxParallel: walRestoreParallelism(config) },
      // Start a base backup at once instead of after the next spread checkpoint (up to
      // checkpoint_timeout away): on-demand backups before a risky change should not wait 5 min.
      data: { compression: b.dataCompression, immediateCheckpoint: true, jobs: 2 },
    },
    retentionPolicy: `${env.database.backup.retentionDays ?? b.retentionDays}d`,
    instanceSidecarConfiguration: {
      env: [...s3CompatibilityEnv],
      resources: b.sidecar.resources,
      logLevel: b.sidecar.logLevel,
    },
  };
}

export interface BarmanObjectStoreProps {
  readonly config: Config;
  readonly env: Environment;
}

export class BarmanObjectStore extends Construct {
  readonly name = objectStoreName;
  readonly spec: ObjectStoreSpecJson;

  constructor(scope: Construct, id: string, props: BarmanObjectStoreProps) {
    super(scope, id);
    this.spec = objectStoreSpec(props.config, props.env);
    // Rendered from the plain spec (the generated class would need every quantity wrapped): the
    // spec object is exactly what the drill derives its barman-cloud command lines from.
    new ApiObject(this, 'Resource', {
      ...ObjectStore.GVK,
      metadata: { name: objectStoreName, namespace: props.env.namespace },
      spec: this.spec,
    });
  }
}

// ---------------------------------------------------------------- barman-cloud command lines

/**
 * The barman-cloud command lines the plugin builds from an ObjectStore configuration. Mirrors
 * github.com/cloudnative-pg/barman-cloud pkg/archiver, pkg/backup, pkg/command and
 * plugin-barman-cloud v0.14.0 internal/cnpgi/restore (the versions the plugin release pins); the
 * unit test renders the ObjectStore and checks these lines, the drill runs them.
 */
export interface BarmanCommands {
  /** barman-cloud-wal-archive <args> <wal path> */
  walArchive: string[];
  /** barman-cloud-backup <args>; the sidecar adds the local connection (it runs next to postgres). */
  backup(backupName: string): string[];
  /** barman-cloud-restore <args> */
  restore(backupId: string, pgdata: string): string[];
  /** barman-cloud-wal-restore <args> <wal name> <destination> */
  walRestore: string[];
  /** barman-cloud-backup-delete <args> (retention, run by the sidecar every 30 min). */
  retention: string[];
  /** barman-cloud-backup-list <args> (the catalog the plugin reads, JSON). */
  list: string[];
  /** Environment besides the credentials: the sidecar's configured env. */
  env: Record<string, string>;
}

export function barmanCommands(spec: ObjectStoreSpecJson, serverName: string): BarmanCommands {
  const c = spec.configuration;
  const provider = ['--cloud-provider', 'aws-s3'];
  const endpoint = c.endpointURL ? ['--endpoint-url', c.endpointURL] : [];
  const target = [c.destinationPath, serverName];
  const windowMatch = /^([1-9][0-9]*)([dwm])$/.exec(spec.retentionPolicy);
  if (!windowMatch) throw new Error(`retentionPolicy "${spec.retentionPolicy}" is not <n>d, <n>w or <n>m`);
  const unit = { d: 'DAYS', w: 'WEEKS', m: 'MONTHS' }[windowMatch[2] as 'd' | 'w' | 'm'];
  return {
    walArchive: [...(c.wal.compression ? [`--${c.wal.compression}`] : []), ...endpoint, ...provider, ...target],
    backup: (backupName) => [
      '--user', 'postgres', '--name', backupName,
      ...(c.data.compression ? [`--${c.data.compression}`] : []),
      ...(c.data.immediateCheckpoint ? ['--immediate-checkpoint'] : []),
      ...(c.data.jobs ? ['--jobs', String(c.data.jobs)] : []),
      ...endpoint, ...provider, ...target,
    ],
    restore: (backupId, pgdata) => [...provider, ...endpoint, ...target, backupId, pgdata],
    walRestore: [...endpoint, ...provider, ...target],
    retention: [...endpoint, ...provider, '--retention-policy', `RECOVERY WINDOW OF ${windowMatch[1]} ${unit}`, ...target],
    list: ['--format', 'json', ...endpoint, ...provider, ...target],
    env: Object.fromEntries(spec.instanceSidecarConfiguration.env.map((e) => [e.name, e.value])),
  };
}
