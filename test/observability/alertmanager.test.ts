/**
 * The deployed Alertmanager configuration (kube-prometheus-stack values) checked with the real
 * amtool: it loads, critical alerts reach PagerDuty and Slack, warnings Slack only, the Watchdog the
 * external heartbeat; receiver credentials come only from mounted Secret files.
 */
import { describe, expect, it } from 'vitest';
import { receivers, secretFile } from '../../charts-ts/observability/alertmanager.ts';
import { rendered, run, tempDir, writeYaml } from './support.ts';

const r = rendered();
/** The Alertmanager values of kube-prometheus-stack: the fields read (https://prometheus.io/docs/alerting/latest/configuration/). */
interface AlertmanagerValues {
  config: {
    route: { group_by: string[]; routes: { receiver: string; repeat_interval?: string; group_wait?: string }[] };
    inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
    receivers: { name: string; slack_configs?: { api_url_file?: string }[]; pagerduty_configs?: { routing_key_file?: string }[]; webhook_configs?: { url_file?: string }[] }[];
  };
  alertmanagerSpec: { secrets: string[] };
}
const kps = r.getOf<{ spec: { values: { alertmanager: AlertmanagerValues } } }>('helm.toolkit.fluxcd.io', 'HelmRelease', 'kube-prometheus-stack', 'monitoring');
const am = kps.spec.values.alertmanager;
const dir = tempDir('alertmanager');
const configFile = writeYaml(dir, 'alertmanager.yaml', am.config);

const routes = (labels: string[]) => run('amtool', ['config', 'routes', 'test', `--config.file=${configFile}`, ...labels]);
const verify = (expected: string[], labels: string[]) =>
  run('amtool', ['config', 'routes', 'test', `--config.file=${configFile}`, `--verify.receivers=${expected.join(',')}`, ...labels]);

describe('Alertmanager configuration (amtool)', () => {
  it('passes amtool check-config', () => {
    const result = run('amtool', ['check-config', configFile]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toMatch(/SUCCESS/);
  });

  it('amtool rejects a route to an undefined receiver (the check bites)', () => {
    const bad = writeYaml(dir, 'bad.yaml', { ...am.config, route: { ...am.config.route, receiver: 'nobody' } });
    expect(run('amtool', ['check-config', bad]).status).not.toBe(0);
  });

  it('critical alerts reach PagerDuty and Slack', () => {
    for (const labels of [
      ['alertname=SLOErrorBudgetBurn', 'severity=critical', 'slo=api-availability', 'namespace=lms-production'],
      ['alertname=PostgresDown', 'severity=critical', 'namespace=lms-production'],
      ['alertname=NodeDiskPressure', 'severity=critical'],
    ]) {
      const result = verify([receivers.pagerduty, receivers.slack], labels);
      expect(result.status, `${labels.join(' ')}: ${result.output}`).toBe(0);
    }
  });

  it('warnings reach Slack only, never PagerDuty', () => {
    for (const labels of [
      ['alertname=SLOErrorBudgetBurn', 'severity=warning', 'slo=api-latency', 'namespace=lms-production'],
      ['alertname=PostgresBaseBackupTooOld', 'severity=warning', 'namespace=lms-staging'],
    ]) {
      const result = routes(labels);
      expect(result.status, result.output).toBe(0);
      expect(result.output.trim()).toBe(receivers.slack);
      expect(verify([receivers.slack], labels).status).toBe(0);
      expect(verify([receivers.pagerduty, receivers.slack], labels).status).not.toBe(0);
    }
  });

  it('the Watchdog goes to the external heartbeat only, resent every heartbeat interval', () => {
    expect(verify([receivers.heartbeat], ['alertname=Watchdog', 'severity=none']).status).toBe(0);
    const route = am.config.route.routes.find((x) => x.receiver === receivers.heartbeat)!;
    expect(route.repeat_interval).toBe(r.config.cluster.observability.alerts.heartbeatInterval);
    expect(route.group_wait).toBe('0s');
  });

  it('anything without a paging or ticket severity is not sent', () => {
    expect(verify([receivers.blackhole], ['alertname=Something', 'severity=info']).status).toBe(0);
  });

  it('groups by alert, namespace and SLO, and a page inhibits the matching ticket', () => {
    expect(am.config.route.group_by).toEqual(['alertname', 'namespace', 'slo']);
    const rule = am.config.inhibit_rules.find((i) => i.source_matchers.includes('severity = "critical"'))!;
    expect(rule.target_matchers).toEqual(['severity = "warning"']);
    expect(rule.equal).toEqual(['alertname', 'namespace', 'slo']);
  });

  it('reads every credential from a Secret file that Alertmanager mounts, never inline', () => {
    const a = r.config.cluster.alerting;
    const byName = Object.fromEntries(am.config.receivers.map((x) => [x.name, x]));
    expect(byName[receivers.slack].slack_configs![0].api_url_file).toBe(secretFile(a.slackWebhook));
    expect(byName[receivers.pagerduty].pagerduty_configs![0].routing_key_file).toBe(secretFile(a.pagerdutyRoutingKey));
    expect(byName[receivers.heartbeat].webhook_configs![0].url_file).toBe(secretFile(a.heartbeatUrl));
    expect([...am.alertmanagerSpec.secrets].sort()).toEqual([a.slackWebhook.name, a.pagerdutyRoutingKey.name, a.heartbeatUrl.name].sort());
    const text = JSON.stringify(am.config);
    for (const key of ['"api_url"', '"routing_key"', '"service_key"', '"url"', 'hooks.slack.com', 'events.pagerduty.com']) expect(text).not.toContain(key);
  });
});
