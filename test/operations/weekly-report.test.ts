/**
 * The weekly report's queries parse and compute the right figures (real promtool on synthetic
 * series), and the report script turns the figures into the Slack message with target marks.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1ConfigMap, V1CronJob } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { servicePort, traefikServiceLabel } from '../../charts-ts/apps/metrics.ts';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { asKind } from '../../charts-ts/lib/workloads.ts';
import { edgeQueries, weeklyQueries } from '../../charts-ts/observability/weekly-report.ts';
import { FakeCloudflare } from '../../bootstrap/test/fakes/cloudflare.ts';
import { renderAll } from '../support/render.ts';

process.env.PATH = `${repoRoot}/.cache/bin:${process.env.PATH}`;
const r = renderAll();
const env = r.config.environments.production;
const queries = weeklyQueries(r.config, env);
const edge = edgeQueries(r.config);
const ns = env.namespace;
/** The report's ConfigMap: the script and its queries. */
const reportFiles = () => asKind<V1ConfigMap>(r.get('ConfigMap', 'weekly-report', 'monitoring'), '', 'ConfigMap')!.data!;
/** queries.json of the report's ConfigMap: the fields read. */
const reportQueries = () => JSON.parse(reportFiles()['queries.json']) as { queries: { key: string }[] };
const steps = 2016; // 7 days of 5-minute samples
const flat = (v: number) => `${v}+0x${steps}`;

const series = [
  // 7-day availability: 95 % good for the API, 100 % for the web.
  { series: `slo:sli_total:rate5m{slo="api-availability", namespace="${ns}"}`, values: flat(10) },
  { series: `slo:sli_good:rate5m{slo="api-availability", namespace="${ns}"}`, values: flat(9.5) },
  { series: `slo:sli_total:rate5m{slo="web-availability", namespace="${ns}"}`, values: flat(4) },
  { series: `slo:sli_good:rate5m{slo="web-availability", namespace="${ns}"}`, values: flat(4) },
  { series: `slo:error_budget_remaining:ratio{slo="api-availability", namespace="${ns}"}`, values: flat(0.5) },
  { series: `lms:deployments:success_ratio30d{namespace="${ns}"}`, values: flat(0.98) },
  { series: `lms:deployments_completed:increase30d{namespace="${ns}"}`, values: flat(49) },
  { series: `lms:deployments_aborted:increase30d{namespace="${ns}"}`, values: flat(1) },
  { series: `lms:incident:mttr_seconds30d{namespace="${ns}"}`, values: flat(300) },
  // Ingress histogram of the API's stable service: per 5 minutes 50 requests <= 100 ms, 95 <= 300 ms, all <= 1.2 s.
  ...([['0.1', 50], ['0.3', 95], ['1.2', 100], ['5.0', 100], ['+Inf', 100]] as const).map(([le, n]) => ({
    series: `traefik_service_request_duration_seconds_bucket{service="${traefikServiceLabel(ns, 'lms-api-stable', servicePort)}", protocol="http", le="${le}"}`,
    values: `0+${n}x${steps}`,
  })),
  // Request rates: API steady at 100/s, web 20/s with a one-hour spike to 200/s.
  { series: `lms:requests:rate5m{namespace="${ns}", service="lms-api"}`, values: flat(100) },
  { series: `lms:requests:rate5m{namespace="${ns}", service="lms-web"}`, values: `20+0x1000 200+0x11 20+0x${steps - 1012}` },
  { series: `lms:cost_per_active_user:usd_month{namespace="${ns}"}`, values: flat(0.05) },
];

const expected: Record<string, number> = {
  api_availability: 95,
  web_availability: 100,
  api_budget_remaining: 50,
  deploy_success: 98,
  deploys: 50,
  mttr: 300,
  api_p95: 0.3,
  peak_rps: 300,
  cost_per_user: 0.05,
};

function promtoolTest(want: Record<string, number>) {
  const dir = mkdtempSync(join(tmpdir(), 'weekly-'));
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: [{ name: 'weekly', rules: queries.map((q) => ({ record: `weekly:${q.key}`, expr: q.expr })) }] }));
  writeFileSync(join(dir, 'test.yaml'), stringify({
    rule_files: ['rules.yaml'],
    evaluation_interval: '5m',
    tests: [{
      interval: '5m',
      input_series: series,
      // sum(): each query must yield one series; a second series would change the figure.
      promql_expr_test: Object.entries(want).map(([key, value]) => ({ expr: `sum(weekly:${key})`, eval_time: '7d', exp_samples: [{ labels: '{}', value }] })),
    }],
  }));
  return spawnSync('promtool', ['test', 'rules', 'test.yaml'], { cwd: dir, encoding: 'utf8' });
}

describe('weekly report', () => {
  it('has a query for every KPI the report promises', () => {
    expect(queries.map((q) => q.key).sort()).toEqual(Object.keys(expected).sort());
    expect(queries.every((q) => q.expr)).toBe(true);
  });

  it('queries compute the right figures on synthetic series (promtool)', () => {
    const res = promtoolTest(expected);
    expect(res.status, res.stdout + res.stderr).toBe(0);
  });

  it('the promtool check bites: a wrong expected figure fails', () => {
    const res = promtoolTest({ ...expected, peak_rps: 120 });
    expect(res.status).not.toBe(0);
    expect(res.stdout + res.stderr).toMatch(/weekly:peak_rps/);
  });

  it('adds the edge figures from Cloudflare and the planned-maintenance allowance from config', () => {
    const cm = reportQueries();
    expect(cm.queries.map((q) => q.key)).toEqual([...queries, ...edge].map((q) => q.key));
    expect(edge.map((q) => q.source)).toEqual(['cloudflare-health-checks', 'cloudflare-health-checks', 'config']);
    expect(edge.every((q) => !q.expr)).toBe(true);
  });

  it('is a weekly CronJob that reads Prometheus and the Slack webhook Secret by name', () => {
    const job = asKind<V1CronJob>(r.get('CronJob', 'weekly-report', 'monitoring'), 'batch', 'CronJob')!;
    expect(job.spec!.schedule).toBe(r.config.cluster.cost.weeklyReport.schedule);
    expect(job.spec!.concurrencyPolicy).toBe('Forbid');
    const pod = job.spec!.jobTemplate.spec!.template.spec!;
    expect(pod.volumes!.find((v) => v.secret)?.secret!.secretName).toBe(r.config.cluster.alerting.slackWebhook.name);
    expect(pod.containers[0].image).toMatch(/@sha256:[a-f0-9]{64}$/);
    expect(reportQueries().queries.map((q) => q.key)).toContain('cost_per_user');
  });

  it('the script formats the figures and marks targets met or missed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weekly-'));
    const files = reportFiles();
    writeFileSync(join(dir, 'report.py'), files['report.py']);
    writeFileSync(join(dir, 'queries.json'), files['queries.json']);
    writeFileSync(join(dir, 'values.json'), JSON.stringify({ ...expected, deploy_success: 97.5, mttr: null }));
    const out = execFileSync('python3', [join(dir, 'report.py'), '--queries', join(dir, 'queries.json'), '--input', join(dir, 'values.json'), '--print'], { encoding: 'utf8' });
    expect(out).toContain('*Weekly LMS report (production)*');
    expect(out).toMatch(/API availability \(7d\): 95\.000 % \(target >= 99\.9\) :warning:/);
    expect(out).toMatch(/Deploy success rate \(30d\): 97\.500 % \(target >= 98\) :warning:/);
    expect(out).toMatch(/API p95 latency \(7d\): 300 ms \(target <= 0\.3\) :white_check_mark:/);
    expect(out).toMatch(/MTTR \(30d\): no data/);
    expect(out).toMatch(/Cost per active user \(month\): 0\.0500 USD \(target <= 0\.1\) :white_check_mark:/);
    const bad = spawnSync('python3', [join(dir, 'report.py'), '--queries', join(dir, 'queries.json')], { encoding: 'utf8', env: { ...process.env, PROMETHEUS_URL: '' } });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/PROMETHEUS_URL/);
  });

  /** The report script run against the Cloudflare stand-in (async: the stand-in serves in this process). */
  async function reportWithCloudflare(fake: FakeCloudflare, token: string | undefined, now: string) {
    const dir = mkdtempSync(join(tmpdir(), 'weekly-'));
    const files = reportFiles();
    writeFileSync(join(dir, 'report.py'), files['report.py']);
    writeFileSync(join(dir, 'queries.json'), files['queries.json']);
    writeFileSync(join(dir, 'values.json'), JSON.stringify(expected));
    if (token !== undefined) writeFileSync(join(dir, 'token'), `${token}\n`);
    const child = spawn('python3', [join(dir, 'report.py'), '--queries', join(dir, 'queries.json'), '--input', join(dir, 'values.json'), '--cloudflare-token-file', join(dir, 'token'), '--now', now, '--print'],
      { env: { ...process.env, CLOUDFLARE_API_URL: fake.url } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, out, err };
  }

  it('edge-measured uptime: the week of the origin health check\'s events at Cloudflare, a day per query', async () => {
    const fake = await new FakeCloudflare().start();
    try {
      const check = r.config.cluster.bootstrap.cloudflare.healthCheck.name;
      const now = Date.parse('2026-11-30T08:00:00Z');
      // One check a minute for 8 days (the day before the week must not count); the origin
      // unreachable for 25 minutes (a reboot) and 5 minutes (Traefik down) in the week, and for
      // 60 minutes in the day before it. Another health check of the zone is not ours.
      for (let m = 0; m < 8 * 1440; m++) {
        const t = now - (8 * 1440 - m) * 60_000;
        const minuteOfWeek = (t - (now - 7 * 86_400_000)) / 60_000;
        const down = (minuteOfWeek >= 1000 && minuteOfWeek < 1025) || (minuteOfWeek >= 5000 && minuteOfWeek < 5005) || (minuteOfWeek < 0 && minuteOfWeek >= -60);
        fake.healthCheckEvents.push({ datetime: new Date(t).toISOString(), healthCheckName: check, healthStatus: down ? 'unhealthy' : 'healthy' });
        if (m % 10 === 0) fake.healthCheckEvents.push({ datetime: new Date(t).toISOString(), healthCheckName: 'someone-else', healthStatus: 'unhealthy' });
      }
      const res = await reportWithCloudflare(fake, fake.token, '2026-11-30T08:00:30Z');
      expect(res.code, res.err).toBe(0);
      const uptime = 100 * (1 - 30 / (7 * 1440));
      expect(res.out).toContain(`Edge-measured uptime (7d, Cloudflare health check of the origin): ${uptime.toFixed(3)} % (target >= 99.9) :warning:`);
      expect(res.out).toContain('Origin unreachable from the edge (7d): 30.0 min (target <= 10.08) :warning:');
      expect(res.out).toMatch(/Planned maintenance allowance \(worst month: 5 reboots, 1 k3s upgrade\(s\); budget 43\.2 min\): 21\.0 min \(target <= 21\.6\) :white_check_mark:/);
      // Seven GraphQL queries of a day each (the stand-in refuses longer ranges, as adaptive datasets do).
      expect(fake.requests.filter((q) => q.path === '/graphql')).toHaveLength(7);
      expect((fake.requests.find((q) => q.path === '/graphql')?.json as { variables: unknown }).variables).toEqual({ zoneTag: fake.zone.id, start: '2026-11-29T08:00:00Z', end: '2026-11-30T08:00:00Z' });
    } finally {
      await fake.stop();
    }
  }, 30_000);

  it('without a token, or when Cloudflare fails, the edge lines read no data with the reason; the rest is posted', async () => {
    const fake = await new FakeCloudflare().start();
    try {
      const none = await reportWithCloudflare(fake, undefined, '2026-11-30T08:00:00Z');
      expect(none.code).toBe(0);
      expect(none.out).toMatch(/Edge-measured uptime .*: no data/);
      expect(none.out).toContain('no Cloudflare token');
      expect(none.out).toMatch(/API availability \(7d\): 95\.000 %/);
      const refused = await reportWithCloudflare(fake, 'wrong-token', '2026-11-30T08:00:00Z');
      expect(refused.code).toBe(0);
      expect(refused.out).toMatch(/Origin unreachable from the edge \(7d\): no data/);
      expect(refused.out).toContain('Edge figures: Cloudflare failed');
    } finally {
      await fake.stop();
    }
  }, 30_000);
});
