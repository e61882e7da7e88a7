/**
 * The canary probe (charts-ts/apps/probe.ts): the script against local HTTP servers (it waits for
 * the canary, then sends its rate with the probe's Host and header over its paths, and stops on
 * time or on SIGTERM), and the rendered objects that carry it: the guard's job metric, the probe
 * route (Traefik's rule semantics: only the probe's header from inside the cluster), the
 * TraefikService that gets its requests counted under the canary's label, and the NetworkPolicies.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { analysisTemplateNames } from '../../charts-ts/apps/analysis.ts';
import { canaryServiceNames, canaryTraefikLabels, servicePort, traefikServiceLabel, traefikRouterServiceLabel } from '../../charts-ts/apps/metrics.ts';
import { probeHost, probePodSelector, probeScript } from '../../charts-ts/apps/probe.ts';
import { durationSeconds } from '../../charts-ts/config/sections/apps.ts';
import { imageRef } from '../../charts-ts/config/schema.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import type { NamedManifest } from '../../charts-ts/lib/workloads.ts';
import type { AnalysisTemplateJson, IngressRouteJson, NetworkPolicyJson } from '../support/kinds.ts';
import { environments, rendered } from './support.ts';
import { ruleMatches } from './traefik-semantics.ts';

const script = join(repoRoot, 'charts-ts/apps/canary-probe.py');

interface Seen { at: number; host?: string; header?: string; path?: string }
const servers: Server[] = [];
afterEach(() => { for (const s of servers.splice(0)) s.close(); });

function listen(onRequest: (req: IncomingMessage) => void = () => {}): Promise<number> {
  const server = createServer((req, res) => { onRequest(req); res.writeHead(200).end('ok'); });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A port nothing listens on (a canary Service without a ready pod refuses connections). */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function probe(args: string[]): { done: Promise<{ code: number | null; out: string; ms: number }>; kill: () => void } {
  const started = Date.now();
  const child = spawn('python3', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const done = new Promise<{ code: number | null; out: string; ms: number }>((resolve) => child.on('close', (code) => resolve({ code, out, ms: Date.now() - started })));
  return { done, kill: () => child.kill('SIGTERM') };
}

describe('canary-probe.py', () => {
  it('is the script the ConfigMap carries', () => {
    const env = environments(rendered()).find((e) => e.apps.probe.enabled)!;
    expect(rendered().getOf<V1ConfigMap>('', 'ConfigMap', names.probe.configMap, env.namespace).data!['canary-probe.py']).toBe(probeScript);
  });

  it('waits until the canary answers, then sends its rate with the probe\'s Host and header over its paths', async () => {
    const seen: Seen[] = [];
    const traefik = await listen((req) => seen.push({ at: Date.now(), host: req.headers.host, header: req.headers['x-lms-canary-probe'] as string, path: req.url }));
    // The canary Service answers only after 1.5 s (its pod becomes ready).
    const canaryPort = await closedPort();
    let readyAt = 0;
    setTimeout(() => {
      readyAt = Date.now();
      const s = createServer((_q, res) => res.end('ok'));
      servers.push(s);
      s.listen(canaryPort, '127.0.0.1');
    }, 1500);
    const rps = 20;
    const seconds = 3;
    const { done } = probe([`--target=http://127.0.0.1:${traefik}`, '--host=lms-api.ns.canary-probe.internal', `--header=${names.probe.header}=lms-api`, '--paths=/health/ready,/health/live',
      `--rps=${rps}`, `--duration=${1.5 + seconds + 2}`, `--wait-url=http://127.0.0.1:${canaryPort}/health/live`]);
    const result = await done;
    expect(result.code, result.out).toBe(0);
    expect(readyAt).toBeGreaterThan(0);
    expect(seen.every((x) => x.at >= readyAt), 'no request before the canary answered').toBe(true);
    expect(new Set(seen.map((x) => x.host))).toEqual(new Set(['lms-api.ns.canary-probe.internal']));
    expect(new Set(seen.map((x) => x.header))).toEqual(new Set(['lms-api']));
    expect(new Set(seen.map((x) => x.path))).toEqual(new Set(['/health/ready', '/health/live']));
    // About rps a second for the time after the wait (a second of slack for the wait's poll).
    const probed = (seen[seen.length - 1].at - seen[0].at) / 1000;
    expect(seen.length / Math.max(probed, 1)).toBeGreaterThan(rps * 0.8);
    expect(seen.length / Math.max(probed, 1)).toBeLessThan(rps * 1.2);
    expect(result.out).toContain('"event": "done"');
  }, 20_000);

  it('stops at once on SIGTERM (Argo Rollouts deletes the Job when the rollout ends), exit 0', async () => {
    const traefik = await listen();
    const canary = await listen();
    const p = probe([`--target=http://127.0.0.1:${traefik}`, '--host=x.internal', '--header=X-P=1', '--paths=/', '--rps=5', '--duration=600', `--wait-url=http://127.0.0.1:${canary}/`]);
    setTimeout(p.kill, 1500);
    const result = await p.done;
    expect(result.code, result.out).toBe(0);
    expect(result.ms).toBeLessThan(5000);
  }, 20_000);

  it('refuses bad arguments with exit 2', async () => {
    const result = await probe(['--target=ftp://x', '--host=x', '--header=X', '--paths=/', '--rps=1', '--duration=1', '--wait-url=http://x/']).done;
    expect(result.code).toBe(2);
  });
});

describe('the probe\'s objects', () => {
  const r = rendered();

  it('production runs the probe in each canary\'s guard: its pinned image, its rate and paths, to Traefik\'s websecure port as its internal host, for up to maxDuration', () => {
    for (const env of environments(r)) {
      for (const app of ['api', 'web'] as const) {
        const name = names.apps[app];
        const guard = r.getOf<AnalysisTemplateJson>('argoproj.io', 'AnalysisTemplate', analysisTemplateNames(name).guard, env.namespace);
        const job = guard.spec.metrics.find((m) => m.provider.job);
        if (!env.apps.probe.enabled) {
          expect(job).toBeUndefined();
          expect(r.find('IngressRoute', { namespace: env.namespace }).map((x: NamedManifest) => x.metadata.name)).not.toContain(`${name}-canary-probe`);
          continue;
        }
        const p = env.apps.probe;
        const spec = job!.provider.job!.spec;
        const c = spec.template.spec!.containers[0];
        expect(c.image).toBe(imageRef(p.image));
        expect(c.args).toEqual([
          '/probe/canary-probe.py',
          `--target=https://${names.ingress.serviceHost}:${names.ingress.websecurePort}`,
          `--host=${probeHost(name, env.namespace)}`,
          `--header=${names.probe.header}=${name}`,
          `--paths=${p.paths[app].join(',')}`,
          `--rps=${p.requestsPerSecond}`,
          `--duration=${durationSeconds(p.maxDuration) - 60}`,
          `--wait-url=http://${canaryServiceNames(name).canary}.${env.namespace}.svc.cluster.local:${servicePort}${app === 'api' ? '/health/live' : env.apps.web.probePath}`,
        ]);
        expect(spec.activeDeadlineSeconds).toBe(durationSeconds(p.maxDuration));
        expect(spec.template.spec!.serviceAccountName).toBe(names.probe.serviceAccount);
        expect(spec.template.spec!.automountServiceAccountToken).toBe(false);
        expect(spec.template.metadata!.labels).toMatchObject(probePodSelector);
        // Its pod counts in the capacity budget.
        expect(JSON.parse(guard.metadata.annotations!['capacity.lms.dev/footprint'])).toEqual([expect.objectContaining({ replicas: 1, requests: p.resources.requests })]);
      }
    }
  });

  it('the probe route reaches the canary alone, only with the probe\'s header, its host and an in-cluster address', () => {
    const env = environments(r).find((e) => e.apps.probe.enabled)!;
    const cidrs = r.config.cluster.bootstrap.firewall.clusterCidrs;
    const podAddress = cidrs[0].replace(/\.0\/\d+$/, '.17');
    for (const name of [names.apps.api, names.apps.web]) {
      const ir = r.getOf<IngressRouteJson>('traefik.io', 'IngressRoute', `${name}-canary-probe`, env.namespace);
      expect(ir.spec.entryPoints).toEqual(['websecure']);
      // Not a public router: Traefik's default TLS options (no Cloudflare client certificate).
      expect(ir.spec.tls).toEqual({});
      const [route] = ir.spec.routes;
      expect(route.services).toEqual([{ name: canaryServiceNames(name).probeTraefikService, kind: 'TraefikService' }]);
      const host = probeHost(name, env.namespace);
      const req = { host, path: '/health/ready', headers: { [names.probe.header]: name }, remoteAddr: podAddress };
      expect(ruleMatches(route.match, req)).toBe(true);
      // From Cloudflare (outside the cluster), without the header, for another app, or on the public host: no.
      expect(ruleMatches(route.match, { ...req, remoteAddr: r.config.cluster.cloudflare.ipv4[0].replace(/\/\d+$/, '') })).toBe(false);
      expect(ruleMatches(route.match, { ...req, headers: {} })).toBe(false);
      expect(ruleMatches(route.match, { ...req, headers: { [names.probe.header]: 'other' } })).toBe(false);
      expect(ruleMatches(route.match, { ...req, host: env.hostnames[name === names.apps.api ? 'api' : 'web'] })).toBe(false);
      // Users' routes never match the probe's host.
      for (const user of r.findOf<IngressRouteJson>('traefik.io', 'IngressRoute', { namespace: env.namespace }).filter((x) => !x.metadata.name.endsWith('-canary-probe'))) {
        for (const rt of user.spec.routes) expect(ruleMatches(rt.match, req), `${user.metadata.name}: ${rt.match}`).toBe(false);
      }
    }
  });

  it('its requests are recorded under the canary Service\'s label (the analysis reads) and its own router service (which tells them apart)', () => {
    const env = environments(r).find((e) => e.apps.probe.enabled)!;
    for (const name of [names.apps.api, names.apps.web]) {
      const svc = canaryServiceNames(name);
      const ts = r.getOf<{ spec: { weighted: { services: { name: string; port: number; weight: number }[] } } }>('traefik.io', 'TraefikService', svc.probeTraefikService, env.namespace);
      expect(ts.spec.weighted.services).toEqual([{ name: svc.canary, port: servicePort, weight: 1 }]);
      const l = canaryTraefikLabels(env.namespace, name);
      expect(traefikServiceLabel(env.namespace, ts.spec.weighted.services[0].name, ts.spec.weighted.services[0].port)).toBe(l.canary);
      expect(traefikRouterServiceLabel(env.namespace, ts.metadata.name)).toBe(l.probeRouter);
    }
  });

  it('NetworkPolicies: the probe reaches Traefik\'s websecure port and the app pods, nothing else; the app pods admit it', () => {
    const env = environments(r).find((e) => e.apps.probe.enabled)!;
    const policy = r.getOf<NetworkPolicyJson>('networking.k8s.io', 'NetworkPolicy', 'canary-probe', env.namespace);
    expect(policy.spec.podSelector).toEqual({ matchLabels: probePodSelector });
    expect(policy.spec.policyTypes).toEqual(['Egress']);
    expect(policy.spec.egress!.map((e) => e.ports!.map((p) => p.port))).toEqual([[names.ingress.websecureContainerPort], [env.apps.api.port], [env.apps.web.port]]);
    for (const [app, port] of [[names.apps.api, env.apps.api.port], [names.apps.web, env.apps.web.port]] as const) {
      const p = r.getOf<NetworkPolicyJson>('networking.k8s.io', 'NetworkPolicy', app, env.namespace);
      expect(p.spec.ingress).toContainEqual({ from: [{ podSelector: { matchLabels: probePodSelector } }], ports: [{ protocol: 'TCP', port }] });
    }
  });
});
