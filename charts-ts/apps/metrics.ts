/**
 * The Prometheus metrics the canary analysis reads, in one place. Traefik (k3s's bundled ingress,
 * v3) records every request per Traefik service; Argo Rollouts' AnalysisTemplates, the promtool
 * tests, the observability SLOs and the cluster tests' exporter all use these names.
 *
 * Sources (Traefik v3):
 * - metric names: pkg/observability/metrics/prometheus.go (`traefik_service_requests_total`,
 *   `traefik_service_request_duration_seconds`), labels `service`, `code`, `method`, `protocol`
 *   (pkg/middlewares/metrics/metrics.go);
 * - service metrics are recorded per *server* (pkg/server/service/service.go wraps each server's
 *   proxy in the metrics middleware), so a Service without a ready endpoint records nothing: its
 *   share of requests gets 503 "no available server" from the load balancer
 *   (pkg/server/service/loadbalancer/wrr) and shows up only in the router and entry point series.
 *   `traefik_router_requests_total` carries `router` and `service`, the router's own service: for
 *   our IngressRoutes the weighted TraefikService (pkg/server/router/router.go), not its children;
 * - default buckets 0.1, 0.3, 1.2, 5 (pkg/observability/types/metrics.go);
 * - service names: a Kubernetes Service inside a TraefikService is `<namespace>-<service>-<port>`
 *   (pkg/provider/kubernetes/crd/kubernetes_http.go fullServiceName), qualified with the provider
 *   as `@kubernetescrd` in metrics (provider.GetQualifiedName).
 */

export const traefikMetrics = {
  /** Counter: requests per service, code, method, protocol. */
  requestsTotal: 'traefik_service_requests_total',
  /** Counter: requests per router and its service (the TraefikService), code, method, protocol. */
  routerRequestsTotal: 'traefik_router_requests_total',
  /** Histogram (seconds): the `_bucket` series per service, code, method, protocol, le. */
  requestDuration: 'traefik_service_request_duration_seconds',
  requestDurationBucket: 'traefik_service_request_duration_seconds_bucket',
  /** Histogram (seconds) per router and its service, code, method, protocol. */
  routerRequestDuration: 'traefik_router_request_duration_seconds',
  routerRequestDurationBucket: 'traefik_router_request_duration_seconds_bucket',
  labels: { service: 'service', router: 'router', code: 'code', method: 'method', protocol: 'protocol', le: 'le' },
  /** The status Traefik answers when a service has no server to send a request to. */
  noServerCode: '503',
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

/**
 * The `service` label of a TraefikService referenced from an IngressRoute (no port:
 * fullServiceName with port 0), as router series carry it.
 */
export const traefikRouterServiceLabel = (namespace: string, traefikService: string): string =>
  `${namespace}-${traefikService}@${traefikMetrics.provider}`;

/** Names of the Services of a canaried app (Argo Rollouts switches their selectors). */
export const canaryServiceNames = (app: string) => ({
  stable: `${app}-stable`,
  canary: `${app}-canary`,
  /** Selects every pod of the app (stable and canary) for scraping. */
  metrics: `${app}-metrics`,
  /** The weighted TraefikService Argo Rollouts sets the weights on. */
  traefikService: app,
  /**
   * A TraefikService holding only the canary Service, for the probe's route: its requests are then
   * recorded under the canary Service's own label, like users' canary requests (an IngressRoute
   * pointing at a Service directly gets a load balancer named after the route instead, Traefik v3
   * kubernetes_http.go), and under this TraefikService in the router series.
   */
  probeTraefikService: `${app}-canary-probe`,
});

/** Port of the stable and canary Services (and so the port in the Traefik service name). */
export const servicePort = 80;

/** The Traefik `service` labels the canary analysis of one app reads. */
export interface CanaryTraefikLabels {
  /** Service series of the canary side: users' and the probe's requests its pods served. */
  readonly canary: string;
  /** Service series of the stable side. */
  readonly stable: string;
  /** Router series: the weighted TraefikService both sides sit in (users' routes). */
  readonly router: string;
  /** Router series of the probe's route: its TraefikService holds only the canary Service. */
  readonly probeRouter: string;
}

export function canaryTraefikLabels(namespace: string, app: string): CanaryTraefikLabels {
  const s = canaryServiceNames(app);
  return {
    canary: traefikServiceLabel(namespace, s.canary, servicePort),
    stable: traefikServiceLabel(namespace, s.stable, servicePort),
    router: traefikRouterServiceLabel(namespace, s.traefikService),
    probeRouter: traefikRouterServiceLabel(namespace, s.probeTraefikService),
  };
}

/** Recording-rule names the promtool tests give the analysis queries (test/apps). */
export const analysisRecordNames = {
  successRate: 'lms:canary_success_rate',
  latencyP95: 'lms:canary_latency_p95_seconds',
} as const;

/** Recording-rule names the promtool tests give the guard's (sustained) queries. */
export const guardRecordNames = {
  successRate: 'lms:canary_guard_success_rate',
  latencyP95: 'lms:canary_guard_latency_p95_seconds',
} as const;
