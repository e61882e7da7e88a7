/**
 * The one typed configuration: the cluster (node, k3s, storage, object storage, alerting, Cloudflare)
 * and each environment (staging, production). Environment differences live here and nowhere else.
 *
 * Every field validates with a message that says what is allowed, so a bad value fails as
 * `config: environments.production.hostnames.web: "x_y" is not a valid hostname ...`.
 * Concern-specific sections (apps, data, platform, observability, bootstrap, delivery, cost) live in
 * ./sections/ and are composed here.
 */
import { z } from 'zod';
import { cidr, cpu, dnsLabel, dnsName, duration, environmentNames, memory, percent, secretRef, storageSize } from './fields.ts';
import { AppsEnvironment } from './sections/apps.ts';
import { BootstrapSettings } from './sections/bootstrap.ts';
import { CostSettings } from './sections/cost.ts';
import { DatabaseEnvironment, DataSettings } from './sections/data.ts';
import { DeliverySettings } from './sections/delivery.ts';
import { ObservabilitySettings } from './sections/observability.ts';
import { PlatformSettings } from './sections/platform.ts';
import { WorkersEnvironment } from './sections/workers.ts';

// Reusable field types live in ./fields.ts (sections import them from there).
export * from './fields.ts';

// ---------------------------------------------------------------- cluster

export const Cluster = z.object({
  /** Apex domain; environment hostnames must be inside it. */
  domain: dnsName,
  node: z.object({
    cpu: z.number().int().min(1, 'must be at least 1 vCPU'),
    memoryGiB: z.number().int().min(2, 'must be at least 2 GiB'),
    diskGiB: z.number().int().min(20, 'must be at least 20 GiB'),
    /** Hostname of the VPS, also the k3s node name. */
    hostname: dnsLabel,
  }).strict(),
  k3s: z.object({
    /** k3s release, e.g. v1.36.3+k3s1. The Kubernetes version the cluster runs is derived from it. */
    version: z.string().regex(/^v1\.\d+\.\d+\+k3s\d+$/, 'is not a k3s release; use the form v1.36.3+k3s1'),
    /**
     * sha256 of install.sh at the `version` tag, the file k3s publishes next to it as
     * install.sh.sha256sum. The k3s step runs no installer without it (docs/runbooks/upgrade-k3s.md).
     */
    installScript: z.object({ version: z.string(), sha256: z.string().regex(/^[a-f0-9]{64}$/, 'is not a sha256; use the 64 hex characters of install.sh.sha256sum') }).strict().optional(),
    /** The rancher/k3s-upgrade image of `version` by digest (the upgrade Plan pulls exactly it). */
    upgradeImage: z.object({
      tag: z.string(),
      digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, 'is not an image digest; use sha256:<64 hex characters> from the registry'),
    }).strict().optional(),
  }).strict().superRefine((k, ctx) => {
    // Pins belong to one release: a version bump without re-pinning must not run the old bytes.
    if (k.installScript && k.installScript.version !== k.version) {
      ctx.addIssue({ code: 'custom', path: ['installScript', 'version'], input: k.installScript.version, message: `pins install.sh of ${k.installScript.version}, but version is ${k.version}; re-pin it (docs/runbooks/upgrade-k3s.md)` });
    }
    if (k.upgradeImage && k.upgradeImage.tag !== k.version.replace('+', '-')) {
      ctx.addIssue({ code: 'custom', path: ['upgradeImage', 'tag'], input: k.upgradeImage.tag, message: `is not the k3s-upgrade tag of ${k.version} (${k.version.replace('+', '-')}); re-pin the digest (docs/runbooks/upgrade-k3s.md)` });
    }
  }),
  /**
   * What the kubelet keeps back from pods (k3s config kubelet-arg); the capacity budget subtracts the
   * same numbers so both agree on what is allocatable.
   */
  reservation: z.object({
    systemReserved: z.object({ cpu, memory }).strict(),
    kubeReserved: z.object({ cpu, memory }).strict(),
    evictionHardMemory: memory,
    /** Headroom kept free beyond requests, as a share of allocatable (bursts, k3s's own spikes). */
    headroomPercent: z.number().min(0).max(50, 'must be between 0 and 50'),
  }).strict(),
  storageClass: dnsLabel,
  objectStorage: z.object({
    endpoint: z.string().url('is not a URL; use the S3 endpoint like https://eu2.contabostorage.com'),
    region: z.enum(['eu2', 'usc1', 'sin1', 'uk1', 'aus1', 'jpn1', 'ind1', 'usw1', 'use1'], {
      error: 'is not a Contabo Object Storage region; use one of eu2, usc1, sin1, uk1, aus1, jpn1, ind1, usw1, use1',
    }),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'is not an S3 bucket name (3-63 lower-case letters, digits, "." or "-")'),
    /** Secret (in each namespace that needs it) with ACCESS_KEY_ID and ACCESS_SECRET_KEY. */
    credentialsSecret: dnsLabel,
  }).strict(),
  /** Alert receivers, by Secret name only. */
  alerting: z.object({
    slackWebhook: secretRef,
    pagerdutyRoutingKey: secretRef,
    heartbeatUrl: secretRef,
    slackChannel: z.string().regex(/^#[a-z0-9_-]+$/, 'is not a Slack channel; use "#lms-alerts"'),
  }).strict(),
  /** Cloudflare's published edge ranges: the only peers trusted for forwarded client IPs. */
  cloudflare: z.object({
    ipv4: z.array(cidr).min(1, 'must list Cloudflare IPv4 ranges (https://www.cloudflare.com/ips-v4)'),
    ipv6: z.array(cidr),
    /** PEM of the CA whose client certificates Traefik requires on every public router (Authenticated Origin Pulls). */
    originPullCa: z.string().regex(/^(-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?)+$/, 'is not a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)'),
  }).strict(),
  letsEncryptEmail: z.string().email('is not an e-mail address; Let\'s Encrypt sends expiry notices there'),
  platform: PlatformSettings,
  data: DataSettings,
  observability: ObservabilitySettings,
  bootstrap: BootstrapSettings,
  delivery: DeliverySettings,
  cost: CostSettings,
}).strict();
export type Cluster = z.infer<typeof Cluster>;

// ---------------------------------------------------------------- environments

/** One canary step: shift traffic, pause (timed or, with no duration, until promoted), or analyse. */
export const canaryStep = z.union([
  z.object({ setWeight: percent }).strict(),
  z.object({ pause: z.object({ duration: duration.optional() }).strict() }).strict(),
  z.object({ analysis: z.literal(true) }).strict(),
], { error: 'is not a canary step; use {setWeight: 10}, {pause: {duration: "2m"}}, {pause: {}} or {analysis: true}' });
export type CanaryStep = z.infer<typeof canaryStep>;

export const Environment = z.object({
  name: z.enum(environmentNames, { error: 'must be staging or production' }),
  namespace: dnsLabel,
  hostnames: z.object({ web: dnsName, api: dnsName }).strict(),
  canary: z.object({
    steps: z.array(canaryStep).min(1, 'must have at least one step'),
    /** On: the canary stops at an indefinite pause after the first analysed step until promoted. */
    manualApproval: z.boolean(),
  }).strict(),
  /** Namespace-wide ceiling (ResourceQuota) and per-container defaults (LimitRange). */
  quota: z.object({
    requests: z.object({ cpu, memory }).strict(),
    limits: z.object({ cpu, memory }).strict(),
    pvcStorage: storageSize,
  }).strict(),
  apps: AppsEnvironment,
  /** Background workers (plain autoscaled Deployments), each in one entry: ./sections/workers.ts. */
  workers: WorkersEnvironment,
  database: DatabaseEnvironment,
}).strict();
export type Environment = z.infer<typeof Environment>;

export const Config = z.object({
  cluster: Cluster,
  environments: z.object({ staging: Environment, production: Environment }).strict(),
}).strict().superRefine((c, ctx) => {
  const seen = new Map<string, string>();
  for (const name of environmentNames) {
    const env = c.environments[name];
    if (env.name !== name) {
      ctx.addIssue({ code: 'custom', path: ['environments', name, 'name'], input: env.name, message: `must be "${name}" (the key it is listed under)` });
    }
    for (const [k, host] of Object.entries(env.hostnames)) {
      if (!(host === c.cluster.domain || host.endsWith(`.${c.cluster.domain}`))) {
        ctx.addIssue({ code: 'custom', path: ['environments', name, 'hostnames', k], input: host, message: `must be inside the cluster domain ${c.cluster.domain}` });
      }
      const other = seen.get(host);
      if (other) ctx.addIssue({ code: 'custom', path: ['environments', name, 'hostnames', k], input: host, message: `is already used by ${other}; each host routes to one place` });
      seen.set(host, `${name}.${k}`);
    }
  }
  if (c.environments.staging.namespace === c.environments.production.namespace) {
    ctx.addIssue({ code: 'custom', path: ['environments', 'production', 'namespace'], input: c.environments.production.namespace, message: 'must differ from the staging namespace' });
  }
});
export type Config = z.infer<typeof Config>;
export type ConfigInput = z.input<typeof Config>;

/** The Kubernetes version the cluster runs, from the pinned k3s release (v1.36.3+k3s1 -> 1.36.3). */
export const kubernetesVersion = (c: Cluster): string => c.k3s.version.replace(/^v/, '').replace(/\+k3s\d+$/, '');
