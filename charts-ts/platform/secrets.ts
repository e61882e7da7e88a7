/**
 * Every SOPS-encrypted Secret the cluster needs, derived from config and the shared names. Each one
 * is a file under clusters/production/secrets/<namespace>/<name>.enc.yaml, applied (decrypted with
 * the sops-age key) by the `platform-secrets` Flux layer, before any layer that uses it.
 *
 * `npm run secrets -- scaffold` creates a missing file with placeholder values, encrypted for the
 * recipients in .sops.yaml; `npm run secrets -- check` verifies files and inventory agree. Real
 * values are set with `sops edit` (docs/secrets.md).
 */
import type { Config } from '../config/schema.ts';
import { rolloutsNotificationSecret } from '../lib/canary-events.ts';
import { names } from '../lib/names.ts';
import { platformNs } from '../lib/namespaces.ts';
import { secretsPath } from './flux-layers.ts';

export interface SecretKey {
  readonly name: string;
  /**
   * `random`: a generated value is a fine real value (passwords, webhook tokens);
   * `external`: issued elsewhere (Cloudflare, Slack, Contabo) and must be set by an operator.
   */
  readonly value: 'random' | 'external';
  /** Where the value comes from / what it must allow. */
  readonly hint: string;
}

export interface SopsSecret {
  readonly namespace: string;
  readonly name: string;
  readonly keys: SecretKey[];
  /** Who reads it. */
  readonly usedBy: string;
}

/** Path of a Secret's encrypted file, relative to the repository root (and the clusters branch). */
export const secretFile = (s: Pick<SopsSecret, 'namespace' | 'name'>): string => `${secretsPath}/${s.namespace}/${s.name}.enc.yaml`;

export function secretInventory(config: Config): SopsSecret[] {
  const c = config.cluster;
  const out: SopsSecret[] = [];
  const token = c.platform.certificates.cloudflareApiToken;
  out.push({
    namespace: platformNs.certManager,
    name: token.name,
    keys: [{ name: token.key, value: 'external', hint: `Cloudflare API token with Zone:DNS:Edit on ${c.domain} (dash.cloudflare.com > My Profile > API Tokens)` }],
    usedBy: `cert-manager DNS-01 solver of the ClusterIssuers ${names.issuers.staging} and ${names.issuers.production}`,
  });
  for (const env of Object.values(config.environments)) {
    out.push({
      namespace: env.namespace,
      name: names.redis.passwordSecret,
      keys: [{ name: names.redis.passwordKey, value: 'random', hint: 'Redis AUTH password (any long random string: openssl rand -base64 32)' }],
      usedBy: `Redis and the API in ${env.namespace}`,
    });
    out.push({
      namespace: env.namespace,
      name: c.objectStorage.credentialsSecret,
      keys: [
        { name: 'ACCESS_KEY_ID', value: 'external', hint: `Contabo Object Storage access key for bucket ${c.objectStorage.bucket}` },
        { name: 'ACCESS_SECRET_KEY', value: 'external', hint: 'the matching secret key' },
      ],
      usedBy: `database backups (Barman Cloud ObjectStore, logical dumps) in ${env.namespace}`,
    });
  }
  // Alertmanager receivers: one Secret per name in cluster.alerting, holding the keys referenced.
  const alerting = [c.alerting.slackWebhook, c.alerting.pagerdutyRoutingKey, c.alerting.heartbeatUrl];
  const hints: Record<string, string> = {
    [c.alerting.slackWebhook.key]: `Slack incoming-webhook URL for ${c.alerting.slackChannel}`,
    [c.alerting.pagerdutyRoutingKey.key]: 'PagerDuty Events API v2 integration (routing) key',
    [c.alerting.heartbeatUrl.key]: 'dead man\'s switch URL pinged by the always-firing Watchdog alert',
  };
  for (const name of [...new Set(alerting.map((r) => r.name))]) {
    out.push({
      namespace: names.monitoring.namespace,
      name,
      keys: alerting.filter((r) => r.name === name).map((r) => ({ name: r.key, value: 'external' as const, hint: hints[r.key] ?? 'Alertmanager receiver setting' })),
      usedBy: 'Alertmanager receivers',
    });
  }
  // The weekly report's edge figures: the origin health check's events (Cloudflare GraphQL Analytics).
  const analytics = c.cost.weeklyReport.cloudflareToken;
  out.push({
    namespace: names.monitoring.namespace,
    name: analytics.name,
    keys: [{ name: analytics.key, value: 'external', hint: `Cloudflare API token with Zone:Read and Analytics:Read on ${c.bootstrap.cloudflare.zone} (read-only; the weekly report's edge-measured uptime)` }],
    usedBy: 'the weekly KPI report (edge-measured uptime from the origin health check)',
  });
  const flux = c.platform.flux;
  out.push({
    namespace: platformNs.flux,
    name: flux.notifications.slackSecret,
    keys: [{ name: 'address', value: 'external', hint: `Slack incoming-webhook URL for ${c.alerting.slackChannel} (Flux reconciliation errors)` }],
    usedBy: 'Flux notification Provider "slack"',
  });
  out.push({
    namespace: platformNs.flux,
    name: flux.receiver.tokenSecret,
    keys: [{ name: 'token', value: 'random', hint: 'webhook secret, also set on the GitHub repository webhook (Settings > Webhooks)' }],
    usedBy: 'Flux GitHub Receiver (push to the clusters branch)',
  });
  out.push({
    namespace: platformNs.flux,
    name: flux.commitStatus.tokenSecret,
    keys: [{ name: 'token', value: 'external', hint: 'GitHub token (fine-grained, this repository only) with "Commit statuses: write" and nothing else' }],
    usedBy: 'Flux notification Provider "github-commit-status" (layer results on clusters commits)',
  });
  out.push({
    namespace: platformNs.argoRollouts,
    name: rolloutsNotificationSecret.name,
    keys: [
      { name: rolloutsNotificationSecret.githubTokenKey, value: 'external', hint: 'GitHub token (fine-grained, this repository only) with "Contents: write", which repository_dispatch requires; nothing else' },
      { name: rolloutsNotificationSecret.slackWebhookKey, value: 'external', hint: 'Slack incoming webhook URL of the deploy channel (api.slack.com/apps > Incoming Webhooks)' },
    ],
    usedBy: 'Argo Rollouts notifications (canary paused/aborted/completed -> GitHub repository_dispatch and Slack)',
  });
  return out;
}
