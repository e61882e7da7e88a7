/**
 * Alertmanager configuration: who is told what.
 *
 * - `severity=critical` -> PagerDuty (pages the on-call) and Slack;
 * - `severity=warning`  -> Slack only (a ticket: handle in working hours);
 * - `Watchdog`          -> the external heartbeat (dead man's switch): one node cannot report its
 *   own death, so an outside check alerts when the heartbeat stops.
 *
 * Credentials never appear here: the receivers read them from files Alertmanager mounts from the
 * SOPS-encrypted Secrets named in `cluster.alerting` (`alertmanagerSpec.secrets` mounts each at
 * /etc/alertmanager/secrets/<secret>/<key>).
 */
import type { Cluster } from '../config/schema.ts';

export const receivers = { pagerduty: 'pagerduty', slack: 'slack', heartbeat: 'heartbeat', blackhole: 'null' } as const;

/** Where Alertmanager (operator-managed) mounts a Secret listed in `alertmanagerSpec.secrets`. */
export const secretFile = (ref: { name: string; key: string }): string => `/etc/alertmanager/secrets/${ref.name}/${ref.key}`;

/** The Secrets Alertmanager mounts; created SOPS-encrypted in the monitoring namespace by the platform layer. */
export const alertmanagerSecrets = (cluster: Cluster): string[] =>
  [...new Set([cluster.alerting.slackWebhook.name, cluster.alerting.pagerdutyRoutingKey.name, cluster.alerting.heartbeatUrl.name])].sort();

const slackText = [
  '{{ range .Alerts }}*{{ .Labels.alertname }}* ({{ .Labels.severity }}){{ if .Labels.namespace }} in `{{ .Labels.namespace }}`{{ end }}',
  '{{ .Annotations.summary }}',
  '{{ .Annotations.description }}',
  '<{{ .Annotations.runbook_url }}|Runbook>',
  '{{ end }}',
].join('\n');

export function alertmanagerConfig(cluster: Cluster): Record<string, unknown> {
  const a = cluster.alerting;
  const heartbeat = cluster.observability.alerts.heartbeatInterval;
  return {
    global: { resolve_timeout: '5m' },
    // The chart's default template path, kept explicit so this object is the whole configuration.
    templates: ['/etc/alertmanager/config/*.tmpl'],
    route: {
      receiver: receivers.slack,
      group_by: ['alertname', 'namespace', 'slo'],
      group_wait: '30s',
      group_interval: '5m',
      repeat_interval: '12h',
      routes: [
        {
          // Dead man's switch: resent every interval for as long as the pipeline works.
          receiver: receivers.heartbeat,
          matchers: ['alertname = "Watchdog"'],
          group_wait: '0s',
          group_interval: heartbeat,
          repeat_interval: heartbeat,
        },
        {
          receiver: receivers.pagerduty,
          matchers: ['severity = "critical"'],
          // Also to Slack, through the next route.
          continue: true,
          repeat_interval: '1h',
        },
        {
          receiver: receivers.slack,
          matchers: ['severity =~ "critical|warning"'],
        },
        {
          // Anything else (severity none/info): recorded in Alertmanager's UI, not sent.
          receiver: receivers.blackhole,
          matchers: ['severity !~ "critical|warning"'],
        },
      ],
    },
    inhibit_rules: [
      {
        // A page makes the ticket for the same thing redundant (e.g. fast vs slow SLO burn).
        source_matchers: ['severity = "critical"'],
        target_matchers: ['severity = "warning"'],
        equal: ['alertname', 'namespace', 'slo'],
      },
      {
        // With PostgreSQL down, archiving and dumps fail as a consequence.
        source_matchers: ['alertname = "PostgresDown"'],
        target_matchers: ['alertname =~ "PostgresWALArchivingFailing|PostgresLogicalDumpFailing"'],
        equal: ['namespace'],
      },
      {
        // Node out of memory or disk explains crash loops and failing targets.
        source_matchers: ['alertname =~ "NodeMemoryPressure|NodeDiskPressure"'],
        target_matchers: ['alertname =~ "KubePodCrashLooping|TargetDown"'],
      },
    ],
    receivers: [
      { name: receivers.blackhole },
      {
        name: receivers.heartbeat,
        webhook_configs: [{ url_file: secretFile(a.heartbeatUrl), send_resolved: false }],
      },
      {
        name: receivers.pagerduty,
        pagerduty_configs: [{
          routing_key_file: secretFile(a.pagerdutyRoutingKey),
          severity: 'critical',
          description: '{{ .CommonAnnotations.summary }}',
          details: {
            firing: '{{ .Alerts.Firing | len }}',
            namespace: '{{ .CommonLabels.namespace }}',
            runbook: '{{ .CommonAnnotations.runbook_url }}',
          },
          send_resolved: true,
        }],
      },
      {
        name: receivers.slack,
        slack_configs: [{
          api_url_file: secretFile(a.slackWebhook),
          channel: a.slackChannel,
          send_resolved: true,
          title: '{{ if eq .Status "firing" }}[{{ .CommonLabels.severity | toUpper }}]{{ else }}[RESOLVED]{{ end }} {{ .CommonLabels.alertname }}',
          text: slackText,
        }],
      },
    ],
  };
}
