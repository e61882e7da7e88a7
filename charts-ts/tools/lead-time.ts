/**
 * `npm run lead-time [-- --markdown | --write-docs]`: the worst-case time from a merge to main until
 * the production canary stops at its manual-approval pause, added up from the pipeline's own
 * configuration, and a failure (exit 1) when it exceeds the epic's target (15 minutes).
 *
 * Sources, so the figure moves when the pipeline does:
 * - GitHub Actions steps: config `delivery.timings` (observed, pessimistic) and the synth time
 *   measured by `npm run bench:synth` (bench/results/synth.json);
 * - Flux: measured by the first-deploy test where it reaches (bench/results/flux-release.json, from
 *   `E2E_RECORD=1 npm run test:e2e`: push webhook to each layer applied), else the Receiver latency
 *   or poll interval (`delivery.flux`) and the rendered Kustomization dependency chain (each layer
 *   waits up to --requeue-dependency for the one before it);
 * - the canary: the Rollouts' rendered steps (migration job, setWeight, analysis, timed pauses, the
 *   inserted approval pause), analysis timing from the rendered AnalysisTemplates plus the
 *   controller allowance in config `apps.analysis`, new canary pods from the pod-start model the abort
 *   arithmetic uses (apps.<app>.startSeconds, probe periods, minReadySeconds, controller latency) plus
 *   `delivery.timings.canaryImagePull` where the release's image is not on the node yet.
 *
 * The production approval itself is a human wait and is not counted (the GitHub deployment record
 * measures it separately, see docs/delivery.md).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp } from '../app.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { Config, EnvironmentName } from '../config/schema.ts';
import { repoRoot } from '../lib/crds.ts';
import { readFluxTimings, type FluxTimings } from '../lib/flux-timings.ts';
import { names } from '../lib/names.ts';
import { stableRoundSeconds } from '../lib/canary-abort.ts';
import type { NamedManifest } from '../lib/workloads.ts';
import { render } from '../lib/synth.ts';
import { commandLine, flag } from './cli.ts';
import { releasePollMs } from './release.ts';

export interface LeadTimeStep {
  /** Where the step runs: a GitHub Actions job, or the cluster (Flux, Argo Rollouts). */
  readonly stage: 'pipeline' | 'cluster';
  readonly step: string;
  readonly seconds: number;
  /** Where the number comes from. */
  readonly source: string;
}

export interface LeadTime {
  readonly steps: LeadTimeStep[];
  readonly totalSeconds: number;
  readonly budgetSeconds: number;
  readonly withinBudget: boolean;
}

export interface BenchResult {
  readonly command: string;
  readonly runs: number;
  readonly seconds: number[];
  readonly median: number;
  readonly max: number;
  readonly measuredAt: string;
  readonly machine: string;
}

export const benchResultPath = join(repoRoot, 'bench/results/synth.json');

export function seconds(d: string | number | undefined): number {
  if (d === undefined) return 0;
  if (typeof d === 'number') return d;
  const m = /^(\d+(ms|s|m|h))+$/.exec(d);
  if (!m) throw new Error(`"${d}" is not a duration (use "30s", "5m", "1h30m")`);
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const part of d.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(part[1]) * unit[part[2]];
  return total;
}

export function readBench(path = benchResultPath): BenchResult {
  let data: BenchResult;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`lead-time: cannot read the synth benchmark ${path} (${(e as Error).message}); run \`npm run bench:synth\` and commit the result`, { cause: e });
  }
  if (typeof data.max !== 'number' || !(data.max > 0)) throw new Error(`lead-time: ${path} has no positive "max"; re-run \`npm run bench:synth\``);
  return data;
}

const intOrString = (v: unknown): number => (typeof v === 'number' ? v : seconds(String(v)));

/** The fields of a rendered Flux Kustomization this tool reads. */
export interface KustomizationFields {
  readonly metadata: { readonly name: string };
  readonly spec?: { readonly path?: string; readonly dependsOn?: readonly { readonly name: string }[] };
}

/** A canary step as rendered (Argo Rollouts v1alpha1), the fields read. */
interface CanaryStepFields {
  readonly setWeight?: number;
  readonly pause?: { readonly duration?: string | number };
  readonly analysis?: { readonly templates?: readonly { readonly templateName: string; readonly clusterScope?: boolean }[] };
}

/** The fields of a rendered Rollout this tool reads. */
export interface RolloutFields {
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec?: { readonly strategy?: { readonly canary?: { readonly steps?: readonly CanaryStepFields[] } } };
}

/** The fields of a rendered (Cluster)AnalysisTemplate this tool reads. */
export interface AnalysisTemplateFields {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec: {
    readonly metrics?: readonly {
      readonly provider?: { readonly job?: unknown };
      readonly initialDelay?: string;
      readonly interval?: string;
      readonly count?: number | string;
    }[];
  };
}

/** Longest dependsOn chain (number of Kustomizations) ending at `name`, itself included. */
export function chainDepth(kustomizations: readonly KustomizationFields[], name: string, seen: string[] = []): number {
  const k = kustomizations.find((o) => o.metadata?.name === name);
  if (!k) throw new Error(`lead-time: Kustomization ${name} is not rendered`);
  if (seen.includes(name)) throw new Error(`lead-time: Kustomization dependency cycle: ${[...seen, name].join(' -> ')}`);
  const deps = (k.spec?.dependsOn ?? []).map((d) => d.name);
  return 1 + Math.max(0, ...deps.map((d) => chainDepth(kustomizations, d, [...seen, name])));
}

interface CanaryTime { seconds: number; detail: string; reachedPause: boolean }

/**
 * Time a Rollout takes through its canary steps: to the end (staging), or to the first indefinite
 * pause (production's manual approval).
 */
export function canarySeconds(rollout: RolloutFields, templates: readonly AnalysisTemplateFields[], config: Config, env: EnvironmentName, stopAtPause: boolean, imageOnNode: boolean): CanaryTime {
  const t = config.cluster.delivery.timings;
  const e = config.environments[env];
  const controller = seconds(e.apps.analysis.controllerLatency);
  const app = rollout.metadata.name === names.apps.web ? 'web' : 'api';
  const workload = e.apps[app];
  // The same pod start the abort arithmetic counts, so the two budgets cannot assume different pods.
  const podStart = stableRoundSeconds(e, app);
  // A migration step (a Job running the release's image) pulls the image before any canary pod.
  let pull = imageOnNode ? 0 : seconds(t.canaryImagePull);
  const replicas = workload.hpa.min;
  const steps = rollout.spec?.strategy?.canary?.steps ?? [];
  let total = 0;
  let canaryPods = 0;
  const parts: string[] = [];
  for (const [i, s] of steps.entries()) {
    if (s.setWeight !== undefined) {
      // New canary pods only when the weight needs more of them than are already running.
      const needed = Math.max(1, Math.ceil((s.setWeight * replicas) / 100));
      if (needed > canaryPods) {
        total += pull + podStart;
        parts.push(`${s.setWeight}% (pods ${pull ? `${pull}s pull + ` : ''}${podStart}s)`);
        pull = 0;
        canaryPods = needed;
      } else {
        parts.push(`${s.setWeight}%`);
      }
    } else if (s.pause !== undefined) {
      if (s.pause.duration === undefined) {
        if (stopAtPause) return { seconds: total, detail: `${parts.join(', ')} -> approval pause`, reachedPause: true };
        throw new Error(`lead-time: Rollout ${e.namespace}/${rollout.metadata.name} step ${i} is an indefinite pause; in ${env} it would wait for a human`);
      }
      const p = intOrString(s.pause.duration);
      total += p;
      parts.push(`pause ${p}s`);
    } else if (s.analysis !== undefined) {
      let longest = 0;
      let job = false;
      for (const ref of s.analysis.templates ?? []) {
        const tpl = templates.find((o) => o.metadata?.name === ref.templateName && (ref.clusterScope ? o.kind === 'ClusterAnalysisTemplate' : o.metadata?.namespace === e.namespace));
        if (!tpl) throw new Error(`lead-time: AnalysisTemplate ${ref.templateName} used by ${e.namespace}/${rollout.metadata.name} is not rendered`);
        for (const m of tpl.spec.metrics ?? []) {
          // A job metric (the database migration) takes as long as its Job.
          job ||= Boolean(m.provider?.job);
          if (m.provider?.job) pull = 0;
          const d = m.provider?.job
            ? seconds(t.migration)
            : seconds(m.initialDelay) + (Math.max(1, intOrString(m.count ?? 1)) - 1) * seconds(m.interval);
          longest = Math.max(longest, d);
        }
      }
      total += longest + controller;
      parts.push(`${job ? 'migration' : 'analysis'} ${longest + controller}s`);
    }
  }
  if (stopAtPause) {
    throw new Error(`lead-time: Rollout ${e.namespace}/${rollout.metadata.name} never pauses for approval; production needs canary.manualApproval`);
  }
  return { seconds: total, detail: parts.join(', '), reachedPause: false };
}

/** Layers of the longest dependsOn chain ending at `name`, first to last. */
export function chain(kustomizations: readonly KustomizationFields[], name: string, seen: string[] = []): string[] {
  const k = kustomizations.find((o) => o.metadata?.name === name);
  if (!k) throw new Error(`lead-time: Kustomization ${name} is not rendered`);
  if (seen.includes(name)) throw new Error(`lead-time: Kustomization dependency cycle: ${[...seen, name].join(' -> ')}`);
  const deps = (k.spec?.dependsOn ?? []).map((d) => d.name);
  const longest = deps.map((d) => chain(kustomizations, d, [...seen, name])).reduce<string[]>((a, b) => (b.length > a.length ? b : a), []);
  return [...longest, name];
}

/**
 * The worst case from a merge to the production canary at its approval pause, along the pipeline as
 * it runs (.github/workflows/deploy.yml, docs/delivery.md "Status without a way in"):
 *
 *   [approval: a human wait, not counted] -> production job: install, synth (dist/ reproduced),
 *   publish once -> Receiver -> Flux down to apps-staging -> staging canary -> apps-production ->
 *   production canary to its pause -> apps-production's health check -> flux/apps-production ->
 *   the job's poll.
 *
 * The deployment record and the staging smoke test run while the cluster works; they count only by
 * what they outlast.
 */
export function computeLeadTime(config: Config, objects: readonly NamedManifest[], bench: BenchResult, measured?: FluxTimings): LeadTime {
  const d = config.cluster.delivery;
  const t = d.timings;
  // The kind decides the shape: each list is typed as the fields read of its kind.
  const kustomizations = objects.filter((o) => o.kind === 'Kustomization' && o.apiVersion.startsWith('kustomize.toolkit.fluxcd.io/')) as unknown as KustomizationFields[];
  const templates = objects.filter((o) => o.kind === 'AnalysisTemplate' || o.kind === 'ClusterAnalysisTemplate') as unknown as AnalysisTemplateFields[];
  const steps: LeadTimeStep[] = [];
  const add = (stage: LeadTimeStep['stage'], step: string, secs: number, source: string) => steps.push({ stage, step, seconds: Math.round(secs), source });

  const notice = d.flux.trigger === 'receiver'
    ? { s: seconds(d.flux.receiverLatency), source: 'delivery.flux.receiverLatency (GitHub webhook -> Receiver)' }
    : { s: seconds(d.flux.pollInterval), source: 'delivery.flux.pollInterval (no webhook: worst case one full poll)' };
  const appsLayer = (env: EnvironmentName): string => {
    const k = kustomizations.find((o) => o.spec?.path === `./apps/${env}`);
    if (!k) throw new Error(`lead-time: no Flux Kustomization applies ./apps/${env}; the platform layers must reconcile it`);
    return k.metadata.name;
  };
  const perLayer = (n: number) => n * seconds(d.flux.layerApply) + n * seconds(d.flux.requeueDependency);
  // Staging runs a release's images first; production finds them on the node (one node).
  const canary = (env: EnvironmentName, stopAtPause: boolean, imageOnNode: boolean) => {
    const ns = config.environments[env].namespace;
    const rollouts = objects.filter((o) => o.kind === 'Rollout' && o.metadata?.namespace === ns);
    if (!rollouts.length) throw new Error(`lead-time: no Argo Rollout is rendered in ${ns}; the canary time cannot be computed`);
    const times = rollouts.map((r) => ({ name: r.metadata.name, ...canarySeconds(r, templates, config, env, stopAtPause, imageOnNode) }));
    return times.reduce((a, b) => (b.seconds > a.seconds ? b : a));
  };

  // After the approval: the one publishing job. GitHub asks for the approval as soon as the merge
  // lands (no job before it), so nothing before the approval is on the path.
  add('pipeline', 'job start', seconds(t.jobStart), 'delivery.timings.jobStart');
  add('pipeline', 'checkout, npm ci', seconds(t.install), 'delivery.timings.install');
  add('pipeline', 'npm run synth (dist/ reproduced before publishing)', bench.max, `bench/results/synth.json (max of ${bench.runs} runs, ${bench.measuredAt.slice(0, 10)})`);
  add('pipeline', 'publish platform, Secrets, both apps (one commit)', seconds(t.publish), 'delivery.timings.publish');

  // Flux down to apps-staging: measured where the first-deploy test reached, estimated beyond.
  const staging = chain(kustomizations, appsLayer('staging'));
  const reached = measured ? staging.filter((n) => measured.secondsFromPush[n] !== undefined) : [];
  const lastMeasured = reached.length ? staging.slice(0, staging.indexOf(reached[reached.length - 1]!) + 1) : [];
  if (lastMeasured.length) {
    const name = lastMeasured[lastMeasured.length - 1]!;
    const m = measured!.secondsFromPush[name]!;
    add('cluster', `Flux from the push to ${name} (${lastMeasured.length} layers, measured)`, m,
      `bench/results/flux-release.json (npm run test:e2e, ${measured!.measuredAt.slice(0, 10)}): webhook, fetch, ${lastMeasured.length} layers`);
    const rest = staging.slice(lastMeasured.length);
    if (rest.length) {
      add('cluster', `Flux applies ${rest.length} more layers down to ${rest[rest.length - 1]} (estimated)`, perLayer(rest.length),
        `${rest.length} x (delivery.flux.layerApply + delivery.flux.requeueDependency): ${rest.join(', ')} are beyond what the test reaches`);
    }
  } else {
    add('cluster', 'Flux notices the push', notice.s, notice.source);
    add('cluster', `Flux applies ${staging.length} layers down to ${staging[staging.length - 1]}`, staging.length * seconds(d.flux.layerApply) + (staging.length - 1) * seconds(d.flux.requeueDependency),
      `${staging.length} x delivery.flux.layerApply + ${staging.length - 1} x delivery.flux.requeueDependency (rendered dependsOn chain)`);
  }
  const sc = canary('staging', false, false);
  add('cluster', `staging canary to Healthy (slowest: ${sc.name})`, sc.seconds, `rendered Rollout steps: ${sc.detail}`);

  const production = chain(kustomizations, appsLayer('production'));
  const after = production.slice(production.indexOf(staging[staging.length - 1]!) + 1);
  // Measured as the gap between apps-staging and the last layer after it, where the test reached both.
  const fromStaging = measured?.secondsFromPush[staging[staging.length - 1]!];
  const toProduction = after.length ? measured?.secondsFromPush[after[after.length - 1]!] : undefined;
  const afterMeasured = fromStaging !== undefined && toProduction !== undefined && toProduction >= fromStaging;
  const afterSeconds = afterMeasured ? toProduction! - fromStaging! : perLayer(after.length);
  add('cluster', `Flux applies ${after.join(', ')} (waits for staging Healthy at the revision${afterMeasured ? '; measured' : ''})`, afterSeconds,
    afterMeasured
      ? `bench/results/flux-release.json (npm run test:e2e, ${measured!.measuredAt.slice(0, 10)}): ${after[after.length - 1]} ${toProduction} s - ${staging[staging.length - 1]} ${fromStaging} s`
      : `${after.length} x (delivery.flux.layerApply + delivery.flux.requeueDependency)`);
  const pc = canary('production', true, true);
  add('cluster', `production canary to the approval pause (slowest: ${pc.name})`, pc.seconds, `rendered Rollout steps: ${pc.detail}`);
  // The job's next steps run while the cluster works: only what they outlast counts.
  const published = steps.findIndex((x) => x.stage === 'cluster');
  steps.splice(published, 0, {
    stage: 'pipeline', step: 'plan + deployment record (while Flux applies the first layers)',
    seconds: Math.max(0, Math.round(seconds(t.notify) - steps[published]!.seconds)), source: 'max(0, delivery.timings.notify - the first Flux segment)',
  });
  const overlap = afterSeconds + pc.seconds;
  add('pipeline', 'k6 smoke test (runs while production rolls; only what it outlasts counts)', Math.max(0, seconds(t.smokeTest) - overlap),
    `max(0, delivery.timings.smokeTest - the production apply and canary)`);
  // The canary stops; Flux's health check sees it at its next poll and notification-controller posts
  // flux/apps-production to GitHub; the job reads it at its next poll.
  add('cluster', 'approval pause -> apps-production health check -> flux/apps-production -> the job\'s poll',
    seconds(d.flux.healthCheckPoll) + seconds(t.notify) + releasePollMs / 1000,
    `delivery.flux.healthCheckPoll + delivery.timings.notify + the wait's ${releasePollMs / 1000}s poll (charts-ts/tools/release.ts)`);

  const totalSeconds = steps.reduce((n, s) => n + s.seconds, 0);
  const budgetSeconds = seconds(d.leadTimeBudget);
  return { steps, totalSeconds, budgetSeconds, withinBudget: totalSeconds <= budgetSeconds };
}

const mmss = (s: number): string => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;

export function formatMarkdown(lt: LeadTime): string {
  const rows = lt.steps.map((s) => `| ${s.stage} | ${s.step} | ${mmss(s.seconds)} | ${s.source} |`);
  return [
    '| stage | step | worst case (m:ss) | from |',
    '|---|---|---|---|',
    ...rows,
    `| **total** | merge -> production canary pause | **${mmss(lt.totalSeconds)}** | budget ${mmss(lt.budgetSeconds)} (delivery.leadTimeBudget) |`,
  ].join('\n');
}

export function formatText(lt: LeadTime): string {
  const width = Math.max(...lt.steps.map((s) => s.step.length)) + 2;
  const lines = lt.steps.map((s) => `${s.stage.padEnd(11)} ${s.step.padEnd(width)} ${mmss(s.seconds).padStart(6)}`);
  const verdict = lt.withinBudget
    ? `within the ${mmss(lt.budgetSeconds)} budget`
    : `OVER the ${mmss(lt.budgetSeconds)} budget by ${mmss(lt.totalSeconds - lt.budgetSeconds)}: shorten the slowest steps above (canary steps, analysis timing, Flux layers) or raise delivery.leadTimeBudget with a reason`;
  return [...lines, `${'total'.padEnd(11)} ${'merge -> production canary pause'.padEnd(width)} ${mmss(lt.totalSeconds).padStart(6)}  ${verdict}`].join('\n');
}

/** The lead-time table lives between these markers in docs/delivery.md. */
export const docsMarkers = { begin: '<!-- lead-time:begin (npm run lead-time -- --write-docs) -->', end: '<!-- lead-time:end -->' };
export const docsPath = join(repoRoot, 'docs/delivery.md');

export function replaceDocsTable(doc: string, table: string): string {
  const b = doc.indexOf(docsMarkers.begin);
  const e = doc.indexOf(docsMarkers.end);
  if (b < 0 || e < b) throw new Error(`lead-time: ${docsPath} has no ${docsMarkers.begin} ... ${docsMarkers.end} block`);
  return `${doc.slice(0, b + docsMarkers.begin.length)}\n${table}\n${doc.slice(e)}`;
}

export function leadTimeFor(config: Config): LeadTime {
  return computeLeadTime(config, render(buildApp(config)).flatMap((f) => f.objects), readBench(), readFluxTimings('release'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const cli = commandLine({
    script: 'lead-time',
    summary: 'Worst-case time from a merge to main until the production canary pauses for approval. Exit 1 over the budget.',
    options: {
      markdown: flag('print the table as Markdown'),
      writeDocs: flag(`also write the table into ${relative(repoRoot, docsPath)}`),
    },
    config: true,
  });
  try {
    const lt = leadTimeFor(loadConfig(cli.valuesFile));
    if (cli.options.writeDocs) {
      writeFileSync(docsPath, replaceDocsTable(readFileSync(docsPath, 'utf8'), formatMarkdown(lt)));
      console.log(`lead-time: wrote the table into ${docsPath}`);
    }
    console.log(cli.options.markdown ? formatMarkdown(lt) : formatText(lt));
    process.exit(lt.withinBudget ? 0 : 1);
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : (e as Error).message);
    process.exit(1);
  }
}
