/**
 * Flux notifications: reconciliation errors of every layer, HelmRelease and source go to Slack, and
 * production deploys are announced there too. Each layer's result on each clusters commit goes to
 * GitHub as a commit status, which the deploy workflow waits on (docs/delivery.md). A GitHub Receiver turns a push to the clusters branch
 * into an immediate reconcile instead of waiting for the poll interval (merge-to-production budget);
 * it is exposed by flux-webhook.ts.
 */
import type { Construct } from 'constructs';
import type { Config } from '../config/schema.ts';
import { Alert, AlertSpecEventSeverity, AlertSpecEventSourcesKind } from '../imports/flux-alert-notification.toolkit.fluxcd.io.ts';
import { Provider, ProviderSpecType } from '../imports/flux-provider-notification.toolkit.fluxcd.io.ts';
import { Receiver, ReceiverSpecResourcesKind, ReceiverSpecType } from '../imports/flux-receiver-notification.toolkit.fluxcd.io.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { platformNamespaces, platformNs } from '../lib/namespaces.ts';
import { fluxSource } from './flux-layers.ts';

export const slackProvider = 'slack';
export const githubReceiver = 'github-clusters-branch';
export const commitStatusProvider = 'github-commit-status';
/** GitHub commit status context of a Kustomization's result: `flux/<name>` (stable, no cluster UID in it). */
export const commitStatusContext = (kustomization: string) => `flux/${kustomization}`;

/** The repository's web address (what Flux's github Provider wants) from Flux's SSH clone URL. */
export function repositoryWebUrl(sshUrl: string): string {
  const m = /^ssh:\/\/git@([^/:]+)(?::\d+)?\/(.+?)(?:\.git)?$/.exec(sshUrl);
  if (!m) throw new Error(`cluster.bootstrap.flux.repositoryUrl: ${sshUrl} is not ssh://git@<host>/<owner>/<repo>.git`);
  return `https://${m[1]}/${m[2]}`;
}

export class FluxNotificationsChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    // In the configs layer: it must come after platform-secrets, which holds its Slack and webhook tokens.
    super(scope, id, { layer: layers.configs, component: 'flux-notifications' });
    const f = config.cluster.platform.flux;
    const namespace = platformNs.flux;

    new Provider(this, 'slack', {
      metadata: { name: slackProvider, namespace },
      spec: {
        type: ProviderSpecType.SLACK,
        channel: config.cluster.alerting.slackChannel,
        // Key `address`: the Slack incoming-webhook URL (SOPS-encrypted, clusters/production/secrets).
        secretRef: { name: f.notifications.slackSecret },
      },
    });

    // HelmReleases and their chart sources live next to the workloads; the layers and the git
    // source in flux-system.
    const releaseNamespaces = [
      namespace,
      ...platformNamespaces.map((n) => n.name),
      ...Object.values(config.environments).map((e) => e.namespace),
    ];
    const eventSources = [
      { kind: AlertSpecEventSourcesKind.GIT_REPOSITORY, name: '*', namespace },
      { kind: AlertSpecEventSourcesKind.KUSTOMIZATION, name: '*', namespace },
      ...releaseNamespaces.flatMap((ns) => [
        { kind: AlertSpecEventSourcesKind.HELM_RELEASE, name: '*', namespace: ns },
        { kind: AlertSpecEventSourcesKind.HELM_REPOSITORY, name: '*', namespace: ns },
        { kind: AlertSpecEventSourcesKind.OCI_REPOSITORY, name: '*', namespace: ns },
      ]),
    ];
    new Alert(this, 'errors', {
      metadata: { name: 'reconciliation-errors', namespace },
      spec: {
        providerRef: { name: slackProvider },
        eventSeverity: AlertSpecEventSeverity.ERROR,
        eventSources,
        eventMetadata: { cluster: config.cluster.node.hostname },
      },
    });
    new Alert(this, 'production-deploys', {
      metadata: { name: 'production-deploys', namespace },
      spec: {
        providerRef: { name: slackProvider },
        eventSeverity: AlertSpecEventSeverity.INFO,
        eventSources: [{ kind: AlertSpecEventSourcesKind.KUSTOMIZATION, name: 'apps-production', namespace }],
        eventMetadata: { cluster: config.cluster.node.hostname },
      },
    });

    // Every layer's result on the clusters commit it applied, as a GitHub commit status: the deploy
    // workflow follows these (and the canary events) instead of holding a way into the cluster.
    // Progressing events are skipped by the provider; Ready -> success, a failed apply or health
    // check -> failure.
    new Provider(this, 'github-commit-status', {
      metadata: { name: commitStatusProvider, namespace },
      spec: {
        type: ProviderSpecType.GITHUB,
        address: repositoryWebUrl(config.cluster.bootstrap.flux.repositoryUrl),
        // Key `token`: allowed to write commit statuses, nothing else.
        secretRef: { name: f.commitStatus.tokenSecret },
        commitStatusExpr: `'${commitStatusContext('')}' + event.involvedObject.name`,
      },
    });
    new Alert(this, 'layer-status', {
      metadata: { name: 'layer-status', namespace },
      spec: {
        providerRef: { name: commitStatusProvider },
        // info and error: success and failure both reach GitHub.
        eventSeverity: AlertSpecEventSeverity.INFO,
        eventSources: [{ kind: AlertSpecEventSourcesKind.KUSTOMIZATION, name: '*', namespace }],
      },
    });

    new Receiver(this, 'github', {
      metadata: { name: githubReceiver, namespace },
      spec: {
        type: ReceiverSpecType.GITHUB,
        events: ['ping', 'push'],
        // GitHub sends one webhook for every branch; only the clusters branch matters here (a `ping`
        // has no ref and triggers nothing).
        resourceFilter: `has(req.ref) && req.ref == 'refs/heads/${config.cluster.bootstrap.flux.branch}'`,
        // Key `token`: the webhook secret GitHub signs payloads with (HMAC, X-Hub-Signature-256).
        secretRef: { name: f.receiver.tokenSecret },
        resources: [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: ReceiverSpecResourcesKind.GIT_REPOSITORY, name: fluxSource.name, namespace: fluxSource.namespace }],
      },
    });
  }
}
