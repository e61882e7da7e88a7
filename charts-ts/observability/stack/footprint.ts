/**
 * Pod footprints for the HelmReleases, summed from the same container resources the chart values
 * set, so the declared capacity and what the charts render cannot drift apart.
 */
import type { ContainerResources } from '../../config/sections/observability.ts';
import type { PodFootprint } from '../../lib/footprint.ts';
import { cpuCores, memoryBytes, MiB } from '../../lib/quantity.ts';

const milli = (cores: number) => `${Math.round(cores * 1000)}m`;
const mebi = (bytes: number) => `${Math.ceil(bytes / MiB)}Mi`;

/** One pod: the sum of its (long-running) containers; init containers run before and are smaller. */
export function podFootprint(name: string, replicas: number, containers: readonly ContainerResources[]): PodFootprint {
  const sum = (pick: (c: ContainerResources) => { cpu: string; memory: string }) => ({
    cpu: milli(containers.reduce((s, c) => s + cpuCores(pick(c).cpu), 0)),
    memory: mebi(containers.reduce((s, c) => s + memoryBytes(pick(c).memory), 0)),
  });
  return { name, replicas, requests: sum((c) => c.requests), limits: sum((c) => c.limits) };
}

/** Resources as Kubernetes wants them in chart values (a fresh object per use). */
export const k8sResources = (r: ContainerResources) => ({
  requests: { cpu: r.requests.cpu, memory: r.requests.memory },
  limits: { cpu: r.limits.cpu, memory: r.limits.memory },
});
