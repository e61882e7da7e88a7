import { describe, expect, it } from 'vitest';
import { renderAll } from '../support/render.ts';

describe('Argo Rollouts and Traefik v3', () => {
  /** The chart values read here. */
  interface Values { controller: { extraArgs: string[] }; providerRBAC: { additionalRules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] } }
  const release = renderAll().getOf<{ spec: { values: Values } }>('helm.toolkit.fluxcd.io', 'HelmRelease', 'argo-rollouts', 'argo-rollouts');

  it('points the controller at the traefik.io API group the apps TraefikServices use', () => {
    expect(release.spec.values.controller.extraArgs).toEqual(['--traefik-api-group=traefik.io', '--traefik-api-version=traefik.io/v1alpha1']);
  });

  it('may update TraefikServices in traefik.io (the chart only grants traefik.containo.us)', () => {
    const rule = release.spec.values.providerRBAC.additionalRules.find((r) => r.apiGroups.includes('traefik.io'))!;
    expect(rule.resources).toContain('traefikservices');
    expect(rule.verbs).toEqual(expect.arrayContaining(['get', 'watch', 'update']));
  });
});
