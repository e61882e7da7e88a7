/** Small helpers shared by the controller charts. */
import type { PodFootprint } from '../lib/footprint.ts';
import type { ChartSource } from '../lib/helm-release.ts';
import type { HelmChartPin, TaggedImage } from '../config/sections/platform.ts';

interface Resources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

/** One pod of a footprint, from the same resources object that goes into the chart values. */
export const pod = (name: string, replicas: number, r: Resources): PodFootprint => ({
  name,
  replicas,
  requests: { ...r.requests },
  limits: { ...r.limits },
});

/** A chart pin's source for FluxHelmRelease. */
export const chartSource = (pin: HelmChartPin): ChartSource =>
  pin.repository.startsWith('oci://') ? { kind: 'oci', url: pin.repository } : { kind: 'helm', url: pin.repository };

/** quay.io/argoproj/argo-rollouts -> { registry: quay.io, repository: argoproj/argo-rollouts }. */
export const splitRegistry = (image: TaggedImage): { registry: string; repository: string } => {
  const [registry, ...rest] = image.repository.split('/');
  return { registry, repository: rest.join('/') };
};
