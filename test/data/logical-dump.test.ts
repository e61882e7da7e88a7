/**
 * The daily logical dump CronJob: schedule, Forbid, deadlines, restricted pods with resources,
 * pinned images, encryption before upload, and the pod running exactly the steps the drill runs.
 * (The steps themselves run for real in drill.test.ts.)
 */
import type { V1CronJob } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { imageRef } from '../../charts-ts/config/schema.ts';
import { logicalDumpName, logicalDumpSteps } from '../../charts-ts/data/logical-dump.ts';
import { dataSignals, logicalDumpMaxAgeSeconds } from '../../charts-ts/data/signals.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { renderAll } from '../support/render.ts';

const r = renderAll();
const envs = Object.values(r.config.environments);
const dump = r.config.cluster.data.logicalDump;
const cronJob = (namespace: string) => r.getOf<V1CronJob>('batch', 'CronJob', logicalDumpName, namespace);
const dumpPod = (namespace: string) => cronJob(namespace).spec!.jobTemplate.spec!.template.spec!;

describe('logical dump CronJob', () => {
  it.each(envs.map((e) => [e.name, e] as const))('%s: daily, never overlapping, bounded in time', (_n, env) => {
    const cj = cronJob(env.namespace);
    expect(cj.spec).toMatchObject({
      schedule: dump.schedule,
      timeZone: dump.timeZone,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: expect.any(Number),
    });
    const job = cj.spec!.jobTemplate.spec!;
    expect(job.activeDeadlineSeconds).toBe(dump.activeDeadlineSeconds);
    expect(job.backoffLimit).toBeGreaterThanOrEqual(1);
    expect(cj.spec!.failedJobsHistoryLimit).toBeGreaterThanOrEqual(1);
  });

  it('runs dump and encrypt as init containers before upload, each with resources and a pinned image', () => {
    for (const env of envs) {
      const pod = dumpPod(env.namespace);
      expect(pod.initContainers!.map((c) => c.name)).toEqual(['dump', 'encrypt']);
      expect(pod.containers.map((c) => c.name)).toEqual(['upload']);
      for (const c of [...pod.initContainers!, ...pod.containers]) {
        expect(c.image).toMatch(/@sha256:[a-f0-9]{64}$/);
        expect(c.resources!.requests).toBeDefined();
        expect(c.resources!.limits).toBeDefined();
      }
      // pg_dump comes from the server's own image: same major, nothing extra to pull.
      expect(pod.initContainers![0].image).toBe(imageRef(r.config.cluster.data.postgres.image));
    }
  });

  it('is a restricted, non-root pod with a read-only root filesystem and no API token', () => {
    for (const env of envs) {
      const pod = dumpPod(env.namespace);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const c of [...pod.initContainers!, ...pod.containers]) {
        expect(c.securityContext).toMatchObject({
          runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] },
        });
      }
      expect(pod.volumes!.find((v) => v.name === 'work')!.emptyDir!.sizeLimit).toBe(dump.scratchSize);
    }
  });

  it('takes credentials only from Secret references and verifies the server certificate', () => {
    for (const env of envs) {
      const pod = dumpPod(env.namespace);
      const all = [...pod.initContainers!, ...pod.containers].flatMap((c) => c.env ?? []);
      for (const name of ['PGPASSWORD', 'RCLONE_CONFIG_BACKUPS_ACCESS_KEY_ID', 'RCLONE_CONFIG_BACKUPS_SECRET_ACCESS_KEY']) {
        const e = all.find((x) => x.name === name)!;
        expect(e.value).toBeUndefined();
        expect(e.valueFrom!.secretKeyRef!.name).toMatch(new RegExp(`^(${names.database.appSecret}|${r.config.cluster.objectStorage.credentialsSecret})$`));
      }
      const dumpEnv = Object.fromEntries(pod.initContainers![0].env!.filter((e) => 'value' in e).map((e) => [e.name, e.value]));
      expect(dumpEnv.PGSSLMODE).toBe('verify-full');
      expect(dumpEnv.PGHOST).toBe(names.database.rwService);
      expect(pod.volumes!.find((v) => v.name === 'db-ca')!.secret!.secretName).toBe(`${names.database.cluster}-ca`);
    }
  });

  it('encrypts to every configured age recipient, and uploads only the ciphertext', () => {
    const steps = logicalDumpSteps(r.config, r.config.environments.production);
    const encrypt = steps.find((s) => s.name === 'encrypt')!;
    expect(encrypt.command.filter((_a, i, all) => all[i - 1] === '--recipient')).toEqual(dump.ageRecipients);
    const upload = steps.find((s) => s.name === 'upload')!.command.join(' ');
    expect(upload).toMatch(/rm -f "\$WORK\/lms\.dump"/);
    expect(upload).not.toMatch(/copyto "\$WORK\/lms\.dump" /);
    expect(upload).toMatch(/--min-age "\$\{RETENTION_DAYS\}d" --include '\*\.dump\.age'/);
  });

  it('dumps from the standby when there is one', () => {
    const two = renderAll({ environments: { production: { database: { instances: 2 } } } });
    expect(logicalDumpSteps(two.config, two.config.environments.production)[0].env.PGHOST).toBe(`${names.database.cluster}-ro`);
  });

  it('renders exactly the steps the drill executes', () => {
    for (const env of envs) {
      const pod = dumpPod(env.namespace);
      const rendered = [...pod.initContainers!, ...pod.containers];
      logicalDumpSteps(r.config, env).forEach((s, i) => {
        expect(rendered[i].name).toBe(s.name);
        expect(rendered[i].image).toBe(imageRef(s.image));
        expect(rendered[i].command).toEqual(s.command);
        expect(rendered[i].resources).toEqual(s.resources);
      });
    }
  });

  it('rejects something that is not an age public key', () => {
    expect(() => renderAll({ cluster: { data: { logicalDump: { ageRecipients: ['AGE-SECRET-KEY-1QQQ'] } } } }))
      .toThrow(/cluster\.data\.logicalDump\.ageRecipients\[0\]: "AGE-SECRET-KEY-1QQQ" is not an age recipient/);
  });

  it('publishes the alert signals the observability layer uses', () => {
    expect(dataSignals.logicalDump.cronJob).toBe(logicalDumpName);
    expect(dataSignals.logicalDump.lastSuccessMetric).toBe('kube_cronjob_status_last_successful_time');
    const cj = cronJob('lms-production');
    expect(logicalDumpMaxAgeSeconds(r.config)).toBeGreaterThan(24 * 3600 + cj.spec!.startingDeadlineSeconds! + dump.activeDeadlineSeconds);
  });
});
