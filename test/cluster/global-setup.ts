/**
 * Starts one control plane for the whole `npm run test:cluster` run (the test files use it in turn),
 * installs the pinned CRDs and what k3s and `flux bootstrap` create before our layers, and starts
 * the Argo Rollouts controller with the arguments of the cluster's HelmRelease; stops every process
 * at the end, also when tests failed.
 */
import type { TestProject } from 'vitest/node';
import { installCrds } from './support/apply.ts';
import { startControlPlane, type ControlPlane } from './support/control-plane.ts';
import { installPreexisting, LocalPathProvisioner } from './support/k3s.ts';
import { Kube } from './support/kube.ts';
import { rolloutsControllerArgs, rolloutsHelmRelease, startRolloutsController } from './support/rollouts.ts';

export interface ClusterContext {
  kubeconfig: string;
  runDir: string;
  server: string;
  nodeName: string;
  /** Why the Argo Rollouts controller is not running, when it is not (no HelmRelease in dist/ yet). */
  rolloutsController: { running: true; args: string[] } | { running: false; reason: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterContext;
  }
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const since = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  let plane: ControlPlane | undefined = await startControlPlane();
  const planeUp = since();
  let rolloutsController: ClusterContext['rolloutsController'];
  let provisioner: LocalPathProvisioner | undefined;
  try {
    const kube = await Kube.fromKubeconfig(plane.kubeconfig);
    const crds = await installCrds(kube);
    const crdsIn = since();
    await installPreexisting(kube);
    provisioner = new LocalPathProvisioner(kube);
    provisioner.start();
    const release = rolloutsHelmRelease();
    if (release) {
      plane.procs.push(await startRolloutsController(plane, kube, release));
      rolloutsController = { running: true, args: rolloutsControllerArgs(release) };
    } else {
      rolloutsController = { running: false, reason: 'dist/ has no argo-rollouts HelmRelease (charts-ts/platform/argo-rollouts.ts), so the controller flags are unknown' };
    }
    console.log(`cluster: control plane on ${plane.server} up after ${planeUp}, ${crds.length} CRDs established after ${crdsIn}, ready after ${since()} (run dir ${plane.runDir})`);
  } catch (e) {
    await provisioner?.stop();
    await plane.stop(true);
    plane = undefined;
    throw e;
  }
  project.provide('cluster', { kubeconfig: plane.kubeconfig, runDir: plane.runDir, server: plane.server, nodeName: plane.nodeName, rolloutsController });
  return async () => {
    await provisioner?.stop();
    await plane?.stop();
  };
}
