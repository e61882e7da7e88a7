/**
 * Cluster configs: Let's Encrypt issuers, the k3s upgrade Plan, the Traefik HelmChartConfig, the Flux
 * notifications and webhook route.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { footprintAnnotation } from '../../charts-ts/lib/footprint.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { k3sUpgradeTag } from '../../charts-ts/platform/upgrade-plans.ts';
import { commitStatusContext, commitStatusProvider, repositoryWebUrl } from '../../charts-ts/platform/flux-notifications.ts';
import { secretInventory } from '../../charts-ts/platform/secrets.ts';
import { run } from '@bufbuild/cel';
import { renderAll } from '../support/render.ts';
import { toCel } from './support/admission.ts';

const r = renderAll();
/** The kinds read here, as the fields read (the rest compared whole). */
interface ClusterIssuerJson {
  spec: { acme: { server: string; email: string; privateKeySecretRef: { name: string }; solvers: { selector: unknown; dns01: { cloudflare: { apiTokenSecretRef: { name: string; key: string } } } }[] } };
}
interface CertificateJson { spec: { issuerRef: { name: string }; [field: string]: unknown } }
interface PlanJson { spec: { version: string; drain?: unknown; nodeSelector: { matchExpressions: unknown }; window: unknown; upgrade: { image: string } } }
interface PodMonitorJson { spec: { selector: { matchLabels: unknown }; podMetricsEndpoints: { port: string; interval?: string }[] } }
interface FluxSpecJson { spec: { secretRef: { name: string }; [field: string]: unknown } }
const cm = 'cert-manager.io';
const flux = 'notification.toolkit.fluxcd.io';
const inventory = secretInventory(r.config);
const inInventory = (namespace: string, name: string, key: string) =>
  inventory.some((s) => s.namespace === namespace && s.name === name && s.keys.some((k) => k.name === key));

describe('ClusterIssuers', () => {
  it('Let\'s Encrypt staging and production, named as the apps expect, DNS-01 through Cloudflare', () => {
    const servers = { staging: 'https://acme-staging-v02.api.letsencrypt.org/directory', production: 'https://acme-v02.api.letsencrypt.org/directory' };
    for (const env of ['staging', 'production'] as const) {
      const issuer = r.getOf<ClusterIssuerJson>(cm, 'ClusterIssuer', names.issuers[env]);
      expect(issuer.spec.acme.server).toBe(servers[env]);
      expect(issuer.spec.acme.email).toBe(r.config.cluster.letsEncryptEmail);
      expect(issuer.spec.acme.privateKeySecretRef.name).toBe(`${names.issuers[env]}-account-key`);
      const [solver] = issuer.spec.acme.solvers;
      expect(solver.selector).toEqual({ dnsZones: [r.config.cluster.domain] });
      const ref = solver.dns01.cloudflare.apiTokenSecretRef;
      expect(ref).toEqual(r.config.cluster.platform.certificates.cloudflareApiToken);
      // The token Secret is an encrypted file in cert-manager's namespace (its cluster resource namespace).
      expect(inInventory('cert-manager', ref.name, ref.key)).toBe(true);
    }
  });
  it('every Certificate in the output uses one of them', () => {
    for (const cert of r.findOf<CertificateJson>(cm, 'Certificate')) {
      expect(cert.spec.issuerRef, cert.metadata.name).toMatchObject({ kind: 'ClusterIssuer' });
      expect(Object.values(names.issuers)).toContain(cert.spec.issuerRef.name);
    }
  });
});

describe('k3s upgrade Plan', () => {
  it('moves the node to the pinned k3s version, cordoning but never draining the only node', () => {
    const plan = r.getOf<PlanJson>('upgrade.cattle.io', 'Plan', 'k3s-server', 'system-upgrade');
    expect(plan.spec.version).toBe(r.config.cluster.k3s.version);
    expect(plan.spec).toMatchObject({ concurrency: 1, cordon: true, serviceAccountName: 'system-upgrade', upgrade: { image: 'docker.io/rancher/k3s-upgrade' } });
    expect(plan.spec.drain).toBeUndefined();
    expect(plan.spec.nodeSelector.matchExpressions).toEqual([{ key: 'node-role.kubernetes.io/control-plane', operator: 'In', values: ['true'] }]);
    expect(plan.spec.window).toEqual(r.config.cluster.platform.upgrades.window);
    expect(k3sUpgradeTag('v1.36.3+k3s1')).toBe('v1.36.3-k3s1');
  });
  it('follows the config pin', () => {
    const next = renderAll({ cluster: { k3s: { version: 'v1.37.1+k3s2' } } });
    expect(next.getOf<PlanJson>('upgrade.cattle.io', 'Plan', 'k3s-server', 'system-upgrade').spec.version).toBe('v1.37.1+k3s2');
  });
  it('pulls the k3s-upgrade image by digest once cluster.k3s.upgradeImage pins it (the controller keeps a digested reference)', () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    const pinned = renderAll({ cluster: { k3s: { upgradeImage: { tag: 'v1.36.3-k3s1', digest } } } });
    expect(pinned.getOf<PlanJson>('upgrade.cattle.io', 'Plan', 'k3s-server', 'system-upgrade').spec.upgrade.image).toBe(`docker.io/rancher/k3s-upgrade:v1.36.3-k3s1@${digest}`);
  });
});

describe('Traefik HelmChartConfig', () => {
  const hcc = r.getOf<{ spec: { valuesContent: string } }>('helm.cattle.io', 'HelmChartConfig', 'traefik', 'kube-system');
  const values = parse(hcc.spec.valuesContent);
  const t = r.config.cluster.platform.traefik;

  it('targets the k3s-bundled chart and keeps its pod labels', () => {
    expect(hcc.apiVersion).toBe('helm.cattle.io/v1');
    expect(values.podLabels).toBeUndefined();
    expect(values.deployment?.podLabels).toBeUndefined();
    expect(names.ingress.podLabels).toEqual({ 'app.kubernetes.io/name': 'traefik' });
  });
  it('trusts forwarded headers only from Cloudflare, without PROXY protocol', () => {
    const cf = [...r.config.cluster.cloudflare.ipv4, ...r.config.cluster.cloudflare.ipv6];
    for (const ep of ['web', 'websecure']) {
      expect(values.ports[ep].forwardedHeaders).toEqual({ trustedIPs: cf, insecure: false });
      expect(values.ports[ep].proxyProtocol).toBeUndefined();
    }
    // The client address must survive to Traefik for the trust decision.
    expect(values.service.spec.externalTrafficPolicy).toBe('Local');
    expect(hcc.spec.valuesContent).not.toMatch(/[&*]a\d/); // no YAML aliases
  });
  it('logs JSON access logs, redirects HTTP to HTTPS and exposes Prometheus metrics', () => {
    expect(values.additionalArguments).toEqual(expect.arrayContaining([
      '--log.format=json', '--accesslog=true', '--accesslog.format=json',
      '--entryPoints.web.http.redirections.entryPoint.to=:443',
      '--entryPoints.web.http.redirections.entryPoint.scheme=https',
      '--entryPoints.web.http.redirections.entryPoint.permanent=true',
    ]));
    expect(values.metrics.prometheus).toMatchObject({ entryPoint: 'metrics', addServicesLabels: true });
    const monitor = r.getOf<PodMonitorJson>('monitoring.coreos.com', 'PodMonitor', 'traefik', 'kube-system');
    expect(monitor.spec.selector.matchLabels).toEqual(names.ingress.podLabels);
    expect(monitor.spec.podMetricsEndpoints[0].port).toBe('metrics');
  });
  it('keeps a Service without ready pods as 503 "no available server", counted per router, and is scraped every scrapeInterval', () => {
    // Without it Traefik drops an empty Service, and with it the whole weighted TraefikService: the
    // host would answer 404 while a canary has no ready pod, and the analysis would see nothing.
    expect(values.providers).toEqual({ kubernetesCRD: { allowEmptyServices: true } });
    // The canary analysis finds those 503s in the router series.
    expect(values.metrics.prometheus).toMatchObject({ addRoutersLabels: true, addServicesLabels: true });
    expect(r.getOf<PodMonitorJson>('monitoring.coreos.com', 'PodMonitor', 'traefik', 'kube-system').spec.podMetricsEndpoints[0].interval).toBe(t.scrapeInterval);
  });
  it('sets resources and declares them as its capacity footprint', () => {
    expect(values.resources).toEqual(t.resources);
    expect(JSON.parse(hcc.metadata.annotations![footprintAnnotation])).toEqual([{ name: 'traefik (k3s bundled)', replicas: 1, ...t.resources }]);
  });
});

describe('Flux notifications and webhook', () => {
  it('sends reconciliation errors of every layer, release and source to Slack', () => {
    const provider = r.getOf<FluxSpecJson>(flux, 'Provider', 'slack', 'flux-system');
    expect(provider.spec).toEqual({ type: 'slack', channel: r.config.cluster.alerting.slackChannel, secretRef: { name: r.config.cluster.platform.flux.notifications.slackSecret } });
    expect(inInventory('flux-system', provider.spec.secretRef.name, 'address')).toBe(true);
    const alert = r.getOf<{ spec: { eventSeverity: string; eventSources: { kind: string; namespace: string; name: string }[] } }>(flux, 'Alert', 'reconciliation-errors', 'flux-system');
    expect(alert.spec.eventSeverity).toBe('error');
    const sources = alert.spec.eventSources.map((s) => `${s.kind}/${s.namespace}/${s.name}`);
    expect(sources).toContain('Kustomization/flux-system/*');
    expect(sources).toContain('GitRepository/flux-system/*');
    // Every HelmRelease and chart source in the output is covered.
    for (const o of [...r.find('HelmRelease'), ...r.find('HelmRepository'), ...r.find('OCIRepository')]) {
      expect(sources, `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`).toContain(`${o.kind}/${o.metadata.namespace}/*`);
    }
  });

  it('reports every layer\'s result on the clusters commit to GitHub as a commit status flux/<layer>', () => {
    const provider = r.getOf<FluxSpecJson & { spec: { commitStatusExpr: string } }>(flux, 'Provider', commitStatusProvider, 'flux-system');
    expect(provider.spec).toMatchObject({ type: 'github', address: 'https://github.com/lms-platform/lms-gitops' });
    expect(inInventory('flux-system', provider.spec.secretRef.name, 'token')).toBe(true);
    // The context the deploy workflow waits for, evaluated with a real CEL implementation.
    const context = run(provider.spec.commitStatusExpr, { event: toCel({ involvedObject: { kind: 'Kustomization', name: 'apps-production', namespace: 'flux-system' } }) });
    expect(context).toBe(commitStatusContext('apps-production'));
    expect(context).toBe('flux/apps-production');
    const alert = r.getOf<{ spec: unknown }>(flux, 'Alert', 'layer-status', 'flux-system');
    // info covers both severities: Ready -> success, failed apply or health check -> failure.
    expect(alert.spec).toEqual({ providerRef: { name: commitStatusProvider }, eventSeverity: 'info', eventSources: [{ kind: 'Kustomization', name: '*', namespace: 'flux-system' }] });
    for (const k of r.find('Kustomization')) expect(k.metadata.namespace, k.metadata.name).toBe('flux-system');
  });

  it('derives the repository\'s web address from Flux\'s SSH URL, and names the field when it cannot', () => {
    expect(repositoryWebUrl('ssh://git@github.com:22/org/repo.git')).toBe('https://github.com/org/repo');
    expect(() => repositoryWebUrl('https://github.com/org/repo')).toThrow(/cluster\.bootstrap\.flux\.repositoryUrl/);
  });

  it('reconciles at once on a push to the clusters branch, and only then', () => {
    const receiver = r.getOf<FluxSpecJson & { spec: { resourceFilter: string } }>(flux, 'Receiver', 'github-clusters-branch', 'flux-system');
    expect(receiver.spec).toMatchObject({ type: 'github', events: ['ping', 'push'] });
    // The filter, evaluated with a real CEL implementation on GitHub payloads.
    const filter = (body: unknown) => run(receiver.spec.resourceFilter, { req: toCel(body), res: toCel({}) });
    expect(filter({ ref: 'refs/heads/clusters', after: 'abc' })).toBe(true);
    expect(filter({ ref: 'refs/heads/main' })).toBe(false);
    expect(filter({ zen: 'Keep it logically awesome.', hook_id: 1 })).toBe(false); // ping
    expect(receiver.spec.resources).toEqual([{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' }]);
    expect(inInventory('flux-system', receiver.spec.secretRef.name, 'token')).toBe(true);
  });

  it('exposes the receiver over TLS on the configured host, /hook/ only, rate limited', () => {
    const host = r.config.cluster.platform.flux.receiver.hostname;
    const route = r.getOf<{ spec: { entryPoints: string[]; routes: { match: string; services: unknown; middlewares: unknown }[]; tls: { secretName: string } } }>('traefik.io', 'IngressRoute', 'flux-webhook', 'flux-system');
    expect(route.spec.entryPoints).toEqual(['websecure']);
    expect(route.spec.routes[0].match).toBe(`Host(\`${host}\`) && PathPrefix(\`/hook/\`)`);
    expect(route.spec.routes[0].services).toEqual([{ name: 'webhook-receiver', namespace: 'flux-system', port: 80 }]);
    expect(route.spec.routes[0].middlewares).toEqual([{ name: 'flux-webhook-rate-limit', namespace: 'flux-system' }]);
    const cert = r.getOf<CertificateJson>(cm, 'Certificate', 'flux-webhook', 'flux-system');
    expect(cert.spec).toMatchObject({ dnsNames: [host], secretName: route.spec.tls.secretName, issuerRef: { name: names.issuers.production } });
  });
});
