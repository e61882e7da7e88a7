/**
 * Images only from the allowed registries, and always pinned: a tag other than `latest`, or a digest.
 * Applies everywhere except the k3s/Flux system namespaces (their images are pinned by the k3s and
 * Flux releases themselves).
 */
import { podBearingMatchConditions, podBearingRules, podSpecVariables } from './pod-spec.ts';
import type { AdmissionPolicy, PolicyContext } from './types.ts';

/** A CEL string literal. */
const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export const imageProvenance = (ctx: PolicyContext): AdmissionPolicy => ({
  name: 'lms-image-provenance',
  description: 'Images come only from the allowed registries and are pinned (no :latest, no missing tag).',
  resourceRules: podBearingRules,
  namespaces: { allExcept: ctx.systemNamespaces },
  matchConditions: podBearingMatchConditions,
  variables: [
    ...podSpecVariables,
    { name: 'allowedPrefixes', expression: `[${ctx.allowedImagePrefixes.map(lit).join(', ')}]` },
    // Docker's short names: "redis:7" is docker.io/library/redis:7, "rancher/x" is docker.io/rancher/x.
    {
      name: 'images',
      expression: "variables.containers.map(c, c.image.matches('^(localhost|[^/]*[.:][^/]*)/') ? c.image : (c.image.contains('/') ? 'docker.io/' + c.image : 'docker.io/library/' + c.image))",
    },
    { name: 'foreign', expression: 'variables.images.filter(i, !variables.allowedPrefixes.exists(p, i.startsWith(p)))' },
    {
      name: 'unpinned',
      expression: "variables.images.filter(i, !i.matches('^[^@]*/[^/@:]+(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?@sha256:[a-f0-9]{64}$') && !i.matches('^[^@]*/[^/@:]+:[A-Za-z0-9_][A-Za-z0-9_.-]*$'))",
    },
    { name: 'latest', expression: "variables.images.filter(i, i.matches('^[^@]*/[^/@:]+:latest(@.*)?$'))" },
  ],
  validations: [
    {
      expression: 'size(variables.foreign) == 0',
      message: `images must come from an allowed registry (${ctx.allowedImagePrefixes.join(', ')}); mirror the image there or add its registry to cluster.platform.allowedImagePrefixes`,
      messageExpression: `'image(s) ' + variables.foreign.join(', ') + ' are not from an allowed registry (' + variables.allowedPrefixes.join(', ') + '); mirror the image to one of them or add its registry to cluster.platform.allowedImagePrefixes in charts-ts/config/sections/platform.ts'`,
      reason: 'Forbidden',
    },
    {
      expression: 'size(variables.latest) == 0',
      message: 'images must not use the :latest tag; pin a release tag (and preferably its @sha256 digest)',
      messageExpression: "'image(s) ' + variables.latest.join(', ') + ' use the :latest tag; pin a release tag (and preferably its @sha256 digest)'",
      reason: 'Invalid',
    },
    {
      expression: 'size(variables.unpinned) == 0',
      message: 'images must name a tag or a digest (no tag means :latest); pin a release tag, e.g. redis:7.4.2, or a digest',
      messageExpression: "'image(s) ' + variables.unpinned.join(', ') + ' have no tag or digest (that means :latest); pin a release tag, e.g. redis:7.4.2, or an @sha256 digest'",
      reason: 'Invalid',
    },
  ],
});
