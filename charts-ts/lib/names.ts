/**
 * Names that cross chart boundaries: one chart creates the object, another refers to it. Keeping
 * them here means a rename is one change and a mismatch is a type error, not a broken cluster.
 */
export const names = {
  /** CloudNativePG Cluster in each app namespace; the operator derives `<db>-rw` and `<db>-app`. */
  database: {
    cluster: 'lms-db',
    rwService: 'lms-db-rw',
    /** Secret with username/password/uri for the `lms` owner, created by the operator. */
    appSecret: 'lms-db-app',
    name: 'lms',
    owner: 'lms',
    /** PgBouncer Pooler service, when enabled. */
    poolerService: 'lms-db-pooler-rw',
  },
  redis: { service: 'redis', passwordSecret: 'redis-auth', passwordKey: 'password', port: 6379 },
  apps: { api: 'lms-api', web: 'lms-web' },
  /** cert-manager ClusterIssuers (DNS-01 through Cloudflare). */
  issuers: { production: 'letsencrypt-production', staging: 'letsencrypt-staging' },
  monitoring: {
    namespace: 'monitoring',
    /** kube-prometheus-stack Prometheus, queried by Argo Rollouts analysis. */
    prometheusUrl: 'http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090',
    /** Pod labels Prometheus runs with (NetworkPolicy peers). */
    prometheusPodLabels: { 'app.kubernetes.io/name': 'prometheus' },
    /** Tempo's OTLP receivers; the API sends traces here. */
    tempo: { host: 'tempo.monitoring.svc.cluster.local', otlpGrpcPort: 4317, otlpHttpPort: 4318, podLabels: { 'app.kubernetes.io/name': 'tempo' } },
  },
  /**
   * k3s's CoreDNS (kube-system, label k8s-app=kube-dns), every pod's resolver. NetworkPolicies allow
   * it by these labels: the app namespaces' allow-dns and the data layer's own egress policies.
   */
  dns: { namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' }, port: 53 },
  ingress: {
    /** k3s runs its bundled Traefik in kube-system. */
    namespace: 'kube-system',
    podLabels: { 'app.kubernetes.io/name': 'traefik' },
    /** Traefik's Service in the cluster; the canary probe enters through its websecure port. */
    serviceHost: 'traefik.kube-system.svc.cluster.local',
    websecurePort: 443,
    /** The container port behind it (the bundled chart's websecure entry point): NetworkPolicies see this one. */
    websecureContainerPort: 8443,
  },
  /** The synthetic canary traffic (charts-ts/apps/probe.ts). */
  probe: {
    /** Header the probe sends; with it (and an in-cluster address) Traefik routes to the canary Service. */
    header: 'X-Lms-Canary-Probe',
    configMap: 'canary-probe',
    serviceAccount: 'canary-probe',
  },
} as const;
