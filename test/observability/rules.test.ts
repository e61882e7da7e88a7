/**
 * Every PrometheusRule in the output passes `promtool check rules`; every alert has a severity the
 * routes know and a runbook_url whose file exists under docs/runbooks/alerts/; the platform alerts
 * the issue lists exist; and the alerts that read other layers' signals fire on synthetic series.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkGroups, runbookSlug, type RuleGroup } from '../../charts-ts/observability/rules/model.ts';
import { dataSignals, logicalDumpMaxAgeSeconds } from '../../charts-ts/observability/signals.ts';
import { gauge } from './series.ts';
import type { PrometheusRuleRuleJson } from '../support/kinds.ts';
import { renderedRules, repoRoot, rendered, ruleFile, run, tempDir, writeYaml } from './support.ts';

const r = rendered();
const base = r.config.cluster.observability.alerts.runbookBaseUrl;
const alerts = renderedRules().flatMap((f) => f.groups.flatMap((g) => g.rules.filter((x): x is PrometheusRuleRuleJson & { alert: string } => Boolean(x.alert)).map((x) => ({ file: f.name, ...x }))));

describe('PrometheusRules', () => {
  it('every rendered PrometheusRule passes promtool check rules (with lint)', () => {
    const dir = tempDir('check');
    const files = renderedRules().map((f) => writeYaml(dir, `${f.namespace}-${f.name}.yaml`, { groups: f.groups }));
    expect(files.length).toBeGreaterThanOrEqual(4);
    const result = run('promtool', ['check', 'rules', '--lint=duplicate-rules', '--lint-fatal', ...files]);
    expect(result.status, result.output).toBe(0);
    expect(result.output.match(/SUCCESS/g)?.length).toBe(files.length);
  });

  it('promtool rejects a broken expression (the check bites)', () => {
    const dir = tempDir('check-bad');
    const file = writeYaml(dir, 'bad.yaml', { groups: [{ name: 'bad', rules: [{ record: 'lms:bad:sum', expr: 'sum(rate(x[5m])' }] }] });
    const result = run('promtool', ['check', 'rules', file]);
    expect(result.status).not.toBe(0);
  });

  it('every alert has a severity the Alertmanager routes know', () => {
    for (const a of alerts) expect(['critical', 'warning', 'none'], `${a.file}/${a.alert}`).toContain(a.labels?.severity);
  });

  it('every alert links its runbook, and the runbook exists under docs/runbooks/alerts/', () => {
    const missing: string[] = [];
    for (const a of alerts) {
      expect(a.annotations?.runbook_url, `${a.file}/${a.alert}`).toBe(`${base}${runbookSlug(a.alert)}.md`);
      const file = join(repoRoot, 'docs/runbooks/alerts', `${runbookSlug(a.alert)}.md`);
      if (!existsSync(file)) missing.push(file);
      else expect(readFileSync(file, 'utf8'), file).toMatch(new RegExp(`^# ${a.alert}\\b`, 'm'));
    }
    expect(missing).toEqual([]);
    expect(base).toMatch(/\/docs\/runbooks\/alerts\/$/);
  });

  it('covers every alert the issue asks for', () => {
    const names = new Set(alerts.map((a) => a.alert));
    for (const n of [
      'SLOErrorBudgetBurn', 'Watchdog', 'NodeCPUSaturated', 'NodeMemoryPressure', 'NodeDiskPressure', 'NodeFilesystemSpaceLow',
      'PersistentVolumeFillingUp', 'CertificateExpiringSoon', 'PostgresBaseBackupTooOld', 'PostgresWALArchivingFailing',
      'PostgresLogicalDumpFailing', 'FluxReconciliationFailing', 'RolloutAborted', 'PostgresDown', 'RedisDown',
      'KubePodCrashLooping', 'PrometheusBadConfig', 'PrometheusRuleFailures', 'AlertmanagerFailedReload',
      'AlertmanagerNotificationsFailing',
    ]) expect(names, n).toContain(n);
  });

  it('rejects an alert without its runbook or with an unknown severity, naming the rule', () => {
    const alert = (over: object) => [{ name: 'g', rules: [{ alert: 'DiskFull', expr: 'up == 0', labels: { severity: 'warning' }, annotations: { summary: 's', description: 'd', runbook_url: `${base}disk-full.md` }, ...over }] }] as RuleGroup[];
    expect(() => checkGroups(alert({}), base)).not.toThrow();
    expect(() => checkGroups(alert({ annotations: { summary: 's', description: 'd', runbook_url: 'https://example.com/x' } }), base))
      .toThrow(/DiskFull must link its runbook .*disk-full\.md/);
    expect(() => checkGroups(alert({ labels: { severity: 'page' } }), base)).toThrow(/DiskFull has severity "page"; use critical/);
    expect(() => checkGroups([{ name: 'g', rules: [{ record: 'bad_name', expr: 'up' }] }], base)).toThrow(/"bad_name" must be a level:metric:operations name/);
  });
});

describe('platform alerts on synthetic series (promtool test rules)', () => {
  const prod = r.config.environments.production;
  const ns = prod.namespace;
  const l = (x: Record<string, string>) => `{${Object.entries(x).map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
  /** ALERTS as Prometheus writes it for a firing alert: the alert's labels plus alertname and alertstate. */
  const firing = (alertname: string, extra: Record<string, string>) => ({ labels: `ALERTS${l({ alertname, alertstate: 'firing', ...extra })}`, value: 1 });

  it('backups, dumps, WAL archiving, Postgres and Redis', () => {
    const dir = tempDir('platform-alerts');
    const rules = ruleFile(dir, 'platform-alerts');
    const hour = 60; // samples at 1m
    const dumpHours = logicalDumpMaxAgeSeconds(r.config) / 3600;
    // Evaluation at `now` (minutes); timestamps below are Unix seconds of the test clock (starts at 0).
    const now = Math.max(30, Math.ceil(dumpHours) + 2) * hour;
    const { baseBackup, logicalDump, walArchive } = dataSignals;
    const podLabels = { namespace: ns, pod: 'lms-db-1', job: 'lms-db' };
    const tests = [{
      interval: '1m',
      input_series: [
        // The last base backup happened at 1h; by 30h it is 29 h old (> 26 h).
        { series: `${baseBackup.lastAvailableMetric}${l(podLabels)}`, values: gauge([[3600, now + 1]]) },
        // The dump CronJob exists since 0 and never succeeded.
        { series: `kube_cronjob_created${l({ namespace: ns, cronjob: logicalDump.cronJob, job: 'kube-state-metrics' })}`, values: gauge([[0, now + 1]]) },
        // WAL archiving: failures since 20h, the last success at 19h.
        { series: `${walArchive.failedCountMetric}${l(podLabels)}`, values: `0x${20 * hour} 1+1x${now - 20 * hour}` },
        { series: `cnpg_pg_stat_archiver_last_failed_time${l(podLabels)}`, values: `-1x${20 * hour} 72000+60x${now - 20 * hour}` },
        { series: `cnpg_pg_stat_archiver_last_archived_time${l(podLabels)}`, values: gauge([[68400, now + 1]]) },
        // PostgreSQL up, then down an hour before `now`; Redis never scraped in production.
        { series: `cnpg_collector_up${l({ ...podLabels, cluster: 'lms-db' })}`, values: gauge([[1, now - hour], [0, hour + 1]]) },
        { series: `redis_up${l({ namespace: r.config.environments.staging.namespace, pod: 'redis-0' })}`, values: gauge([[1, now + 1]]) },
      ],
      promql_expr_test: [
        { expr: `ALERTS{alertname="PostgresBaseBackupTooOld", alertstate="firing"}`, eval_time: `${now}m`, exp_samples: [firing('PostgresBaseBackupTooOld', { namespace: ns, severity: 'warning' })] },
        { expr: `ALERTS{alertname="PostgresBaseBackupTooOld", alertstate="firing"}`, eval_time: `${20 * hour}m`, exp_samples: [] },
        { expr: `ALERTS{alertname="PostgresLogicalDumpFailing", alertstate="firing"}`, eval_time: `${now}m`, exp_samples: [firing('PostgresLogicalDumpFailing', { namespace: ns, cronjob: logicalDump.cronJob, severity: 'warning' })] },
        { expr: `ALERTS{alertname="PostgresLogicalDumpFailing", alertstate="firing"}`, eval_time: `${Math.floor(dumpHours - 1) * hour}m`, exp_samples: [] },
        { expr: `ALERTS{alertname="PostgresWALArchivingFailing", alertstate="firing"}`, eval_time: `${21 * hour}m`, exp_samples: [firing('PostgresWALArchivingFailing', { namespace: ns, pod: 'lms-db-1', severity: 'critical' })] },
        { expr: `ALERTS{alertname="PostgresWALArchivingFailing", alertstate="firing"}`, eval_time: `${19 * hour}m`, exp_samples: [] },
        { expr: `ALERTS{alertname="PostgresDown", alertstate="firing", namespace="${ns}"}`, eval_time: `${now - 2 * hour}m`, exp_samples: [] },
        { expr: `ALERTS{alertname="PostgresDown", alertstate="firing", namespace="${ns}"}`, eval_time: `${now}m`, exp_samples: [firing('PostgresDown', { namespace: ns, severity: 'critical' })] },
        { expr: `ALERTS{alertname="RedisDown", alertstate="firing", namespace="${ns}"}`, eval_time: `${now}m`, exp_samples: [firing('RedisDown', { namespace: ns, severity: 'critical' })] },
      ],
    }];
    const file = writeYaml(dir, 'platform.test.yaml', { rule_files: [rules], evaluation_interval: '1m', tests });
    const result = run('promtool', ['test', 'rules', file]);
    expect(result.status, result.output).toBe(0);
  });
});
