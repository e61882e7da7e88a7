/**
 * What the observability layer can alert on for backups, and where each signal comes from. Nothing
 * here needs a Pushgateway: the CronJob's state is exported by kube-state-metrics, WAL archiving and
 * base backups by the PostgreSQL instance's exporter (CloudNativePG + the Barman Cloud plugin).
 *
 * Labels: kube-state-metrics series carry `namespace` and `cronjob` / `job_name`; CloudNativePG
 * series carry `namespace` and `pod` (plus the PodMonitor's `cnpg.io/cluster` target labels).
 */
import type { Config } from '../config/schema.ts';
import { names } from '../lib/names.ts';
import { logicalDumpName, logicalDumpStartingDeadlineSeconds } from './logical-dump.ts';

/**
 * Oldest a successful dump may be before it counts as missing: one day between runs, plus the
 * time a run may wait to start and to finish, plus an hour of slack.
 */
export const logicalDumpMaxAgeSeconds = (config: Config): number =>
  86400 + logicalDumpStartingDeadlineSeconds + config.cluster.data.logicalDump.activeDeadlineSeconds + 3600;

export const dataSignals = {
  logicalDump: {
    /** CronJob name in each app namespace; its Jobs are named `<cronJob>-<n>`. */
    cronJob: logicalDumpName,
    /**
     * kube-state-metrics: Unix time of the last successful Job of the CronJob
     * (`kube_cronjob_status_last_successful_time{namespace, cronjob}`). Alert when
     * `time() - x > logicalDumpMaxAgeSeconds(config)` or when the series is absent.
     */
    lastSuccessMetric: 'kube_cronjob_status_last_successful_time',
    /** kube-state-metrics: failed pods of a Job (`kube_job_status_failed{namespace, job_name}` > 0). */
    jobFailedMetric: 'kube_job_status_failed',
  },
  walArchive: {
    /** CloudNativePG default query pg_stat_archiver: seconds since the last WAL was archived. */
    secondsSinceLastArchivalMetric: 'cnpg_pg_stat_archiver_seconds_since_last_archival',
    /** Counter of failed archive attempts (alert on increase). */
    failedCountMetric: 'cnpg_pg_stat_archiver_failed_count',
    /**
     * archive_timeout forces a segment switch at least this often on a primary with any write, so a
     * gap much larger than the RPO means archiving is stuck. Seconds = rpoMinutes x 60 x 2.
     */
    stuckAfterRpoMultiple: 2,
  },
  baseBackup: {
    /** Barman Cloud plugin (docs: observability.md): Unix time of the newest available base backup. */
    lastAvailableMetric: 'barman_cloud_cloudnative_pg_io_last_available_backup_timestamp',
    /** Unix time of the last failed base backup. */
    lastFailedMetric: 'barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp',
    /** Earliest point in time the cluster can be restored to (retention working if it moves). */
    firstRecoverabilityMetric: 'barman_cloud_cloudnative_pg_io_first_recoverability_point',
    /** Nightly backups: older than this, one was missed. */
    maxAgeSeconds: 26 * 3600,
  },
  /** The cluster whose pods expose the CloudNativePG metrics (PodMonitor selector). */
  cluster: names.database.cluster,
} as const;
