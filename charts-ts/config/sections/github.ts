/**
 * Config section: the GitHub repository's rules (`npm run bootstrap -- github`), part of
 * cluster.bootstrap. Who can move which branch, and with which credential (docs/delivery.md, "Who
 * can push where"):
 *
 * - `clusters` (what Flux applies): only a deploy key with write access may create or update it,
 *   and the only such key is the publisher, whose private half is the secret of the `production`
 *   environment (required reviewers, `main` only). Nobody, the key included, may force-push or
 *   delete it. The job token of any workflow (github-actions) is refused.
 * - `main`: changes through reviewed pull requests with the CI checks green; no force-push, no
 *   deletion, no bypass.
 * - Flux's own deploy key is read-only.
 */
import { z } from 'zod';

const sshPublicKey = z.string().regex(
  /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]{40,}={0,3}( [^\n]*)?$/,
  'is not an OpenSSH public key; paste the one line of the .pub file ("ssh-ed25519 AAAA... comment")',
);
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'is not a GitHub name; use letters, digits, ".", "_" and "-"');
const secretName = z.string().regex(/^[A-Z][A-Z0-9_]{0,99}$/, 'is not an Actions secret name; use upper-case letters, digits and "_" (CLUSTERS_DEPLOY_KEY)');

const reviewer = z.union([
  z.object({ team: name }).strict(),
  z.object({ user: name }).strict(),
], { error: 'must be { team: <slug> } or { user: <login> }' });

const environment = z.object({
  /** Who approves a job of this environment (GitHub allows at most 6); empty: no approval. */
  reviewers: z.array(reviewer).max(6, 'GitHub allows at most 6 required reviewers'),
  /** The person who started the run may not approve it. */
  preventSelfReview: z.boolean(),
  /** Branches whose workflows may use the environment (and read its secrets). */
  branches: z.array(name).min(1, 'must name at least one branch (an environment open to every branch shares its secrets with any pushed workflow)'),
}).strict();

export const GitHubSettings = z.object({
  /** owner/name of this repository. */
  repository: z.string().regex(/^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/, 'is not owner/name; use lms-platform/lms-gitops'),
  mainBranch: name,
  /** Status checks a pull request into main must pass: the CI job names (.github/workflows/ci.yml). */
  requiredChecks: z.array(z.string().min(1)).min(1, 'must name at least the CI checks job'),
  requiredApprovals: z.number().int().min(1, 'must be at least 1: main changes only through reviewed pull requests').max(10),
  environments: z.object({
    /** Holds the publisher key; deploy.yml's production job runs in it. */
    production: environment.refine((e) => e.reviewers.length > 0, 'needs at least one reviewer: it holds the only key that can push to the clusters branch'),
    /** Holds the Contabo credentials (the snapshot rotation). */
    contabo: environment,
  }).strict(),
  deployKeys: z.object({
    /** Flux's key (public half; the private half is FLUX_GIT_SSH_KEY_FILE, stored in the cluster): read-only. */
    flux: sshPublicKey,
    /** The publisher's key (public half; the private half is the production environment's secret): write. */
    publisher: sshPublicKey,
  }).strict(),
  /** The production environment secret holding the publisher's private key (deploy.yml reads it). */
  publisherSecret: secretName,
}).strict().superRefine((g, ctx) => {
  const material = (k: string) => k.split(' ').slice(0, 2).join(' ');
  if (material(g.deployKeys.flux) === material(g.deployKeys.publisher)) {
    ctx.addIssue({ code: 'custom', path: ['deployKeys', 'publisher'], input: g.deployKeys.publisher, message: 'is the same key as deployKeys.flux; Flux\'s key must be read-only, so the publisher needs its own' });
  }
});
export type GitHubSettings = z.infer<typeof GitHubSettings>;

export const githubValues: z.input<typeof GitHubSettings> = {
  repository: 'lms-platform/lms-gitops',
  mainBranch: 'main',
  // The job of ci.yml that type-checks, lints, synthesizes and tests (its `name:`).
  requiredChecks: ['type-check, lint, synth, tests'],
  requiredApprovals: 1,
  environments: {
    production: { reviewers: [{ team: 'platform' }], preventSelfReview: true, branches: ['main'] },
    // The nightly rotation runs unattended: no reviewers, but only main's workflow reads the secrets.
    contabo: { reviewers: [], preventSelfReview: false, branches: ['main'] },
  },
  deployKeys: {
    // Placeholder keys (their private halves were discarded): replace with the real public halves
    // (docs/runbooks/server-rebuild.md, "GitHub").
    flux: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOoBnLuCbuaLaxzph5MMLBpqqBQYOrh/CtMDD9ITSUuG flux@lms (read-only; placeholder: replace)',
    publisher: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBomUiCooj2aty3D4oAjGrFG/wtwvnaT5vALPnWQYLLl clusters-publisher@lms (placeholder: replace)',
  },
  publisherSecret: 'CLUSTERS_DEPLOY_KEY',
};
