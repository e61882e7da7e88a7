/**
 * The certificate path of a first deploy, on its own: the real cert-manager controller (v1.21.1, built
 * by setup) takes our ClusterIssuers and the Flux webhook's Certificate from dist/, registers an ACME
 * account with "Let's Encrypt" (Pebble behind the Let's Encrypt host names, support/acme.ts), solves
 * DNS-01 through "Cloudflare" (the API fake, reached at api.cloudflare.com:443 through an HTTPS
 * proxy, the way the controller's HTTPS_PROXY reaches it) and checks propagation against the zone's
 * DNS (test/support/zone-dns.ts, standing in for the resolvers our chart values name). Pebble
 * validates the challenge against the same DNS and issues.
 *
 * What must hold: both ClusterIssuers Ready (accounts registered); the Certificate Ready with a chain
 * to Pebble's root for exactly our DNS names; the TXT record created with the token from the
 * Secret our issuers name, and deleted again once the challenge is done; a wrong token leaves the
 * Certificate unissued with the fake's authentication error in the Challenge. first-deploy runs the
 * same path from git, through Flux and the chart's Deployment.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { values } from '../../charts-ts/config/values.ts';
import { parseConfig } from '../../charts-ts/config/load.ts';
import { FakeCloudflare } from '../../bootstrap/test/fakes/cloudflare.ts';
import { installCrdObjects } from '../cluster/support/apply.ts';
import { binary } from '../cluster/support/components.ts';
import { startControlPlane, type ControlPlane } from '../cluster/support/control-plane.ts';
import { distObjects } from '../cluster/support/dist.ts';
import { Kube, type KubeObject } from '../cluster/support/kube.ts';
import { freePort, startProcess, waitFor, type Proc } from '../cluster/support/processes.ts';
import { bounded } from '../support/close-server.ts';
import { ConnectProxy, TlsFront } from '../support/github-api.ts';
import type { CertificateJson, ChallengeJson, ConditionsJson } from '../support/kinds.ts';
import { ZoneDns } from '../support/zone-dns.ts';
import { LetsEncryptStandIn, letsEncryptHosts } from './support/acme.ts';
import { crdDir } from '../../charts-ts/lib/crds.ts';
import { parseAllDocuments } from 'yaml';

const config = parseConfig(values);
const tokenRef = config.cluster.platform.certificates.cloudflareApiToken;
const issuers = distObjects().filter((d) => d.object.kind === 'ClusterIssuer').map((d) => d.object);
const certificate = distObjects().filter((d) => d.file.startsWith('platform/')).map((d) => d.object)
  .find((o): o is KubeObject & CertificateJson => o.kind === 'Certificate')!;
const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } } as KubeObject);

describe('Let\'s Encrypt DNS-01 through Cloudflare, with the real cert-manager', () => {
  let work: string;
  let plane: ControlPlane | undefined;
  let kube: Kube;
  let cloudflare: FakeCloudflare;
  let cloudflareFront: TlsFront;
  let dns: ZoneDns;
  let le: LetsEncryptStandIn;
  let proxy: ConnectProxy;
  let controller: Proc | undefined;
  const token = `cf-${Math.random().toString(36).slice(2)}`;

  const conditions = async (apiVersion: string, kind: string, name: string, namespace?: string) =>
    (await kube.get<ConditionsJson>(apiVersion, kind, name, namespace).catch(() => undefined))?.status?.conditions ?? [];
  const ready = async (apiVersion: string, kind: string, name: string, namespace?: string) =>
    (await conditions(apiVersion, kind, name, namespace)).find((c) => c.type === 'Ready');

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'lms-acme-'));
    cloudflare = new FakeCloudflare(token);
    await cloudflare.start();
    cloudflareFront = await new TlsFront(work, 'api.cloudflare.com', () => Number(new URL(cloudflare.url).port)).start();
    dns = await new ZoneDns(cloudflare).start();
    le = await new LetsEncryptStandIn({ dir: work, dnsServer: dns.address }).start();
    proxy = await new ConnectProxy({
      'api.cloudflare.com:443': () => cloudflareFront.port,
      ...Object.fromEntries(letsEncryptHosts.map((h) => [`${h}:443`, () => le.port])),
    }).start();
    const trust = join(work, 'trusted.pem');
    writeFileSync(trust, execFileSync('cat', [le.caFile, cloudflareFront.caFile]));

    plane = await startControlPlane();
    kube = await Kube.fromKubeconfig(plane.kubeconfig);
    // All six of cert-manager's CRDs (the chart installs them; cdk8s imports only the two we write).
    const crdFiles = readdirSync(join(crdDir(), 'cert-manager')).filter((f) => f.endsWith('.yaml')).sort();
    await installCrdObjects(kube, crdFiles.flatMap((f) => parseAllDocuments(readFileSync(join(crdDir(), 'cert-manager', f), 'utf8')).map((d) => d.toJS()))
      .filter((o) => o?.kind === 'CustomResourceDefinition'));
    for (const n of ['cert-manager', certificate.metadata.namespace!]) await kube.apply(ns(n), { fieldManager: 'lms-test' });
    await kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: tokenRef.name, namespace: 'cert-manager' }, type: 'Opaque', stringData: { [tokenRef.key]: token } } as KubeObject, { fieldManager: 'lms-test' });
    for (const o of [...issuers, certificate]) await kube.apply(o, { fieldManager: 'kustomize-controller' });

    // As the chart runs it (dist/platform/controllers/cert-manager.yaml), with the zone's DNS as the
    // only recursive resolver (our values name Cloudflare's, out of reach here).
    controller = startProcess('cert-manager-controller', binary('cert-manager-controller'), [
      `--kubeconfig=${plane.kubeconfig}`, '--leader-elect=false', '--cluster-resource-namespace=cert-manager',
      `--dns01-recursive-nameservers=${dns.address}`, '--dns01-recursive-nameservers-only', '--max-concurrent-challenges=60',
      `--metrics-listen-address=127.0.0.1:${await freePort()}`, `--internal-healthz-listen-address=127.0.0.1:${await freePort()}`, '--v=2',
    ], work, { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1,localhost', SSL_CERT_FILE: trust });
  });

  afterAll(async () => {
    await bounded('cert-manager-controller', () => controller?.stop());
    await bounded('control plane', () => plane?.stop(), 180_000);
    await bounded('proxy', () => proxy?.stop());
    await bounded('lets encrypt', () => le?.stop());
    await bounded('zone dns', () => dns?.stop());
    await bounded('cloudflare front', () => cloudflareFront?.stop());
    await bounded('cloudflare', () => cloudflare?.stop());
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('registers an ACME account for each ClusterIssuer', async () => {
    expect(issuers.map((i) => i.metadata.name).sort()).toEqual(['letsencrypt-production', 'letsencrypt-staging']);
    await waitFor('ClusterIssuers Ready', async () => {
      for (const i of issuers) if ((await ready('cert-manager.io/v1', 'ClusterIssuer', i.metadata.name))?.status !== 'True') return false;
      return true;
    }, { timeoutMs: 120_000, intervalMs: 1_000, procs: [controller!], diagnose: async () => JSON.stringify(await Promise.all(issuers.map((i) => ready('cert-manager.io/v1', 'ClusterIssuer', i.metadata.name)))) });
    expect(le.requests.filter((r) => r.startsWith('POST /')).length).toBeGreaterThanOrEqual(2);
    for (const i of issuers) {
      const account = await kube.get<V1Secret>('v1', 'Secret', `${i.metadata.name}-account-key`, 'cert-manager');
      expect(account?.data?.['tls.key'], `${i.metadata.name}'s ACME account key`).toBeTruthy();
    }
  });

  it('issues the Flux webhook certificate over DNS-01: TXT record created with our token, validated by Pebble, deleted', async () => {
    const name = certificate.metadata.name!;
    const namespace = certificate.metadata.namespace!;
    await waitFor(`Certificate ${name} Ready`, async () => (await ready('cert-manager.io/v1', 'Certificate', name, namespace))?.status === 'True',
      { timeoutMs: 300_000, intervalMs: 2_000, procs: [controller!], diagnose: async () => `${JSON.stringify(await conditions('cert-manager.io/v1', 'Certificate', name, namespace))}\nchallenges: ${JSON.stringify((await kube.list<ChallengeJson>('acme.cert-manager.io/v1', 'Challenge').catch(() => [])).map((c) => c.status))}\n${le.logTail(10)}` });

    const secret = await kube.get<V1Secret>('v1', 'Secret', certificate.spec.secretName, namespace);
    const issued = await le.inspectIssued(Buffer.from(secret!.data!['tls.crt'], 'base64').toString('utf8'), work);
    expect(issued.certificates, 'leaf and intermediate').toBeGreaterThanOrEqual(2);
    expect(issued.verify).toBe(`${issued.leafFile}: OK`);
    expect(issued.dnsNames).toEqual([...certificate.spec.dnsNames].sort());

    // The DNS-01 record went through the API with the token from our Secret, and was cleaned up.
    const txt = `_acme-challenge.${certificate.spec.dnsNames[0]}`;
    const calls = cloudflare.requests.filter((r) => r.path.includes('/dns_records'));
    expect(calls.some((r) => { const b = r.json as { type?: string; name?: string } | undefined; return r.method === 'POST' && b?.type === 'TXT' && b?.name === txt; })).toBe(true);
    expect(calls.some((r) => r.method === 'DELETE')).toBe(true);
    expect(new Set(cloudflare.requests.map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${token}`]));
    await waitFor('challenge record removed', async () => !cloudflare.records.some((r) => r.type === 'TXT' && r.name === txt), { timeoutMs: 30_000, intervalMs: 500 });
    // Both sides looked the record up in the zone's DNS: cert-manager's propagation check and Pebble's validation.
    expect(dns.queries.filter((q) => q.type === 'TXT' && q.name.toLowerCase() === txt).length).toBeGreaterThanOrEqual(2);
  });

  it('leaves the certificate unissued, naming Cloudflare\'s authentication error, when the token is wrong', async () => {
    cloudflare.token = 'revoked';
    // Another name: Pebble may reuse a valid authorization for a name it has validated (PEBBLE_AUTHZREUSE).
    const dnsName = `wrong-token.${config.cluster.domain}`;
    const second: KubeObject & CertificateJson = { ...certificate, metadata: { ...certificate.metadata, name: `${certificate.metadata.name}-wrong-token` }, spec: { ...certificate.spec, dnsNames: [dnsName], secretName: `${certificate.spec.secretName}-wrong-token` } };
    await kube.apply(second, { fieldManager: 'lms-test' });
    let reason = '';
    await waitFor('a Challenge failing on the Cloudflare API', async () => {
      const challenges = await kube.list<ChallengeJson>('acme.cert-manager.io/v1', 'Challenge', certificate.metadata.namespace).catch(() => []);
      reason = challenges.filter((c) => c.spec?.dnsName === dnsName).map((c) => c.status?.reason ?? '').join('\n');
      return /Cloudflare API/.test(reason) && /10000: Authentication error/.test(reason);
    }, { timeoutMs: 120_000, intervalMs: 2_000, procs: [controller!], diagnose: async () => reason });
    expect((await ready('cert-manager.io/v1', 'Certificate', second.metadata.name!, second.metadata.namespace))?.status).not.toBe('True');
    expect(await kube.get('v1', 'Secret', second.spec.secretName, second.metadata.namespace).catch(() => undefined)).toBeFalsy();
  });
});
