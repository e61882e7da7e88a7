/**
 * Config section: the app workloads of one environment (issue: LMS workloads). Schema and values.
 *
 * The core workload fields (images, ports, HPA bounds, resources, canary steps, manual approval,
 * hostnames) live in ../schema.ts; this section holds everything else the app charts need: process
 * settings, Redis sizing, the canary analysis (thresholds and timing), the migration command,
 * ingress hardening and extra egress. Rules that span fields (maxmemory vs. the Redis limit, the
 * 3-minute abort budget, ...) are checked here so a bad value fails with the field and the fix.
 */
import { z } from 'zod';
import { cidr, duration, image, memory, resources, storageSize } from '../fields.ts';
import { memoryBytes } from '../../lib/quantity.ts';
import type { EnvironmentName } from '../schema.ts';

const durationPattern = /^(\d+(ms|s|m|h))+$/;
const port = z.number().int().min(1024, 'must be an unprivileged port (1024-65535)').max(65535, 'must be at most 65535');
const uid = z.number().int().min(1000, 'must be a non-root uid/gid of at least 1000 (Pod Security restricted forbids 0; low ids collide with system users)').max(2 ** 31 - 1);
const positiveInt = z.number().int().min(1, 'must be a whole number of at least 1');

/** Seconds in a Go-style duration ("1m30s" -> 90). Throws on anything the `duration` field rejects. */
export function durationSeconds(d: string): number {
  if (!durationPattern.test(d)) throw new Error(`"${d}" is not a duration (use "30s", "5m", "1h30m")`);
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const m of d.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(m[1]) * unit[m[2]];
  return total;
}

/** Whether CIDR `inner` lies inside CIDR `outer` (same family). */
export function cidrContains(outer: string, inner: string): boolean {
  const parse = (c: string): { bits: number; value: bigint; prefix: number } => {
    const [addr, len] = c.split('/');
    const prefix = Number(len);
    if (addr.includes(':')) {
      const [head, tail = ''] = addr.split('::');
      const h = head ? head.split(':') : [];
      const t = tail ? tail.split(':') : [];
      const groups = addr.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
      return { bits: 128, value: groups.reduce((v, g) => (v << 16n) + BigInt(parseInt(g || '0', 16)), 0n), prefix };
    }
    return { bits: 32, value: addr.split('.').reduce((v, o) => (v << 8n) + BigInt(Number(o)), 0n), prefix };
  };
  const o = parse(outer);
  const i = parse(inner);
  if (o.bits !== i.bits || i.prefix < o.prefix) return false;
  const shift = BigInt(o.bits - o.prefix);
  return (o.value >> shift) === (i.value >> shift);
}

/**
 * A rate()/increase() window must span at least this many scrapes of the series it reads, so one
 * missed scrape still leaves two samples (Prometheus guidance). Checked for the canary analysis
 * here and for the SLO windows in ../schema.ts; the rendered rules are checked in
 * test/observability/rate-windows.test.ts.
 */
export const rateWindowScrapes = 4;

/** Traefik v3's default latency histogram buckets (seconds); see charts-ts/apps/metrics.ts. */
const traefikLatencyBuckets = [0.1, 0.3, 1.2, 5] as const;

// ---------------------------------------------------------------- sections

const Api = z.object({
  /** Prometheus metrics port (`/metrics`), kept off the public port so the ingress never exposes it. */
  metricsPort: port,
  /** The image's non-root user (the API image is built to run as this uid). */
  runAsUser: uid,
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug'], { error: 'must be one of fatal, error, warn, info, debug' }),
  database: z.object({
    /** Connections per API pod; (HPA max + 1 canary pod) x poolSize must stay below PostgreSQL's max_connections. */
    poolSize: z.number().int().min(1, 'must be at least 1').max(50, 'must be at most 50 per pod (PostgreSQL max_connections is shared)'),
    sslMode: z.enum(['require', 'verify-ca', 'verify-full'], { error: 'must be require, verify-ca or verify-full (plaintext is not allowed)' }),
  }).strict(),
}).strict();

const Web = z.object({
  /** nginx-prometheus-exporter sidecar port. */
  metricsPort: port,
  runAsUser: uid,
  /** Path nginx answers 200 on without touching the SPA (probes). */
  probePath: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'must be an absolute URL path like /healthz'),
  /** Loopback-only nginx `stub_status` port the exporter reads. */
  stubStatusPort: port,
  exporterImage: image,
  exporterResources: resources,
  /**
   * Sources added to the SPA's Content-Security-Policy, per directive. The base policy is
   * `'self'` only (plus the API host in connect-src), `object-src 'none'`, `frame-ancestors 'none'`.
   */
  cspExtraSources: z.partialRecord(
    z.enum(['script-src', 'style-src', 'img-src', 'font-src', 'connect-src', 'media-src', 'frame-src', 'worker-src'], {
      error: 'is not a CSP fetch directive this policy extends; use script-src, style-src, img-src, font-src, connect-src, media-src, frame-src or worker-src',
    }),
    z.array(z.string().regex(/^(https:\/\/[a-z0-9.*-]+(:\d+)?(\/\S*)?|data:|blob:|'unsafe-inline')$/, 'must be an https:// origin, data:, blob: or \'unsafe-inline\'')),
  ),
}).strict();

const Lifecycle = z.object({
  /** How long a terminating pod keeps serving so Traefik and kube-proxy drop its endpoint first. */
  preStopSeconds: z.number().int().min(1, 'must be at least 1 (endpoint removal is asynchronous)').max(60),
  /** preStop + the process's own graceful shutdown (drain in-flight requests, close pools). */
  terminationGracePeriodSeconds: z.number().int().min(1).max(300),
  /** A new pod must stay ready this long before it counts as available. */
  minReadySeconds: z.number().int().min(0).max(300),
  /** A rollout that makes no progress for this long is aborted. */
  progressDeadline: duration,
}).strict().refine((l) => l.terminationGracePeriodSeconds > l.preStopSeconds, {
  message: 'must be longer than preStopSeconds (the grace period includes the preStop delay)',
  path: ['terminationGracePeriodSeconds'],
});

const Autoscaling = z.object({
  /** Target average CPU utilisation (% of requests). */
  cpuUtilization: z.number().int().min(10, 'must be between 10 and 95').max(95, 'must be between 10 and 95'),
  /** How long the HPA waits for load to stay low before removing pods. */
  scaleDownStabilization: duration,
}).strict();

const Redis = z.object({
  image,
  exporterImage: image,
  storageSize,
  /** Redis `maxmemory`; at most 75 % of the container memory limit (fork for AOF rewrite, client buffers). */
  maxmemory: memory,
  /** `noeviction` keeps BullMQ queues and sessions intact (writes fail loudly instead of dropping keys). */
  maxmemoryPolicy: z.enum(['noeviction', 'volatile-lru', 'volatile-lfu', 'volatile-ttl', 'allkeys-lru', 'allkeys-lfu'], {
    error: 'must be a Redis maxmemory-policy: noeviction, volatile-lru, volatile-lfu, volatile-ttl, allkeys-lru or allkeys-lfu',
  }),
  appendfsync: z.enum(['always', 'everysec', 'no'], { error: 'must be always, everysec or no' }),
  resources,
  exporterResources: resources,
  /** Non-root uid/gid of the official image's `redis` user (999:1000 in docker-library/redis). */
  runAsUser: z.number().int().min(1),
  fsGroup: z.number().int().min(1),
  exporterRunAsUser: z.number().int().min(1),
}).strict().superRefine((r, ctx) => {
  const limit = memoryBytes(r.resources.limits.memory);
  if (memoryBytes(r.maxmemory) > 0.75 * limit) {
    ctx.addIssue({
      code: 'custom', path: ['maxmemory'], input: r.maxmemory,
      message: `must be at most 75 % of resources.limits.memory (${r.resources.limits.memory}); AOF rewrite forks and client buffers need the rest`,
    });
  }
});

/**
 * Canary analysis: Argo Rollouts queries Prometheus for the canary's own traffic at the ingress.
 * See docs/delivery.md for the semantics and the abort arithmetic.
 */
const Analysis = z.object({
  /** Minimum share of non-5xx responses, 0..1 (0.99 = 99 %). */
  successRateMin: z.number().gt(0, 'must be between 0 and 1 (0.99 = 99 %)').lt(1, 'must be between 0 and 1 (0.99 = 99 %)'),
  /** Maximum p95 latency in seconds; must be a Traefik bucket bound so the comparison is exact. */
  latencyP95MaxSeconds: z.number().refine((v) => (traefikLatencyBuckets as readonly number[]).includes(v), {
    message: `must be one of Traefik's histogram bucket bounds (${traefikLatencyBuckets.join(', ')}); between bounds histogram_quantile only interpolates`,
  }),
  /**
   * Range of rate()/increase() in the queries: at least 4 scrapes of Traefik (scrapeInterval), so a
   * missed scrape still leaves rate() the two samples it needs (Prometheus guidance: >= 4x).
   */
  window: duration,
  /** Fewer canary requests than this in one window -> no value (inconclusive), never a verdict. */
  minRequests: positiveInt,
  /**
   * Prometheus scrape interval of Traefik's metrics: must equal cluster.platform.traefik.scrapeInterval
   * (the Traefik PodMonitor; checked in ../schema.ts). The window and the abort bound assume it.
   */
  scrapeInterval: duration,
  /** Time between measurements. */
  interval: duration,
  /** Wait after traffic shifts before the first measurement. */
  initialDelay: duration,
  /** Analysis step (gate): measurements, and how many failed / inconclusive ones it tolerates. */
  gate: z.object({
    count: z.number().int().min(2, 'must be at least 2 measurements'),
    failureLimit: z.number().int().min(0),
    inconclusiveLimit: z.number().int().min(0),
  }).strict(),
  /** Background analysis (guard) over the whole rollout: failed measurements it tolerates in total. */
  guard: z.object({ failureLimit: z.number().int().min(0) }).strict(),
  /** Prometheus errors in a row before the analysis errors out (and the rollout aborts). */
  consecutiveErrorLimit: positiveInt,
  /** Allowance for Argo Rollouts reconciling and Traefik applying the weight after a verdict. */
  controllerLatency: duration,
  /** The promise: a bad canary with traffic is aborted within this time. */
  abortWithin: duration,
}).strict().superRefine((a, ctx) => {
  // One error must not fail a canary on its own: with N requests, one error is a 1/N drop.
  const needed = Math.ceil(1 / (1 - a.successRateMin) - 1e-9);
  if (a.minRequests < needed) {
    ctx.addIssue({
      code: 'custom', path: ['minRequests'], input: a.minRequests,
      message: `must be at least ${needed} for a ${a.successRateMin * 100} % target, or a single error fails the canary`,
    });
  }
  const minWindow = rateWindowScrapes * durationSeconds(a.scrapeInterval);
  if (durationSeconds(a.window) < minWindow) {
    ctx.addIssue({
      code: 'custom', path: ['window'], input: a.window,
      message: `must span at least ${rateWindowScrapes} scrapes (${rateWindowScrapes} x scrapeInterval ${a.scrapeInterval} = ${minWindow}s): with fewer, one missed scrape leaves rate() without two samples and the measurement empty; lengthen the window or scrape Traefik more often (cluster.platform.traefik.scrapeInterval)`,
    });
  }
  if (a.gate.failureLimit + a.gate.inconclusiveLimit >= a.gate.count) {
    ctx.addIssue({ code: 'custom', path: ['gate', 'count'], input: a.gate.count, message: 'must exceed failureLimit + inconclusiveLimit, or a gate could pass without one conclusive good measurement' });
  }
  for (const [which, failureLimit] of [['gate', a.gate.failureLimit], ['guard', a.guard.failureLimit]] as const) {
    const worst = worstCaseAbortSeconds(a, failureLimit);
    if (worst > durationSeconds(a.abortWithin)) {
      ctx.addIssue({
        code: 'custom', path: [which, 'failureLimit'], input: failureLimit,
        message: `lets a bad canary run ${worst}s before the abort, more than abortWithin (${a.abortWithin}); lower failureLimit, interval or initialDelay`,
      });
    }
  }
});
export type AnalysisSettings = z.infer<typeof Analysis>;

/**
 * Worst case, in seconds, from the canary getting traffic to the abort (docs/delivery.md):
 * rate() needs two samples of the canary's series, and Traefik creates a series with its first
 * request (after a Traefik restart none exist), so two scrapes must have happened; the first
 * measurement sure to see them comes at most one interval after max(initialDelay, 2 x
 * scrapeInterval); `failureLimit` more failed measurements follow, one interval apart; then the
 * controllers act.
 */
export function worstCaseAbortSeconds(a: Pick<AnalysisSettings, 'initialDelay' | 'scrapeInterval' | 'interval' | 'controllerLatency'>, failureLimit: number): number {
  const first = Math.max(durationSeconds(a.initialDelay), 2 * durationSeconds(a.scrapeInterval)) + durationSeconds(a.interval);
  return first + failureLimit * durationSeconds(a.interval) + durationSeconds(a.controllerLatency);
}

const Migration = z.object({
  /**
   * Arguments to the API image's entrypoint (`node`, distroless: no shell, no `node` on PATH) that
   * run the migrations, before the canary gets traffic; must be idempotent and transactional.
   */
  args: z.array(z.string().min(1)).min(1, 'must name the migration script for the image\'s node entrypoint, e.g. ["dist/database/migrate.js"]'),
  /** Hard deadline of the migration Job (activeDeadlineSeconds). */
  deadline: duration,
  resources,
}).strict();

const Ingress = z.object({
  /** ClusterIssuer: Cloudflare's Full (strict) mode needs a publicly trusted origin certificate. */
  issuer: z.enum(['production', 'staging'], { error: 'must be production or staging (names.issuers)' }),
  hstsMaxAgeSeconds: z.number().int().min(300, 'must be at least 300 seconds'),
  /**
   * API paths that get the authentication rate limit: each path and everything below it, in any
   * letter case (`/auth` matches `/auth`, `/auth/login`, `/AUTH/login`, never `/authors`), as the
   * API's router matches them (charts-ts/apps/ingress.ts authPathRule).
   */
  authPaths: z.array(z.string().regex(/^(\/[A-Za-z0-9_-]+)+$/, 'must be an absolute URL path without a trailing slash, like /auth')).min(1),
  /**
   * Per client address (what Cloudflare saw): `average` requests per `period`, bursts up to
   * `burst`. Sized so that `sharedAddressClients` clients behind one address (a school class
   * behind its NAT) can each make `requestsPerLogin` requests under the auth paths at once.
   */
  authRateLimit: z.object({
    average: positiveInt,
    period: duration,
    burst: positiveInt,
    /** Clients that share one public address and log in together (a class behind a school NAT). */
    sharedAddressClients: positiveInt,
    /** Requests under the auth paths one client makes to log in (session check, login, token), retries included. */
    requestsPerLogin: positiveInt,
  }).strict().superRefine((l, ctx) => {
    const needed = l.sharedAddressClients * l.requestsPerLogin;
    if (l.burst < needed) {
      ctx.addIssue({
        code: 'custom', path: ['burst'], input: l.burst,
        message: `must let ${l.sharedAddressClients} clients behind one address (sharedAddressClients, a class behind a school NAT) log in at once: at least ${l.sharedAddressClients} x ${l.requestsPerLogin} requests (requestsPerLogin) = ${needed}`,
      });
    }
  }),
  /**
   * Only clients from these ranges (the address Cloudflare saw) reach the environment's hosts;
   * everyone else gets 403 from Traefik. Unset: public. Staging must have one, it runs unreleased
   * code (config cross-checks); each range says whose it is.
   */
  ipAllowList: z.array(z.object({
    cidr,
    /** Who connects from this range, e.g. "operators' VPN" or "deploy pipeline runner". */
    owner: z.string().min(3, 'must say whose range this is'),
  }).strict()).min(1, 'must list at least one range; leave the field out for a public environment').optional(),
}).strict();

/** A destination outside the cluster an app may reach (everything else is denied). */
const Egress = z.object({
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/, 'must be a short lower-case name like smtp or public-https'),
  /** Which app's pods may use it. */
  app: z.enum(['api', 'web'], { error: 'must be api or web' }),
  cidrs: z.array(cidr).min(1, 'must list at least one CIDR'),
  /** Ranges carved out of `cidrs` (e.g. private ranges out of 0.0.0.0/0). */
  except: z.array(cidr).default([]),
  ports: z.array(z.number().int().min(1).max(65535)).min(1, 'must list at least one TCP port'),
  /** Why this egress exists (shows up as the NetworkPolicy annotation). */
  reason: z.string().min(1, 'must say why the egress is needed'),
}).strict().superRefine((e, ctx) => {
  e.except.forEach((x, i) => {
    if (!e.cidrs.some((c) => cidrContains(c, x))) {
      ctx.addIssue({ code: 'custom', path: ['except', i], input: x, message: `is not inside any of cidrs (${e.cidrs.join(', ')}); an exception must carve out of a listed range` });
    }
  });
});

export const AppsEnvironment = z.object({
  api: Api,
  web: Web,
  lifecycle: Lifecycle,
  autoscaling: Autoscaling,
  redis: Redis,
  analysis: Analysis,
  migration: Migration,
  ingress: Ingress,
  egress: z.array(Egress),
}).strict().superRefine((a, ctx) => {
  if (durationSeconds(a.migration.deadline) >= durationSeconds(a.lifecycle.progressDeadline)) {
    ctx.addIssue({
      code: 'custom', path: ['migration', 'deadline'], input: a.migration.deadline,
      message: `must be shorter than lifecycle.progressDeadline (${a.lifecycle.progressDeadline}) so a slow migration fails as a migration, not as a stuck rollout`,
    });
  }
});
export type AppsEnvironment = z.infer<typeof AppsEnvironment>;

// ---------------------------------------------------------------- values

/** Third-party images, pinned by tag (for humans) and digest (what the node pulls). */
const images = {
  // Source: https://github.com/docker-library/repo-info/blob/master/repos/redis/remote/8.10.2-alpine.md (index digest)
  // renovate: datasource=docker depName=docker.io/library/redis
  redis: { repository: 'docker.io/library/redis', tag: '8.10.2-alpine', digest: 'sha256:72cedd9603038893af961e90ac5e1a1a0d8377d5e338dbdad8fe284ea25de18f' },
  // Source: https://github.com/oliver006/redis_exporter/releases/tag/v1.90.0 (multi-arch index on Docker Hub)
  // renovate: datasource=docker depName=docker.io/oliver006/redis_exporter
  redisExporter: { repository: 'docker.io/oliver006/redis_exporter', tag: 'v1.90.0', digest: 'sha256:a129504e65b87c54f79bc92f1afc403475e8ff646a3d7512de469904ceddf986' },
  // Source: https://github.com/nginx/nginx-prometheus-exporter/releases/tag/v1.5.1 (multi-arch index on Docker Hub)
  // renovate: datasource=docker depName=docker.io/nginx/nginx-prometheus-exporter
  nginxExporter: { repository: 'docker.io/nginx/nginx-prometheus-exporter', tag: '1.5.1', digest: 'sha256:9f6d963bb2b19d706d401cc3e2c3ea8de2f1c471b96a2156ca45e76f650b1625' },
};

const shared = {
  api: { metricsPort: 9464, runAsUser: 10001, logLevel: 'info', database: { poolSize: 10, sslMode: 'require' } },
  web: {
    metricsPort: 9113, runAsUser: 10101, probePath: '/healthz', stubStatusPort: 8081,
    exporterImage: images.nginxExporter,
    exporterResources: { requests: { cpu: '5m', memory: '16Mi' }, limits: { cpu: '50m', memory: '32Mi' } },
    cspExtraSources: {},
  },
  lifecycle: { preStopSeconds: 10, terminationGracePeriodSeconds: 40, minReadySeconds: 10, progressDeadline: '10m' },
  autoscaling: { cpuUtilization: 70, scaleDownStabilization: '5m' },
  analysis: {
    successRateMin: 0.99,
    latencyP95MaxSeconds: 0.3,
    window: '1m',
    minRequests: 100,
    // Traefik is scraped every 15 s (cluster.platform.traefik.scrapeInterval): the 1-minute window
    // spans 4 scrapes, and a new canary series has its two samples by the 30 s initialDelay.
    scrapeInterval: '15s',
    interval: '30s',
    initialDelay: '30s',
    gate: { count: 4, failureLimit: 1, inconclusiveLimit: 1 },
    guard: { failureLimit: 2 },
    consecutiveErrorLimit: 4,
    controllerLatency: '15s',
    abortWithin: '3m',
  },
  migration: {
    args: ['dist/database/migrate.js'],
    deadline: '5m',
    resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '500m', memory: '384Mi' } },
  },
  egress: [{
    name: 'public-https',
    app: 'api',
    cidrs: ['0.0.0.0/0'],
    except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10'],
    ports: [443, 587],
    reason: 'third-party HTTPS APIs and SMTP submission (e-mail provider); never the cluster or private ranges',
  }],
} satisfies Partial<z.input<typeof AppsEnvironment>>;

/**
 * The authentication rate limit, per client address (docs/delivery.md "Ingress"). A school class
 * of 40 behind one NAT logs in together: 40 x 3 requests fit the burst of 120; the bucket refills
 * at one request a second, which also carries a whole school's token refreshes (400 users
 * refreshing every 15 minutes: ~27 a minute). Guessing passwords is stopped per account by the API,
 * not per address: an address limit low enough for that would lock out a school.
 */
const authRateLimit = { average: 60, period: '1m', burst: 120, sharedAddressClients: 40, requestsPerLogin: 3 } as const;

const redisBase = {
  image: images.redis,
  exporterImage: images.redisExporter,
  appendfsync: 'everysec',
  maxmemoryPolicy: 'noeviction',
  exporterResources: { requests: { cpu: '5m', memory: '16Mi' }, limits: { cpu: '50m', memory: '48Mi' } },
  runAsUser: 999,
  fsGroup: 1000,
  exporterRunAsUser: 59000,
} satisfies Partial<z.input<typeof Redis>>;

export const appsValues: Record<EnvironmentName, z.input<typeof AppsEnvironment>> = {
  staging: {
    ...shared,
    api: { ...shared.api, logLevel: 'debug', database: { poolSize: 5, sslMode: 'require' } },
    // Staging's gate runs under the pipeline's synthetic load: three measurements are enough there and
    // keep merge-to-production inside 15 minutes (npm run lead-time).
    analysis: { ...shared.analysis, gate: { count: 3, failureLimit: 1, inconclusiveLimit: 1 } },
    redis: {
      ...redisBase,
      storageSize: '1Gi',
      maxmemory: '64Mi',
      resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '250m', memory: '96Mi' } },
    },
    ingress: {
      issuer: 'production',
      hstsMaxAgeSeconds: 31536000,
      authPaths: ['/auth'],
      authRateLimit: { ...authRateLimit },
      // Staging runs unreleased code: only operators and the deploy pipeline reach it
      // (docs/delivery.md "Staging allow-list"). Placeholders (documentation ranges): replace
      // with the operators' office/VPN egress and the static egress of the runner that runs
      // deploy.yml's synthetic traffic and smoke test, or staging's canary gets no traffic.
      ipAllowList: [
        { cidr: '198.51.100.0/24', owner: 'operators\' office and VPN egress (placeholder: replace)' },
        { cidr: '203.0.113.0/28', owner: 'deploy pipeline runner egress, static (placeholder: replace)' },
      ],
    },
    egress: [...shared.egress],
  },
  production: {
    ...shared,
    redis: {
      ...redisBase,
      storageSize: '2Gi',
      maxmemory: '128Mi',
      resources: { requests: { cpu: '25m', memory: '144Mi' }, limits: { cpu: '500m', memory: '192Mi' } },
    },
    ingress: {
      issuer: 'production',
      hstsMaxAgeSeconds: 31536000,
      authPaths: ['/auth'],
      authRateLimit: { ...authRateLimit },
    },
    egress: [...shared.egress],
  },
};
