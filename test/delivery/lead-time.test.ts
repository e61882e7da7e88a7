/**
 * `npm run lead-time`: the worst case from merge to the production canary pause, from the pipeline
 * configuration, the rendered Flux layers and Rollouts, and the measured synth time.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gateSeconds } from '../../charts-ts/apps/analysis.ts';
import { durationSeconds } from '../../charts-ts/config/sections/apps.ts';
import { stableRoundSeconds } from '../../charts-ts/lib/canary-abort.ts';
import { names } from '../../charts-ts/lib/names.ts';
import {
  benchResultPath, canarySeconds, chainDepth, computeLeadTime, docsMarkers, formatMarkdown, readBench, replaceDocsTable,
  type AnalysisTemplateFields, type BenchResult, type KustomizationFields, type RolloutFields,
} from '../../charts-ts/tools/lead-time.ts';
import { readFluxTimings } from '../../charts-ts/lib/flux-timings.ts';
import { releasePollMs } from '../../charts-ts/tools/release.ts';
import { asKind } from '../../charts-ts/lib/workloads.ts';
import { renderAll } from '../support/render.ts';

/** Canary steps as canarySeconds reads them. */
type CanarySteps = NonNullable<NonNullable<NonNullable<RolloutFields['spec']>['strategy']>['canary']>['steps'];

const repoRoot = resolve(import.meta.dirname, '../..');
const base = renderAll();
const bench = readBench();
const leadTime = (r = base, b: BenchResult = bench) => computeLeadTime(r.config, r.objects.map((o) => o.object), b);
const step = (lt: ReturnType<typeof leadTime>, stage: string, prefix: string) => lt.steps.find((s) => s.stage === stage && s.step.startsWith(prefix))!;

describe('lead time from the real configuration', () => {
  const lt = leadTime();

  it('adds up every stage from merge to the production canary pause', () => {
    expect(lt.totalSeconds).toBe(lt.steps.reduce((n, s) => n + s.seconds, 0));
    expect(lt.budgetSeconds).toBe(10 * 60);
    expect(lt.withinBudget).toBe(lt.totalSeconds <= lt.budgetSeconds);
    // The pipeline as deploy.yml runs it: (approval), one publishing job; no kubectl anywhere; the
    // cluster reports the pause through Flux's own status.
    expect(lt.steps.map((s) => `${s.stage}: ${s.step.replace(/ \(.*| \d+ layers.*/, '')}`)).toEqual([
      'pipeline: job start', 'pipeline: checkout, npm ci', 'pipeline: npm run synth', 'pipeline: publish platform, Secrets, both apps',
      'pipeline: plan + deployment record',
      'cluster: Flux notices the push', 'cluster: Flux applies', 'cluster: staging canary to Healthy',
      'cluster: Flux applies apps-production', 'cluster: production canary to the approval pause', 'pipeline: k6 smoke test',
      'cluster: approval pause -> apps-production health check -> flux/apps-production -> the job\'s poll',
    ]);
  });

  it('uses the measured synth time', () => {
    expect(step(lt, 'pipeline', 'npm run synth').seconds).toBe(Math.round(bench.max));
    expect(bench.seconds).toHaveLength(bench.runs);
    expect(bench.max).toBe(Math.max(...bench.seconds));
  });

  it('counts what runs beside the cluster only by what it outlasts, and the pause by Flux\'s poll, the notification and the job\'s poll', () => {
    const d = base.config.cluster.delivery;
    expect(step(lt, 'pipeline', 'plan + deployment record').seconds).toBe(0);
    expect(step(lt, 'cluster', 'approval pause').seconds).toBe(durationSeconds(d.flux.healthCheckPoll) + durationSeconds(d.timings.notify) + releasePollMs / 1000);
    // A slow GitHub API (90 s for the plan and the record) shows once it outlasts the first Flux segment.
    const slow = renderAll({ cluster: { delivery: { timings: { notify: '90s' } } } });
    const s = leadTime(slow);
    expect(step(s, 'pipeline', 'plan + deployment record').seconds).toBe(90 - step(s, 'cluster', 'Flux notices').seconds);
  });

  it('walks the rendered Flux dependency chain (every layer re-applies at the new revision)', () => {
    const ks = base.find('Kustomization').filter((k) => k.apiVersion.startsWith('kustomize.toolkit.fluxcd.io/'))
      .map((k) => asKind<KustomizationFields>(k, 'kustomize.toolkit.fluxcd.io', 'Kustomization')!);
    const staging = ks.find((k) => k.spec!.path === './apps/staging')!;
    const longest = (k: KustomizationFields): number => 1 + Math.max(0, ...(k.spec!.dependsOn ?? []).map((d) => longest(ks.find((o) => o.metadata.name === d.name)!)));
    const depth = longest(staging);
    expect(depth).toBeGreaterThanOrEqual(2);
    const f = base.config.cluster.delivery.flux;
    expect(step(lt, 'cluster', 'Flux applies').seconds).toBe(depth * durationSeconds(f.layerApply) + (depth - 1) * durationSeconds(f.requeueDependency));
    expect(step(lt, 'cluster', 'Flux applies apps-production').seconds).toBe(durationSeconds(f.layerApply) + durationSeconds(f.requeueDependency));
  });

  it('times the canaries from the rendered steps and the analysis timing of the apps config', () => {
    const env = base.config.environments.production;
    const t = base.config.cluster.delivery.timings;
    const gate = gateSeconds(env.apps.analysis) + durationSeconds(env.apps.analysis.controllerLatency);
    // Production finds the image on the node (staging pulled it): start, probes, minReadySeconds, controller.
    const pods = stableRoundSeconds(env, 'api');
    const migration = durationSeconds(t.migration) + durationSeconds(env.apps.analysis.controllerLatency);
    // Production's API: migration, 10 % (new pods), gate, then the approval pause.
    expect(step(lt, 'cluster', 'production canary').seconds).toBe(migration + pods + gate);
    expect(step(lt, 'cluster', 'production canary').step).toContain(names.apps.api);
    // The smoke test runs while production rolls out: it is shorter, so it adds nothing.
    expect(step(lt, 'pipeline', 'k6 smoke test').seconds).toBe(0);
  });

  it('`npm run lead-time` prints the same total and exits 0 only within the budget', () => {
    // The tool also reads the recorded Flux measurement when there is one.
    const lt = computeLeadTime(base.config, base.objects.map((o) => o.object), bench, readFluxTimings('release'));
    const r = spawnSync(join(repoRoot, 'node_modules/.bin/tsx'), ['charts-ts/tools/lead-time.ts'], { cwd: repoRoot, encoding: 'utf8' });
    const mmss = `${Math.floor(lt.totalSeconds / 60)}:${String(lt.totalSeconds % 60).padStart(2, '0')}`;
    expect(r.stdout).toMatch(new RegExp(`^total +merge -> production canary pause +${mmss} `, 'm'));
    expect(r.status).toBe(lt.withinBudget ? 0 : 1);
    if (!lt.withinBudget) expect(r.stdout).toMatch(/OVER the 10:00 budget by \d+:\d\d: shorten the slowest steps/);
  }, 120_000);

  it('docs/delivery.md shows this table (refresh with `npm run lead-time -- --write-docs`)', () => {
    const doc = readFileSync(join(repoRoot, 'docs/delivery.md'), 'utf8');
    expect(doc.indexOf('## Pipeline')).toBeGreaterThan(0);
    expect(doc.indexOf(docsMarkers.begin)).toBeGreaterThan(doc.indexOf('## Pipeline'));
    const recorded = computeLeadTime(base.config, base.objects.map((o) => o.object), bench, readFluxTimings('release'));
    expect(replaceDocsTable(doc, formatMarkdown(recorded)), 'the lead-time table in docs/delivery.md is stale: run `npm run lead-time -- --write-docs`').toBe(doc);
  });
});

describe('lead time reacts to the pipeline configuration', () => {
  it('losing the webhook (poll only) costs the poll interval once (one publish)', () => {
    const poll = renderAll({ cluster: { delivery: { flux: { trigger: 'poll', pollInterval: '5m' } } } });
    const a = leadTime();
    const b = leadTime(poll);
    expect(step(b, 'cluster', 'Flux notices').seconds).toBe(300);
    expect(b.totalSeconds - a.totalSeconds).toBe(300 - durationSeconds(base.config.cluster.delivery.flux.receiverLatency));
  });

  it('uses the Flux segment the first-deploy test measured where it reaches, and estimates only the layers beyond', () => {
    const measured = { measuredAt: '2026-12-05T00:00:00Z', secondsFromPush: { 'platform-namespaces': 3, 'platform-secrets': 6, 'platform-controllers': 21 } };
    const m = computeLeadTime(base.config, base.objects.map((o) => o.object), bench, measured);
    expect(step(m, 'cluster', 'Flux from the push to platform-controllers')).toMatchObject({ seconds: 21, step: expect.stringContaining('3 layers, measured') });
    const f = base.config.cluster.delivery.flux;
    const rest = step(m, 'cluster', 'Flux applies 4 more layers down to apps-staging');
    expect(rest.seconds).toBe(4 * (durationSeconds(f.layerApply) + durationSeconds(f.requeueDependency)));
    expect(rest.source).toContain('platform-configs, platform-data, platform-observability, apps-staging');
    expect(m.steps.some((x) => x.step === 'Flux notices the push')).toBe(false);
  });

  it('measures apps-production behind apps-staging too once the test reaches both', () => {
    const measured = { measuredAt: '2026-12-06T00:00:00Z', secondsFromPush: { 'platform-configs': 20, 'platform-data': 25, 'platform-observability': 31, 'apps-staging': 36, 'apps-production': 43 } };
    const m = computeLeadTime(base.config, base.objects.map((o) => o.object), bench, measured);
    expect(step(m, 'cluster', 'Flux from the push to apps-staging')).toMatchObject({ seconds: 36, step: expect.stringContaining('7 layers, measured') });
    expect(m.steps.some((x) => x.step.includes('more layers'))).toBe(false);
    expect(step(m, 'cluster', 'Flux applies apps-production')).toMatchObject({ seconds: 7, source: expect.stringContaining('apps-production 43 s - apps-staging 36 s') });
  });

  it('fails above the budget and passes under it', () => {
    const lt = leadTime();
    const tight = renderAll({ cluster: { delivery: { leadTimeBudget: `${lt.totalSeconds - 1}s` } } });
    expect(leadTime(tight).withinBudget).toBe(false);
    const loose = renderAll({ cluster: { delivery: { leadTimeBudget: `${lt.totalSeconds}s` } } });
    expect(leadTime(loose).withinBudget).toBe(true);
  });

  it('a longer staging canary (an extra timed pause) adds exactly its duration', () => {
    const steps = [...base.config.environments.staging.canary.steps, { pause: { duration: '2m' } }];
    const longer = renderAll({ environments: { staging: { canary: { steps } } } });
    expect(leadTime(longer).totalSeconds - leadTime().totalSeconds).toBe(120);
  });
});

describe('canary and chain arithmetic', () => {
  const config = base.config;
  const tpl = (name: string, metrics: (NonNullable<AnalysisTemplateFields['spec']['metrics']>[number] & { readonly name: string })[]) => ({ kind: 'AnalysisTemplate', metadata: { name, namespace: config.environments.production.namespace }, spec: { metrics } });
  const rollout = (steps: CanarySteps) => ({ kind: 'Rollout', metadata: { name: names.apps.web, namespace: config.environments.production.namespace }, spec: { minReadySeconds: 10, strategy: { canary: { steps } } } });
  const gateMetrics = [{ name: 'a', interval: '30s', count: 4, initialDelay: '30s' }, { name: 'b', interval: '1m', count: 2 }];
  const templates = [tpl('gate', gateMetrics), { ...tpl('gate', gateMetrics), metadata: { name: 'gate', namespace: config.environments.staging.namespace } }];
  const t = config.cluster.delivery.timings;
  const controller = durationSeconds(config.environments.production.apps.analysis.controllerLatency);
  // The same pod start as the abort arithmetic (a new pod of lms-web, image on the node).
  const pods = stableRoundSeconds(config.environments.production, 'web');
  const pull = durationSeconds(t.canaryImagePull);

  it('pods only when the weight needs more of them, the slowest metric per analysis, timed pauses', () => {
    // production web: hpa min 2 -> 10 % and 50 % need 1 canary pod, 100 % needs 2.
    const r = rollout([{ setWeight: 10 }, { analysis: { templates: [{ templateName: 'gate' }] } }, { setWeight: 50 }, { pause: { duration: '90s' } }, { setWeight: 100 }]);
    const c = canarySeconds(r, templates, config, 'production', false, true);
    expect(config.environments.production.apps.web.hpa.min).toBe(2);
    expect(c.seconds).toBe(pods + (120 + controller) + 90 + pods);
    // Where the image is not on the node yet, the first canary pods pull it, once.
    expect(canarySeconds(r, templates, config, 'production', false, false).seconds).toBe(c.seconds + pull);
  });

  it('a migration Job pulls the image before the canary pods, so they do not pull again', () => {
    const job = tpl('migrate', [{ name: 'migrate', provider: { job: { spec: {} } } }]);
    const r = rollout([{ analysis: { templates: [{ templateName: 'migrate' }] } }, { setWeight: 10 }, { analysis: { templates: [{ templateName: 'gate' }] } }, { setWeight: 100 }]);
    const c = canarySeconds(r, [...templates, job], config, 'production', false, false);
    expect(c.seconds).toBe(durationSeconds(t.migration) + controller + pods + (120 + controller) + pods);
    expect(c.detail).not.toContain('pull');
  });

  it('uses the pod start of apps.<app>.startSeconds, as the abort arithmetic does', () => {
    const r = rollout([{ setWeight: 10 }, { pause: {} }]);
    const slower = { ...config, environments: { ...config.environments, production: { ...config.environments.production,
      apps: { ...config.environments.production.apps, web: { ...config.environments.production.apps.web, startSeconds: config.environments.production.apps.web.startSeconds + 20 } } } } };
    expect(canarySeconds(r, templates, slower as typeof config, 'production', true, true).seconds - canarySeconds(r, templates, config, 'production', true, true).seconds).toBe(20);
  });

  it('production stops at the first indefinite pause; staging must never have one', () => {
    const r = rollout([{ setWeight: 10 }, { analysis: { templates: [{ templateName: 'gate' }] } }, { pause: {} }, { setWeight: 100 }]);
    expect(canarySeconds(r, templates, config, 'production', true, true)).toMatchObject({ seconds: pods + 120 + controller, reachedPause: true });
    expect(() => canarySeconds(r, templates, config, 'staging', false, true)).toThrow(/step 2 is an indefinite pause; in staging it would wait for a human/);
    expect(() => canarySeconds(rollout([{ setWeight: 100 }]), templates, config, 'production', true, true)).toThrow(/never pauses for approval/);
    expect(() => canarySeconds(rollout([{ setWeight: 10 }, { analysis: { templates: [{ templateName: 'missing' }] } }]), templates, config, 'production', false, true))
      .toThrow(/AnalysisTemplate missing used by lms-production\/lms-web is not rendered/);
  });

  it('chain depth follows the longest dependsOn path and refuses cycles', () => {
    const k = (name: string, deps: string[] = []) => ({ metadata: { name }, spec: { dependsOn: deps.map((d) => ({ name: d })) } });
    expect(chainDepth([k('a'), k('b', ['a']), k('c', ['a', 'b'])], 'c')).toBe(3);
    expect(() => chainDepth([k('a', ['b']), k('b', ['a'])], 'a')).toThrow(/dependency cycle: a -> b -> a/);
    expect(() => chainDepth([k('a', ['x'])], 'a')).toThrow(/Kustomization x is not rendered/);
  });

  it('names the missing benchmark and how to make it', () => {
    expect(() => readBench(join(repoRoot, 'bench/results/missing.json'))).toThrow(/run `npm run bench:synth` and commit the result/);
    expect(benchResultPath).toBe(join(repoRoot, 'bench/results/synth.json'));
  });
});
