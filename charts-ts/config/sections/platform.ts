/**
 * Config section: platform (cluster-wide). Controllers (chart and image pins, sizing), the Traefik
 * customisation, certificates, k3s upgrades, admission policy allow-list and the Flux wiring.
 * Schema and the values used, in one place.
 */
import { z } from 'zod';
import { dnsLabel, dnsName, duration, image, resources, secretRef } from '../fields.ts';


/** A Helm chart pin: repository URL, chart name and an exact version (no ranges: upgrades are pull requests). */
export const helmChart = z.object({
  repository: z.string().regex(/^(https:\/\/|oci:\/\/)[^\s]+$/, 'is not a chart repository; use https://... (Helm index) or oci://registry/path'),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'is not a chart name'),
  version: z.string().regex(/^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'must be an exact chart version like 1.2.3, not a range'),
}).strict();
export type HelmChartPin = z.infer<typeof helmChart>;

/** An upstream image pinned by release tag (upstream charts take a tag; `latest` is refused). */
export const taggedImage = z.object({
  repository: z.string().regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+$/, 'is not an image repository; use registry/path like quay.io/jetstack/cert-manager-controller (with the registry)')
    .refine((r) => /^[^/]*[.:]/.test(r) || r.startsWith('localhost/'), 'must start with the registry host (e.g. docker.io/rancher/...), so the admission allow-list can match it'),
  tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'is not an image tag').refine((t) => t !== 'latest', 'must not be "latest"; pin a release tag'),
}).strict();
export type TaggedImage = z.infer<typeof taggedImage>;
export const taggedImageRef = (i: TaggedImage): string => `${i.repository}:${i.tag}`;

const weekday = z.enum(['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'], {
  error: 'is not a weekday; use monday ... sunday (lower case)',
});
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'is not a time of day; use 24h "HH:MM" like "03:00"');

export const PlatformSettings = z.object({
  controllers: z.object({
    argoRollouts: z.object({
      chart: helmChart,
      image: taggedImage,
      /** One replica: a single node gains nothing from a second leader-elected controller. */
      replicas: z.literal(1, { error: 'must be 1 on a single node (the chart default of 2 only doubles the memory)' }),
      resources,
    }).strict(),
    cloudnativePg: z.object({ chart: helmChart, image: taggedImage, resources }).strict(),
    barmanCloudPlugin: z.object({
      chart: helmChart,
      image: taggedImage,
      /** Injected by the plugin into every PostgreSQL pod; its resources are set per ObjectStore (data layer). */
      sidecarImage: taggedImage,
      resources,
    }).strict(),
    certManager: z.object({
      chart: helmChart,
      /** cert-manager's images share one tag, the chart's appVersion. */
      imageTag: z.string().regex(/^v\d+\.\d+\.\d+$/, 'is not a cert-manager release tag; use the chart version, e.g. v1.21.1'),
      resources: z.object({ controller: resources, webhook: resources, cainjector: resources, startupapicheck: resources }).strict(),
      /** Resolvers used for the DNS-01 self-check, bypassing the cluster DNS cache. */
      dns01RecursiveNameservers: z.array(z.string().regex(/^[0-9a-f.:[\]]+:53$/, 'is not a resolver; use ip:53 like 1.1.1.1:53')).min(1),
    }).strict(),
    systemUpgrade: z.object({
      /** By tag and digest: the controller and the cordon Job run with node-level privileges. */
      image,
      /** kubectl used by the upgrade Job to cordon the node (tag and digest). */
      kubectlImage: image,
      resources,
      /** Defaults for the upgrade Job's containers, which the controller creates without resources. */
      jobResources: resources,
    }).strict(),
  }).strict(),
  /** The k3s-bundled Traefik, customised through a HelmChartConfig. */
  traefik: z.object({
    resources,
    /** Keep the client source address (single node: no extra hop), so only Cloudflare peers are trusted. */
    externalTrafficPolicy: z.enum(['Local', 'Cluster'], { error: 'must be Local or Cluster' }),
    /**
     * How often Prometheus scrapes Traefik (its PodMonitor). Shorter than the global interval: the
     * canary analysis reads 1-minute rates of these series, and a rate window must span at least 4
     * scrapes (environments.*.apps.analysis.scrapeInterval must equal this).
     */
    scrapeInterval: duration,
  }).strict(),
  certificates: z.object({
    /** Cloudflare API token (Zone:DNS:Edit on the cluster domain) in the cert-manager namespace. */
    cloudflareApiToken: secretRef,
  }).strict(),
  /** system-upgrade-controller Plan that moves k3s to `cluster.k3s.version`. */
  upgrades: z.object({
    /** The k3s-upgrade image; the tag is derived from cluster.k3s.version. */
    k3sUpgradeImage: z.string().regex(/^[a-z0-9.-]+(\/[a-z0-9._-]+)+$/, 'is not an image repository; use docker.io/rancher/k3s-upgrade'),
    window: z.object({
      days: z.array(weekday).min(1, 'must list at least one day'),
      startTime: clock,
      endTime: clock,
      timeZone: z.string().min(1, 'must be an IANA time zone like UTC or Europe/Sofia'),
    }).strict(),
    /** Upper bound for one upgrade Job, in seconds. */
    jobActiveDeadlineSeconds: z.number().int().min(300, 'must be at least 300 (k3s restarts take a while)'),
  }).strict(),
  /**
   * Image prefixes (registry host + path, ending in "/") the admission policy accepts. Must cover
   * every image this repository deploys (checked by test/platform/policies.test.ts).
   */
  allowedImagePrefixes: z.array(
    z.string().regex(/^[a-z0-9.-]+(:\d+)?\/([a-z0-9._-]+\/)*$/, 'is not an image prefix; use registry/path/ ending in "/", like ghcr.io/lms-platform/'),
  ).min(1),
  flux: z.object({
    /** How often each layer is re-applied without a new commit (drift correction). */
    interval: duration,
    /** How soon a failed layer is retried. */
    retryInterval: duration,
    /** Per layer: how long an apply plus health checks may take before it is reported failed. */
    timeouts: z.object({
      namespaces: duration, secrets: duration, controllers: duration, configs: duration,
      data: duration, observability: duration, apps: duration,
    }).strict(),
    notifications: z.object({
      /** Secret in flux-system with key `address`: the Slack incoming-webhook URL. */
      slackSecret: dnsLabel,
    }).strict(),
    /** GitHub push webhook: a push to the clusters branch reconciles at once. */
    receiver: z.object({
      hostname: dnsName,
      /** Secret in flux-system with key `token`: the webhook secret GitHub signs payloads with. */
      tokenSecret: dnsLabel,
    }).strict(),
    /**
     * Each layer's result per clusters-branch commit, as a GitHub commit status (`flux/<layer>`): the
     * deploy workflow waits on these instead of reaching into the cluster.
     */
    commitStatus: z.object({
      /** Secret in flux-system with key `token`: a GitHub token allowed only `statuses: write` on the repository. */
      tokenSecret: dnsLabel,
    }).strict(),
  }).strict(),
}).strict();
export type PlatformSettings = z.infer<typeof PlatformSettings>;

export const platformValues: z.input<typeof PlatformSettings> = {
  controllers: {
    argoRollouts: {
      // Chart 2.41.0 (appVersion v1.9.0) is the newest argo-rollouts chart; the controller image is
      // set to v1.9.1, whose CRDs are identical to v1.9.0's (git diff v1.9.0 v1.9.1 -- manifests/crds is empty).
      // Source: https://github.com/argoproj/argo-helm/blob/argo-rollouts-2.41.0/charts/argo-rollouts/Chart.yaml
      // renovate: datasource=helm depName=argo-rollouts registryUrl=https://argoproj.github.io/argo-helm
      chart: { repository: 'https://argoproj.github.io/argo-helm', name: 'argo-rollouts', version: '2.41.0' },
      // Source: https://github.com/argoproj/argo-rollouts/releases/tag/v1.9.1
      // renovate: datasource=docker depName=quay.io/argoproj/argo-rollouts
      image: { repository: 'quay.io/argoproj/argo-rollouts', tag: 'v1.9.1' },
      replicas: 1,
      // A handful of Rollouts: ~60-90Mi working set; the limit absorbs informer resyncs.
      resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    },
    cloudnativePg: {
      // Chart 0.29.0 ships operator 1.30.0 (appVersion "1.30.0").
      // Source: https://github.com/cloudnative-pg/charts/blob/cloudnative-pg-v0.29.0/charts/cloudnative-pg/Chart.yaml
      // renovate: datasource=helm depName=cloudnative-pg registryUrl=https://cloudnative-pg.github.io/charts
      chart: { repository: 'https://cloudnative-pg.github.io/charts', name: 'cloudnative-pg', version: '0.29.0' },
      // Source: https://github.com/cloudnative-pg/cloudnative-pg/releases/tag/v1.30.0
      // renovate: datasource=docker depName=ghcr.io/cloudnative-pg/cloudnative-pg
      image: { repository: 'ghcr.io/cloudnative-pg/cloudnative-pg', tag: '1.30.0' },
      resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    },
    barmanCloudPlugin: {
      // Chart 0.7.0 (appVersion v0.13.0) is the newest plugin-barman-cloud chart; the images are set to
      // v0.14.0, whose CRD and install manifest equal v0.13.0's (git diff v0.13.0 v0.14.0 -- config/ manifest.yaml is empty).
      // Source: https://github.com/cloudnative-pg/charts/blob/plugin-barman-cloud-v0.7.0/charts/plugin-barman-cloud/Chart.yaml
      // renovate: datasource=helm depName=plugin-barman-cloud registryUrl=https://cloudnative-pg.github.io/charts
      chart: { repository: 'https://cloudnative-pg.github.io/charts', name: 'plugin-barman-cloud', version: '0.7.0' },
      // Source: https://github.com/cloudnative-pg/plugin-barman-cloud/releases/tag/v0.14.0
      // renovate: datasource=docker depName=ghcr.io/cloudnative-pg/plugin-barman-cloud
      image: { repository: 'ghcr.io/cloudnative-pg/plugin-barman-cloud', tag: 'v0.14.0' },
      // renovate: datasource=docker depName=ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar
      sidecarImage: { repository: 'ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar', tag: 'v0.14.0' },
      resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
    },
    certManager: {
      // The chart version is the release tag, "v" included.
      // Source: https://cert-manager.io/docs/installation/helm/ (repository); values: https://github.com/cert-manager/cert-manager/blob/v1.21.1/deploy/charts/cert-manager/values.yaml
      // renovate: datasource=helm depName=cert-manager registryUrl=https://charts.jetstack.io
      chart: { repository: 'https://charts.jetstack.io', name: 'cert-manager', version: 'v1.21.1' },
      imageTag: 'v1.21.1',
      resources: {
        // A few certificates: the controller and cainjector stay well under 64Mi; limits allow the
        // start-up cache fill.
        controller: { requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '200m', memory: '192Mi' } },
        webhook: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
        cainjector: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '100m', memory: '192Mi' } },
        startupapicheck: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
      },
      dns01RecursiveNameservers: ['1.1.1.1:53', '1.0.0.1:53'],
    },
    systemUpgrade: {
      // Upstream publishes no Helm chart; the controller is rendered from manifests/ at this tag.
      // Source: https://github.com/rancher/system-upgrade-controller/releases/tag/v0.20.1; digest: the
      // manifest list (amd64, arm64, arm/v7) of that tag on Docker Hub, as recorded by a public GitOps
      // repository that pins the same release by digest (no registry access here to re-read it).
      // renovate: datasource=docker depName=docker.io/rancher/system-upgrade-controller
      image: { repository: 'docker.io/rancher/system-upgrade-controller', tag: 'v0.20.1', digest: 'sha256:aaf4dbf640579a6abfa6390aab927ee664f06814e33c371e69df9dd451ca153a' },
      // Source: https://hub.docker.com/r/rancher/kubectl/tags (tracks Kubernetes minor releases); digest
      // as pinned (Renovate-maintained) by a public repository's Dockerfile for the same tag.
      // renovate: datasource=docker depName=docker.io/rancher/kubectl
      kubectlImage: { repository: 'docker.io/rancher/kubectl', tag: 'v1.36.1', digest: 'sha256:e430739d5eaef82b73e738ffa57019c8206c92b65ab3a18df766a1732b17c7f5' },
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '96Mi' } },
      jobResources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    },
  },
  traefik: {
    resources: { requests: { cpu: '150m', memory: '128Mi' }, limits: { cpu: '1500m', memory: '320Mi' } },
    externalTrafficPolicy: 'Local',
    // 4 samples per 1-minute analysis window; Traefik has a few thousand series, so twice the
    // global rate costs Prometheus little.
    scrapeInterval: '15s',
  },
  certificates: {
    cloudflareApiToken: { name: 'cloudflare-api-token', key: 'api-token' },
  },
  upgrades: {
    // Source: https://hub.docker.com/r/rancher/k3s-upgrade (one tag per k3s release, "+" written as "-")
    k3sUpgradeImage: 'docker.io/rancher/k3s-upgrade',
    // Lowest traffic; the VPS snapshot (bootstrap) runs at 02:00 UTC, before this window opens. It
    // closes at 04:00 so a Job started last (jobActiveDeadlineSeconds, 15 min) is done by 04:15,
    // before the host's reboot window at 04:30 (bootstrap.upgrades; the config refuses an overlap).
    window: { days: ['sunday'], startTime: '03:00', endTime: '04:00', timeZone: 'UTC' },
    jobActiveDeadlineSeconds: 900,
  },
  allowedImagePrefixes: [
    'ghcr.io/lms-platform/', // our images (GitHub Packages)
    'quay.io/argoproj/',
    'ghcr.io/cloudnative-pg/',
    'quay.io/jetstack/',
    'docker.io/rancher/', // k3s system images, system-upgrade-controller, k3s-upgrade, kubectl
    'docker.io/library/', // Docker official images (redis, nginx, busybox)
    'docker.io/rclone/', // logical dump upload (data layer)
    'docker.io/nginx/', // NGINX's own org: nginx-prometheus-exporter (web)
    'docker.io/oliver006/', // redis_exporter (the de-facto Redis exporter; no official image)
    'quay.io/prometheus/',
    'quay.io/prometheus-operator/',
    'registry.k8s.io/',
    'docker.io/grafana/',
    'quay.io/kiwigrid/', // Grafana's dashboard sidecar
    'ghcr.io/fluxcd/',
  ],
  flux: {
    interval: '10m',
    retryInterval: '1m',
    timeouts: {
      namespaces: '2m',
      secrets: '2m',
      // First install pulls every controller image and installs CRDs.
      controllers: '15m',
      configs: '5m',
      // A new PostgreSQL cluster runs initdb (or a restore) before it is Ready: at least the
      // database RTO target (cluster.data.objectives.databaseRtoMinutes, 30), so that a restore
      // within target never shows as a failed layer and a retry (test/data/rto.test.ts).
      data: '35m',
      observability: '15m',
      // Covers a full canary with its analysis steps.
      apps: '20m',
    },
    notifications: { slackSecret: 'flux-slack' },
    receiver: { hostname: 'flux.lms.example.com', tokenSecret: 'flux-github-receiver' },
    commitStatus: { tokenSecret: 'flux-github-status' },
  },
};
