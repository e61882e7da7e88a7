/**
 * The Prometheus metrics the canary analysis reads, in one place. Traefik (k3s's bundled ingress,
 * v3) records every request per Traefik service; Argo Rollouts' AnalysisTemplates, the promtool
 * tests, the observability SLOs and the cluster tests' exporter all use these names.
 *
 * Sources (Traefik v3):
 * - metric names: pkg/observability/metrics/prometheus.go (`traefik_service_requests_total`,
 *   `traefik_service_request_duration_seconds`), labels `service`, `code`, `method`, `protocol`
 *   (pkg/middlewares/metrics/metrics.go);
 * - default buckets 0.1, 0.3, 1.2, 5 (pkg/observability/types/metrics.go);
 * - service names: a Kubernetes Service inside a TraefikService is `<namespace>-<service>-<port>`
 *   (pkg/provider/kubernetes/crd/kubernetes_http.go fullServiceName), qualified with the provider
 *   as `@kubernetescrd` in metrics (provider.GetQualifiedName).
 */

export const traefikMetrics = {
  /** Counter: requests per service, code, method, protocol. */
  requestsTotal: 'traefik_service_requests_total',
  /** Histogram (seconds): the `_bucket` series per service, code, method, protocol, le. */
  requestDuration: 'traefik_service_request_duration_seconds',
  requestDurationBucket: 'traefik_service_request_duration_seconds_bucket',
  labels: { service: 'service', code: 'code', method: 'method', protocol: 'protocol', le: 'le' },
  /** `protocol` label of plain request/response traffic (others: websocket, sse, grpc, grpc-web). */
  httpProtocol: 'http',
  /** Traefik's default latency buckets, seconds. Latency thresholds must be one of them. */
  latencyBuckets: [0.1, 0.3, 1.2, 5] as readonly number[],
  /** Provider suffix of services defined by Kubernetes CRDs (IngressRoute, TraefikService). */
  provider: 'kubernetescrd',
} as const;

/** The `service` label Traefik gives a Kubernetes Service referenced from a TraefikService. */
export const traefikServiceLabel = (namespace: string, service: string, port: number): string =>
  `${namespace}-${service}-${port}@${traefikMetrics.provider}`;

/** Names of the Services of a canaried app (Argo Rollouts switches their selectors). */
export const canaryServiceNames = (app: string) => ({
  stable: `${app}-stable`,
  canary: `${app}-canary`,
  /** Selects every pod of the app (stable and canary) for scraping. */
  metrics: `${app}-metrics`,
  /** The weighted TraefikService Argo Rollouts sets the weights on. */
  traefikService: app,
});

/** Port of the stable and canary Services (and so the port in the Traefik service name). */
export const servicePort = 80;

/** Recording-rule names the promtool tests give the analysis queries (test/apps). */
export const analysisRecordNames = {
  successRate: 'lms:canary_success_rate',
  latencyP95: 'lms:canary_latency_p95_seconds',
} as const;
