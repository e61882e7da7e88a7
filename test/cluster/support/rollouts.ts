/**
 * The Argo Rollouts controller, run with the arguments the cluster's HelmRelease gives it
 * (`controller.extraArgs` in its values, e.g. the Traefik API group), and `promote` exactly as
 * `kubectl argo rollouts promote` does it.
 */
import type { LiveRolloutJson } from '../../support/kinds.ts';
import { binary } from './components.ts';
import type { ControlPlane } from './control-plane.ts';
import { distObjects } from './dist.ts';
import type { Kube, KubeObject } from './kube.ts';
import { freePort, startProcess, waitFor, type Proc } from './processes.ts';

/** The Argo Rollouts chart's controller values: the fields read. */
interface ControllerValues { readonly logging?: { readonly level?: string; readonly format?: string }; readonly extraArgs?: unknown[] }

/** A HelmRelease (helm.toolkit.fluxcd.io/v2): the chart and the controller values read. */
interface RolloutsReleaseJson {
  readonly spec?: { readonly chart?: { readonly spec?: { readonly chart?: string } }; readonly values?: { readonly controller?: ControllerValues } };
}

/** The Argo Rollouts HelmRelease in dist/ (charts-ts/platform/argo-rollouts.ts), or undefined. */
export function rolloutsHelmRelease(): (KubeObject & RolloutsReleaseJson) | undefined {
  const found = distObjects().map((o): KubeObject & RolloutsReleaseJson => o.object).filter((h) => h.kind === 'HelmRelease'
    && (h.spec?.chart?.spec?.chart === 'argo-rollouts' || h.metadata?.name === 'argo-rollouts'));
  if (found.length > 1) throw new Error(`dist/ has ${found.length} argo-rollouts HelmReleases; expected one`);
  return found[0];
}

/** Controller flags from the chart values the cluster uses. */
export function rolloutsControllerArgs(release: KubeObject & RolloutsReleaseJson): string[] {
  const controller: ControllerValues = release.spec?.values?.controller ?? {};
  const args: string[] = [];
  if (controller.logging?.level) args.push(`--loglevel=${controller.logging.level}`);
  if (controller.logging?.format) args.push(`--logformat=${controller.logging.format}`);
  for (const a of controller.extraArgs ?? []) args.push(String(a));
  return args;
}

export async function startRolloutsController(plane: ControlPlane, kube: Kube, release: KubeObject): Promise<Proc> {
  const args = [
    `--kubeconfig=${plane.kubeconfig}`,
    '--leader-elect=false',
    // The controller listens on 0.0.0.0 (hard-coded upstream); free ports keep runs from colliding.
    `--healthzPort=${await freePort()}`, `--metricsPort=${await freePort()}`,
    ...rolloutsControllerArgs(release),
  ];
  const proc = startProcess('rollouts-controller', binary('rollouts-controller'), args, plane.runDir,
    { POD_NAMESPACE: release.metadata.namespace });
  // Ready once it has registered its leader-less workers: its log says so; poll the API meanwhile.
  await waitFor('Argo Rollouts controller started', async () => {
    await kube.request('GET', '/readyz');
    return /Started (Rollout|\d+ Rollout) workers|Starting Rollout workers/.test(proc.logTail(400));
  }, { timeoutMs: 120_000, procs: [proc] });
  return proc;
}

/**
 * `kubectl argo rollouts promote <name>` (pkg/kubectl-argo-rollouts/cmd/promote/promote.go, v1.9.1,
 * default mode): unpause the spec, clear pause conditions in status; when an inconclusive analysis
 * paused the controller, also step past it; with no pause condition, move to the next step.
 */
export async function promote(kube: Kube, namespace: string, name: string): Promise<void> {
  const av = 'argoproj.io/v1alpha1';
  const ro = await kube.get<LiveRolloutJson>(av, 'Rollout', name, namespace);
  if (!ro) throw new Error(`Rollout ${namespace}/${name} not found`);
  const steps: readonly unknown[] = ro.spec?.strategy?.canary?.steps ?? [];
  const current = Math.min(ro.status?.currentStepIndex ?? 0, steps.length);
  const next = current < steps.length ? current + 1 : current;
  const pauseConditions: readonly unknown[] = ro.status?.pauseConditions ?? [];
  const inconclusive = ro.status?.canary?.currentStepAnalysisRunStatus?.status === 'Inconclusive';
  let statusPatch: { status: Record<string, unknown> } | undefined;
  if (inconclusive && pauseConditions.length > 0 && ro.status?.controllerPause) {
    statusPatch = { status: { pauseConditions: null, controllerPause: false, currentStepIndex: next } };
  } else if (pauseConditions.length > 0) {
    statusPatch = { status: { pauseConditions: null } };
  } else if (ro.spec?.strategy?.canary) {
    statusPatch = { status: { pauseConditions: null, currentStepIndex: next } };
  }
  if (statusPatch) await kube.mergePatch(av, 'Rollout', name, namespace, statusPatch, 'status');
  if (ro.spec?.paused) await kube.mergePatch(av, 'Rollout', name, namespace, { spec: { paused: false } });
}
