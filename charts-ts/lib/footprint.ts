/**
 * Capacity footprint of workloads the charts do not render as pod templates (Helm charts installed
 * by Flux, operator-managed pods). Each such object carries its footprint as an annotation, so the
 * capacity budget (`npm run budget`) reads everything from dist/ alone. Native workloads
 * (Deployment, StatefulSet, Rollout, DaemonSet, CronJob) are read from their pod templates directly.
 */
import { z } from 'zod';
import { cpu, memory } from '../config/schema.ts';

export const footprintAnnotation = 'capacity.lms.dev/footprint';

export const PodFootprint = z.object({
  /** What runs, e.g. "argo-rollouts controller". */
  name: z.string().min(1),
  replicas: z.number().int().min(0),
  requests: z.object({ cpu, memory }).strict(),
  limits: z.object({ cpu, memory }).strict(),
}).strict();
export type PodFootprint = z.infer<typeof PodFootprint>;

/** The annotation value: a JSON list of pods (all containers of one pod summed). */
export const footprintValue = (pods: PodFootprint[]): string =>
  JSON.stringify(pods.map((p) => PodFootprint.parse(p)));
