/**
 * Contabo Object Storage through the S3 API (SigV4 via @aws-sdk/client-s3): the bucket and its
 * lifecycle rules. Contabo runs Ceph: path-style URLs only, no server-side encryption (dumps are
 * encrypted client-side with age by the data layer).
 */
import {
  CreateBucketCommand,
  GetBucketLifecycleConfigurationCommand,
  HeadBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  S3Client,
  S3ServiceException,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import type { Config } from '../../charts-ts/config/schema.ts';
import { BootstrapError } from '../lib/context.ts';
import type { PlanItem } from '../lib/plan.ts';

export interface S3Credentials { accessKeyId: string; secretAccessKey: string }

export function s3Client(config: Config, creds: S3Credentials): S3Client {
  return new S3Client({
    endpoint: config.cluster.objectStorage.endpoint,
    region: config.cluster.bootstrap.objectStorage.signingRegion,
    forcePathStyle: true,
    credentials: creds,
    // S3-compatible stores reject the SDK's default flexible checksums on some calls (plugin-barman-cloud #393).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 5,
  });
}

export const lifecycleRuleIds = { dumps: 'lms-expire-logical-dumps', multipart: 'lms-abort-incomplete-multipart' } as const;

/**
 * The bucket's lifecycle: logical dumps expire under their own prefix (a backstop behind the dump
 * CronJob's pruning); incomplete multipart uploads (interrupted backups) are aborted bucket-wide.
 * Barman's base backups and WAL are NOT expired here: the plugin's retention policy owns them, and an
 * expiry rule that deleted WAL out from under a base backup would break point-in-time recovery.
 */
export function desiredLifecycle(config: Config): LifecycleRule[] {
  const o = config.cluster.bootstrap.objectStorage;
  return [
    { ID: lifecycleRuleIds.dumps, Status: 'Enabled', Filter: { Prefix: o.logicalDumpPrefix }, Expiration: { Days: o.logicalDumpExpireDays } },
    { ID: lifecycleRuleIds.multipart, Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: o.abortIncompleteMultipartDays } },
  ];
}

/** Rules reduced to what we set, in a stable order, so a read-back compares equal to the desired. */
export function normalizeRules(rules: LifecycleRule[] | undefined): unknown[] {
  return (rules ?? []).map((r) => ({
    id: r.ID,
    status: r.Status,
    prefix: r.Filter?.Prefix ?? r.Prefix ?? '',
    expirationDays: r.Expiration?.Days,
    abortDays: r.AbortIncompleteMultipartUpload?.DaysAfterInitiation,
  })).sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

const bucketUrl = (config: Config): string => `${config.cluster.objectStorage.endpoint.replace(/\/$/, '')}/${config.cluster.objectStorage.bucket}`;

export const s3Plan = {
  headBucket: (config: Config): PlanItem => ({ kind: 'http', service: 'S3', method: 'GET', url: `${bucketUrl(config)} (HeadBucket)` }),
  createBucket: (config: Config): PlanItem => ({ kind: 'http', service: 'S3', method: 'PUT', url: `${bucketUrl(config)} (CreateBucket)`, when: 'bucket missing' }),
  getLifecycle: (config: Config): PlanItem => ({ kind: 'http', service: 'S3', method: 'GET', url: `${bucketUrl(config)}?lifecycle` }),
  putLifecycle: (config: Config): PlanItem => ({ kind: 'http', service: 'S3', method: 'PUT', url: `${bucketUrl(config)}?lifecycle`, body: { Rules: desiredLifecycle(config) }, when: 'rules differ' }),
};

/** Turns S3 errors into messages that say what to do. */
export function s3Error(e: unknown, config: Config, action: string): Error {
  if (!(e instanceof S3ServiceException)) {
    const cause = (e as Error).message;
    return new BootstrapError(`S3: ${action} on ${bucketUrl(config)} failed: ${cause}`, 'check cluster.objectStorage.endpoint and the network, then run the step again');
  }
  const status = e.$metadata.httpStatusCode;
  const bucket = config.cluster.objectStorage.bucket;
  switch (e.name) {
    case 'NoSuchBucket':
      return new BootstrapError(`S3: bucket ${bucket} does not exist (${action})`, 'run `npm run bootstrap -- provision` (it creates the bucket) or fix cluster.objectStorage.bucket');
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
      return new BootstrapError(`S3: the object storage rejected the credentials (${e.name}) on ${action}`, 'check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY against the S3 credentials at https://my.contabo.com/storage/object-storage');
    case 'AccessDenied':
      return new BootstrapError(`S3: access denied on ${action} for bucket ${bucket}`, 'use credentials of the account that owns the bucket (a bucket name taken by another customer also answers 403)');
    default:
      return new BootstrapError(`S3: ${action} failed (${e.name}, HTTP ${status ?? '?'}): ${e.message}`, 'run the step again; if it persists, check the object storage status in the control panel');
  }
}

/** Creates the bucket if it does not exist. Returns true when it created it. */
export async function ensureBucket(client: S3Client, config: Config): Promise<boolean> {
  const Bucket = config.cluster.objectStorage.bucket;
  try {
    await client.send(new HeadBucketCommand({ Bucket }));
    return false;
  } catch (e) {
    const status = (e as S3ServiceException).$metadata?.httpStatusCode;
    if (status !== 404) throw s3Error(e, config, 'HeadBucket');
  }
  try {
    await client.send(new CreateBucketCommand({ Bucket }));
    return true;
  } catch (e) {
    if ((e as Error).name === 'BucketAlreadyOwnedByYou') return false;
    throw s3Error(e, config, 'CreateBucket');
  }
}

export async function currentLifecycle(client: S3Client, config: Config): Promise<LifecycleRule[]> {
  try {
    return (await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: config.cluster.objectStorage.bucket }))).Rules ?? [];
  } catch (e) {
    if ((e as Error).name === 'NoSuchLifecycleConfiguration') return [];
    throw s3Error(e, config, 'GetBucketLifecycleConfiguration');
  }
}

export async function putLifecycle(client: S3Client, config: Config): Promise<void> {
  try {
    await client.send(new PutBucketLifecycleConfigurationCommand({
      Bucket: config.cluster.objectStorage.bucket,
      LifecycleConfiguration: { Rules: desiredLifecycle(config) },
    }));
  } catch (e) {
    throw s3Error(e, config, 'PutBucketLifecycleConfiguration');
  }
}
