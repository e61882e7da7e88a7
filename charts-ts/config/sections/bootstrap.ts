/**
 * Config section: host bootstrap (cluster-wide). Schema and the values used, in one place.
 *
 * What `npm run bootstrap -- <step>` needs beyond the cluster fields it shares with the charts: the
 * admin login, the firewall, fail2ban, patching and its reboot window, k3s host settings, the Contabo
 * and Cloudflare resources, the bucket lifecycle, and the Flux bootstrap target. The kubelet
 * reservation is NOT here: it is `cluster.reservation`, the same numbers the capacity budget uses;
 * the k3s release is `cluster.k3s.version`; the Cloudflare edge ranges are `cluster.cloudflare`.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { GitHubSettings, githubValues } from './github.ts';

// Local field types (schema.ts imports this file, so importing its helpers here would be a cycle).
const cidr = z.string().refine((s) => {
  const [addr, bits, extra] = s.split('/');
  const family = isIP(addr ?? '');
  const n = Number(bits);
  return extra === undefined && family !== 0 && /^\d{1,3}$/.test(bits ?? '') && n <= (family === 4 ? 32 : 128);
}, 'is not a CIDR; use 203.0.113.0/24, 198.51.100.7/32 or 2001:db8::/32');
const hostnameOrIp = z.string().refine(
  (s) => isIP(s) !== 0 || /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(s),
  'is not a hostname or IP address; use lms-prod-1, k8s.lms.example.com or 203.0.113.10',
);
/** systemd time span as journald and fail2ban accept it ("10m", "1h", "1w", "30day"). */
const timeSpan = z.string().regex(/^\d+(s|m|h|d|w|day|week|month)$/, 'is not a time span; use 10m, 1h, 1d, 1w or 1month');
const sshPublicKey = z.string().regex(
  /^(ssh-ed25519|sk-ssh-ed25519@openssh\.com|ecdsa-sha2-nistp(256|384|521)|sk-ecdsa-sha2-nistp256@openssh\.com|ssh-rsa) [A-Za-z0-9+/]{40,}={0,3}( [^\n]*)?$/,
  'is not an OpenSSH public key; paste one line of ~/.ssh/id_ed25519.pub ("ssh-ed25519 AAAA... you@laptop")',
);
const weekday = z.enum(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'], { error: 'is not a weekday; use Mon, Tue, Wed, Thu, Fri, Sat or Sun' });
const percentThreshold = z.string().regex(/^\d{1,2}%$/, 'is not a percentage threshold; use "10%"');
const semver = z.string().regex(/^v?\d+\.\d+\.\d+$/, 'is not a pinned release; use "v2.9.5"');

const jail = z.object({
  /** Failures within findTime that trigger a ban. */
  maxRetry: z.number().int().min(1, 'must be at least 1').max(20, 'must be at most 20'),
  findTime: timeSpan,
  banTime: timeSpan,
}).strict();

/**
 * Cloudflare rate-limiting limits per plan (https://developers.cloudflare.com/waf/rate-limiting-rules/#availability):
 * number of rules, longest counting period and longest mitigation timeout; whether the plan has
 * Standalone Health Checks (paid plans, https://developers.cloudflare.com/health-checks/).
 */
export const cloudflarePlanLimits = {
  free: { rules: 1, maxPeriod: 10, maxTimeout: 10, hostField: false, managedRulesets: false, healthChecks: false },
  pro: { rules: 2, maxPeriod: 60, maxTimeout: 3600, hostField: true, managedRulesets: true, healthChecks: true },
  business: { rules: 5, maxPeriod: 600, maxTimeout: 86400, hostField: true, managedRulesets: true, healthChecks: true },
  enterprise: { rules: 100, maxPeriod: 65535, maxTimeout: 86400, hostField: true, managedRulesets: true, healthChecks: true },
} as const;
/** Period and timeout values the Rulesets API accepts (seconds). */
export const cloudflareRatePeriods = [10, 15, 20, 30, 40, 45, 60, 90, 120, 180, 240, 300, 480, 600, 900, 1200, 1800, 2400, 3600, 65535, 86400] as const;

const rateLimit = z.object({
  /** Stable rule ref in the ruleset; the step matches existing rules by it. */
  ref: z.string().regex(/^[a-z0-9-]{3,40}$/, 'is not a rule ref; use lower-case words joined by "-", e.g. lms-login'),
  description: z.string().min(3, 'must say what the rule protects'),
  /** Which environment hostnames the rule covers (both environments). Requires a Pro plan or higher. */
  host: z.enum(['api', 'web', 'any'], { error: 'must be api, web or any' }),
  /** Path prefixes; a request counts when its path starts with one of them. */
  pathPrefixes: z.array(z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'is not a URL path prefix; use "/auth/login"')).min(1, 'must list at least one path prefix'),
  requestsPerPeriod: z.number().int().min(1, 'must be at least 1'),
  periodSeconds: z.number().int(),
  mitigationTimeoutSeconds: z.number().int(),
  action: z.enum(['block', 'managed_challenge', 'js_challenge', 'log'], { error: 'must be block, managed_challenge, js_challenge or log' }),
}).strict();

/**
 * The OS images the host bootstrap supports: Ubuntu 24.04 LTS (sshd socket-activated) and Debian 12/13
 * (sshd as ssh.service). Others may differ in service names, sshd versions and UFW/iptables backends.
 */
export const supportedImages = ['ubuntu-24.04', 'debian-12', 'debian-13'] as const;

export const BootstrapSettings = z.object({
  admin: z.object({
    /** The only account that may log in over SSH (sudo, key only). */
    user: z.string().regex(/^[a-z_][a-z0-9_-]{0,30}$/, 'is not a Linux user name; use lower-case letters, digits, "_" or "-", e.g. lmsadmin')
      .refine((u) => !['root', 'admin', 'ubuntu'].includes(u), 'must not be root, admin or ubuntu (well-known names brute-forced first)'),
    sshPublicKeys: z.array(sshPublicKey).min(1, 'must list at least one SSH public key; password login is disabled'),
    /** Networks SSH (22) is open to; empty means anywhere (fail2ban still bans brute force). */
    sshCidrs: z.array(cidr),
  }).strict(),
  ssh: z.object({
    maxAuthTries: z.number().int().min(1).max(6, 'must be at most 6'),
    loginGraceSeconds: z.number().int().min(10).max(120, 'must be at most 120'),
  }).strict(),
  firewall: z.object({
    /** Public interface of the VPS (Contabo: eth0); the pre-routing guard applies to it. */
    publicInterface: z.string().regex(/^[a-z][a-z0-9.-]{0,14}$/, 'is not an interface name; use eth0'),
    /** 80/443 only from Cloudflare's ranges (cluster.cloudflare): the origin is not reachable around the WAF. */
    webFromCloudflareOnly: z.boolean(),
    /** k3s pod and service networks (its defaults): pods reach the API server and kubelet on the host. */
    clusterCidrs: z.array(cidr).min(1, 'must list the k3s pod and service CIDRs (10.42.0.0/16, 10.43.0.0/16)'),
  }).strict(),
  fail2ban: z.object({ sshd: jail, recidive: jail }).strict(),
  upgrades: z.object({
    /** Days on which the host may reboot if an update requires it (security updates install daily). */
    rebootDays: z.array(weekday).min(1, 'must list at least one day'),
    /** Local time (timeSync.timezone) the reboot window opens, HH:MM. */
    rebootTime: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'is not a time; use HH:MM like 03:30'),
    /** Measured downtime of one reboot: VPS boot + k3s start + pods Ready (docs/security/hardening.md). */
    estimatedRebootMinutes: z.number().min(1).max(30),
  }).strict(),
  timeSync: z.object({
    timezone: z.string().regex(/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/, 'is not a time zone; use Etc/UTC or Europe/Berlin'),
    ntpPools: z.array(hostnameOrIp).min(1, 'must list at least one NTP pool'),
  }).strict(),
  journald: z.object({
    systemMaxUse: z.string().regex(/^\d+[KMG]$/, 'is not a size; use 1G or 512M'),
    maxRetention: timeSpan,
  }).strict(),
  k3s: z.object({
    /** Extra names/IPs on the API server certificate (127.0.0.1 is always there: the SSH tunnel). */
    tlsSans: z.array(hostnameOrIp),
    /** Packaged components not to deploy. Traefik and ServiceLB stay: ingress runs on the bundled Traefik. */
    disable: z.array(z.enum(['traefik', 'servicelb', 'local-storage', 'metrics-server', 'coredns'], { error: 'is not a k3s packaged component' })),
    /** Disk eviction thresholds; memory comes from cluster.reservation.evictionHardMemory. */
    evictionHardDisk: z.object({ nodefsAvailable: percentThreshold, imagefsAvailable: percentThreshold, nodefsInodesFree: percentThreshold }).strict(),
    audit: z.object({
      maxAgeDays: z.number().int().min(1).max(365),
      maxBackups: z.number().int().min(1).max(100),
      maxSizeMB: z.number().int().min(10).max(1024),
    }).strict(),
    /** Pod Security Admission for namespaces without their own labels; platform namespaces carry labels. */
    podSecurityDefault: z.enum(['restricted', 'baseline', 'privileged']),
    podSecurityExemptNamespaces: z.array(z.string().regex(/^[a-z0-9-]+$/, 'is not a namespace name')),
  }).strict(),
  contabo: z.object({
    /** Product id (https://api.contabo.com, createInstance): V94 = Cloud VPS 20, 6 vCPU, 12 GB RAM, 100 GB NVMe. */
    productId: z.string().regex(/^V\d+$/, 'is not a Contabo product id; use V94 (Cloud VPS 20 NVMe)'),
    region: z.enum(['EU', 'US-central', 'US-east', 'US-west', 'SIN', 'UK', 'AUS', 'JPN', 'IND'], {
      error: 'is not a Contabo instance region; use EU, US-central, US-east, US-west, SIN, UK, AUS, JPN or IND',
    }),
    /**
     * Standard image name as the images API lists it; only the images the host bootstrap is written
     * and tested for (bootstrap/host/cloud-init.ts, docs/security/hardening.md).
     */
    imageName: z.enum(supportedImages, { error: `is not a supported OS image; use one of ${supportedImages.join(', ')}` }),
    periodMonths: z.union([z.literal(1), z.literal(3), z.literal(6), z.literal(12)], { error: 'must be 1, 3, 6 or 12 (months)' }),
    objectStorage: z.object({
      sizeTB: z.number().min(0.25, 'must be at least 0.25 (TB)'),
      autoScalingLimitTB: z.number().min(0),
    }).strict(),
    snapshots: z.object({
      /** Snapshot slots the plan includes (Contabo VPS: 2); rotation never exceeds it. */
      slots: z.number().int().min(1).max(10),
      /** Name prefix of the snapshots the rotation owns; others (manual ones) are never deleted. */
      prefix: z.string().regex(/^[a-z][a-z0-9-]{1,14}$/, 'is not a snapshot prefix; use lower-case letters, e.g. nightly'),
    }).strict(),
  }).strict(),
  objectStorage: z.object({
    /**
     * Key prefix of the daily logical dumps (pg_dump, age-encrypted) in cluster.objectStorage.bucket.
     * The data layer's dump CronJob writes under it; the lifecycle rule expires it.
     */
    logicalDumpPrefix: z.string().regex(/^[a-z0-9][a-z0-9-]*(\/[a-z0-9-]+)*\/$/, 'is not a key prefix; use lower-case words ending in "/", e.g. logical-dumps/'),
    /** Backstop expiry of dumps (the CronJob prunes first); longer than the dump retention. */
    logicalDumpExpireDays: z.number().int().min(2).max(3650),
    abortIncompleteMultipartDays: z.number().int().min(1).max(30),
    /** SigV4 signing region for the S3 endpoint (Contabo's Ceph accepts the AWS default). */
    signingRegion: z.string().regex(/^[a-z0-9-]+$/, 'is not a region name; use us-east-1'),
  }).strict(),
  cloudflare: z.object({
    /** The Cloudflare zone; cluster.domain and every environment hostname must be inside it. */
    zone: z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'is not a zone name; use example.com'),
    plan: z.enum(['free', 'pro', 'business', 'enterprise'], { error: 'must be free, pro, business or enterprise (the zone\'s plan)' }),
    /**
     * Edge certificate: Universal SSL covers the zone and *.zone only; hostnames two labels below the
     * zone (api.staging.<zone>) need an Advanced certificate (Advanced Certificate Manager).
     */
    edgeCertificate: z.enum(['universal', 'advanced'], { error: 'must be universal or advanced' }),
    /** Minimum TLS version at the edge. */
    minTlsVersion: z.enum(['1.2', '1.3'], { error: 'must be 1.2 or 1.3' }),
    /** Managed WAF rulesets executed in http_request_firewall_managed (ids are Cloudflare's, global). */
    managedRulesets: z.array(z.object({ id: z.string().regex(/^[a-f0-9]{32}$/, 'is not a ruleset id (32 hex characters)'), name: z.string().min(1) }).strict()),
    rateLimits: z.array(rateLimit),
    /**
     * A Standalone Health Check of the origin (https://developers.cloudflare.com/health-checks/),
     * run from Cloudflare's network, not the node: the edge-measured availability SLI, which sees the
     * minutes the node reboots or Traefik is down and Traefik's own metrics record nothing
     * (docs/observability/slo-sla.md "Availability at the edge"). TCP on 443: it needs no client
     * certificate for Authenticated Origin Pulls, and Traefik accepting connections is what it must
     * show (what Traefik answers is its own SLOs' business). Needs a Pro plan or higher.
     */
    healthCheck: z.object({
      /** Health check name, also what the weekly report selects its events by. */
      name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'is not a health check name; use letters, digits, "-" and "_", e.g. lms-origin'),
      port: z.number().int().min(1).max(65535),
      /** Seconds between checks from each region. */
      intervalSeconds: z.number().int().min(60, 'must be at least 60 (the shortest interval below Enterprise)').max(3600),
      timeoutSeconds: z.number().int().min(1).max(10),
      retries: z.number().int().min(0).max(5),
      /** Cloudflare health-check regions (CheckRegion), e.g. WEU, EEU. */
      regions: z.array(z.enum(['WNAM', 'ENAM', 'WEU', 'EEU', 'NSAM', 'SSAM', 'OC', 'ME', 'NAF', 'SAF', 'IN', 'SEAS', 'NEAS'], { error: 'is not a health check region; use WEU, EEU, ENAM, ...' })).min(1),
    }).strict(),
  }).strict().superRefine((cf, ctx) => {
    const limits = cloudflarePlanLimits[cf.plan];
    if (cf.rateLimits.length > limits.rules) {
      ctx.addIssue({ code: 'custom', path: ['rateLimits'], input: cf.rateLimits.length, message: `has ${cf.rateLimits.length} rules but the ${cf.plan} plan allows ${limits.rules}; remove rules or raise cloudflare.plan` });
    }
    if (!limits.managedRulesets && cf.managedRulesets.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['managedRulesets'], input: cf.managedRulesets.length, message: 'needs a Pro plan or higher (the Free plan runs only the automatic Free Managed Ruleset); empty the list or raise cloudflare.plan' });
    }
    if (!limits.healthChecks) {
      ctx.addIssue({ code: 'custom', path: ['healthCheck'], input: cf.healthCheck.name, message: 'needs a Pro plan or higher (Standalone Health Checks); raise cloudflare.plan' });
    }
    const refs = new Set<string>();
    cf.rateLimits.forEach((r, i) => {
      const at = (k: string) => ['rateLimits', i, k];
      if (refs.has(r.ref)) ctx.addIssue({ code: 'custom', path: at('ref'), input: r.ref, message: 'is used twice; refs must be unique' });
      refs.add(r.ref);
      for (const [k, v, max] of [['periodSeconds', r.periodSeconds, limits.maxPeriod], ['mitigationTimeoutSeconds', r.mitigationTimeoutSeconds, limits.maxTimeout]] as const) {
        if (!(cloudflareRatePeriods as readonly number[]).includes(v) || v > max) {
          const allowed = cloudflareRatePeriods.filter((p) => p <= max).join(', ');
          ctx.addIssue({ code: 'custom', path: at(k), input: v, message: `is not allowed on the ${cf.plan} plan; use one of ${allowed}` });
        }
      }
      if (r.host !== 'any' && !limits.hostField) {
        ctx.addIssue({ code: 'custom', path: at('host'), input: r.host, message: 'needs the http.host field, which the Free plan lacks in rate-limit rules; use "any" or raise cloudflare.plan' });
      }
    });
  }),
  flux: z.object({
    // The flux CLI on the operator's machine; it installs the controllers of the same release.
    version: semver,
    /** Git URL Flux pulls from (SSH, with its read-only deploy key; `npm run bootstrap -- github` registers it). */
    repositoryUrl: z.string().regex(/^ssh:\/\/git@[a-z0-9.-]+(:\d+)?\/[A-Za-z0-9._/-]+\.git$/, 'is not an SSH git URL; use ssh://git@github.com/org/repo.git'),
    /** Branch CI publishes dist/ to. */
    branch: z.string().regex(/^[A-Za-z0-9._/-]+$/, 'is not a branch name'),
    /** Directory on that branch with the cluster's Flux entry point. */
    path: z.string().regex(/^[a-z0-9._-]+(\/[a-z0-9._-]+)*$/, 'is not a repository path; use clusters/production'),
    /** Secret in flux-system holding the age private key SOPS decryption uses. */
    sopsAgeSecret: z.string().regex(/^[a-z0-9-]+$/, 'is not a Secret name; use sops-age'),
  }).strict(),
  /** The repository's branch rules, environments and deploy keys (`npm run bootstrap -- github`). */
  github: GitHubSettings,
}).strict();
export type BootstrapSettings = z.infer<typeof BootstrapSettings>;

export const bootstrapValues: z.input<typeof BootstrapSettings> = {
  admin: {
    user: 'lmsadmin',
    // Public keys of the people who operate the host (one line each); private keys never leave laptops.
    // Placeholder key (its private half was discarded): replace with the operators' keys before provisioning.
    sshPublicKeys: [
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBb99S/V32FKQmIIjWhHJ0Gi50iRWp92ac0XICYhKGif ops@lms (placeholder: replace)',
    ],
    // Empty: SSH is reachable from anywhere and protected by keys + fail2ban. Fill with office/VPN CIDRs to lock it down.
    sshCidrs: [],
  },
  ssh: { maxAuthTries: 3, loginGraceSeconds: 30 },
  firewall: {
    publicInterface: 'eth0',
    webFromCloudflareOnly: true,
    clusterCidrs: ['10.42.0.0/16', '10.43.0.0/16'],
  },
  fail2ban: {
    sshd: { maxRetry: 5, findTime: '10m', banTime: '1h' },
    // Repeat offenders (5 bans in a day) are banned from every port for a week.
    recidive: { maxRetry: 5, findTime: '1d', banTime: '1w' },
  },
  // After the nightly base backup (02:00) and logical dump (03:30), before the snapshot (05:00), all UTC.
  upgrades: { rebootDays: ['Sun'], rebootTime: '04:30', estimatedRebootMinutes: 4 },
  timeSync: { timezone: 'Etc/UTC', ntpPools: ['0.pool.ntp.org', '1.pool.ntp.org', 'ntp.ubuntu.com'] },
  journald: { systemMaxUse: '1G', maxRetention: '1month' },
  k3s: {
    tlsSans: ['lms-prod-1'],
    disable: [],
    evictionHardDisk: { nodefsAvailable: '10%', imagefsAvailable: '15%', nodefsInodesFree: '5%' },
    audit: { maxAgeDays: 30, maxBackups: 10, maxSizeMB: 100 },
    podSecurityDefault: 'restricted',
    // k3s's own components (svclb needs NET_ADMIN) live here; platform namespaces carry explicit labels.
    podSecurityExemptNamespaces: ['kube-system'],
  },
  contabo: {
    productId: 'V94',
    region: 'EU',
    imageName: 'ubuntu-24.04',
    periodMonths: 1,
    objectStorage: { sizeTB: 0.25, autoScalingLimitTB: 0 },
    snapshots: { slots: 2, prefix: 'nightly' },
  },
  objectStorage: {
    logicalDumpPrefix: 'logical-dumps/',
    logicalDumpExpireDays: 35,
    abortIncompleteMultipartDays: 2,
    signingRegion: 'us-east-1',
  },
  cloudflare: {
    zone: 'lms.example.com',
    plan: 'pro',
    // Every hostname is one label below the zone (staging-api, not api.staging), so the free
    // Universal SSL certificate covers them all; Pro is needed for the WAF managed rules.
    edgeCertificate: 'universal',
    minTlsVersion: '1.2',
    // Source: https://developers.cloudflare.com/waf/managed-rules/reference/ (ids are global constants)
    managedRulesets: [
      { id: 'efb7b8c949ac4650a09736fc376e9aee', name: 'Cloudflare Managed Ruleset' },
      { id: '4814384a9e5d4991b9815dcfc25d2f1f', name: 'Cloudflare OWASP Core Ruleset' },
    ],
    // One TCP check of the origin from Western Europe (the VPS is in Contabo's EU region), every minute.
    healthCheck: { name: 'lms-origin', port: 443, intervalSeconds: 60, timeoutSeconds: 5, retries: 1, regions: ['WEU'] },
    rateLimits: [
      {
        ref: 'lms-login',
        description: 'Brute force on login and password reset',
        host: 'api',
        pathPrefixes: ['/auth/login', '/auth/password-reset'],
        // Per address, like the origin's limit: a school class of 40 behind one NAT logs in within
        // the same minute (environments.*.apps.ingress.authRateLimit; config cross-checks). Guessing
        // one account's password is stopped per account by the API.
        requestsPerPeriod: 120,
        periodSeconds: 60,
        mitigationTimeoutSeconds: 600,
        action: 'block',
      },
      {
        ref: 'lms-api',
        description: 'API abuse from one client',
        host: 'api',
        pathPrefixes: ['/'],
        requestsPerPeriod: 1200,
        periodSeconds: 60,
        mitigationTimeoutSeconds: 60,
        action: 'block',
      },
    ],
  },
  flux: {
    // renovate: datasource=github-releases depName=fluxcd/flux2
    version: 'v2.9.5',
    repositoryUrl: 'ssh://git@github.com/lms-platform/lms-gitops.git',
    branch: 'clusters',
    path: 'clusters/production',
    sopsAgeSecret: 'sops-age',
  },
  github: githubValues,
};
