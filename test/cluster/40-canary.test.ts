/**
 * The production canary end to end, with the real Argo Rollouts controller (flags from its
 * HelmRelease), kube-controller-manager, kube-scheduler and kwok for the pods, and a real Prometheus
 * scraping a stand-in for Traefik's metrics whose error ratio and latency the test controls:
 *
 * v1 stable -> v2 with good metrics passes every step, stops at the manual approval until promoted
 * through the API (as `kubectl argo rollouts promote` does) -> v3 with bad metrics is aborted by
 * the analysis, and v2 keeps 100 % of the traffic -> v4, slow but error-free, is aborted by the
 * latency analysis alone. The time from the v3 update to the abort must
 * fit the budget of docs/delivery.md (config `apps.analysis.abortWithin`).
 *
 * Abort at every step (issue 16 item 3): v5 turns bad once it has 25 % of the traffic and v6 once it
 * has 50 %, with the HPA at its minimum and the node full (a filler pod takes the node's allocatable
 * down to less than one more API pod at the approval pause). At 50 % with 2 replicas
 * dynamicStableScale has left 1 stable pod, so the abort waits for a second one (it fits only in the
 * room the 50 % step itself freed); the time from the canary being bad at its weight to 100 % on
 * stable is printed for 10, 25 and 50 % and checked against the arithmetic of
 * charts-ts/lib/canary-abort.ts.
 *
 * Flux's verdict: at each of these states the apps layers' Rollout health checks, evaluated by Flux's
 * own evaluator (flux-health) on the live object, must say what the deploy job reads from them:
 * production Current at the approval pause and when Healthy, in progress before; Failed on abort.
 *
 * Time scale: the analysis timing (interval, initial delay, query window, scrape interval) and the
 * pods' minReadySeconds run `timeScale` times faster than in production so the test takes about a
 * minute; the controllers' own latency is not scaled. The unscaled arithmetic is checked as well.
 */
import { createHash } from 'node:crypto';
import type { V1Container, V1Node, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryServiceNames, servicePort, traefikServiceLabel } from '../../charts-ts/apps/metrics.ts';
import { durationSeconds, worstCaseAbortSeconds, worstCaseGuardAbortSeconds, type AnalysisSettings } from '../../charts-ts/config/sections/apps.ts';
import { stepAborts, type StepAbort } from '../../charts-ts/lib/canary-abort.ts';
import { cpuCores, memoryBytes } from '../../charts-ts/lib/quantity.ts';
import { layers } from '../../charts-ts/lib/chart.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { fluxLayers } from '../../charts-ts/platform/flux-layers.ts';
import { fluxHealth, type FluxHealth } from '../support/flux-health.ts';
import type { LiveRolloutJson, RolloutStatusJson } from '../support/kinds.ts';
import { renderAll } from '../support/render.ts';
import { applyLayer, formatProblems } from './support/apply.ts';
import type { Kube, KubeObject, Listed } from './support/kube.ts';
import { StopWaiting, waitFor } from './support/processes.ts';
import { startPrometheus, type Prometheus } from './support/prometheus.ts';
import { config } from './support/probes.ts';
import { promote } from './support/rollouts.ts';
import { cluster, connect, ensureDistApplied, rolloutsControllerProblems } from './support/session.ts';
import { TraefikExporter } from './support/traefik-exporter.ts';

/** Production analysis timing runs this many times faster here. */
const timeScale = 10;
const env = config.environments.production;
const ns = env.namespace;
const app = names.apps.api;
const services = canaryServiceNames(app);
const label = {
  stable: traefikServiceLabel(ns, services.stable, servicePort),
  canary: traefikServiceLabel(ns, services.canary, servicePort),
};
const good = { errorRatio: 0.001, latencySeconds: 0.05 };
const bad = { errorRatio: 0.2, latencySeconds: 2 };
const av = 'argoproj.io/v1alpha1';

/** A Go-style duration `timeScale` times shorter. */
function scaled(d: string): string {
  const ms = Math.round((durationSeconds(d) * 1000) / timeScale);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

const production: AnalysisSettings = env.apps.analysis;
const scaledAnalysis = {
  interval: scaled(production.interval),
  initialDelay: scaled(production.initialDelay),
  window: scaled(production.window),
  scrapeInterval: scaled(production.scrapeInterval),
  guard: { ...production.guard, sustain: scaled(production.guard.sustain) },
};
const scaledMinReadySeconds = Math.max(1, Math.round(env.apps.lifecycle.minReadySeconds / timeScale));
/**
 * The canary probe's rate, `timeScale` times higher so its requests per (scaled) query window stay
 * what production sends (the config check demands minRequests from the probe alone). Kwok runs no
 * probe Job; the stand-in exporter's counters are the traffic here.
 */
const scaledProbe = { ...env.apps.probe, requestsPerSecond: env.apps.probe.requestsPerSecond * timeScale };
/**
 * The environment as it runs here, for the abort arithmetic: analysis timing and minReadySeconds
 * scaled as rendered below; the pods' start and probe periods scaled too (kwok marks a pod Ready as
 * soon as it is scheduled, so here they only add margin); controllerLatency stays real time.
 */
const scaledEnv = {
  ...env,
  apps: {
    ...env.apps,
    analysis: { ...production, ...scaledAnalysis },
    probe: scaledProbe,
    lifecycle: {
      ...env.apps.lifecycle,
      minReadySeconds: scaledMinReadySeconds,
      readinessProbePeriodSeconds: env.apps.lifecycle.readinessProbePeriodSeconds / timeScale,
      startupProbePeriodSeconds: env.apps.lifecycle.startupProbePeriodSeconds / timeScale,
    },
    api: { ...env.apps.api, startSeconds: env.apps.api.startSeconds / timeScale },
  },
};
/** The arithmetic's abort at a step weight with `replicas` pods: production timing and as scaled here. */
function abortArithmetic(weight: number, replicas: number): { production: StepAbort; scaled: StepAbort } {
  const find = (e: typeof env) => {
    const a = stepAborts(e, 'api').find((x) => x.weight === weight && x.replicas === replicas);
    if (!a) throw new Error(`no abort arithmetic for ${weight} % with ${replicas} replicas (steps ${JSON.stringify(env.canary.steps)}, HPA ${env.apps.api.hpa.min}-${env.apps.api.hpa.max})`);
    return a;
  };
  return { production: find(env), scaled: find(scaledEnv) };
}
const fillerName = 'lms-cluster-test-node-filler';
const fillerNamespace = 'kube-system';

/** Flux's verdict on a live Rollout under an apps layer's rendered health check (kustomize-controller's evaluator). */
function fluxVerdict(layer: 'apps-staging' | 'apps-production', rollout: object): FluxHealth {
  const exprs = fluxLayers(config).find((l) => l.name === layer)?.healthCheckExprs?.find((e) => e.kind === 'Rollout');
  if (!exprs) throw new Error(`${layer} has no Rollout health check`);
  return fluxHealth(exprs, [rollout])[0]!;
}

/** A release: the image the pipeline would pin (tag + digest). */
const release = (tag: string) => ({ tag, digest: `sha256:${createHash('sha256').update(tag).digest('hex')}` });

/**
 * The API Rollout as read here, once the controller has reconciled it (every direct read of its
 * status follows a wait on the controller); the HPA keeps `replicas` set.
 */
interface ApiRollout extends LiveRolloutJson {
  readonly spec: LiveRolloutJson['spec'] & { readonly replicas: number };
  readonly status: RolloutStatusJson;
}

/** An AnalysisTemplate as rendered: the Prometheus provider whose address is pointed at the local one. */
interface PrometheusTemplateJson { readonly spec: { readonly metrics: readonly { readonly provider?: { prometheus?: { address?: string } } }[] } }

/** The TraefikService (traefik.io/v1alpha1) whose weights Argo Rollouts writes. */
interface TraefikServiceJson { readonly spec: { readonly weighted?: { readonly services?: readonly { readonly name: string; readonly weight?: number }[] } } }

/** An AnalysisRun (argoproj.io/v1alpha1): the status read. */
interface AnalysisRunJson {
  readonly status?: {
    readonly phase?: string;
    readonly message?: string;
    readonly metricResults?: readonly { readonly name: string; readonly phase: string; readonly measurements?: readonly { readonly phase: string; readonly value?: string }[] }[];
  };
}

describe('production canary on a real control plane', () => {
  let kube: Kube;
  let prometheus: Prometheus;
  const exporter = new TraefikExporter(2000);
  let polling = true;
  let poller: Promise<void> | undefined;
  /** When the canary Service first got a weight > 0 after `trafficWatchFrom`. */
  let trafficWatchFrom = Infinity;
  let canaryTrafficAt: number | undefined;

  /** The production app layer as rendered for `image`, analysis pointed at the local Prometheus. */
  function renderProduction(image: { tag: string; digest: string }): KubeObject[] {
    const r = renderAll({
      // The analysis must assume the scrape interval Prometheus really uses (config cross-check);
      // here the local Prometheus scrapes the stand-in exporter at the scaled interval.
      cluster: { platform: { traefik: { scrapeInterval: scaledAnalysis.scrapeInterval } } },
      environments: {
        staging: { apps: { analysis: { scrapeInterval: scaledAnalysis.scrapeInterval } } },
        production: {
          apps: { api: { image }, analysis: scaledAnalysis, probe: { requestsPerSecond: scaledProbe.requestsPerSecond }, lifecycle: { minReadySeconds: scaledMinReadySeconds } },
        },
      },
    });
    const objects = r.objects.filter((o) => o.file.startsWith(`${layers.apps('production')}/`)).map((o) => o.object as KubeObject);
    for (const o of objects.filter((x): x is KubeObject & PrometheusTemplateJson => x.kind === 'AnalysisTemplate')) {
      for (const m of o.spec.metrics) {
        if (m.provider?.prometheus) m.provider.prometheus.address = prometheus.url; // only the address changes
      }
    }
    return objects;
  }

  async function deploy(image: { tag: string; digest: string }): Promise<void> {
    const objects = renderProduction(image).map((object) => ({ file: `${layers.apps('production')}/(rendered ${image.tag})`, object }));
    const { problems } = await applyLayer(kube, { name: `apps-production@${image.tag}`, path: layers.apps('production'), dependsOn: [], objects });
    expect(formatProblems(problems)).toBe('');
  }

  // Typed as present: it is deployed before anything reads it (the waits still check with `?.`).
  const rollout = async () => (await kube.get<ApiRollout>(av, 'Rollout', app, ns))!;
  async function weights(): Promise<{ stable: number; canary: number }> {
    const ts = await kube.get<TraefikServiceJson>('traefik.io/v1alpha1', 'TraefikService', services.traefikService, ns);
    const w = (name: string) => ts?.spec?.weighted?.services?.find((s) => s.name === name)?.weight ?? 0;
    return { stable: w(services.stable), canary: w(services.canary) };
  }
  async function analysisRuns(): Promise<Listed<AnalysisRunJson>[]> {
    return (await kube.list<AnalysisRunJson>(av, 'AnalysisRun', ns)).filter((r) => r.metadata.ownerReferences?.some((o) => o.kind === 'Rollout' && o.name === app));
  }
  const imageOf = (ro: LiveRolloutJson) => ro.spec.template.spec.containers[0].image as string;

  /** Where the rollout stands, its analysis runs and the controller's complaints, for failure messages. */
  async function rolloutState(): Promise<string> {
    const r = await rollout();
    const s: RolloutStatusJson = r?.status ?? {};
    const runs = (await analysisRuns()).map((a) => {
      const measurements = (a.status?.metricResults ?? [])
        .map((m) => `${m.name}: ${m.phase} [${(m.measurements ?? []).map((x) => `${x.phase}${x.value !== undefined ? `=${x.value}` : ''}`).join(' ')}]`);
      return `  ${a.metadata.name}: ${a.status?.phase ?? 'Pending'} ${a.status?.message ?? ''} ${measurements.join('; ')}`;
    });
    return [
      `Rollout ${ns}/${app}: phase ${s.phase} step ${s.currentStepIndex} abort=${s.abort ?? false} paused=${JSON.stringify(s.pauseConditions ?? [])} message=${s.message ?? ''}`,
      `TraefikService weights ${JSON.stringify(await weights())}`,
      'AnalysisRuns:', ...runs,
      rolloutsControllerProblems(),
    ].join('\n');
  }

  /** Requests of a pod as the scheduler counts them (containers, or the largest init container). */
  function podRequests(pod: { spec: V1PodSpec }): { cpu: number; memory: number } {
    const of = (c: V1Container) => ({ cpu: cpuCores(c.resources?.requests?.cpu ?? 0), memory: memoryBytes(c.resources?.requests?.memory ?? 0) });
    const init = (pod.spec.initContainers ?? []).map(of);
    const sidecars = (pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map(of);
    const main = [...pod.spec.containers.map(of), ...sidecars].reduce((a, b) => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory }), { cpu: 0, memory: 0 });
    return {
      cpu: Math.max(main.cpu, ...init.map((x) => x.cpu)) + cpuCores(pod.spec.overhead?.cpu ?? 0),
      memory: Math.max(main.memory, ...init.map((x) => x.memory)) + memoryBytes(pod.spec.overhead?.memory ?? 0),
    };
  }

  /** What one API pod requests (the rendered Rollout's template). */
  async function apiPodRequests(): Promise<{ cpu: number; memory: number }> {
    return podRequests({ spec: (await rollout()).spec.template.spec });
  }

  /** The node's allocatable minus the requests of the pods bound to it that have not finished. */
  async function freeOnNode(): Promise<{ cpu: number; memory: number }> {
    const node = await kube.get<V1Node>('v1', 'Node', cluster().nodeName);
    const pods = (await kube.list<V1Pod>('v1', 'Pod')).filter((p) => p.spec.nodeName === cluster().nodeName && !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''));
    const used = pods.map(podRequests).reduce((a, b) => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory }), { cpu: 0, memory: 0 });
    const allocatable = node!.status!.allocatable!;
    return { cpu: cpuCores(allocatable.cpu) - used.cpu, memory: memoryBytes(allocatable.memory) - used.memory };
  }

  const restrictedPod = (name: string, requests: { cpu: number; memory: number }): KubeObject => {
    const r = { cpu: `${Math.floor(requests.cpu * 1000)}m`, memory: `${Math.floor(requests.memory / 1024)}Ki` };
    return {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, namespace: fillerNamespace, labels: { 'app.kubernetes.io/name': name } },
      spec: {
        automountServiceAccountToken: false,
        securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [{
          name: 'pause', image: 'registry.k8s.io/pause:3.10',
          resources: { requests: r, limits: r },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        }],
      },
    };
  };

  async function podGone(name: string): Promise<void> {
    await kube.delete('v1', 'Pod', name, fillerNamespace);
    await waitFor(`pod ${fillerNamespace}/${name} gone`, async () => !(await kube.get('v1', 'Pod', name, fillerNamespace)), { timeoutMs: 60_000 });
  }

  /**
   * The node full: a filler pod takes all the allocatable CPU and memory the bound pods leave but
   * half an API pod's requests, and a pod of one API pod's requests stays unschedulable.
   */
  async function fillNode(): Promise<void> {
    const api = await apiPodRequests();
    const free = await freeOnNode();
    const filler = { cpu: free.cpu - api.cpu / 2, memory: free.memory - api.memory / 2 };
    expect(filler.cpu, `free CPU on the node ${free.cpu}`).toBeGreaterThan(0);
    expect(filler.memory, `free memory on the node ${free.memory}`).toBeGreaterThan(0);
    await kube.create(restrictedPod(fillerName, filler));
    const podState = async (name: string) => JSON.stringify((await kube.get<V1Pod>('v1', 'Pod', name, fillerNamespace))?.status?.conditions ?? []);
    await waitFor('the filler pod bound to the node', async () => (await kube.get<V1Pod>('v1', 'Pod', fillerName, fillerNamespace))?.spec?.nodeName,
      { timeoutMs: 30_000, diagnose: () => podState(fillerName) });
    const probe = `${fillerName}-api-sized`;
    await kube.create(restrictedPod(probe, api));
    await waitFor('a pod of one API pod\'s requests reported unschedulable (the node is full)', async () => {
      const p = await kube.get<V1Pod>('v1', 'Pod', probe, fillerNamespace);
      if (p?.spec?.nodeName) throw new StopWaiting(`a pod of one API pod's requests was scheduled: the node is not full (free before the filler: ${JSON.stringify(free)})`);
      return p?.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
    }, { timeoutMs: 30_000, diagnose: () => podState(probe) });
    await podGone(probe);
  }

  /** Where the Rollout stands after a release reached the manual approval with good metrics. */
  async function releaseToApproval(tag: string): Promise<number> {
    exporter.set(label.canary, good);
    // Let the previous release's samples leave the query window.
    await new Promise((r) => setTimeout(r, (durationSeconds(scaledAnalysis.window) + durationSeconds(scaledAnalysis.scrapeInterval)) * 1000));
    await deploy(release(tag));
    const steps = (await rollout()).spec.strategy.canary.steps;
    const approvalIndex = steps.findIndex((s) => s.pause && s.pause.duration === undefined);
    await waitFor(`${tag} paused for the manual approval`, async () => {
      const r = await rollout();
      if (r?.status?.abort) throw new StopWaiting(`${tag} was aborted before the approval: ${r.status.message}\n${await rolloutState()}`);
      return r?.status?.currentStepIndex === approvalIndex && r.status.pauseConditions?.some((p) => p.reason === 'CanaryPauseStep') ? r : undefined;
    }, { timeoutMs: 180_000, intervalMs: 500, diagnose: rolloutState });
    return approvalIndex;
  }

  /** The stable ReplicaSet's hash and its pods now. */
  async function stableSet(): Promise<{ hash: string; names: Set<string> }> {
    const r = await rollout();
    const selector = Object.entries(r.spec.selector.matchLabels!).map(([k, v]) => `${k}=${v}`).join(',');
    const pods = await kube.list('v1', 'Pod', ns, `${selector},rollouts-pod-template-hash=${r.status.stableRS}`);
    return { hash: r.status.stableRS!, names: new Set(pods.map((p) => p.metadata.name)) };
  }

  interface MeasuredAbort { weight: number; replicas: number; seconds: number; flaggedAfter: number; newStablePods: number; arithmetic: ReturnType<typeof abortArithmetic> }
  const measured: MeasuredAbort[] = [];

  const abortLine = (m: MeasuredAbort) => {
    const p = m.arithmetic.production;
    return `abort at ${m.weight} % (${m.replicas} replicas: ${p.scaleUp.stableBefore} stable + ${p.scaleUp.canaryBefore} canary pods): `
      + `bad canary -> 100 % stable in ${m.seconds.toFixed(1)} s (abort flagged after ${m.flaggedAfter.toFixed(1)} s; new stable pods ${m.newStablePods}); `
      + `worst case here ${m.arithmetic.scaled.seconds.toFixed(1)} s, production ${p.seconds} s (${p.verdictBy} ${p.verdictSeconds} s + ${p.scaleUp.rounds} x ${p.roundSeconds} s), budget ${production.abortWithin}`;
  };

  /**
   * After the approval, the canary gets good metrics until it has `weight` % of the traffic, then bad
   * ones; measured from then to 100 % on the stable Service.
   */
  async function abortAt(weight: number, stable: { hash: string; names: Set<string> }): Promise<MeasuredAbort> {
    const replicas = (await rollout()).spec.replicas;
    await promote(kube, ns, app);
    await waitFor(`the canary at ${weight} %`, async () => {
      const r = await rollout();
      if (r?.status?.abort) throw new StopWaiting(`aborted before ${weight} %: ${r.status.message}\n${await rolloutState()}`);
      return (await weights()).canary === weight;
    }, { timeoutMs: 180_000, intervalMs: 100, diagnose: rolloutState });
    exporter.set(label.canary, bad);
    const badAt = Date.now();
    await waitFor(`aborted at ${weight} %`, async () => {
      const r = await rollout();
      if (r?.status?.phase === 'Healthy' && r.status.stableRS !== stable.hash) throw new StopWaiting(`promoted despite bad metrics at ${weight} %`);
      return r?.status?.abort === true;
    }, { timeoutMs: 240_000, intervalMs: 100, diagnose: rolloutState });
    const flaggedAt = Date.now();
    await waitFor('100 % back on the stable Service', async () => {
      const w = await weights();
      return w.stable === 100 && w.canary === 0;
    }, { timeoutMs: 180_000, intervalMs: 100, diagnose: rolloutState });
    const restoredAt = Date.now();
    const selector = Object.entries((await rollout()).spec.selector.matchLabels!).map(([k, v]) => `${k}=${v}`).join(',');
    const stablePods = await kube.list('v1', 'Pod', ns, `${selector},rollouts-pod-template-hash=${stable.hash}`);
    const m: MeasuredAbort = {
      weight, replicas,
      seconds: (restoredAt - badAt) / 1000,
      flaggedAfter: (flaggedAt - badAt) / 1000,
      newStablePods: stablePods.filter((p) => !stable.names.has(p.metadata.name)).length,
      arithmetic: abortArithmetic(weight, replicas),
    };
    measured.push(m);
    console.log(abortLine(m));
    const r = await rollout();
    expect(r.status.stableRS).toBe(stable.hash);
    expect(stablePods.filter((p) => !p.metadata.deletionTimestamp).length, 'the stable set is whole again').toBe(replicas);
    return m;
  }

  beforeAll(async () => {
    kube = await connect();
    const controller = cluster().rolloutsController;
    if (!controller.running) throw new Error(`the Argo Rollouts controller is not running: ${controller.reason}`);
    await ensureDistApplied(kube);
    exporter.set(label.stable, good);
    exporter.set(label.canary, good);
    await exporter.start();
    // Scraped every second, faster than the scaled scrapeInterval: each query window then holds
    // several samples even when this shared machine is slow, and the worst case computed with the
    // (slower) configured interval only becomes more conservative.
    prometheus = await startPrometheus(cluster().runDir, `127.0.0.1:${exporter.port}`, '1s');
    // Traffic follows the weights Argo Rollouts writes into the TraefikService, like Traefik does.
    poller = (async () => {
      while (polling) {
        try {
          const w = await weights();
          exporter.setWeights(new Map([[label.stable, w.stable], [label.canary, w.canary]]));
          if (w.canary > 0 && canaryTrafficAt === undefined && Date.now() >= trafficWatchFrom) canaryTrafficAt = Date.now();
        } catch { /* the API server may be busy; next round */ }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
  });

  afterAll(async () => {
    if (measured.length) console.log(['abort time per step (bad canary at its weight -> 100 % on stable):', ...measured.map((m) => `  ${abortLine(m)}`)].join('\n'));
    await kube?.delete('v1', 'Pod', fillerName, fillerNamespace).catch(() => undefined);
    await kube?.delete('v1', 'Pod', `${fillerName}-api-sized`, fillerNamespace).catch(() => undefined);
    polling = false;
    await poller;
    await prometheus?.proc.stop();
    await exporter.stop();
  });

  it('keeps the abort promise with the production timing (unscaled arithmetic)', () => {
    const budget = durationSeconds(production.abortWithin);
    const guard = worstCaseGuardAbortSeconds(production);
    const gate = worstCaseAbortSeconds(production, production.gate.failureLimit);
    console.log(`abort budget (docs/delivery.md, apps.analysis.abortWithin): ${budget}s; worst case with production timing: guard ${guard}s, gate ${gate}s`);
    expect(guard).toBeLessThanOrEqual(budget);
    expect(gate).toBeLessThanOrEqual(budget);
  });

  it('v1: the Rollout is healthy and the stable Service has 100 % of the traffic', async () => {
    const v1 = env.apps.api.image;
    await deploy({ tag: v1.tag, digest: v1.digest });
    const ro = await waitFor('v1 Healthy', async () => {
      const r = await rollout();
      return r?.status?.phase === 'Healthy' && r.status.observedGeneration === String(r.metadata.generation) ? r : undefined;
    }, { timeoutMs: 120_000, intervalMs: 1_000, diagnose: rolloutState });
    expect(imageOf(ro)).toContain(`:${v1.tag}@`);
    expect(ro.status.stableRS).toBe(ro.status.currentPodHash);
    expect(await weights()).toEqual({ stable: 100, canary: 0 });
    expect([fluxVerdict('apps-staging', ro), fluxVerdict('apps-production', ro)]).toEqual(['Current', 'Current']);
  });

  it('v2 with good metrics passes every analysis, waits for the manual approval until promoted, and becomes stable', async () => {
    const before = await rollout();
    const runsBefore = new Set((await analysisRuns()).map((r) => r.metadata.name));
    exporter.set(label.canary, good);
    await deploy(release('1.1.0'));
    // Straight after the update: whether or not the controller has observed it yet, not settled.
    expect(fluxVerdict('apps-production', await rollout())).toBe('InProgress');
    const steps = before.spec.strategy.canary.steps;
    const approvalIndex = steps.findIndex((s) => s.pause && s.pause.duration === undefined);
    expect(approvalIndex, 'production must stop for a manual approval (canary.manualApproval)').toBeGreaterThan(0);

    // Runs every step up to the approval pause, then waits there.
    await waitFor('v2 paused for the manual approval', async () => {
      const r = await rollout();
      if (r?.status?.abort) throw new StopWaiting(`v2 was aborted: ${r.status.message}\n${await rolloutState()}`);
      if (r?.status?.pauseConditions?.some((p) => p.reason === 'InconclusiveAnalysisRun')) {
        throw new StopWaiting(`v2's analysis was inconclusive (not enough canary samples in a window): the rollout waits for a human\n${await rolloutState()}`);
      }
      return r?.status?.currentStepIndex === approvalIndex && r.status.pauseConditions?.some((p) => p.reason === 'CanaryPauseStep') ? r : undefined;
    }, { timeoutMs: 180_000, intervalMs: 500, diagnose: rolloutState });
    const gateRuns = (await analysisRuns()).filter((r) => !runsBefore.has(r.metadata.name));
    expect(gateRuns.some((r) => r.status?.phase === 'Successful'), 'the analysis before the approval passed').toBe(true);
    // It stays there: an indefinite pause does not time out.
    await new Promise((r) => setTimeout(r, 3 * durationSeconds(scaledAnalysis.interval) * 1000));
    const still = await rollout();
    expect(still.status.currentStepIndex).toBe(approvalIndex);
    expect(still.status.stableRS).toBe(before.status.stableRS);
    expect((await weights()).canary).toBeGreaterThan(0);
    // What the deploy job waits for (flux/apps-production): production settled at the approval; the
    // same state would hold staging back.
    expect([fluxVerdict('apps-production', still), fluxVerdict('apps-staging', still)]).toEqual(['Current', 'InProgress']);

    await promote(kube, ns, app);
    const done = await waitFor('v2 fully promoted', async () => {
      const r = await rollout();
      if (r?.status?.abort) throw new StopWaiting(`v2 was aborted after the approval: ${r.status.message}\n${await rolloutState()}`);
      if (r?.status?.pauseConditions?.some((p) => p.reason === 'InconclusiveAnalysisRun')) {
        throw new StopWaiting(`v2's analysis after the approval was inconclusive\n${await rolloutState()}`);
      }
      return r?.status?.phase === 'Healthy' && r.status.stableRS === r.status.currentPodHash && r.status.stableRS !== before.status.stableRS ? r : undefined;
    }, { timeoutMs: 240_000, intervalMs: 500, diagnose: rolloutState });
    expect(done.status.currentStepIndex).toBe(steps.length);
    expect(fluxVerdict('apps-production', done)).toBe('Current');
    expect(imageOf(done)).toContain(':1.1.0@');
    const runs = (await analysisRuns()).filter((r) => !runsBefore.has(r.metadata.name));
    const failed = runs.filter((r) => !['Successful', 'Running'].includes(r.status?.phase ?? ''));
    expect(failed.map((r) => `${r.metadata.name}: ${r.status?.phase} ${r.status?.message ?? ''}`)).toEqual([]);
    const gates = steps.filter((s) => s.analysis).length;
    expect(runs.filter((r) => r.status?.phase === 'Successful').length).toBeGreaterThanOrEqual(gates);
    await waitFor('stable 100 % after promotion', async () => {
      const w = await weights();
      return w.stable === 100 && w.canary === 0;
    }, { timeoutMs: 30_000 });
  });

  it('v3 with bad metrics is aborted by the analysis within the budget, and v2 keeps 100 % of the traffic', async () => {
    const before = await rollout();
    const stableBefore = await stableSet();
    exporter.set(label.canary, bad);
    trafficWatchFrom = Date.now();
    canaryTrafficAt = undefined;
    const updatedAt = Date.now();
    await deploy(release('1.2.0'));
    const aborted = await waitFor('v3 aborted', async () => {
      const r = await rollout();
      if (r?.status?.phase === 'Healthy' && r.status.stableRS !== before.status.stableRS) throw new StopWaiting('v3 was promoted despite bad metrics');
      return r?.status?.abort === true ? r : undefined;
    }, { timeoutMs: 240_000, intervalMs: 250, diagnose: rolloutState });
    const abortedAt = Date.now();
    // The abort is complete when the ingress sends nothing to the canary any more.
    await waitFor('stable back to 100 %', async () => {
      const w = await weights();
      return w.stable === 100 && w.canary === 0;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    const restoredAt = Date.now();

    const runs = await analysisRuns();
    const failedRun = runs.find((r) => r.status?.phase === 'Failed' || r.status?.phase === 'Error');
    expect(failedRun, 'an AnalysisRun failed').toBeDefined();
    expect(aborted.status.phase).toBe('Degraded');
    expect([fluxVerdict('apps-production', aborted), fluxVerdict('apps-staging', aborted)]).toEqual(['Failed', 'Failed']);
    expect(aborted.status.stableRS).toBe(before.status.stableRS);
    expect(imageOf(await rollout())).toContain(':1.2.0@'); // the spec keeps v3; the stable pods stay v2

    expect(canaryTrafficAt, 'the canary got traffic before the abort').toBeDefined();
    const fromUpdate = (restoredAt - updatedAt) / 1000;
    const fromTraffic = (restoredAt - canaryTrafficAt!) / 1000;
    const scaledSettings = { ...production, ...scaledAnalysis }; // controllerLatency stays real time
    const worst = (a: typeof production) => Math.max(worstCaseGuardAbortSeconds(a), worstCaseAbortSeconds(a, a.gate.failureLimit));
    const scaledBudget = worst(scaledSettings);
    console.log([
      `v3 update -> abort with 100 % back on v2: ${fromUpdate.toFixed(1)} s (migration job, canary pods, first traffic, analysis; abort flagged after ${((abortedAt - updatedAt) / 1000).toFixed(1)} s)`,
      `  canary traffic -> abort with 100 % back on v2: ${fromTraffic.toFixed(1)} s`,
      `  analysis timing scaled 1/${timeScale}: worst case ${scaledBudget.toFixed(1)} s here; production: ${worst(production)} s, budget ${production.abortWithin}`,
      `  failed analysis: ${failedRun?.metadata.name}: ${failedRun?.status?.message ?? failedRun?.status?.phase}`,
    ].join('\n'));
    expect(fromTraffic).toBeLessThanOrEqual(scaledBudget);

    // The first step, in the per-step record: the stable set is whole at 10 %, nothing to start again.
    const firstWeight = before.spec.strategy.canary.steps.find((s) => s.setWeight !== undefined)!.setWeight as number;
    const selector = Object.entries(before.spec.selector.matchLabels!).map(([k, v]) => `${k}=${v}`).join(',');
    const stableNow = await kube.list('v1', 'Pod', ns, `${selector},rollouts-pod-template-hash=${stableBefore.hash}`);
    const m: MeasuredAbort = {
      weight: firstWeight, replicas: before.spec.replicas, seconds: fromTraffic, flaggedAfter: (abortedAt - canaryTrafficAt!) / 1000,
      newStablePods: stableNow.filter((p) => !stableBefore.names.has(p.metadata.name)).length,
      arithmetic: abortArithmetic(firstWeight, before.spec.replicas),
    };
    measured.push(m);
    console.log(abortLine(m));
    expect(m.newStablePods).toBe(m.arithmetic.production.scaleUp.rounds);
    expect(fromTraffic).toBeLessThanOrEqual(m.arithmetic.scaled.seconds);
  });

  it('v4 that is only slow (no errors) is aborted by the latency analysis too', async () => {
    const before = await rollout();
    const runsBefore = new Set((await analysisRuns()).map((r) => r.metadata.name));
    exporter.set(label.canary, { errorRatio: 0, latencySeconds: bad.latencySeconds });
    // Let v3's errors age out of the query window, so only latency can fail v4.
    await new Promise((r) => setTimeout(r, (durationSeconds(scaledAnalysis.window) + durationSeconds(scaledAnalysis.scrapeInterval)) * 1000));
    await deploy(release('1.3.0'));
    await waitFor('v4 aborted', async () => {
      const r = await rollout();
      if (r?.status?.phase === 'Healthy' && r.status.stableRS !== before.status.stableRS) throw new StopWaiting('v4 was promoted despite slow responses');
      return r?.status?.abort === true && r.status.currentPodHash !== before.status.currentPodHash ? r : undefined;
    }, { timeoutMs: 240_000, intervalMs: 250, diagnose: rolloutState });
    const failed = (await analysisRuns()).filter((r) => !runsBefore.has(r.metadata.name) && ['Failed', 'Error'].includes(r.status?.phase ?? ''));
    expect(failed.map((r) => r.status?.message ?? '').join('; ')).toContain('latency-p95');
    expect(failed.map((r) => r.status?.message ?? '').join('; ')).not.toContain('success-rate');
    expect((await rollout()).status.stableRS).toBe(before.status.stableRS);
  });
  it('v5, bad once it has 25 % of the traffic, with the node full: aborted within the budget without a new stable pod (2 replicas: the stable set is whole at 25 %)', async () => {
    const r0 = await rollout();
    expect(r0.spec.replicas, 'the HPA holds the Rollout at its minimum').toBe(env.apps.api.hpa.min);
    await releaseToApproval('1.4.0');
    const stable = await stableSet();
    await fillNode();
    try {
      const m = await abortAt(25, stable);
      expect(m.arithmetic.production.scaleUp.rounds).toBe(0);
      expect(m.newStablePods).toBe(0);
      expect(m.seconds).toBeLessThanOrEqual(m.arithmetic.scaled.seconds);
    } finally {
      await podGone(fillerName);
    }
  });

  it('v6, bad once it has 50 % of the traffic, with the HPA at its minimum and the node full: the abort waits for a new stable pod and still lands within the budget', async () => {
    const r0 = await rollout();
    expect(r0.spec.replicas, 'the HPA holds the Rollout at its minimum').toBe(env.apps.api.hpa.min);
    await releaseToApproval('1.5.0');
    const stable = await stableSet();
    await fillNode();
    try {
      const m = await abortAt(50, stable);
      const scaleUp = m.arithmetic.production.scaleUp;
      // 2 replicas at 50 %: 1 stable + 1 canary pod; the abort starts the second stable pod again,
      // in the room the 50 % step freed (the node had none for one more API pod).
      expect(scaleUp).toMatchObject({ stableBefore: 1, canaryBefore: 1, rounds: 1 });
      expect(m.newStablePods).toBe(m.replicas - scaleUp.stableBefore);
      // Half the traffic stayed on the bad canary until that pod was available (minReadySeconds).
      // Both instants are observed by polling (~0.1 s apart), so allow that much below minReadySeconds.
      expect(m.seconds - m.flaggedAfter).toBeGreaterThanOrEqual(scaledMinReadySeconds - 0.15);
      expect(m.seconds).toBeLessThanOrEqual(m.arithmetic.scaled.seconds);
      expect(m.arithmetic.production.seconds).toBeLessThanOrEqual(durationSeconds(production.abortWithin));
    } finally {
      await podGone(fillerName);
    }
  });
});
