/**
 * lifecycle: the backup bucket's lifecycle rules through the S3 API (SigV4): logical dumps expire
 * under bootstrap.objectStorage.logicalDumpPrefix, incomplete multipart uploads are aborted.
 * Reads the current rules first; writes only when they differ, then reads back to confirm.
 */
import { BootstrapError } from '../lib/context.ts';
import { objectStorageCredentials, requireCredentials } from '../lib/credentials.ts';
import { currentLifecycle, desiredLifecycle, normalizeRules, putLifecycle, s3Client, s3Plan } from '../providers/s3.ts';
import type { Step } from './common.ts';

export const lifecycle: Step = {
  name: 'lifecycle',
  summary: 'bucket lifecycle rules: expire old logical dumps, abort incomplete multipart uploads (S3 API)',

  plan(ctx) {
    return [s3Plan.getLifecycle(ctx.config), s3Plan.putLifecycle(ctx.config), { kind: 'note', text: 'read back after a change to confirm' }];
  },

  async run(ctx) {
    const creds = requireCredentials(ctx, 'lifecycle', objectStorageCredentials);
    const client = s3Client(ctx.config, { accessKeyId: creds.AWS_ACCESS_KEY_ID!, secretAccessKey: creds.AWS_SECRET_ACCESS_KEY! });
    try {
      const want = normalizeRules(desiredLifecycle(ctx.config));
      const have = normalizeRules(await currentLifecycle(client, ctx.config));
      const bucket = ctx.config.cluster.objectStorage.bucket;
      if (JSON.stringify(have) === JSON.stringify(want)) {
        ctx.out.info(`✓ lifecycle of ${bucket} already as configured (${want.length} rules)`);
        return;
      }
      await putLifecycle(client, ctx.config);
      const after = normalizeRules(await currentLifecycle(client, ctx.config));
      if (JSON.stringify(after) !== JSON.stringify(want)) {
        throw new BootstrapError(`the object storage accepted the lifecycle of ${bucket} but returns different rules: ${JSON.stringify(after)}`, 'the S3 endpoint may not support these lifecycle actions; check with Contabo support');
      }
      const o = ctx.config.cluster.bootstrap.objectStorage;
      ctx.out.info(`✓ lifecycle of ${bucket} ${have.length ? 'updated' : 'set'}: ${o.logicalDumpPrefix}* expire after ${o.logicalDumpExpireDays} days; incomplete multipart uploads aborted after ${o.abortIncompleteMultipartDays} days`);
    } finally {
      client.destroy();
    }
  },
};
