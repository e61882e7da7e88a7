/**
 * The LMS SLOs, per environment, measured at the ingress (Traefik) so they see what users see:
 * a crashed pod, a missing endpoint or a 502 from the proxy all count against the SLO.
 */
import type { Config, Environment } from '../config/schema.ts';
import type { SloDefinition } from './rules/slo.ts';
import { httpOnly, leLabel, traefikDurationBuckets, traefikMetrics as T, traefikSelector, workloads } from './signals.ts';

const requests = (env: Environment, app: string, ...extra: string[]) =>
  `sum(rate(${T.requestsTotal}${traefikSelector(env, app, ...extra)}[$window]))`;

export function slosFor(config: Config, env: Environment): SloDefinition[] {
  const o = config.cluster.observability.slo;
  const threshold = o.apiLatency.thresholdSeconds;
  if (!traefikDurationBuckets.some((b) => b === threshold)) {
    throw new Error(
      `config: cluster.observability.slo.apiLatency.thresholdSeconds: ${threshold} is not a Traefik request-duration bucket `
      + `(${traefikDurationBuckets.join(', ')}); pick one of them or add the bucket to Traefik's metrics.prometheus.buckets`,
    );
  }
  const common = {
    environment: env.name,
    namespace: env.namespace,
    window: o.window,
    page: o.pagingEnvironments.includes(env.name),
    minRequestsPerHour: o.minRequestsPerHour,
  } as const;
  return [
    {
      ...common,
      name: 'api-availability',
      service: workloads.api,
      description: 'API requests answered without a 5xx at the ingress',
      objective: o.apiAvailability,
      good: requests(env, workloads.api, 'code!~"5.."'),
      total: requests(env, workloads.api),
    },
    {
      ...common,
      name: 'api-latency',
      service: workloads.api,
      description: `API requests (plain HTTP, not WebSocket/SSE) answered within ${threshold * 1000} ms at the ingress`,
      objective: o.apiLatency.objective,
      good: `sum(rate(${T.requestDurationBucket}${traefikSelector(env, workloads.api, httpOnly, `${T.labels.le}="${leLabel(threshold)}"`)}[$window]))`,
      total: `sum(rate(${T.requestDuration}_count${traefikSelector(env, workloads.api, httpOnly)}[$window]))`,
    },
    {
      ...common,
      name: 'web-availability',
      service: workloads.web,
      description: 'web (SPA) requests answered without a 5xx at the ingress',
      objective: o.webAvailability,
      good: requests(env, workloads.web, 'code!~"5.."'),
      total: requests(env, workloads.web),
    },
  ];
}
