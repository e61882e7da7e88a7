/**
 * The signals the rules and dashboards read from other components, in one place: which metric,
 * which label selects which workload. The owning layers export the names (charts-ts/apps/metrics.ts
 * for the ingress metrics of the canaried apps, charts-ts/data/signals.ts for backups and dumps);
 * this module only adapts them to selectors. The metric catalog (./catalog.ts) lists every metric
 * per exporter, and the tests check that every expression uses only metrics from there or from our
 * own recording rules.
 */
import { canaryServiceNames, servicePort, traefikMetrics, traefikServiceLabel } from '../apps/metrics.ts';
import type { Environment } from '../config/schema.ts';
import { dataSignals, logicalDumpMaxAgeSeconds } from '../data/signals.ts';
import { names } from '../lib/names.ts';

/** Escape a literal for a PromQL regex matcher inside a double-quoted string (`=~"..."`). */
export const regexEscape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\/g, '\\\\');

export { traefikMetrics };

/**
 * An app's requests at the ingress: Traefik records them per Kubernetes Service, and the canary
 * splits the app across its `-stable` and `-canary` Services (weighted TraefikService), so the app's
 * traffic is the sum over both labels `<namespace>-<app>-stable-<port>@kubernetescrd` and
 * `...-canary-...` (charts-ts/apps/metrics.ts).
 */
export const traefikServiceRegex = (env: Pick<Environment, 'namespace'>, app: string): string => {
  const s = canaryServiceNames(app);
  return [s.stable, s.canary].map((svc) => regexEscape(traefikServiceLabel(env.namespace, svc, servicePort))).join('|');
};

/** The same for a namespace given as a Grafana variable (`$namespace`), left unescaped. */
export const traefikServiceRegexForVariable = (namespaceVariable: string, app: string): string => {
  const s = canaryServiceNames(app);
  const placeholder = 'NAMESPACE';
  return [s.stable, s.canary]
    .map((svc) => regexEscape(traefikServiceLabel(placeholder, svc, servicePort)).replace(placeholder, namespaceVariable))
    .join('|');
};

/** Selector of an app's ingress requests in one environment, with extra matchers. */
export const traefikSelector = (env: Pick<Environment, 'namespace'>, app: string, ...extra: string[]): string =>
  `{${[`${traefikMetrics.labels.service}=~"${traefikServiceRegex(env, app)}"`, ...extra].join(', ')}}`;

/**
 * Plain request/response traffic only: WebSocket and SSE requests last as long as the connection
 * and would dominate any latency figure (the canary analysis filters the same way).
 */
export const httpOnly = `${traefikMetrics.labels.protocol}="${traefikMetrics.httpProtocol}"`;

/** Prometheus 3 normalises classic-histogram `le` values to floats: 1 -> "1.0", 0.3 -> "0.3". */
export const leLabel = (seconds: number): string => (Number.isInteger(seconds) ? `${seconds}.0` : String(seconds));

/** Traefik's request-duration buckets; a latency objective must sit on one of them. */
export const traefikDurationBuckets: readonly number[] = traefikMetrics.latencyBuckets;

export const workloads = {
  api: names.apps.api,
  web: names.apps.web,
  /** Redis in each app namespace, scraped through its redis_exporter sidecar. */
  redis: names.redis.service,
  /** CloudNativePG cluster in each app namespace (PodMonitor from the data layer). */
  database: names.database.cluster,
  /** The nightly logical dump CronJob in each app namespace (data layer). */
  logicalDump: dataSignals.logicalDump.cronJob,
} as const;

export { dataSignals, logicalDumpMaxAgeSeconds };
