/**
 * The Flux layer Kustomizations, applied in this order (each waits for the one before to be Ready at
 * the same git revision):
 *
 *   platform-namespaces -> platform-secrets -> platform-controllers -> platform-configs
 *     -> platform-data -> platform-observability -> apps-staging -> apps-production
 *
 * Paths are as on the `clusters` branch (docs/architecture.md, "The clusters branch"): the publisher
 * copies each dist/ subtree to the same path at the branch root, and the hand-written
 * clusters/production/ (flux bootstrap's flux-system, the entry Kustomization, the SOPS Secrets)
 * sits beside them.
 */
import { Construct } from 'constructs';
import type { Config } from '../config/schema.ts';
import { environmentNames } from '../config/schema.ts';
import {
  Kustomization, KustomizationSpecDecryptionProvider, KustomizationSpecSourceRefKind,
  type KustomizationSpecHealthCheckExprs,
} from '../imports/flux-kustomization-kustomize.toolkit.fluxcd.io.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { platformNs } from '../lib/namespaces.ts';

/** The GitRepository `flux bootstrap git --branch=clusters --path=clusters/production` creates. */
export const fluxSource = { kind: 'GitRepository', name: 'flux-system', namespace: platformNs.flux } as const;
/** The bootstrap path on the clusters branch. */
export const clusterPath = 'clusters/production';
/** SOPS-encrypted Secrets (hand-written, see docs/secrets.md). */
export const secretsPath = `${clusterPath}/secrets`;

export interface FluxLayer {
  /** Kustomization name. */
  readonly name: string;
  /** Directory on the clusters branch (no leading ./). */
  readonly path: string;
  readonly dependsOn: string[];
  readonly timeout: string;
  /** Why it sits where it does. */
  readonly purpose: string;
  /** Decrypts SOPS-encrypted files with the sops-age Secret. */
  readonly decrypt?: boolean;
  readonly healthCheckExprs?: KustomizationSpecHealthCheckExprs[];
}

/** CloudNativePG Clusters are healthy once their Ready condition is True (initdb/restore done). */
const cnpgClusterHealth: KustomizationSpecHealthCheckExprs = {
  apiVersion: 'postgresql.cnpg.io/v1',
  kind: 'Cluster',
  current: "status.conditions.exists(e, e.type == 'Ready' && e.status == 'True')",
  inProgress: "!status.conditions.exists(e, e.type == 'Ready' && e.status == 'True')",
};

/**
 * Argo Rollouts report a phase, not kstatus conditions, and their `status.observedGeneration` is a
 * string, so Flux's built-in generation check (integers only, fluxcd/pkg/runtime cel/status_evaluator.go)
 * does not apply: without the check below, a Rollout whose controller has not yet seen the new
 * template (busy, restarting, down) still shows the previous release's Healthy, and the layer would
 * pass its health check without any canary having run.
 */
const rolloutObserved = "has(status.observedGeneration) && status.observedGeneration == string(metadata.generation)";
/**
 * Paused at an indefinite pause step: the manual approval (a step pause without a duration). Not a
 * pause for an inconclusive analysis or a timed pause, and not a rollout someone paused by hand.
 */
const rolloutAtApproval = [
  "status.phase == 'Paused'",
  "has(status.pauseConditions) && status.pauseConditions.exists(c, c.reason == 'CanaryPauseStep')",
  'has(status.currentStepIndex) && has(spec.strategy.canary.steps) && status.currentStepIndex < size(spec.strategy.canary.steps)',
  'has(spec.strategy.canary.steps[status.currentStepIndex].pause)',
  '!has(spec.strategy.canary.steps[status.currentStepIndex].pause.duration)',
].join(' && ');

/**
 * A Rollout is settled when its controller has observed the applied template and it is Healthy, or,
 * where production waits for a human, stopped at the approval step. An aborted (rolled back) canary
 * has failed. Flux evaluates inProgress, then failed, then current (RFC-0009).
 */
export const rolloutHealth = (pausedForApprovalIsSettled: boolean): KustomizationSpecHealthCheckExprs => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  inProgress: pausedForApprovalIsSettled
    ? `!(${rolloutObserved}) || status.phase == 'Progressing' || (status.phase == 'Paused' && !(${rolloutAtApproval}))`
    : `!(${rolloutObserved}) || status.phase in ['Progressing', 'Paused']`,
  failed: "status.phase == 'Degraded'",
  current: pausedForApprovalIsSettled
    ? `${rolloutObserved} && (status.phase == 'Healthy' || (${rolloutAtApproval}))`
    : `${rolloutObserved} && status.phase == 'Healthy'`,
});

export function fluxLayers(config: Config): FluxLayer[] {
  const t = config.cluster.platform.flux.timeouts;
  const platform: FluxLayer[] = [
    {
      name: 'platform-namespaces', path: layers.namespaces, dependsOn: [], timeout: t.namespaces,
      purpose: 'Namespaces (Pod Security labels, quotas) first: every later object, the Secrets included, needs its namespace.',
    },
    {
      name: 'platform-secrets', path: secretsPath, dependsOn: ['platform-namespaces'], timeout: t.secrets, decrypt: true,
      purpose: 'SOPS-encrypted Secrets before anything that mounts or references them (cert-manager token, object storage, Redis, Alertmanager receivers, Flux notifications).',
    },
    {
      name: 'platform-controllers', path: layers.controllers, dependsOn: ['platform-namespaces', 'platform-secrets'], timeout: t.controllers,
      purpose: 'Controllers and their CRDs (HelmReleases): every custom resource in a later layer needs its CRD installed and its webhook serving.',
    },
    {
      name: 'platform-configs', path: layers.configs, dependsOn: ['platform-controllers'], timeout: t.configs,
      purpose: 'Cluster configuration that uses those CRDs: issuers, admission policies, Traefik config, upgrade plans, the Flux webhook route.',
    },
    {
      name: 'platform-data', path: layers.data, dependsOn: ['platform-configs'], timeout: t.data,
      purpose: 'Databases and their backups: admitted by the policies, with their object storage credentials in place.',
      healthCheckExprs: [cnpgClusterHealth],
    },
    {
      name: 'platform-observability', path: layers.observability, dependsOn: ['platform-data'], timeout: t.observability,
      purpose: 'Monitoring after the data layer, so its monitors and rules find what they watch; before the apps, whose canary analysis queries Prometheus.',
    },
  ];
  const apps: FluxLayer[] = [];
  // While a database is restored in place (a lost server or volume: docs/runbooks/server-rebuild.md),
  // the apps wait for the data layer only and observability comes up beside them. Their first rollout
  // on the new Cluster has no previous revision, so Argo Rollouts runs no step and no analysis: nothing
  // needs Prometheus yet, and the restore is not made longer by observability's first image pulls
  // (charts-ts/data/rto.ts). Production does not wait for staging either: what comes back is the
  // revision production already ran (releases are frozen during a restore), so the staging gate would
  // prove nothing and only keep users out for staging's start. `npm run restore -- <env> --finish`
  // restores the normal order.
  const restoringInPlace = environmentNames.some((e) => config.environments[e].database.recovery?.mode === 'in-place');
  let previous = platform[platform.length - 1].name;
  for (const envName of environmentNames) {
    const env = config.environments[envName];
    apps.push({
      name: `apps-${envName}`, path: layers.apps(envName), dependsOn: [restoringInPlace ? 'platform-data' : previous], timeout: t.apps,
      purpose: restoringInPlace
        ? `${envName === 'staging' ? 'Staging' : 'Production'} right after the restored data layer (an in-place restore is in progress: both environments and observability come up side by side).`
        : envName === 'staging'
          ? 'Staging first: a release must be healthy there before production reconciles.'
          : 'Production last, gated on a healthy staging at the same revision.',
      healthCheckExprs: [rolloutHealth(env.canary.manualApproval)],
    });
    previous = `apps-${envName}`;
  }
  return [...platform, ...apps];
}

/** One Flux Kustomization per layer. */
export class FluxLayerKustomizations extends Construct {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id);
    const f = config.cluster.platform.flux;
    const bootstrap = config.cluster.bootstrap.flux;
    if (bootstrap.path !== clusterPath) {
      throw new Error(`cluster.bootstrap.flux.path is ${bootstrap.path}, but the Flux layers and the SOPS Secrets live under ${clusterPath}; bootstrap with --path=${clusterPath}`);
    }
    for (const layer of fluxLayers(config)) {
      new Kustomization(this, layer.name, {
        metadata: { name: layer.name, namespace: platformNs.flux, annotations: { 'lms.dev/purpose': layer.purpose } },
        spec: {
          path: `./${layer.path}`,
          sourceRef: { kind: KustomizationSpecSourceRefKind.GIT_REPOSITORY, name: fluxSource.name },
          dependsOn: layer.dependsOn.length ? layer.dependsOn.map((name) => ({ name })) : undefined,
          interval: f.interval,
          retryInterval: f.retryInterval,
          timeout: layer.timeout,
          prune: true,
          // Health-check everything applied (Deployments, HelmReleases, ...) before dependents start.
          wait: true,
          healthCheckExprs: layer.healthCheckExprs,
          decryption: layer.decrypt
            // The age private key, loaded into flux-system by bootstrap.
            ? { provider: KustomizationSpecDecryptionProvider.SOPS, secretRef: { name: bootstrap.sopsAgeSecret } }
            : undefined,
        },
      });
    }
  }
}

export class FluxLayersChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.flux, component: 'flux' });
    new FluxLayerKustomizations(this, 'layers', config);
  }
}
