/**
 * Config section: data layer (CloudNativePG, Barman Cloud backups, logical dumps, restore).
 * Cluster-wide settings (`cluster.data`) and the per-environment database (`environments.*.database`).
 *
 * Rules that need fields outside this section (HPA maximum x pool size vs max_connections, server
 * names vs the restore source) are checked when the charts are built and reported the same way
 * (`config: environments.production.database...: <value> <what to change>`).
 */
import { z } from 'zod';
import { memoryBytes } from '../../lib/quantity.ts';
import { image, resources, storageSize } from '../fields.ts';
import type { EnvironmentName } from '../fields.ts';

const days = (what: string) => z.number().int().min(1, `must be at least 1 day of ${what}`).max(3650, 'must be at most 3650 days');
/** Kubernetes CronJob schedule: five fields. */
const cron5 = z.string().regex(/^(\S+\s+){4}\S+$/, 'is not a five-field cron schedule; use "minute hour day month weekday" like "30 3 * * *"');
/** CloudNativePG ScheduledBackup schedule: six fields, seconds first (robfig/cron). */
const cron6 = z.string().regex(/^(\S+\s+){5}\S+$/, 'is not a six-field schedule (seconds first); use "0 0 2 * * *" for 02:00 every day');
/** age X25519 recipient (public key): Bech32 "age1" + 58 characters. */
const ageRecipient = z.string().regex(/^age1[02-9ac-hj-np-z]{58}$/, 'is not an age recipient; use the public key printed by `age-keygen` (age1 + 58 characters)');
/** Server name: the directory of one cluster's base backups and WAL inside the object store. */
const serverName = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'is not a server name; use lower-case letters, digits and "-", like lms-db or lms-db-r1');
/** PostgreSQL interval for archive_timeout. */
const pgSeconds = z.string().regex(/^\d+(s|min)$/, 'is not a PostgreSQL interval; use seconds or minutes like "60s" or "5min"');

export const walCompressions = ['bzip2', 'gzip', 'lz4', 'snappy', 'xz', 'zstd'] as const;
export const dataCompressions = ['bzip2', 'gzip', 'lz4', 'snappy'] as const;

// ---------------------------------------------------------------- cluster-wide

export const DataSettings = z.object({
  postgres: z.object({
    /** PostgreSQL major version; must match the image tag (a major upgrade is a deliberate migration). */
    majorVersion: z.number().int().min(13, 'must be a supported PostgreSQL major (13-18)').max(18, 'must be a supported PostgreSQL major (13-18)'),
    /** CloudNativePG operand image, from the signed image catalog (tag + digest). */
    image,
  }).strict().refine((p) => p.image.tag.startsWith(`${p.majorVersion}.`), {
    message: 'image tag must start with the major version (e.g. majorVersion 18 -> tag "18.6-...")', path: ['image', 'tag'],
  }),
  /** PgBouncer image for a Pooler (only used when an environment needs one). */
  pgbouncerImage: image,
  backup: z.object({
    /**
     * Path inside the bucket for base backups and WAL: `<postgresPrefix>/<env>/<serverName>/`. The
     * logical dumps live under cluster.bootstrap.objectStorage.logicalDumpPrefix, whose lifecycle
     * rule must never reach this path.
     */
    postgresPrefix: z.string().regex(/^[a-z0-9][a-z0-9-]*(\/[a-z0-9][a-z0-9-]*)*$/, 'is not a bucket path; use lower-case segments like "postgres" or "backups/postgres"'),
    walCompression: z.enum(walCompressions, { error: `must be one of ${walCompressions.join(', ')}` }),
    dataCompression: z.enum(dataCompressions, { error: `must be one of ${dataCompressions.join(', ')}` }),
    /** Recovery window for base backups + WAL (Barman retention policy "RECOVERY WINDOW OF n DAYS"). */
    retentionDays: days('point-in-time recovery'),
    /** archive_timeout: the longest a committed transaction waits before its WAL segment is shipped (the RPO). */
    archiveTimeout: pgSeconds,
    /** Nightly base backup (ScheduledBackup, seconds first). */
    schedule: cron6,
    /** The Barman Cloud sidecar next to each PostgreSQL instance (WAL archiving, backups, restore). */
    sidecar: z.object({
      resources,
      logLevel: z.enum(['error', 'warning', 'info', 'debug', 'trace'], { error: 'must be error, warning, info, debug or trace' }),
    }).strict(),
  }).strict(),
  logicalDump: z.object({
    schedule: cron5,
    /** IANA zone the schedule is read in. */
    timeZone: z.string().regex(/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/, 'is not an IANA time zone; use "Etc/UTC" or "Europe/Sofia"'),
    /**
     * age public keys the dump is encrypted to (client-side, before upload). The private keys live
     * offline with the operators (password manager / hardware key), never in the cluster.
     */
    ageRecipients: z.array(ageRecipient).min(1, 'must list at least one age recipient'),
    /** Dumps older than this are pruned after each successful run (the bucket lifecycle is the backstop). */
    retentionDays: days('logical dumps'),
    /** Deadline for one run (dump + encrypt + upload). */
    activeDeadlineSeconds: z.number().int().min(300, 'must be at least 300 seconds').max(6 * 3600, 'must be at most 21600 seconds (6 h)'),
    /** Scratch space for the dump and its encrypted copy (emptyDir size limit). */
    scratchSize: storageSize,
    images: z.object({
      /** age (filippo.io/age), built by the images workflow from the pinned Go module. */
      age: image,
      /** rclone, the S3 client that uploads and prunes. */
      rclone: image,
    }).strict(),
    resources: z.object({ dump: resources, encrypt: resources, upload: resources }).strict(),
  }).strict(),
  /**
   * The side-by-side recovery cluster (`npm run restore -- <env> --mode side-by-side`): it restores,
   * replays WAL and serves a few inspection and copy-back sessions, not the app, so it is sized to fit
   * next to the live database on the node (docs/runbooks/disaster-recovery.md, "Capacity during a
   * restore"). During the restore CloudNativePG raises max_connections (and the other hot-standby
   * settings) to the backup's pg_controldata values by itself.
   */
  recoveryCluster: z.object({
    resources,
    maxConnections: z.number().int().min(10, 'must be at least 10').max(1000, 'must be at most 1000'),
  }).strict(),
  /** Recovery objectives (docs/runbooks/disaster-recovery.md); the drill reports against them. */
  objectives: z.object({
    /** Whole VPS lost: host, platform and data back (charts-ts/data/rto.ts, vpsRto). */
    rtoMinutes: z.number().int().min(1),
    /** The production database restored from the object store (charts-ts/data/rto.ts, databaseRto). */
    databaseRtoMinutes: z.number().int().min(1),
    rpoMinutes: z.number().int().min(1),
    /** Contabo Object Storage's default bandwidth limit, used to project the RTO. */
    objectStorageBandwidthMBps: z.number().min(0.1, 'must be a bandwidth in MB/s'),
  }).strict(),
}).strict().superRefine((d, ctx) => {
  const seconds = Number(d.backup.archiveTimeout.replace(/\D+$/, '')) * (d.backup.archiveTimeout.endsWith('min') ? 60 : 1);
  if (seconds > d.objectives.rpoMinutes * 60) {
    ctx.addIssue({
      code: 'custom', path: ['backup', 'archiveTimeout'], input: d.backup.archiveTimeout,
      message: `must be at most the RPO (objectives.rpoMinutes = ${d.objectives.rpoMinutes}): a committed transaction can wait this long before its WAL leaves the node`,
    });
  }
});
export type DataSettings = z.infer<typeof DataSettings>;

/** Contabo Object Storage, eu2: https://contabo.com/en/object-storage/ (S3 API, 80 Mbit/s per bucket by default). */
export const dataValues: z.input<typeof DataSettings> = {
  postgres: {
    majorVersion: 18,
    // Source: https://github.com/cloudnative-pg/artifacts/blob/main/image-catalogs/catalog-standard-trixie.yaml
    // (signed ClusterImageCatalog, 2026-08-17). CloudNativePG 1.30.0 defaults to PostgreSQL 18.
    // renovate: datasource=docker depName=ghcr.io/cloudnative-pg/postgresql
    image: {
      repository: 'ghcr.io/cloudnative-pg/postgresql',
      tag: '18.6-202608170814-standard-trixie',
      digest: 'sha256:771f9eab5225587af259d84680cc69a5b6e374ac32bb24effafde1f3368a1241',
    },
  },
  // Source: https://github.com/cloudnative-pg/cloudnative-pg/blob/v1.30.0/pkg/versions/versions.go
  // (DefaultPgbouncerImage 1.25.1); image https://github.com/cloudnative-pg/pgbouncer-containers/pkgs/container/pgbouncer.
  // renovate: datasource=docker depName=ghcr.io/cloudnative-pg/pgbouncer
  pgbouncerImage: {
    repository: 'ghcr.io/cloudnative-pg/pgbouncer',
    tag: '1.25.1',
    digest: 'sha256:e6ddfe22d845e603825e235dd8334b21ecd125abea2a2172478f556b8dee2bb8',
  },
  backup: {
    postgresPrefix: 'postgres',
    // zstd keeps up with bursts of WAL at little CPU; gzip for the nightly base backup (the plugin
    // offers no zstd for data), whose size decides restore time over a 10 MB/s link.
    walCompression: 'zstd',
    dataCompression: 'gzip',
    retentionDays: 30,
    archiveTimeout: '5min',
    schedule: '0 0 2 * * *',
    sidecar: {
      // Idle between WAL segments; the limit covers a base backup's compression and upload buffers.
      resources: { requests: { cpu: '25m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } },
      logLevel: 'info',
    },
  },
  logicalDump: {
    schedule: '30 3 * * *',
    timeZone: 'Etc/UTC',
    // The operators' dump key: replace with your own before go-live (private half offline; see
    // docs/runbooks/disaster-recovery.md "Dump encryption keys").
    ageRecipients: ['age1cekhd8ycg2wf6g74pgw2ke8h7nhqjcdphamwmngvhjgfefsk6ursm2a4cq'],
    retentionDays: 30,
    activeDeadlineSeconds: 2 * 3600,
    scratchSize: '20Gi',
    images: {
      // Built from code, reproducibly, by images/age/image.ts (`npm run image:age`): the Go module
      // filippo.io/age at this tag, statically linked, on an empty base. The digest is that build's
      // manifest digest; the age-image workflow proves it and pushes exactly those bytes. After a
      // tag bump, `npm run image:age -- --pin` updates the digest.
      age: {
        repository: 'ghcr.io/lms-platform/age',
        // renovate: datasource=go depName=filippo.io/age
        tag: 'v1.3.2',
        digest: 'sha256:c3d5dd7c30c2e3183be4bf2a9c00123e803074ef4c1a36b6db084c261df5d012',
      },
      // Source: https://hub.docker.com/r/rclone/rclone/tags (1.75.1, MIT).
      // renovate: datasource=docker depName=docker.io/rclone/rclone
      rclone: {
        repository: 'docker.io/rclone/rclone',
        tag: '1.75.1',
        digest: 'sha256:45401ad7410db1d67ffdb58e19059ad20b0d8e0285a60e38bbec55cc1019c7a5',
      },
    },
    resources: {
      dump: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
      encrypt: { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '1', memory: '128Mi' } },
      upload: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
    },
  },
  recoveryCluster: {
    // Staging's database size: enough to replay WAL and answer the comparison and \copy queries of
    // procedure A; a 2 Gi copy of production's would not fit next to the live one on the node.
    resources: { requests: { cpu: '100m', memory: '512Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    // Operators comparing and copying rows, the exporter, the operator: 20 fit 512Mi (postgres-parameters.ts).
    maxConnections: 20,
  },
  objectives: { rtoMinutes: 60, databaseRtoMinutes: 30, rpoMinutes: 5, objectStorageBandwidthMBps: 10 },
};

// ---------------------------------------------------------------- per environment

export const poolerModes = ['auto', 'always', 'never'] as const;

export const targetTime = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)), {
  message: 'is not an RFC 3339 time with a zone; use "2026-09-01T10:15:00Z" (a time without a zone is ambiguous)',
});

export const DatabaseEnvironment = z.object({
  /**
   * PostgreSQL instances. 1 on the single node (default). 2 adds a hot standby on the same node: a
   * crashed or evicted primary fails over in seconds and minor upgrades switch over instead of
   * restarting, but memory and disk double and it does not survive losing the node or its disk.
   */
  instances: z.number().int().min(1, 'must be 1 or 2 (the cluster is one node)').max(2, 'must be 1 or 2 (the cluster is one node)'),
  /** StorageClass of the data volume; defaults to cluster.storageClass. */
  storageClass: z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/, 'is not a StorageClass name').optional(),
  /** PostgreSQL volume size (PGDATA and pg_wal). */
  storageSize,
  /** Expected size of the data (what a restore moves), for the RTO projection; at most storageSize. */
  expectedDataSize: storageSize,
  /** Expected WAL written per day: at worst a restore replays one day of it (nightly base backups). */
  expectedWalPerDay: storageSize,
  /** The postgres container. Memory is the budget the PostgreSQL parameters are sized to. */
  resources,
  maxConnections: z.number().int().min(20, 'must be at least 20').max(1000, 'must be at most 1000'),
  /**
   * PgBouncer in front of PostgreSQL: `auto` adds it only when the API at its worst case (HPA max
   * plus canary surge, x apps.api.database.poolSize) does not fit max_connections; `always`/`never`
   * force it (never + no fit is a config error).
   */
  pooler: z.object({
    mode: z.enum(poolerModes, { error: 'must be auto, always or never' }),
    instances: z.number().int().min(1).max(3),
    /** Server connections PgBouncer keeps per database/user. */
    defaultPoolSize: z.number().int().min(1).max(500),
    resources,
  }).strict(),
  backup: z.object({
    /**
     * Where this cluster archives WAL and base backups (`<path>/<serverName>/`). After an in-place
     * restore it must be a new name (lms-db-r1, lms-db-r2 ...), so the old backups stay untouched.
     */
    serverName,
    /** Overrides cluster.data.backup.retentionDays. */
    retentionDays: days('point-in-time recovery').optional(),
  }).strict(),
  /**
   * Restore as code, written by `npm run restore` (and removed by its `--finish`). It makes a Cluster
   * that bootstraps from the object store:
   *  - `side-by-side`: a second cluster `lms-db-recovery` next to the live one (bad data: inspect,
   *    copy rows back, then remove this block);
   *  - `in-place`: the main `lms-db` itself bootstraps from the backups (lost VPS or volume: the
   *    Cluster does not exist yet; the command's steps delete it first otherwise).
   */
  recovery: z.object({
    mode: z.enum(['side-by-side', 'in-place'], { error: 'must be side-by-side or in-place' }),
    /** serverName whose backups and WAL are restored. */
    sourceServerName: serverName,
    /** Omit to replay all archived WAL (latest point); set to stop just before this time. */
    targetTime: targetTime.optional(),
    /** side-by-side only: where the recovery cluster archives its own WAL (must be new). */
    serverName: serverName.optional(),
    /**
     * side-by-side only: the recovery cluster's volume. Default: expectedDataSize + 10 % + 2Gi of
     * WAL during replay (recoveryVolumeSize in charts-ts/data/recovery.ts); it must hold the data.
     */
    storageSize: storageSize.optional(),
  }).strict().optional(),
}).strict().superRefine((d, ctx) => {
  if (memoryBytes(d.expectedDataSize) > memoryBytes(d.storageSize)) {
    ctx.addIssue({ code: 'custom', path: ['expectedDataSize'], input: d.expectedDataSize, message: `must fit the volume (storageSize ${d.storageSize}); raise storageSize first` });
  }
});
export type DatabaseEnvironment = z.infer<typeof DatabaseEnvironment>;

export const databaseValues: Record<EnvironmentName, z.input<typeof DatabaseEnvironment>> = {
  staging: {
    instances: 1,
    storageSize: '5Gi',
    expectedDataSize: '1Gi',
    expectedWalPerDay: '256Mi',
    resources: { requests: { cpu: '50m', memory: '512Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    maxConnections: 40,
    pooler: {
      mode: 'auto',
      instances: 1,
      defaultPoolSize: 10,
      resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
    },
    backup: { serverName: 'lms-db', retentionDays: 7 },
  },
  production: {
    instances: 1,
    storageSize: '30Gi',
    expectedDataSize: '20Gi',
    expectedWalPerDay: '2Gi',
    // Memory requests = limits: the database is never the pod the kernel picks to reclaim from.
    resources: { requests: { cpu: '300m', memory: '2Gi' }, limits: { cpu: '2', memory: '2Gi' } },
    maxConnections: 100,
    pooler: {
      mode: 'auto',
      // Two, so a PgBouncer restart or upgrade never cuts the API off the database.
      instances: 2,
      defaultPoolSize: 20,
      resources: { requests: { cpu: '25m', memory: '32Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    },
    backup: { serverName: 'lms-db' },
  },
};
