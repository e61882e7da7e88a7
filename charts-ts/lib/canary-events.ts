/**
 * Canary events: how a production canary tells the deploy workflow (and the on-call channel) that it
 * stopped for approval, was aborted, or completed, without anything outside reaching into the
 * cluster (docs/delivery.md, "Status without a way in").
 *
 *   Argo Rollouts notifications --repository_dispatch--> GitHub --> .github/workflows/canary-events.yml
 *     --> `npm run release -- canary-event` --> commit status `canary/<rollout>` on the clusters commit
 *   the deploy workflow's production job polls those statuses (and Flux's `flux/<layer>` ones).
 *
 * A canary is identified by its Rollout and the hash of the pod template it rolls out
 * (`lms.dev/template-hash` on the Rollout, computed at synth): the deploy run records which
 * templates it published, the event names the one it is about.
 */
import { createHash } from 'node:crypto';

/** Rollout annotation: hash of spec.template as published (a new hash is a new canary). */
export const templateHashAnnotation = 'lms.dev/template-hash';

/** sha256 of the canonical JSON (keys sorted at every level) of a pod template, 16 hex digits. */
export function templateHash(template: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(template))).digest('hex').slice(0, 16);
}

/** The repository_dispatch event types the Rollouts controller sends (GitHub: at most 100 characters). */
export const canaryEventTypes = {
  paused: 'canary-paused',
  aborted: 'canary-aborted',
  completed: 'canary-completed',
} as const;
export type CanaryEvent = keyof typeof canaryEventTypes;

/** The Argo Rollouts trigger (event reason RolloutPaused -> on-rollout-paused) behind each event. */
export const canaryTriggers: Record<CanaryEvent, string> = {
  paused: 'on-rollout-paused',
  aborted: 'on-rollout-aborted',
  completed: 'on-rollout-completed',
};

/**
 * Notification services in argo-rollouts-notification-configmap (service.webhook.<name>):
 * GitHub's REST API and the deploy channel's Slack incoming webhook.
 */
export const canaryServices = { github: 'github', slack: 'slack-deploys' } as const;

/** The Secret the controller reads its service credentials from (fixed name, utils/record/record.go). */
export const rolloutsNotificationSecret = {
  name: 'argo-rollouts-notification-secret',
  githubTokenKey: 'github-token',
  slackWebhookKey: 'slack-deploys-webhook-url',
} as const;

/** Commit status context of a canary on the clusters commit that started it. */
export const canaryStatusContext = (rollout: string): string => `canary/${rollout}`;

/**
 * Rollout annotations that subscribe it to the canary events (notifications-engine: an empty value
 * is one destination with no recipient, which is what a webhook service takes).
 */
export function canarySubscriptions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const trigger of Object.values(canaryTriggers)) {
    for (const service of Object.values(canaryServices)) out[`notifications.argoproj.io/subscribe.${trigger}.${service}`] = '';
  }
  return out;
}
