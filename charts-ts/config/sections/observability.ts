/**
 * Config section: observability (cluster-wide). The pinned charts of the metrics/logs/traces stack,
 * retention and sizes for the single 12 GB node, the SLO objectives and the delivery KPI targets.
 * Schema and the values used, in one place.
 *
 * Sizing: the whole stack requests about 0.55 vCPU / 1.7 GiB (see docs/observability/stack.md);
 * every container of every chart has requests and limits here, and the footprint each HelmRelease
 * declares is computed from these same numbers.
 */
import { z } from 'zod';
import { resources, storageSize } from '../fields.ts';

export type ContainerResources = z.infer<typeof resources>;

/** Prometheus/Loki/Tempo durations: a number and one unit (s, m, h, d, w). */
const promDuration = z.string().regex(/^\d+(s|m|h|d|w)$/, 'is not a duration; use one unit like "30s", "5m", "72h" or "35d"');
/** Prometheus retention size (TSDB units). */
const tsdbSize = z.string().regex(/^\d+(MB|GB|TB)$/, 'is not a TSDB size; use "12GB" (units MB, GB, TB)');
/** An SLO objective: the share of good events, strictly between 0 and 1 (0.999 = 99.9 %). */
const objective = z.number()
  .gt(0.5, 'must be a ratio like 0.999 (99.9 %); values at or below 0.5 are not a meaningful SLO')
  .lt(1, 'must be below 1: an objective of 100 % leaves no error budget to alert on');
const ratio = z.number().min(0, 'must be a ratio between 0 and 1').max(1, 'must be a ratio between 0 and 1');

const chartPin = z.object({
  /** Helm repository URL (https://...) or OCI chart URL (oci://registry/path/chart). */
  repository: z.string().regex(/^(https:\/\/|oci:\/\/)\S+$/, 'is not a chart repository; use https://... (Helm repository) or oci://registry/path/chart'),
  chart: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'is not a chart name'),
  version: z.string().regex(/^\d+\.\d+\.\d+$/, 'must be an exact chart version like 1.2.3 (ranges make upgrades invisible)'),
}).strict();
export type ChartPin = z.infer<typeof chartPin>;

const imageVersion = z.string().regex(/^v\d+\.\d+\.\d+$/, 'must be a release tag like v3.16.0');
const persistentComponent = z.object({ storage: storageSize, resources }).strict();

export const ObservabilitySettings = z.object({
  charts: z.object({
    /** The prometheus-operator CRDs, installed with the controllers so every layer can use them. */
    prometheusOperatorCrds: chartPin,
    kubePrometheusStack: chartPin,
    loki: chartPin,
    tempo: chartPin,
    alloy: chartPin,
  }).strict(),
  prometheus: z.object({
    /** Prometheus image tag: the same release promtool is built from (scripts/setup.d/20-prometheus-tools.sh). */
    version: imageVersion,
    /** Must cover the longest SLO window (30d) plus margin, or the 30-day SLI is computed on less. */
    retention: promDuration,
    /** Size cap below the volume size: the oldest blocks go first when it is reached. */
    retentionSize: tsdbSize,
    storage: storageSize,
    scrapeInterval: promDuration,
    /** Rule evaluation interval; also the step the MTTR KPI integrates over. */
    evaluationInterval: promDuration,
    resources,
    /** The config-reloader sidecar the operator adds to Prometheus and Alertmanager. */
    configReloader: resources,
  }).strict(),
  alertmanager: persistentComponent.extend({
    /** Alertmanager image tag: the same release amtool is built from (scripts/setup.d/20-prometheus-tools.sh). */
    version: imageVersion,
  }).strict(),
  operator: resources,
  kubeStateMetrics: resources,
  nodeExporter: resources,
  grafana: z.object({
    resources,
    /** Each of the dashboard and datasource sidecars. */
    sidecar: resources,
  }).strict(),
  loki: persistentComponent.extend({ retention: promDuration }).strict(),
  tempo: persistentComponent.extend({ retention: promDuration }).strict(),
  alloy: z.object({ resources, configReloader: resources }).strict(),
  slo: z.object({
    /** The SLO compliance window; error budgets are over this window. */
    window: z.literal('30d', { error: 'must be "30d": the burn-rate thresholds (14.4, 6, 3, 1) assume a 30-day window' }),
    apiAvailability: objective,
    apiLatency: z.object({
      objective,
      /** Must be a Traefik request-duration bucket boundary, or the SLI cannot be read from the histogram. */
      thresholdSeconds: z.number().gt(0, 'must be a latency in seconds, like 0.3'),
    }).strict(),
    webAvailability: objective,
    /**
     * Low-traffic guard: a burn-rate alert only fires when its long window saw at least this many
     * requests per hour on average; below that one failed request is a large share and pages nobody.
     */
    minRequestsPerHour: z.number().int().min(1, 'must be at least 1 request per hour'),
    /** Environments whose fast burn pages (critical); the others open tickets (warning) only. */
    pagingEnvironments: z.array(z.enum(['staging', 'production'], { error: 'must be staging or production' })),
    /**
     * Availability at the edge (the origin health check, bootstrap.cloudflare.healthCheck): the
     * objective of the time-based SLI, and what planned maintenance may take of its monthly budget
     * (charts-ts/lib/availability.ts computes the minutes from the reboot and upgrade settings).
     */
    edge: z.object({
      objective,
      /** k3s upgrades a month the budget allows for (Renovate proposes k3s patch releases about monthly). */
      k3sUpgradesPerMonth: z.number().int().min(0).max(5),
      /**
       * Minutes users may notice per k3s upgrade: the node is cordoned, not drained, and containers
       * keep running while k3s restarts (docs/runbooks/upgrade-k3s.md); kube-proxy and flannel
       * re-sync, an allowance for dropped connections.
       */
      k3sUpgradeMinutes: z.number().min(0).max(30),
      /** Share of the monthly budget planned maintenance may take at most; the rest is for incidents. */
      maxPlannedShare: z.number().gt(0).lt(1),
    }).strict(),
  }).strict(),
  kpi: z.object({
    deploySuccessTarget: ratio,
    mttrTargetMinutes: z.number().int().min(1, 'must be at least 1 minute'),
    p95TargetSeconds: z.number().gt(0, 'must be a latency in seconds'),
    throughputTargetRps: z.number().int().min(1, 'must be at least 1 request per second'),
  }).strict(),
  alerts: z.object({
    /** Alert annotations link here: `<base><alert-file>.md` (docs/runbooks/alerts/ in the repository). */
    runbookBaseUrl: z.string().regex(/^https:\/\/\S+\/$/, 'is not a URL ending in "/"; use https://github.com/<org>/<repo>/blob/main/docs/runbooks/alerts/'),
    certificateExpiryDays: z.number().int().min(1, 'must be at least 1 day'),
    /** How often the Watchdog reaches the external heartbeat (the heartbeat check must allow more). */
    heartbeatInterval: promDuration,
  }).strict(),
}).strict();
export type ObservabilitySettings = z.infer<typeof ObservabilitySettings>;

const small = (cpuReq: string, memReq: string, cpuLim: string, memLim: string) => ({
  requests: { cpu: cpuReq, memory: memReq },
  limits: { cpu: cpuLim, memory: memLim },
});

export const observabilityValues: z.input<typeof ObservabilitySettings> = {
  charts: {
    prometheusOperatorCrds: {
      // Source: https://github.com/prometheus-community/helm-charts/tree/main/charts/prometheus-operator-crds (v0.93.1 CRDs)
      repository: 'https://prometheus-community.github.io/helm-charts',
      chart: 'prometheus-operator-crds',
      // renovate: datasource=helm depName=prometheus-operator-crds registryUrl=https://prometheus-community.github.io/helm-charts
      version: '31.0.1',
    },
    kubePrometheusStack: {
      // Source: https://github.com/prometheus-community/helm-charts/tree/main/charts/kube-prometheus-stack (operator v0.93.1, Prometheus v3.14.0, Alertmanager v0.34.0)
      repository: 'https://prometheus-community.github.io/helm-charts',
      chart: 'kube-prometheus-stack',
      // renovate: datasource=helm depName=kube-prometheus-stack registryUrl=https://prometheus-community.github.io/helm-charts
      version: '88.5.3',
    },
    loki: {
      // Source: https://github.com/grafana-community/helm-charts/tree/main/charts/loki (Loki 3.7.6; moved from grafana/helm-charts)
      repository: 'https://grafana-community.github.io/helm-charts',
      chart: 'loki',
      // renovate: datasource=helm depName=loki registryUrl=https://grafana-community.github.io/helm-charts
      version: '18.11.0',
    },
    tempo: {
      // Source: https://github.com/grafana-community/helm-charts/tree/main/charts/tempo (Tempo 2.10.8, monolithic)
      repository: 'https://grafana-community.github.io/helm-charts',
      chart: 'tempo',
      // renovate: datasource=helm depName=tempo registryUrl=https://grafana-community.github.io/helm-charts
      version: '2.2.4',
    },
    alloy: {
      // Source: https://github.com/grafana/alloy/tree/main/operations/helm/charts/alloy (Alloy v1.18.1)
      repository: 'https://grafana.github.io/helm-charts',
      chart: 'alloy',
      // renovate: datasource=helm depName=alloy registryUrl=https://grafana.github.io/helm-charts
      version: '1.11.1',
    },
  },
  prometheus: {
    // Source: https://github.com/prometheus/prometheus/releases (image quay.io/prometheus/prometheus)
    // renovate: datasource=docker depName=quay.io/prometheus/prometheus
    version: 'v3.16.0',
    retention: '35d',
    retentionSize: '12GB',
    storage: '15Gi',
    scrapeInterval: '30s',
    evaluationInterval: '30s',
    // ~60k series from one node, two environments and the platform controllers.
    resources: small('200m', '768Mi', '1', '1536Mi'),
    configReloader: small('5m', '16Mi', '50m', '32Mi'),
  },
  alertmanager: {
    // Source: https://github.com/prometheus/alertmanager/releases (image quay.io/prometheus/alertmanager)
    // renovate: datasource=docker depName=quay.io/prometheus/alertmanager
    version: 'v0.35.0',
    storage: '1Gi',
    resources: small('10m', '32Mi', '100m', '96Mi'),
  },
  operator: small('20m', '48Mi', '200m', '128Mi'),
  kubeStateMetrics: small('20m', '48Mi', '200m', '160Mi'),
  nodeExporter: small('20m', '24Mi', '200m', '64Mi'),
  grafana: {
    resources: small('50m', '160Mi', '500m', '384Mi'),
    sidecar: small('5m', '48Mi', '100m', '96Mi'),
  },
  loki: { retention: '336h', storage: '10Gi', resources: small('100m', '256Mi', '500m', '640Mi') },
  tempo: { retention: '168h', storage: '5Gi', resources: small('50m', '160Mi', '500m', '512Mi') },
  alloy: {
    resources: small('50m', '128Mi', '300m', '320Mi'),
    configReloader: small('5m', '16Mi', '50m', '32Mi'),
  },
  slo: {
    window: '30d',
    apiAvailability: 0.999,
    apiLatency: { objective: 0.95, thresholdSeconds: 0.3 },
    webAvailability: 0.999,
    minRequestsPerHour: 60,
    pagingEnvironments: ['production'],
    // The SLA's 99.9 % a month at the edge: 43.2 minutes; at most half for reboots and upgrades.
    edge: { objective: 0.999, k3sUpgradesPerMonth: 1, k3sUpgradeMinutes: 1, maxPlannedShare: 0.5 },
  },
  kpi: {
    deploySuccessTarget: 0.98,
    mttrTargetMinutes: 10,
    p95TargetSeconds: 0.3,
    throughputTargetRps: 500,
  },
  alerts: {
    runbookBaseUrl: 'https://github.com/lms-platform/lms-gitops/blob/main/docs/runbooks/alerts/',
    certificateExpiryDays: 14,
    heartbeatInterval: '1m',
  },
};
