/**
 * The lifecycle step against a real S3 server (moto on 127.0.0.1), signed with SigV4 by the AWS SDK.
 */
import { CreateBucketCommand, GetBucketLifecycleConfigurationCommand, PutBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lifecycle } from '../steps/lifecycle.ts';
import { lifecycleRuleIds, s3Client } from '../providers/s3.ts';
import { testConfig } from './support/config.ts';
import { testContext } from './support/context.ts';
import { MotoServer } from './support/moto.ts';

const moto = new MotoServer();
beforeAll(async () => { await moto.start(); });
afterAll(() => moto.stop());

let n = 0;
const setup = async (patch: Record<string, unknown> = {}) => {
  const bucket = `lms-lifecycle-${++n}`;
  const config = testConfig({ cluster: { objectStorage: { endpoint: moto.url, bucket }, bootstrap: { objectStorage: patch } } });
  const s3 = s3Client(config, moto.credentials);
  return { bucket, config, s3, ctx: () => testContext({ config, env: moto.env }) };
};

describe('lifecycle step', () => {
  it('expires logical dumps under their prefix and aborts incomplete multipart uploads', async () => {
    const { bucket, s3, ctx } = await setup();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const c = ctx();
    await lifecycle.run(c);
    const rules = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules!;
    const dumps = rules.find((r) => r.ID === lifecycleRuleIds.dumps)!;
    expect(dumps.Filter?.Prefix).toBe('logical-dumps/');
    expect(dumps.Expiration?.Days).toBe(35);
    expect(dumps.Status).toBe('Enabled');
    const mpu = rules.find((r) => r.ID === lifecycleRuleIds.multipart)!;
    expect(mpu.AbortIncompleteMultipartUpload?.DaysAfterInitiation).toBe(2);
    // Nothing else expires: Barman's base backups and WAL are governed by its retention policy.
    expect(rules.filter((r) => r.Expiration)).toHaveLength(1);
    expect(c.out.text).toContain('logical-dumps/* expire after 35 days');
  });

  it('is idempotent: a second run reads, finds the rules in place and writes nothing', async () => {
    const { bucket, s3, ctx } = await setup();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await lifecycle.run(ctx());
    const c = ctx();
    await lifecycle.run(c);
    expect(c.out.text).toContain('already as configured');
  });

  it('replaces rules that differ (a changed retention, a rule set by hand)', async () => {
    const { bucket, s3, config, ctx } = await setup({ logicalDumpExpireDays: 60 });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: 'by-hand', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }] } }));
    const c = ctx();
    await lifecycle.run(c);
    const rules = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules!;
    expect(rules.map((r) => r.ID).sort()).toEqual([lifecycleRuleIds.dumps, lifecycleRuleIds.multipart].sort());
    expect(rules.find((r) => r.ID === lifecycleRuleIds.dumps)!.Expiration?.Days).toBe(config.cluster.bootstrap.objectStorage.logicalDumpExpireDays);
    expect(c.out.text).toContain('updated');
  });

  it('a missing bucket fails with the step that creates it', async () => {
    const { ctx } = await setup();
    const err = await lifecycle.run(ctx()).catch((e) => e);
    expect(err.message).toContain('does not exist');
    expect(err.message).toContain('npm run bootstrap -- provision');
  });

  it('a wrong secret key fails SigV4 verification with a clear message', async () => {
    const { config } = await setup();
    const err = await lifecycle.run(testContext({ config, env: { ...moto.env, AWS_SECRET_ACCESS_KEY: 'not-the-secret' } })).catch((e) => e);
    expect(err.message).toContain('rejected the credentials (SignatureDoesNotMatch)');
    expect(err.message).toContain('AWS_SECRET_ACCESS_KEY');
  });

  it('missing S3 credentials fail before any request', async () => {
    const { config } = await setup();
    const err = await lifecycle.run(testContext({ config, env: {} })).catch((e) => e);
    expect(err.message).toContain('AWS_ACCESS_KEY_ID');
    expect(err.message).toContain('AWS_SECRET_ACCESS_KEY');
  });
});
