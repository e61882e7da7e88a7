/**
 * Argo Rollouts notifications (the chart's `notifications` values -> argo-rollouts-notification-configmap):
 * a production canary that stops for approval, aborts or completes sends a repository_dispatch to
 * GitHub (the deploy workflow's only view of the cluster, lib/canary-events.ts) and a message to the
 * deploy channel with the exact promote and abort commands.
 *
 * Templates are Go text/template with sprig, rendered by the controller against the Rollout as a
 * map (numbers are float64, hence `int`). The event is recorded with the Rollout as it was before
 * the status patch that paused it, so `status.currentStepIndex` is the step that paused.
 */
import { stringify } from 'yaml';
import type { Config } from '../config/schema.ts';
import { canaryEventTypes, canaryServices, canaryTriggers, rolloutsNotificationSecret, templateHashAnnotation, type CanaryEvent } from '../lib/canary-events.ts';
import { repositoryWebUrl } from './flux-notifications.ts';

/** `owner/repo` of the repository Flux reads (the deploy workflow runs there). */
export const githubRepository = (config: Config): string =>
  new URL(repositoryWebUrl(config.cluster.bootstrap.flux.repositoryUrl)).pathname.slice(1);

/** `$approval`: the step that paused is an indefinite pause (the manual approval), not a timed or inconclusive one. */
const approvalVar = [
  '{{- $steps := .rollout.spec.strategy.canary.steps -}}',
  '{{- $step := int (default 0 .rollout.status.currentStepIndex) -}}',
  '{{- $approval := false -}}',
  '{{- if lt $step (len $steps) -}}{{- $s := index $steps $step -}}',
  '{{- if and (hasKey $s "pause") (not (hasKey (index $s "pause") "duration")) -}}{{- $approval = true -}}{{- end -}}',
  '{{- end -}}',
].join('');

const ref = '{{.rollout.metadata.namespace}}/{{.rollout.metadata.name}}';
const cmd = (verb: string) => `kubectl argo rollouts ${verb} {{.rollout.metadata.name}} -n {{.rollout.metadata.namespace}}`;

const slackText: Record<CanaryEvent, string> = {
  paused: `{{if $approval}}:double_vertical_bar: ${ref} canary is waiting for approval at step {{$step}}. Look at the SLO dashboard, then promote: \`${cmd('promote')}\` or abort: \`${cmd('abort')}\` (over the SSH tunnel, docs/runbooks/deploy.md).`
    + `{{else}}:hourglass: ${ref} canary paused at step {{$step}} (timed pause or inconclusive analysis): \`${cmd('get rollout')}\`.{{end}}`,
  aborted: `:x: ${ref} canary aborted and rolled back to stable: \`${cmd('get rollout')}\`, docs/runbooks/failed-rollout.md.`,
  completed: `:white_check_mark: ${ref} rolled out: {{(index .rollout.spec.template.spec.containers 0).image}}.`,
};

function template(config: Config, event: CanaryEvent): string {
  const payload = [
    '"namespace":"{{.rollout.metadata.namespace}}"',
    '"rollout":"{{.rollout.metadata.name}}"',
    `"templateHash":"{{index .rollout.metadata.annotations "${templateHashAnnotation}"}}"`,
    '"step":{{$step}}',
    '"approval":{{$approval}}',
  ].join(',');
  return stringify({
    webhook: {
      [canaryServices.github]: {
        method: 'POST',
        path: `/repos/${githubRepository(config)}/dispatches`,
        body: `${approvalVar}{"event_type":"${canaryEventTypes[event]}","client_payload":{${payload}}}`,
      },
      [canaryServices.slack]: {
        method: 'POST',
        // Names, steps and image references need no JSON escaping; the texts hold no quotes (tested).
        body: `${approvalVar}{"text":"${slackText[event]}"}`,
      },
    },
  }, { lineWidth: 0 });
}

/** Values for the chart's `notifications` key. */
export function rolloutsNotificationValues(config: Config): Record<string, unknown> {
  const s = rolloutsNotificationSecret;
  const headers = [{ name: 'Content-Type', value: 'application/json' }];
  const events = Object.keys(canaryEventTypes) as CanaryEvent[];
  return {
    // The Secret is SOPS-encrypted in git (platform/secrets.ts); the chart must not create an empty one.
    secret: { create: false },
    notifiers: {
      [`service.webhook.${canaryServices.github}`]: stringify({
        url: 'https://api.github.com',
        headers: [
          ...headers,
          { name: 'Accept', value: 'application/vnd.github+json' },
          { name: 'X-GitHub-Api-Version', value: '2022-11-28' },
          // Fine-grained token, this repository only, "Contents: write" (what repository_dispatch needs).
          { name: 'Authorization', value: `Bearer $${s.githubTokenKey}` },
        ],
        // Quoted: a plain 2022-11-28 is a YAML timestamp, not the header's string.
      }, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' }),
      [`service.webhook.${canaryServices.slack}`]: stringify({ url: `$${s.slackWebhookKey}`, headers }),
    },
    templates: Object.fromEntries(events.map((e) => [`template.${canaryEventTypes[e]}`, template(config, e)])),
    // Our templates for the built-in triggers (no condition: the event itself is the trigger).
    triggers: Object.fromEntries(events.map((e) => [`trigger.${canaryTriggers[e]}`, stringify([{ send: [canaryEventTypes[e]] }])])),
  };
}
