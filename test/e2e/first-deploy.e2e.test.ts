/**
 * First deploy from git, the way production does it (docs/testing.md, "First deploy"): an empty
 * control plane (the cluster tests' real kube-apiserver, controller-manager, scheduler, kwok), then
 *
 * 1. `flux bootstrap`: the flux-system manifests committed to the `clusters` branch of a real git
 *    smart-HTTP server on loopback, applied, the sops-age and git credential Secrets created, and
 *    Flux's four controllers (built from their Go modules) started as processes;
 * 2. CI: `npm run publish` pushes the platform layers, the Secrets and both apps in one commit, as the
 *    deploy workflow's production job does (the source commit differs from this work tree only by
 *    SOPS Secrets re-encrypted for a test age key and HelmRepository URLs pointing at the loopback
 *    chart repo), and "GitHub" sends the signed push webhook to Flux's Receiver;
 * 3. Flux: source-controller clones, kustomize-controller decrypts and applies layer by layer in
 *    `dependsOn` order with health checks, helm-controller installs every HelmRelease from the pinned
 *    charts; operators start as their charts create them and act on our objects;
 *
 * and asserts what production needs: every layer Ready in `dependsOn` order down to
 * apps-production, and every HelmRelease, the configs layer's certificate issued by "Let's Encrypt"
 * (Pebble) over DNS-01 through "Cloudflare" (the API fake and its zone's DNS), every object the
 * operators create admitted, each database's initdb Job and instance pod run for real with
 * PostgreSQL 18 (support/postgres-pods.ts: kwok runs every other pod) so each Cluster is Ready, the
 * production pooler running, kube-state-metrics reporting every Flux object its custom-resource
 * config names, the observability charts and both apps layers Ready with every Rollout Healthy, a
 * k3s upgrade Plan turned into an admitted Job, each layer's result reported by
 * notification-controller to a stand-in for GitHub's API as the commit status flux/<layer> (what
 * the deploy workflow waits on), and the measured time from `git push` to each layer.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1Deployment, V1Job, V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../charts-ts/config/load.ts';
import { values } from '../../charts-ts/config/values.ts';
import { commitStatusContext, githubReceiver } from '../../charts-ts/platform/flux-notifications.ts';
import { githubRepository } from '../../charts-ts/platform/rollouts-notifications.ts';
import { publish } from '../../charts-ts/tools/publish.ts';
import { ConnectProxy, GitHubApi, TlsFront } from '../support/github-api.ts';
import { installCrdObjects, k3sCrdObjects } from '../cluster/support/apply.ts';
import { startControlPlane, type ControlPlane } from '../cluster/support/control-plane.ts';
import { bootstrapPath, distObjects } from '../cluster/support/dist.ts';
import { k3sObjects, LocalPathProvisioner } from '../cluster/support/k3s.ts';
import { Kube, type KubeObject, type Listed } from '../cluster/support/kube.ts';
import { freePort, startProcess, waitFor } from '../cluster/support/processes.ts';
import { binary } from '../cluster/support/components.ts';
import { stringify } from 'yaml';
import { traefikCrdObjects } from './support/k3s-bundled.ts';
import { EgressProxy, serviceAddressFor } from './support/egress-proxy.ts';
import { bootstrapFiles, fluxComponents, FluxControllers, fluxNamespace, fluxSync } from './support/flux.ts';
import { GitServer } from './support/git-server.ts';
import { HelmRepoServer } from './support/helm-repo.ts';
import { describeStates, fluxStates, ReadyClock, requestReconcile, type FluxObjectState } from './support/layers.ts';
import { operatorSpecs, OperatorSupervisor, withOperator } from './support/operators.ts';
import { setFlag } from './support/pod-process.ts';
import { LetsEncryptStandIn, letsEncryptHosts } from './support/acme.ts';
import { FakeCloudflare } from '../../bootstrap/test/fakes/cloudflare.ts';
import { ZoneDns } from '../support/zone-dns.ts';
import { distHelmReleases, failedCreates, operatorCreated } from './support/created.ts';
import { podStartProblems } from './support/pods.ts';
import { PostgresPods, postgresPodLabels } from './support/postgres-pods.ts';
import { postgres18Home } from '../../drill/tools.ts';
import { writeFluxTimings } from './support/timings.ts';
import { ageKeygen, sourceRepo, type SourceRepo } from './support/source.ts';
import { bounded } from '../support/close-server.ts';
import { renderAll } from '../support/render.ts';
import type { CertificateJson, ChallengeJson, ConditionsJson, LiveRolloutJson } from '../support/kinds.ts';
import type { NamedManifest } from '../../charts-ts/lib/workloads.ts';
import type { CnpgClusterJson } from '../data/support/cnpg.ts';

/** A rendered CloudNativePG Cluster: the fields read. */
type RenderedCluster = NamedManifest & CnpgClusterJson;

/** A Flux Receiver (notification.toolkit.fluxcd.io/v1): the fields read. */
interface ReceiverJson { readonly spec: { readonly secretRef?: { readonly name: string } }; readonly status?: { readonly webhookPath?: string } }

/** A kube-state-metrics custom resource state entry in our values: the fields read. */
interface KsmResource { readonly groupVersionKind: { readonly group: string; readonly version: string; readonly kind: string }; readonly metricNamePrefix: string; readonly metrics: readonly { readonly name: string }[] }

/** The kube-prometheus-stack HelmRelease: the kube-state-metrics values read. */
interface PrometheusStackReleaseJson {
  readonly spec?: { readonly values?: { readonly 'kube-state-metrics'?: { readonly customResourceState?: { readonly enabled?: boolean; readonly config: { readonly spec: { readonly resources: KsmResource[] } } } } } };
}

/** A system-upgrade-controller Plan (upgrade.cattle.io/v1); a custom resource's list items keep apiVersion and kind. */
interface PlanJson { readonly apiVersion: string; readonly kind: string; readonly spec: Readonly<Record<string, unknown>> }

/** What the deploy workflow's production job publishes in one commit (.github/workflows/deploy.yml, the config's delivery.publish). */
const stages = Object.values(parseConfig(values).cluster.delivery.publish);
const releasePublish = { paths: stages.flatMap((p) => p.dist), repoPaths: stages.flatMap((p) => p.repo) };
/** The repository the Flux Provider reports to (config cluster.bootstrap.flux.repositoryUrl). */
const githubRepo = githubRepository(parseConfig(values));
/** The Secret (flux-system) with the token the Provider posts commit statuses with. */
const fluxStatusSecret = parseConfig(values).cluster.platform.flux.commitStatus.tokenSecret;

const branch = 'clusters';
/** The Cloudflare API token Secret (cert-manager namespace) our ClusterIssuers name. */
const cloudflareToken = parseConfig(values).cluster.platform.certificates.cloudflareApiToken;
/** git runs as a child process: the servers live on this process's event loop, so never block it. */
const run = async (cmd: string, args: string[], cwd?: string) => (await promisify(execFile)(cmd, args, { cwd, encoding: 'utf8' })).stdout.trim();
const fieldManager = 'flux-bootstrap';

describe('first deploy from git', () => {
  let plane: ControlPlane | undefined;
  let kube: Kube;
  let proxy: EgressProxy;
  let git: GitServer;
  let charts: HelmRepoServer;
  let flux: FluxControllers | undefined;
  let operators: OperatorSupervisor | undefined;
  let provisioner: LocalPathProvisioner | undefined;
  let postgresPods: PostgresPods | undefined;
  let source: SourceRepo | undefined;
  let work: string;
  let clock: ReadyClock;
  let github: GitHubApi;
  let githubFront: TlsFront;
  let githubProxy: ConnectProxy;
  let cloudflare: FakeCloudflare;
  let cloudflareFront: TlsFront;
  let zoneDns: ZoneDns;
  let letsEncrypt: LetsEncryptStandIn;

  /** A Secret's key as the cluster holds it (decrypted by kustomize-controller), or undefined. */
  const secretValue = async (name: string, key: string, namespace = fluxNamespace): Promise<string | undefined> => {
    const s = await kube.get<V1Secret>('v1', 'Secret', name, namespace).catch(() => undefined);
    return s?.data?.[key] ? Buffer.from(s.data[key], 'base64').toString('utf8') : undefined;
  };

  /** What GitHub does after a push to the clusters branch: the signed push webhook to Flux's Receiver. */
  const pushWebhook = async (after: string) => {
    const receiver = await kube.get<ReceiverJson>('notification.toolkit.fluxcd.io/v1', 'Receiver', githubReceiver, fluxNamespace);
    const path = receiver?.status?.webhookPath;
    const token = await secretValue(receiver?.spec?.secretRef?.name ?? '', 'token');
    if (!path || !token) throw new Error(`Receiver ${githubReceiver} has no webhook path or token yet: ${JSON.stringify(receiver?.status ?? {})}`);
    const body = JSON.stringify({ ref: `refs/heads/${branch}`, after, repository: { full_name: githubRepo }, pusher: { name: 'lms-clusters-publisher' } });
    const res = await fetch(`${flux!.receiverUrl}${path}`, {
      method: 'POST', body,
      headers: {
        'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(),
        'x-hub-signature-256': `sha256=${createHmac('sha256', token).update(body).digest('hex')}`,
      },
    });
    if (res.status !== 200) throw new Error(`Receiver answered ${res.status}: ${await res.text()}`);
  };

  /** One round of the harness's background duties, called from every wait loop. */
  const tick = async () => {
    await github?.refreshTokens();
    // Cloudflare accepts the token the operators created: the one kustomize-controller decrypted.
    const token = await secretValue(cloudflareToken.name, cloudflareToken.key, 'cert-manager');
    if (token && cloudflare) cloudflare.token = token;
    await operators?.poll();
    await postgresPods?.poll();
    const crashed = operators?.crashed() ?? [];
    if (crashed.length) throw new Error(crashed.join('\n'));
    clock?.observe([...await fluxStates(kube, 'Kustomization'), ...await fluxStates(kube, 'HelmRelease')]);
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'lms-e2e-'));
    proxy = new EgressProxy();
    await proxy.start();
    const egressFile = join(work, 'egress-selector.yaml');
    writeFileSync(egressFile, proxy.egressSelectorConfig());
    plane = await startControlPlane({ apiserverArgs: [`--egress-selector-config-file=${egressFile}`], podsRunByTest: postgresPodLabels });
    kube = await Kube.fromKubeconfig(plane.kubeconfig);
    // The database pods run for real (a Cluster is Ready only when its instance manager answers):
    // those of Clusters that bootstrap with initdb; a recovery has no backup to read here.
    postgresPods = new PostgresPods(plane, kube, async (ns, name) => {
      const cluster = await kube.get<RenderedCluster>('postgresql.cnpg.io/v1', 'Cluster', name, ns);
      return Boolean(cluster) && !cluster?.spec?.bootstrap?.recovery;
    });
    await postgresPods.start();
    // The API server dials a webhook Service's ClusterIP; the proxy maps it back to the Service name.
    proxy.setResolver(async (target) => serviceAddressFor(target, {
      services: await kube.list('v1', 'Service'), endpointSlices: await kube.list('discovery.k8s.io/v1', 'EndpointSlice'),
    }));

    // What k3s itself puts in the cluster before anything of ours: its CRDs (helm.cattle.io, the
    // bundled Traefik's), the local-path StorageClass and provisioner.
    await installCrdObjects(kube, [...k3sCrdObjects(), ...traefikCrdObjects()]);
    for (const o of k3sObjects) await kube.apply(o, { fieldManager: 'k3s' });
    provisioner = new LocalPathProvisioner(kube);
    provisioner.start();

    git = new GitServer();
    await git.start();
    git.createRepo('lms-gitops');
    charts = new HelmRepoServer();
    await charts.start();

    // flux bootstrap: commit flux-system/ to the branch, apply it, create the Secrets, start Flux.
    const sync = { url: git.url('lms-gitops'), branch, path: bootstrapPath, secretName: fluxNamespace };
    const boot = join(work, 'bootstrap');
    await run('git', ['clone', '--quiet', git.url('lms-gitops', 'writer'), boot]);
    await run('git', ['checkout', '--quiet', '--orphan', branch], boot);
    mkdirSync(join(boot, bootstrapPath, 'flux-system'), { recursive: true });
    for (const [file, text] of Object.entries(bootstrapFiles(sync))) writeFileSync(join(boot, bootstrapPath, 'flux-system', file), text);
    await run('git', ['add', '-A'], boot);
    await run('git', ['-c', 'user.name=Flux', '-c', 'user.email=flux@localhost', 'commit', '--quiet', '-m', 'Add Flux sync manifests'], boot);
    await run('git', ['push', '--quiet', 'origin', branch], boot);

    const components = fluxComponents();
    await installCrdObjects(kube, components.filter((o) => o.kind === 'CustomResourceDefinition'));
    for (const o of components.filter((x) => x.kind !== 'CustomResourceDefinition')) await kube.apply(o, { fieldManager });
    const age = ageKeygen();
    await kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sops-age', namespace: fluxNamespace }, type: 'Opaque', stringData: { 'age.agekey': age.privateKey } } as KubeObject, { fieldManager });
    await kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: fluxNamespace, namespace: fluxNamespace }, type: 'Opaque', stringData: git.credentials('reader') } as KubeObject, { fieldManager });
    for (const o of fluxSync(sync)) await kube.apply(o, { fieldManager });
    // "GitHub" for notification-controller: api.github.com:443 through an HTTPS proxy to a TLS
    // stand-in that takes only the token kustomize-controller decrypted into flux-github-status.
    const repoDir = git.repoPath('lms-gitops');
    github = new GitHubApi({
      repos: { [githubRepo]: (sha) => spawnSync('git', ['-C', repoDir, 'cat-file', '-e', `${sha}^{commit}`]).status === 0 },
      tokens: async () => [await secretValue(fluxStatusSecret, 'token')].filter((t): t is string => Boolean(t)),
    });
    await github.start();
    githubFront = await new TlsFront(work, 'api.github.com', () => github.port).start();
    githubProxy = await new ConnectProxy({ 'api.github.com:443': () => githubFront.port }).start();
    flux = await FluxControllers.create(plane, kube, {
      'notification-controller': { HTTPS_PROXY: githubProxy.url, SSL_CERT_FILE: githubFront.caFile },
    });
    await flux.startAll();
    // "Let's Encrypt" and "Cloudflare" at their real names through the egress proxy (the
    // operators' HTTPS_PROXY): Pebble behind the ACME host names of our ClusterIssuers, and the
    // Cloudflare API fake, whose zone's DNS (ZoneDns) both cert-manager's propagation check and
    // Pebble's validation query. Our chart values name Cloudflare's resolvers; the test points
    // cert-manager at the zone's DNS instead, and has it trust the two stand-ins' CAs.
    cloudflare = new FakeCloudflare('not-yet-decrypted');
    await cloudflare.start();
    cloudflareFront = await new TlsFront(work, 'api.cloudflare.com', () => Number(new URL(cloudflare.url).port)).start();
    zoneDns = await new ZoneDns(cloudflare).start();
    letsEncrypt = await new LetsEncryptStandIn({ dir: work, dnsServer: zoneDns.address }).start();
    proxy.route('api.cloudflare.com:443', cloudflareFront.port);
    for (const host of letsEncryptHosts) proxy.route(`${host}:443`, letsEncrypt.port);
    const trusted = join(work, 'cert-manager-trusted.pem');
    writeFileSync(trusted, [letsEncrypt.caFile, cloudflareFront.caFile].map((f) => readFileSync(f, 'utf8')).join(''));
    const certManager = withOperator(operatorSpecs(), 'cert-manager-controller', (spec) => ({
      ...spec,
      env: { ...spec.env, SSL_CERT_FILE: trusted },
      rewrite: async (a, port) => setFlag(await spec.rewrite(a, port), '--dns01-recursive-nameservers', zoneDns.address),
    }));
    operators = new OperatorSupervisor(plane, kube, proxy, certManager);

    // CI: the deploy workflow's publish steps, from a commit of this work tree.
    source = sourceRepo({ age, chartRepoUrl: charts.url });
    await run('git', ['remote', 'add', 'origin', git.url('lms-gitops', 'writer')], source.dir);
    clock = new ReadyClock(Date.now());
    await publish({ repo: source.dir, remote: 'origin', branch, ...releasePublish });
    // The GitHub webhook Receiver does not exist before the first deploy; `flux reconcile` does the same.
    await requestReconcile(kube, 'source.toolkit.fluxcd.io/v1', 'GitRepository', fluxNamespace, fluxNamespace);
  });

  afterAll(async () => {
    // Each step bounded: one that hangs is named, and the processes after it still stop.
    await bounded('postgres pods', () => postgresPods?.stop(), 180_000);
    await bounded('operators', () => operators?.stop(), 180_000);
    await bounded('flux controllers', () => flux?.stop(), 180_000);
    await bounded('provisioner', () => provisioner?.stop());
    await bounded('control plane', () => plane?.stop(), 180_000);
    await bounded('chart repository', () => charts?.stop());
    await bounded('git server', () => git?.stop());
    await bounded('egress proxy', () => proxy?.stop());
    await bounded('github proxy', () => githubProxy?.stop());
    await bounded('github front', () => githubFront?.stop());
    await bounded('github api', () => github?.stop());
    await bounded('lets encrypt', () => letsEncrypt?.stop());
    await bounded('zone dns', () => zoneDns?.stop());
    await bounded('cloudflare front', () => cloudflareFront?.stop());
    await bounded('cloudflare', () => cloudflare?.stop());
    source?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  let kustomizations: FluxObjectState[] = [];

  /** notification-controller has posted flux/<layer> = success on the commit for every named layer. */
  const expectLayerStatuses = async (commit: string, layerNames: string[]) => {
    const missing = () => layerNames.filter((n) => github.latestByContext(githubRepo, commit).get(commitStatusContext(n))?.state !== 'success');
    await waitFor(`flux/<layer> statuses on ${commit.slice(0, 12)}`, async () => { await tick(); return missing().length === 0; }, { timeoutMs: 120_000, intervalMs: 1_000 })
      .catch(() => undefined);
    const seen = [...github.latestByContext(githubRepo, commit).values()].map((x) => `${x.context}=${x.state}`).sort();
    expect(missing(), `statuses on ${commit.slice(0, 12)}: ${seen.join(', ') || 'none'}; CONNECT targets: ${githubProxy.targets.join(', ') || 'none'}`).toEqual([]);
  };

  it('reconciles the clusters branch from git: flux-system Ready at the pushed commit, the bootstrap patch rolled out', async () => {
    const started = new Map<string, string>();
    await waitFor('Kustomization flux-system Ready', async () => {
      await tick();
      const restarted = await flux!.followDeployments(started);
      if (restarted.length) console.log(`flux: restarted ${restarted.join(', ')} after their Deployment changed`);
      const root = (await fluxStates(kube, 'Kustomization')).find((k) => k.name === fluxNamespace);
      return root?.ready && root.revision?.includes(git.head('lms-gitops', branch));
    }, { timeoutMs: 300_000, intervalMs: 2_000, diagnose: async () => describeStates(await fluxStates(kube, 'Kustomization')) });
    const kc = await kube.get<V1Deployment>('apps/v1', 'Deployment', 'kustomize-controller', fluxNamespace);
    expect(kc!.spec.template.spec!.containers[0].args).toContain('--requeue-dependency=5s');
  });

  it('brings every layer to Ready, each after its dependsOn, down to apps-production', async () => {
    const started = new Map<string, string>();
    let last = '';
    await waitFor('every Kustomization Ready', async () => {
      await tick();
      await flux!.followDeployments(started);
      kustomizations = await fluxStates(kube, 'Kustomization');
      // The clock sees what this check decides on (tick() polled a moment earlier).
      clock.observe(kustomizations);
      last = describeStates(kustomizations);
      return kustomizations.length > 1 && kustomizations.every((k) => k.ready);
    }, { timeoutMs: 1_500_000, intervalMs: 3_000 }).catch(() => undefined);
    console.log(`layers, ms from git push to Ready:\n${kustomizations.map((k) => `  ${k.name}: ${clock.at('Kustomization', k.namespace, k.name) ?? 'not Ready'}`).join('\n')}`);
    const readySeconds = kustomizations.flatMap((k) => { const ms = clock.at('Kustomization', k.namespace, k.name); return ms === undefined ? [] : [[k.name, ms / 1000] as const]; });
    writeFluxTimings({ measuredAt: new Date().toISOString(), secondsFromPush: Object.fromEntries(readySeconds.sort((a, b) => a[1] - b[1])) }, 'first-deploy');
    expect(last, `${last}\n${postgresPods!.describe().join('\n')}\n${postgresPods!.problems.join('\n')}`).not.toMatch(/NotReconciled|Failed|Progressing|DependencyNotReady/);
    expect(kustomizations.map((k) => k.name)).toContain('apps-production');
    for (const k of kustomizations.filter((x) => x.ready)) {
      for (const dep of k.dependsOn) {
        expect(clock.at('Kustomization', fluxNamespace, k.name)!, `${k.name} became Ready before its dependency ${dep}`)
          .toBeGreaterThanOrEqual(clock.at('Kustomization', fluxNamespace, dep)!);
      }
    }
  });

  it('issues the configs layer\'s certificate from "Let\'s Encrypt" over DNS-01 through "Cloudflare", and the layer becomes Ready', async () => {
    // The layer's health check waits on its ClusterIssuers (ACME accounts registered) and on the
    // Flux webhook's Certificate (issued: cert-manager checks propagation, then waits 60 s).
    const certificate = { name: 'flux-webhook', namespace: fluxNamespace };
    const conditionOf = (o: ConditionsJson | undefined) => o?.status?.conditions?.find((c) => c.type === 'Ready');
    let issuers: Listed<ConditionsJson>[] = [];
    let configs: FluxObjectState | undefined;
    await waitFor('platform-configs Ready', async () => {
      await tick();
      configs = (await fluxStates(kube, 'Kustomization')).find((k) => k.name === 'platform-configs');
      return configs?.ready;
    }, {
      timeoutMs: 600_000, intervalMs: 3_000,
      diagnose: async () => {
        issuers = await kube.list<ConditionsJson>('cert-manager.io/v1', 'ClusterIssuer').catch(() => []);
        const cert = await kube.get<CertificateJson>('cert-manager.io/v1', 'Certificate', certificate.name, certificate.namespace).catch(() => undefined);
        const challenges = await kube.list<ChallengeJson>('acme.cert-manager.io/v1', 'Challenge').catch(() => []);
        return [describeStates(configs ? [configs] : []), ...issuers.map((i) => `ClusterIssuer ${i.metadata.name}: ${JSON.stringify(conditionOf(i))}`),
          `Certificate: ${JSON.stringify(conditionOf(cert))}`, `Challenges: ${JSON.stringify(challenges.map((c) => c.status))}`,
          `Cloudflare: ${cloudflare.requests.map((r) => `${r.method} ${r.path}`).join(', ')}`, letsEncrypt.logTail(10)].join('\n');
      },
    });
    issuers = await kube.list<ConditionsJson>('cert-manager.io/v1', 'ClusterIssuer');
    expect(issuers.map((i) => `${i.metadata.name}: ${conditionOf(i)?.status}`).sort()).toEqual(['letsencrypt-production: True', 'letsencrypt-staging: True']);

    // The certificate chains to Pebble's root and names what we asked for.
    const cert = (await kube.get<CertificateJson>('cert-manager.io/v1', 'Certificate', certificate.name, certificate.namespace))!; // Ready, just below
    expect(conditionOf(cert)?.status).toBe('True');
    const secret = await kube.get<V1Secret>('v1', 'Secret', cert.spec.secretName, certificate.namespace);
    const issued = await letsEncrypt.inspectIssued(Buffer.from(secret!.data!['tls.crt'], 'base64').toString('utf8'), work);
    expect(issued.verify).toBe(`${issued.leafFile}: OK`);
    expect(issued.dnsNames).toEqual([...cert.spec.dnsNames].sort());

    // DNS-01 through the Cloudflare API with the decrypted token: the TXT record made, then removed.
    const txt = `_acme-challenge.${cert.spec.dnsNames[0]}`;
    const records = cloudflare.requests.filter((r) => r.path.includes('/dns_records'));
    expect(records.some((r) => { const b = r.json as { type?: string; name?: string } | undefined; return r.method === 'POST' && b?.type === 'TXT' && b?.name === txt; })).toBe(true);
    await waitFor('challenge TXT record removed', () => !cloudflare.records.some((r) => r.name === txt), { timeoutMs: 60_000, intervalMs: 1_000 });
    const token = await secretValue(cloudflareToken.name, cloudflareToken.key, 'cert-manager');
    expect(new Set(records.filter((r) => r.method !== 'GET').map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${token}`]));
    expect(await kube.list('upgrade.cattle.io/v1', 'Plan', 'system-upgrade'), 'the layer applied its upgrade Plans').not.toEqual([]);
  });

  it('brings the databases up: CloudNativePG\'s initdb Job and instance pod run PostgreSQL 18, each Cluster Ready, the production Pooler\'s pods ready, all admitted', async () => {
    // The database pods are run for real (support/postgres-pods.ts): the initdb Job's pod, then the
    // instance pod whose instance manager the operator polls; everything else is kwok's.
    const data = distObjects().filter((d) => d.file.startsWith('platform/data/')).map((d) => d.object);
    const clusters = data.filter((o): o is KubeObject & CnpgClusterJson => o.kind === 'Cluster');
    const poolers = data.filter((o) => o.kind === 'Pooler');
    expect(clusters.length).toBeGreaterThan(0);
    const ready = (o: { status?: { conditions?: { type: string; status: string }[] } } | undefined) => o?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    const progress = async () => Promise.all([
      ...clusters.map(async (c) => {
        const live = await kube.get<{ status?: { phase?: string; readyInstances?: number; conditions?: { type: string; status: string }[] } }>('postgresql.cnpg.io/v1', 'Cluster', c.metadata.name, c.metadata.namespace);
        const jobs = await kube.list<{ metadata: { name: string }; status?: { succeeded?: number } }>('batch/v1', 'Job', c.metadata.namespace, `cnpg.io/cluster=${c.metadata.name}`);
        return { done: ready(live), line: `Cluster ${c.metadata.namespace}/${c.metadata.name}: ${live?.status?.phase ?? 'no status'}, ${live?.status?.readyInstances ?? 0} ready; Jobs ${jobs.map((j) => `${j.metadata.name}${j.status?.succeeded ? ' succeeded' : ''}`).join(', ') || 'none'}` };
      }),
      ...poolers.map(async (p) => {
        const d = await kube.get<V1Deployment>('apps/v1', 'Deployment', p.metadata.name, p.metadata.namespace);
        return { done: d !== undefined && (d.status?.readyReplicas ?? 0) === d.spec.replicas, line: `Pooler ${p.metadata.namespace}/${p.metadata.name}: ${d ? `Deployment ${d.status?.readyReplicas ?? 0}/${d.spec.replicas} ready` : 'no Deployment yet'}` };
      }),
    ]);
    let seen: string[] = [];
    await waitFor('every database Cluster Ready', async () => {
      await tick();
      const now = await progress();
      seen = now.map((x) => x.line);
      return now.every((x) => x.done);
    }, {
      timeoutMs: 600_000, intervalMs: 3_000,
      diagnose: async () => [...seen, ...postgresPods!.describe(), ...postgresPods!.problems, ...operators!.errors, ...await failedCreates(kube),
        operators!.running.get('cnpg-operator')?.proc.logTail(40) ?? 'cnpg-operator not running'].join('\n'),
    });
    console.log(`data layer:\n${[...seen, ...postgresPods!.describe()].map((l) => `  ${l}`).join('\n')}`);
    for (const c of clusters) {
      const ns = c.metadata.namespace!;
      // initdb ran to completion in its Job's pod (the operator deletes the Job afterwards).
      expect(postgresPods!.finished.filter((f) => f.namespace === ns && f.labels['cnpg.io/cluster'] === c.metadata.name && f.labels['cnpg.io/jobRole'] === 'initdb').map((f) => f.phase), `${ns}/${c.metadata.name}'s initdb pod`).toEqual(['Succeeded']);
      // The instance pod is Ready from its own probe, and serves the application database that
      // initdb made, to its owner with the operator's generated password, over TLS.
      const pods = await kube.list<{ metadata: { name?: string }; status?: { conditions?: { type: string; status: string }[] } }>('v1', 'Pod', ns, `cnpg.io/cluster=${c.metadata.name},cnpg.io/podRole=instance`);
      expect(pods.length, `${c.metadata.name}'s instance pods`).toBe(c.spec.instances);
      for (const pod of pods) expect(ready(pod), `${ns}/${pod.metadata.name} Ready`).toBe(true);
      const app = await kube.get<{ data?: Record<string, string> }>('v1', 'Secret', `${c.metadata.name}-app`, ns);
      const field = (k: string) => Buffer.from(app?.data?.[k] ?? '', 'base64').toString('utf8');
      const host = postgresPods!.podIP(ns, pods[0].metadata.name!);
      const psql = await promisify(execFile)(join(postgres18Home(), 'bin', 'psql'), [
        `host=${host} port=5432 dbname=${field('dbname')} user=${field('username')} sslmode=require connect_timeout=10`,
        '-XAtc', "select current_user, current_database(), current_setting('server_version_num')::int / 10000, ssl from pg_stat_ssl where pid = pg_backend_pid()",
      ], { env: { ...process.env, PGPASSWORD: field('password') }, encoding: 'utf8' });
      expect(psql.stdout.trim(), `${ns}/${c.metadata.name} over TLS as the app user`).toBe(`${c.spec.bootstrap.initdb?.owner}|${c.spec.bootstrap.initdb?.database}|18|t`);
    }
    for (const p of poolers) {
      const d = (await kube.get<V1Deployment>('apps/v1', 'Deployment', p.metadata.name, p.metadata.namespace))!;
      expect(d.status?.readyReplicas ?? 0, `Pooler ${p.metadata.name}'s Deployment`).toBe(d.spec.replicas);
    }
    expect(postgresPods!.problems.join('\n')).toBe('');
    expect((await failedCreates(kube)).join('\n')).toBe('');
  });

  it('installs every HelmRelease from the pinned charts', async () => {
    let releases: FluxObjectState[] = [];
    await waitFor('every HelmRelease Ready', async () => {
      await tick();
      releases = await fluxStates(kube, 'HelmRelease');
      return releases.length > 0 && releases.every((r) => r.ready);
    }, { timeoutMs: 300_000, intervalMs: 3_000 }).catch(() => undefined);
    expect(releases.map((r) => r.name).sort()).toEqual([...distHelmReleases('platform/controllers'), ...distHelmReleases('platform/observability')].sort());
    expect(describeStates(releases.filter((r) => !r.ready))).toBe('');
  });

  it('starts every pod: no Secret or ConfigMap a pod needs is missing (kwok would not notice)', async () => {
    await tick();
    expect((await podStartProblems(kube)).join('\n')).toBe('');
  });

  it('admits every object the operators create (no FailedCreate), and lists them', async () => {
    await tick();
    const created = await operatorCreated(kube);
    console.log(`objects created by operators and controllers from our objects:\n${created.map((c) => `  ${c}`).join('\n')}`);
    const denied = await failedCreates(kube);
    expect(denied.join('\n')).toBe('');
    expect(operators!.errors.join('\n')).toBe('');
  });

  it('kube-state-metrics with the chart\'s custom-resource configuration reports every Flux object it is configured for', async () => {
    // kube-state-metrics v2.20.0 on its own, with the customResourceState config from our
    // kube-prometheus-stack values and the test's credentials: the config alone produces every
    // series (the chart's own instance, with its RBAC, is checked with the observability layer).
    const release = distObjects().map((d) => d.object).find((o): o is KubeObject & PrometheusStackReleaseJson => o.kind === 'HelmRelease' && o.metadata.name === 'kube-prometheus-stack');
    const crs = release?.spec?.values?.['kube-state-metrics']?.customResourceState;
    expect(crs?.enabled, 'customResourceState enabled in our values').toBe(true);
    const resources = crs!.config.spec.resources;
    const configFile = join(work, 'ksm-custom-resource-state.yaml');
    writeFileSync(configFile, stringify(crs!.config));
    const port = await freePort();
    const ksm = startProcess('kube-state-metrics-crs', binary('kube-state-metrics'), [
      `--kubeconfig=${plane!.kubeconfig}`, '--host=127.0.0.1', `--port=${port}`, '--telemetry-host=127.0.0.1', `--telemetry-port=${await freePort()}`,
      `--custom-resource-state-config-file=${configFile}`, '--custom-resource-state-only',
    ], work);
    try {
      const current = async () => (await Promise.all(resources.map(async (r) => {
        const objects = await kube.list<ConditionsJson>(`${r.groupVersionKind.group}/${r.groupVersionKind.version}`, r.groupVersionKind.kind);
        return objects.flatMap((o) => r.metrics.map((m) => ({
          metric: `${r.metricNamePrefix}_${m.name}`, kind: r.groupVersionKind.kind, name: o.metadata.name, namespace: o.metadata.namespace,
          ready: o.status?.conditions?.find((c) => c.type === 'Ready')?.status,
        })));
      }))).flat();
      let expected = await current();
      expect(new Set(expected.map((e) => e.kind)).size, 'Flux kinds with objects in this cluster').toBeGreaterThanOrEqual(4);
      let body = '';
      const line = (e: (typeof expected)[number]) => new RegExp(`^${e.metric}\\{(?=[^}]*customresource_kind="${e.kind}")(?=[^}]*[,{]name="${e.name}")(?=[^}]*namespace="${e.namespace}")[^}]*\\} 1$`, 'm');
      await waitFor('kube-state-metrics reporting every Flux object', async () => {
        body = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => '');
        // Each object's series, with its Ready status as the API has it now (a layer may change state meanwhile).
        expected = await current();
        return expected.every((e) => line(e).test(body) && (!e.ready || body.split('\n').find((l) => line(e).test(l))!.includes(`ready="${e.ready}"`)));
      }, { timeoutMs: 60_000, intervalMs: 1_000, procs: [ksm], diagnose: () => body.split('\n').filter((l) => l.startsWith('gotk_')).slice(0, 20).join('\n') });
      console.log(`kube-state-metrics: ${expected.length} Flux objects reported (${[...new Set(expected.map((e) => e.kind))].join(', ')})`);
      // Every configured kind is declared, objects or not.
      for (const r of resources) for (const m of r.metrics) expect(body).toContain(`# TYPE ${r.metricNamePrefix}_${m.name} `);
    } finally {
      await ksm.stop();
    }
  });

  it('turns the k3s upgrade Plans into admitted Jobs', async () => {
    const plans = await kube.list<PlanJson>('upgrade.cattle.io/v1', 'Plan', 'system-upgrade');
    expect(plans.length).toBeGreaterThan(0);
    // The Plans only act inside their maintenance window. A copy without the window (same spec
    // otherwise, labelled as the test's) makes system-upgrade-controller create the Job now.
    for (const plan of plans) {
      const copy = { apiVersion: plan.apiVersion, kind: plan.kind, metadata: { name: `${plan.metadata.name}-e2e`, namespace: plan.metadata.namespace, labels: { 'lms.dev/e2e': 'true' } }, spec: { ...plan.spec, window: undefined } };
      await kube.apply(copy as KubeObject, { fieldManager: 'lms-e2e' });
    }
    let jobs: Listed<V1Job>[] = [];
    await waitFor('a Job per upgrade Plan', async () => {
      await tick();
      jobs = await kube.list<V1Job>('batch/v1', 'Job', 'system-upgrade');
      return plans.every((p) => jobs.some((j) => j.metadata.labels?.['upgrade.cattle.io/plan'] === `${p.metadata.name}-e2e`));
    }, { timeoutMs: 180_000, intervalMs: 2_000 }).catch(() => undefined);
    console.log(`upgrade Jobs: ${jobs.map((j) => j.metadata.name).join(', ') || 'none'}`);
    expect(plans.map((p) => jobs.some((j) => j.metadata.labels?.['upgrade.cattle.io/plan'] === `${p.metadata.name}-e2e`) ? `${p.metadata.name}: Job` : `${p.metadata.name}: no Job`))
      .toEqual(plans.map((p) => `${p.metadata.name}: Job`));
    expect((await failedCreates(kube, 'system-upgrade')).join('\n')).toBe('');
  });

  it('measures a release: git push -> each reachable layer applied at the new revision', async () => {
    // A change CI would publish for staging and production alike: one annotation on each apps
    // kustomization's objects would do; a comment in the rendered files changes the commit the same way.
    for (const env of ['staging', 'production']) {
      const file = join(source!.dir, 'dist', 'apps', env, 'kustomization.yaml');
      writeFileSync(file, `${readFileSync(file, 'utf8')}# release measured by test/e2e\n`);
    }
    await run('git', ['commit', '--quiet', '-am', 'Release measured by the first-deploy test'], source!.dir);
    const pushed = Date.now();
    await publish({ repo: source!.dir, remote: 'origin', branch, ...releasePublish });
    const revision = git.head('lms-gitops', branch);
    await pushWebhook(revision);
    const appliedAt = new Map<string, number>();
    const reachable = kustomizations.map((k) => k.name);
    await waitFor('every layer applied at the new revision', async () => {
      await tick();
      for (const k of await fluxStates(kube, 'Kustomization')) {
        if (!appliedAt.has(k.name) && k.ready && k.revision?.includes(revision)) appliedAt.set(k.name, (Date.now() - pushed) / 1000);
      }
      return reachable.every((n) => appliedAt.has(n));
    }, { timeoutMs: 600_000, intervalMs: 1_000 }).catch(() => undefined);
    const timings = Object.fromEntries([...appliedAt.entries()].sort((a, b) => a[1] - b[1]));
    console.log(`release: seconds from git push to each layer applied: ${JSON.stringify(timings)}`);
    writeFluxTimings({ measuredAt: new Date().toISOString(), secondsFromPush: timings });
    expect(reachable.filter((n) => !appliedAt.has(n)), JSON.stringify(timings)).toEqual([]);
    // And GitHub heard about each of them, on this commit (the first deploy's early layers were
    // reconciled before platform-configs created the Provider and Alert; from the second release on,
    // every layer reports).
    await expectLayerStatuses(revision, reachable);
    // Only the token kustomize-controller decrypted from the SOPS Secret was accepted (the stand-in
    // answers 401 to anything else), and it went to api.github.com through the proxy.
    const token = await secretValue(fluxStatusSecret, 'token');
    const posts = github.requests.filter((x) => x.method === 'POST' && x.path.startsWith(`/repos/${githubRepo}/statuses/`));
    expect(new Set(posts.map((x) => x.headers.authorization))).toEqual(new Set([`Bearer ${token}`]));
    expect(githubProxy.targets.every((t) => t === 'api.github.com:443')).toBe(true);
  });
  it('the observability layer in its turn: every chart Ready, prometheus-operator\'s StatefulSets admitted, kube-state-metrics from its chart', async () => {
    // Reached through Flux's order (after platform-data); its HelmReleases installed by helm-controller.
    const expected = distHelmReleases('platform/observability').sort();
    const releases = (await fluxStates(kube, 'HelmRelease')).filter((r) => expected.includes(r.name));
    expect((await fluxStates(kube, 'Kustomization')).find((k) => k.name === 'platform-observability')?.ready).toBe(true);
    expect(releases.map((r) => `${r.name}: ${r.ready}`).sort()).toEqual(expected.map((n) => `${n}: true`));
    const sets = await kube.list('apps/v1', 'StatefulSet', 'monitoring');
    const owned = (kind: string) => sets.filter((x) => x.metadata.ownerReferences?.some((o) => o.kind === kind));
    expect(owned('Prometheus').length, 'the Prometheus StatefulSet prometheus-operator makes').toBe(1);
    expect(owned('Alertmanager').length, 'the Alertmanager StatefulSet prometheus-operator makes').toBe(1);
    expect((await failedCreates(kube)).join('\n')).toBe('');
    expect(operators!.errors.join('\n')).toBe('');
    console.log(`observability: ${sets.map((x) => x.metadata.name).join(', ')}`);
    // kube-state-metrics as the chart runs it now: its Deployment's args, the customResourceState
    // ConfigMap mounted, its ServiceAccount's RBAC (the ClusterRole the chart generated): every
    // Kustomization appears in gotk_resource_info.
    const ksm = operators!.running.get('kube-state-metrics');
    expect(ksm, 'kube-state-metrics started from its chart Deployment').toBeDefined();
    const port = ksm!.args.find((x) => x.startsWith('--port='))?.split('=')[1];
    let body = '';
    const kustomizationNames = (await kube.list('kustomize.toolkit.fluxcd.io/v1', 'Kustomization')).map((k) => k.metadata.name);
    await waitFor('gotk_resource_info from the chart\'s kube-state-metrics', async () => {
      await tick();
      body = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => '');
      return kustomizationNames.every((n) => new RegExp(`^gotk_resource_info\\{[^}]*customresource_kind="Kustomization"[^}]*[,{]name="${n}"`, 'm').test(body));
    }, { timeoutMs: 120_000, intervalMs: 2_000, procs: [ksm!.proc], diagnose: () => `${ksm!.args.join(' ')}\n${body.split('\n').filter((l) => l.startsWith('gotk_')).slice(0, 10).join('\n')}` });
  });

  it('the apps layers in their turn (staging, then production): every Rollout Healthy, everything admitted', async () => {
    const states = (await fluxStates(kube, 'Kustomization')).filter((k) => k.name.startsWith('apps-'));
    expect(states.map((k) => `${k.name}: ${k.ready}`).sort()).toEqual(['apps-production: true', 'apps-staging: true']);
    const rollouts = await kube.list<LiveRolloutJson>('argoproj.io/v1alpha1', 'Rollout');
    console.log(`apps: ${rollouts.map((r) => `${r.metadata.namespace}/${r.metadata.name} ${r.status?.phase}`).join(', ')}`);
    expect(rollouts.length).toBeGreaterThanOrEqual(4);
    expect(rollouts.filter((r) => r.status?.phase !== 'Healthy').map((r) => r.metadata.name)).toEqual([]);
    expect((await failedCreates(kube)).join('\n')).toBe('');
    expect((await podStartProblems(kube)).join('\n')).toBe('');
  });

  /** CloudNativePG's full-recovery Job of a Cluster, once the operator (with the plugin) made it. */
  async function recoveryJob(ns: string, cluster: string): Promise<Listed<V1Job>> {
    let job: Listed<V1Job> | undefined;
    await waitFor(`CloudNativePG's full-recovery Job of ${ns}/${cluster}`, async () => {
      await tick();
      const jobs = await kube.list<V1Job>('batch/v1', 'Job', ns, `cnpg.io/cluster=${cluster}`);
      job = jobs.find((j) => j.metadata.labels?.['cnpg.io/jobRole'] === 'full-recovery');
      return Boolean(job);
    }, {
      timeoutMs: 300_000, intervalMs: 3_000,
      diagnose: async () => [...operators!.errors, ...await failedCreates(kube, ns),
        `Cluster status: ${JSON.stringify((await kube.get('postgresql.cnpg.io/v1', 'Cluster', cluster, ns))?.status ?? {})}`,
        operators!.running.get('cnpg-operator')?.proc.logTail(40) ?? 'cnpg-operator not running'].join('\n'),
    });
    return job!; // the wait above returned only once found
  }

  /** The Job's containers (the plugin's among them) sized, and its pod admitted: nothing refused. */
  async function expectJobPodAdmitted(ns: string, job: Listed<V1Job>): Promise<void> {
    const pod = job.spec.template.spec!;
    const containers = [...(pod.initContainers ?? []), ...pod.containers];
    console.log(`restore: Job ${ns}/${job.metadata.name}, containers ${containers.map((c) => c.name).join(', ')}`);
    // The plugin takes part in the restore (CNPG-I): its container restores the base backup and WAL.
    expect(containers.map((c) => c.name)).toContain('plugin-barman-cloud');
    for (const c of containers) expect(c.resources?.requests && c.resources?.limits, `container ${c.name} of ${job.metadata.name} has requests and limits`).toBeTruthy();
    await waitFor(`the pod of ${job.metadata.name} admitted`, async () => {
      await tick();
      return (await kube.list('v1', 'Pod', ns, `job-name=${job.metadata.name}`)).length > 0;
    }, { timeoutMs: 60_000, intervalMs: 2_000, diagnose: async () => (await failedCreates(kube, ns)).join('\n') });
    expect((await failedCreates(kube, ns)).join('\n')).toBe('');
    expect((await podStartProblems(kube)).join('\n')).toBe('');
  }

  it('restores a database side by side as the runbook does: the recovery Cluster next to the live one, its full-recovery Job and pod admitted', async () => {
    // DR procedure A on staging (npm run restore -- staging --mode side-by-side): the live Cluster
    // keeps serving; a second Cluster bootstraps from the archive (objects as the config change
    // renders them, applied as Flux would), inside the namespace's quota.
    const restoring = renderAll({ environments: { staging: { database: { recovery: { mode: 'side-by-side', sourceServerName: 'lms-db', serverName: 'lms-db-recovery-1' } } } } });
    const ns = restoring.config.environments.staging.namespace;
    const live = distObjects().map((d) => d.object).filter((o) => o.kind === 'Cluster' && o.metadata.namespace === ns).map((o) => o.metadata.name);
    const recovery = restoring.objects.map((o) => o.object).find((o): o is RenderedCluster => o.kind === 'Cluster' && o.metadata?.namespace === ns && !live.includes(o.metadata.name));
    expect(recovery?.spec?.bootstrap?.recovery, 'the side-by-side config renders a second, recovering Cluster').toBeDefined();
    await kube.apply(recovery as KubeObject, { fieldManager: 'kustomize-controller' });
    const job = await recoveryJob(ns, recovery!.metadata.name);
    await expectJobPodAdmitted(ns, job);
    // The live Cluster is untouched.
    expect(await kube.get('postgresql.cnpg.io/v1', 'Cluster', live[0], ns)).toBeTruthy();
    await kube.delete('postgresql.cnpg.io/v1', 'Cluster', recovery!.metadata.name, ns);
  });

  it('restores a database in place as the runbook does: the recovery Cluster and CloudNativePG\'s full-recovery Job, with the Barman Cloud plugin\'s part, admitted', async () => {
    // DR procedure B on staging (npm run restore -- staging --mode in-place): the data layer
    // suspended, the damaged Cluster and its volume deleted, then what the restore's config change
    // renders (bootstrap.recovery from lms-db, archiving as a new server) applied as Flux would.
    // kwok runs no restore: this stops at what the operator and the plugin make, which must pass
    // the same admission chain as everything else (policies, Pod Security, quota).
    const restoring = renderAll({ environments: { staging: { database: { backup: { serverName: 'lms-db-r1' }, recovery: { mode: 'in-place', sourceServerName: 'lms-db' } } } } });
    const ns = restoring.config.environments.staging.namespace;
    const data = restoring.objects.filter((o) => o.file.startsWith('platform/data/') && o.object.metadata?.namespace === ns).map((o) => o.object);
    const cluster = data.find((o): o is RenderedCluster => o.kind === 'Cluster');
    expect(cluster?.spec?.bootstrap?.recovery, 'the restore config renders a recovery bootstrap').toBeDefined();
    const name: string = cluster!.metadata.name;
    await kube.mergePatch('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', 'platform-data', fluxNamespace, { spec: { suspend: true } });
    await kube.delete('postgresql.cnpg.io/v1', 'Cluster', name, ns);
    await waitFor('the old Cluster and its volumes gone', async () => {
      await tick();
      const pvcs = await kube.list('v1', 'PersistentVolumeClaim', ns, `cnpg.io/cluster=${name}`);
      return !(await kube.get('postgresql.cnpg.io/v1', 'Cluster', name, ns)) && pvcs.length === 0;
    }, { timeoutMs: 180_000, intervalMs: 2_000 });
    for (const o of data.filter((x) => ['Cluster', 'ObjectStore'].includes(x.kind))) {
      await kube.apply(o as KubeObject, { fieldManager: 'kustomize-controller' });
    }
    await expectJobPodAdmitted(ns, await recoveryJob(ns, name));
  });
});
