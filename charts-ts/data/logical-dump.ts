/**
 * The daily logical dump: a second, independent backup path (a portable `pg_dump -Fc` file that
 * restores one table or the whole database into any PostgreSQL of the same or a newer major).
 *
 * One Job pod, three containers in sequence, each from a pinned upstream image with one job:
 *   1. dump    (CloudNativePG PostgreSQL image, same major as the server): pg_dump -Fc, then
 *               pg_restore --list to prove the archive is readable;
 *   2. encrypt (age): client-side encryption to the operators' age recipients, so what leaves the
 *               node is ciphertext whatever the storage provider does (GDPR, data at rest);
 *   3. upload  (rclone): deletes the plaintext, uploads under the environment's logical prefix,
 *               checks the stored size, then prunes dumps older than the retention.
 *
 * The steps are data (`logicalDumpSteps`) so the DR drill runs exactly these commands against a
 * real PostgreSQL and S3 server. Alerting reads kube-state-metrics (see ./signals.ts).
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { Config, Environment, Image, Resources } from '../config/schema.ts';
import { imageRef } from '../config/schema.ts';
import { names } from '../lib/names.ts';
import { backupLayout, credentialKeys } from './object-store.ts';

/** Name of the CronJob in each app namespace (observability alerts on it). */
export const logicalDumpName = `${names.database.cluster}-dump`;
/** Object name: `lms-<env>-<UTC stamp>.dump.age`; the prune only touches this pattern. */
export const dumpObjectPattern = '*.dump.age';
/** A run missed by more than this (node down) waits for the next day instead of piling up. */
export const logicalDumpStartingDeadlineSeconds = 3600;
/** Unprivileged UID/GID the three containers run as (none of the tools needs a passwd entry). */
export const dumpRunAsUser = 65532;

/** A container's environment: literal values, or a key of a Secret. */
export type StepEnv = Record<string, string | { secret: string; key: string }>;

export interface DumpStep {
  readonly name: 'dump' | 'encrypt' | 'upload';
  readonly image: Image;
  /** argv; the shell steps are `[shell, -c, script]`. */
  readonly command: string[];
  readonly env: StepEnv;
  readonly resources: Resources;
}

export interface DumpPaths {
  /** Scratch directory shared by the steps (an emptyDir in the pod). */
  readonly work: string;
  /** $HOME / $TMPDIR for tools that want one (an emptyDir; the root filesystem is read-only). */
  readonly home: string;
  /** Directory with the cluster CA (`ca.crt`), to verify the server certificate. */
  readonly caDir: string;
}

export const podPaths: DumpPaths = { work: '/work', home: '/tmp', caDir: '/etc/lms-db-ca' };

/** The rclone remote name used in the connection-string env (RCLONE_CONFIG_<NAME>_*). */
const remote = 'backups';

const dumpScript = `set -euo pipefail
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
pg_dump --format=custom --no-password --file="$WORK/lms.dump"
# An archive pg_restore cannot read is not a backup: fail now, not on the day of the restore.
pg_restore --list "$WORK/lms.dump" > "$WORK/lms.dump.toc"
printf '%s\\n' "$stamp" > "$WORK/stamp"
echo "dump: $(stat -c %s "$WORK/lms.dump") bytes, $(grep -c ' TABLE DATA ' "$WORK/lms.dump.toc" || true) tables, stamp $stamp"
`;

const uploadScript = `set -eu
# The plaintext dump never leaves the pod, and is gone before anything is sent.
rm -f "$WORK/lms.dump" "$WORK/lms.dump.toc"
stamp="$(cat "$WORK/stamp")"
object="$DUMP_NAME_PREFIX-$stamp.dump.age"
target="${remote}:$BUCKET/$PREFIX"
rclone copyto "$WORK/lms.dump.age" "$target/$object"
local_size="$(stat -c %s "$WORK/lms.dump.age")"
remote_size="$(rclone lsf --format s "$target/$object")"
if [ "$remote_size" != "$local_size" ]; then
  echo "upload: $object is $remote_size bytes in the bucket, $local_size here" >&2
  exit 1
fi
# Prune only after this upload succeeded, so the newest dump always survives a run of failures.
rclone delete "$target" --min-age "\${RETENTION_DAYS}d" --include '${dumpObjectPattern}'
echo "upload: $object ($local_size bytes); $(rclone lsf "$target" --include '${dumpObjectPattern}' | wc -l) dumps kept"
`;

/** The three steps, with paths for the pod (default) or for a local run (the drill). */
export function logicalDumpSteps(config: Config, env: Environment, paths: DumpPaths = podPaths): DumpStep[] {
  const dump = config.cluster.data.logicalDump;
  const layout = backupLayout(config, env);
  const creds = config.cluster.objectStorage.credentialsSecret;
  // With a standby, dump from it and leave the primary alone.
  const host = env.database.instances > 1 ? `${names.database.cluster}-ro` : names.database.rwService;
  return [
    {
      name: 'dump',
      image: config.cluster.data.postgres.image,
      command: ['bash', '-c', dumpScript],
      env: {
        WORK: paths.work,
        HOME: paths.home,
        PGHOST: host,
        PGPORT: '5432',
        PGDATABASE: { secret: names.database.appSecret, key: 'dbname' },
        PGUSER: { secret: names.database.appSecret, key: 'username' },
        PGPASSWORD: { secret: names.database.appSecret, key: 'password' },
        // TLS to the server, verified against the cluster's CA (the -rw/-ro names are in its cert).
        PGSSLMODE: 'verify-full',
        PGSSLROOTCERT: `${paths.caDir}/ca.crt`,
        PGCONNECT_TIMEOUT: '30',
      },
      resources: dump.resources.dump,
    },
    {
      name: 'encrypt',
      image: dump.images.age,
      command: [
        'age', '--encrypt',
        ...dump.ageRecipients.flatMap((r) => ['--recipient', r]),
        '--output', `${paths.work}/lms.dump.age`, `${paths.work}/lms.dump`,
      ],
      env: {},
      resources: dump.resources.encrypt,
    },
    {
      name: 'upload',
      image: dump.images.rclone,
      command: ['sh', '-c', uploadScript],
      env: {
        WORK: paths.work,
        HOME: paths.home,
        BUCKET: layout.bucket,
        PREFIX: layout.logicalPrefix,
        DUMP_NAME_PREFIX: `lms-${env.name}`,
        RETENTION_DAYS: String(dump.retentionDays),
        [`RCLONE_CONFIG_${remote.toUpperCase()}_TYPE`]: 's3',
        [`RCLONE_CONFIG_${remote.toUpperCase()}_PROVIDER`]: 'Other',
        [`RCLONE_CONFIG_${remote.toUpperCase()}_ENDPOINT`]: layout.endpoint,
        [`RCLONE_CONFIG_${remote.toUpperCase()}_ACCESS_KEY_ID`]: { secret: creds, key: credentialKeys.accessKeyId },
        [`RCLONE_CONFIG_${remote.toUpperCase()}_SECRET_ACCESS_KEY`]: { secret: creds, key: credentialKeys.secretAccessKey },
        // Contabo serves path-style buckets only; the bucket exists (bootstrap creates it).
        [`RCLONE_CONFIG_${remote.toUpperCase()}_FORCE_PATH_STYLE`]: 'true',
        [`RCLONE_CONFIG_${remote.toUpperCase()}_NO_CHECK_BUCKET`]: 'true',
        // The same checksum behaviour the Barman sidecar gets (plugin-barman-cloud #393).
        [`RCLONE_CONFIG_${remote.toUpperCase()}_USE_DATA_INTEGRITY_PROTECTIONS`]: 'false',
      },
      resources: dump.resources.upload,
    },
  ];
}

export interface LogicalDumpCronJobProps {
  readonly config: Config;
  readonly env: Environment;
}

const containerSecurityContext = {
  runAsNonRoot: true,
  runAsUser: dumpRunAsUser,
  runAsGroup: dumpRunAsUser,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  privileged: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

export class LogicalDumpCronJob extends Construct {
  readonly cronJob: ApiObject;

  constructor(scope: Construct, id: string, props: LogicalDumpCronJobProps) {
    super(scope, id);
    const { config, env } = props;
    const dump = config.cluster.data.logicalDump;
    const steps = logicalDumpSteps(config, env);
    const container = (s: DumpStep) => ({
      name: s.name,
      image: imageRef(s.image),
      imagePullPolicy: 'IfNotPresent',
      command: s.command,
      env: Object.entries(s.env).map(([name, v]) => (typeof v === 'string'
        ? { name, value: v }
        : { name, valueFrom: { secretKeyRef: { name: v.secret, key: v.key } } })),
      resources: s.resources,
      securityContext: containerSecurityContext,
      volumeMounts: [
        { name: 'work', mountPath: podPaths.work },
        { name: 'home', mountPath: podPaths.home },
        ...(s.name === 'dump' ? [{ name: 'db-ca', mountPath: podPaths.caDir, readOnly: true }] : []),
      ],
    });
    const labels = { 'app.kubernetes.io/name': logicalDumpName };
    this.cronJob = new ApiObject(this, 'Resource', {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: logicalDumpName, namespace: env.namespace, labels },
      spec: {
        schedule: dump.schedule,
        timeZone: dump.timeZone,
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: logicalDumpStartingDeadlineSeconds,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels },
          spec: {
            backoffLimit: 2,
            activeDeadlineSeconds: dump.activeDeadlineSeconds,
            template: {
              metadata: { labels },
              spec: {
                restartPolicy: 'Never',
                automountServiceAccountToken: false,
                enableServiceLinks: false,
                securityContext: {
                  runAsNonRoot: true,
                  runAsUser: dumpRunAsUser,
                  runAsGroup: dumpRunAsUser,
                  fsGroup: dumpRunAsUser,
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                // dump and encrypt finish before upload starts (init containers run in order).
                initContainers: steps.slice(0, 2).map(container),
                containers: steps.slice(2).map(container),
                volumes: [
                  { name: 'work', emptyDir: { sizeLimit: dump.scratchSize } },
                  { name: 'home', emptyDir: { sizeLimit: '64Mi' } },
                  // The operator-made CA of the cluster (<cluster>-ca), public certificate only.
                  { name: 'db-ca', secret: { secretName: `${names.database.cluster}-ca`, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
                ],
              },
            },
          },
        },
      },
    });
  }
}
