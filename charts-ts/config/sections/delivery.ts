/**
 * Config section: delivery (cluster-wide). How a merge reaches the cluster: what each deploy stage
 * publishes to the `clusters` branch, how Flux notices, and how long each pipeline step takes.
 * `npm run lead-time` adds these up (with the measured synth time, the canary steps and the
 * analysis timing) against the 10-minute target to the production canary pause (the epic's
 * merge-to-production target is 15 minutes); .github/workflows/
 * deploy.yml publishes exactly the paths listed here (checked by test/delivery/workflows.test.ts).
 */
import { z } from 'zod';
import { duration } from '../fields.ts';

const branch = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/, 'is not a git branch name; use letters, digits, ".", "_", "-" and "/" like clusters');
const repoPath = z.string().regex(
  /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/,
  'is not a relative path; use lower-case segments separated by "/" like apps/staging (no leading "/", "." or "..")',
);

const stagePaths = z.object({
  /** Subtrees of dist/ (same path on the branch). */
  dist: z.array(repoPath).min(1, 'must list at least one dist/ path'),
  /** Hand-written files or folders taken from the repository root (same path on the branch). */
  repo: z.array(repoPath),
}).strict();

export const DeliverySettings = z.object({
  /** The branch Flux reads (`flux bootstrap git --branch=...`); `npm run publish` writes it. */
  clustersBranch: branch,
  /** What each stage of .github/workflows/deploy.yml publishes, in one commit per stage. */
  publish: z.object({
    /** Before staging: every platform layer, the Flux layer Kustomizations and the Flux entry files. */
    platform: stagePaths,
    staging: stagePaths,
    /** After the production approval. */
    production: stagePaths,
  }).strict(),
  flux: z.object({
    /** How Flux learns about a push: the GitHub webhook Receiver, or only the GitRepository poll. */
    trigger: z.enum(['receiver', 'poll'], { error: 'must be receiver (GitHub webhook) or poll' }),
    /** Worst case from a push to the source fetch through the Receiver (GitHub delivery, reconcile). */
    receiverLatency: duration,
    /** The GitRepository's interval (`flux bootstrap --interval`): the fallback when a webhook is lost. */
    pollInterval: duration,
    /**
     * kustomize-controller `--requeue-dependency`: how long a layer waits before it looks again at a
     * dependency that is not Ready yet at the new revision. Paid once per layer in the chain.
     */
    requeueDependency: duration,
    /** One layer whose objects did not change (or only an app's): build, server-side apply, health checks. */
    layerApply: duration,
    /**
     * How often kustomize-controller re-reads the objects of a layer it waits for (its health-check
     * poll): the delay between a canary stopping at its approval and the layer turning Ready.
     */
    healthCheckPoll: duration,
  }).strict(),
  /**
   * Durations of pipeline steps that are not computed from other config: observed on GitHub-hosted
   * runners and on the node; keep them pessimistic. The synth time is measured (bench/results/).
   */
  timings: z.object({
    /** Queueing plus runner start, per job. */
    jobStart: duration,
    /** Checkout, setup-node with the npm cache, `npm ci`. */
    install: duration,
    /** `npm run publish` (fetch, commit, push). */
    publish: duration,
    /**
     * Pulling a release's new image from GHCR onto the node, for the first canary pods that need it
     * (the API's migration Job pulls the API image first; production finds both on the node, staging
     * pulled them). Start, probes and minReadySeconds come from the same model as the abort
     * arithmetic (charts-ts/lib/canary-abort.ts stableRoundSeconds: apps.<app>.startSeconds).
     */
    canaryImagePull: duration,
    /** The database migration Job of a release (its hard deadline is apps.migration.deadline). */
    migration: duration,
    /** The k6 smoke run against staging (its scenario runs 30 s; plus k6 setup). */
    smokeTest: duration,
    /** A few GitHub API calls: the release plan and deployment record, a commit status. */
    notify: duration,
  }).strict(),
  /**
   * Target from merge to the production canary pause: 10 minutes, inside the epic's 15 for
   * merge-to-production, so a release reaches the approver with time to spare.
   */
  leadTimeBudget: duration,
}).strict();
export type DeliverySettings = z.infer<typeof DeliverySettings>;

export const deliveryValues: z.input<typeof DeliverySettings> = {
  clustersBranch: 'clusters',
  publish: {
    platform: {
      dist: [
        'platform/namespaces', 'platform/controllers', 'platform/configs', 'platform/data',
        'platform/observability', 'clusters/production/layers',
      ],
      // The Flux entry point and the SOPS-encrypted Secrets (docs/architecture.md). flux-system/ is
      // written by `flux bootstrap` on the branch itself, so clusters/production is not published whole.
      repo: ['clusters/production/kustomization.yaml', 'clusters/production/layers.yaml', 'clusters/production/secrets'],
    },
    staging: { dist: ['apps/staging'], repo: [] },
    production: { dist: ['apps/production'], repo: [] },
  },
  flux: {
    trigger: 'receiver',
    // GitHub delivers push webhooks within seconds; the Receiver then has source-controller fetch.
    receiverLatency: '15s',
    // flux bootstrap's default GitRepository interval.
    pollInterval: '1m',
    // Flux's default is 30s; the flux-system kustomization patches kustomize-controller with
    // --requeue-dependency=5s (docs/delivery.md, Pipeline): eight layers re-check at every publish.
    requeueDependency: '5s',
    // Unchanged layer: kustomize build, server-side apply dry-run, one health-check poll.
    layerApply: '10s',
    // kustomize-controller v1.9.4 waits with ssa.WaitOptions{Interval: 5 * time.Second}
    // (internal/controller/kustomization_controller.go).
    healthCheckPoll: '5s',
  },
  timings: {
    jobStart: '20s',
    // Checkout and node_modules restored from the actions cache (npm ci only on a lock-file change).
    install: '25s',
    publish: '10s',
    // lms-web's image (nginx and the built SPA, ~30 MB) from GHCR at the VPS's ~10 MB/s, with margin.
    canaryImagePull: '10s',
    // Job start plus an idempotent migration with nothing or little to apply.
    migration: '45s',
    smokeTest: '40s',
    notify: '5s',
  },
  leadTimeBudget: '10m',
};
