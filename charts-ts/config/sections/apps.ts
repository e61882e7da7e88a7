/**
 * Config section: the app workloads of one environment (issue: LMS workloads). Schema and values.
 *
 * Each app's settings live in its one entry here (`api`, `web`: image, port, HPA bounds, resources,
 * process settings); the canary steps, manual approval and hostnames are the environment's
 * (../schema.ts). This section also holds the rest the app charts need: Redis sizing, the canary analysis (thresholds and timing), the migration command,
 * ingress hardening and extra egress. Rules that span fields (maxmemory vs. the Redis limit, the
 * 3-minute abort budget, ...) are checked here so a bad value fails with the field and the fix.
 */
import { z } from 'zod';
import { cidr, duration, hpa, image, memory, nonPublicRanges, port, resources, storageSize, uid, type EnvironmentName } from '../fields.ts';
import { memoryBytes } from '../../lib/quantity.ts';
import { pythonImage } from './cost.ts';

const durationPattern = /^(\d+(ms|s|m|h))+$/;
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
  /** The release: pinned by tag and digest (the images workflow's pull request updates it). */
  image,
  /** The port the API serves on (Traefik's target). */
  port,
  /** Pods the HPA may run; the canary adds its own on top (capacity and connection budgets count both). */
  hpa,
  resources,
  /** Prometheus metrics port (`/metrics`), kept off the public port so the ingress never exposes it. */
  metricsPort: port,
  /** The image's non-root user (the API image is built to run as this uid). */
  runAsUser: uid,
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug'], { error: 'must be one of fatal, error, warn, info, debug' }),
  /**
   * Seconds from the pod's creation to `/health/ready` answering 200, with the image already on the
   * node (what the image must provide, docs/delivery.md). The abort arithmetic counts it for every
   * stable pod an abort has to start again (charts-ts/lib/canary-abort.ts).
   */
  startSeconds: z.number().int().min(1).max(60, 'must be at most 60 (the startup probe gives the API 60 s)'),
  database: z.object({
    /** Connections per API pod; (HPA max + 1 canary pod) x poolSize must stay below PostgreSQL's max_connections. */
    poolSize: z.number().int().min(1, 'must be at least 1').max(50, 'must be at most 50 per pod (PostgreSQL max_connections is shared)'),
    sslMode: z.enum(['require', 'verify-ca', 'verify-full'], { error: 'must be require, verify-ca or verify-full (plaintext is not allowed)' }),
  }).strict(),
}).strict();

const Web = z.object({
  /** The release: pinned by tag and digest (the images workflow's pull request updates it). */
  image,
  /** The port nginx serves the SPA on (Traefik's target). */
  port,
  hpa,
  resources,
  /** nginx-prometheus-exporter sidecar port. */
  metricsPort: port,
  runAsUser: uid,
  /** Path nginx answers 200 on without touching the SPA (probes). */
  probePath: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'must be an absolute URL path like /healthz'),
  /** Seconds from the pod's creation to nginx and its exporter answering, image on the node (as api.startSeconds). */
  startSeconds: z.number().int().min(1).max(60),
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
  /**
   * Period of the readiness probes of the serving containers: a started pod is Ready at most one
   * period after it answers (kubelet also probes at once when the startup probe passes). Short, since
   * an abort waits for new stable pods (charts-ts/lib/canary-abort.ts); the failure threshold keeps
   * "unready after 10 s of failures".
   */
  readinessProbePeriodSeconds: z.number().int().min(1).max(10),
  /** Period of the API's startup probe (30 tries, so the boot may take 30 periods). */
  startupProbePeriodSeconds: z.number().int().min(1).max(10),
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
  /**
   * Background analysis (guard) over the whole rollout, the approval pause included. Argo Rollouts
   * counts failed measurements over the whole run (analysis/analysis.go), so a guard with
   * failureLimit > 0 collects noise for as long as the pause lasts. Instead its measurement fails
   * at once (failureLimit 0) but only when the canary has been bad for `sustain`: every 1-minute
   * window ending in the last `sustain` (one point per scrape) was outside the threshold while the
   * stable side was not (docs/delivery.md "The guard").
   */
  guard: z.object({
    /** How long the canary must be bad, alone, before the guard fails it; a multiple of scrapeInterval. */
    sustain: duration,
    /**
     * Prometheus outage the guard rides out: Argo Rollouts retries an erroring query every 10 s
     * (analysis.DefaultErrorRetryInterval), so consecutiveErrorLimit = ceil(prometheusOutage / 10 s).
     * Longer, and the guard errors and the rollout aborts.
     */
    prometheusOutage: duration,
  }).strict(),
  /** Gate: Prometheus errors in a row (retried every 10 s) before the analysis errors out and the rollout aborts. */
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
  const worst = worstCaseAbortSeconds(a, a.gate.failureLimit);
  if (worst > durationSeconds(a.abortWithin)) {
    ctx.addIssue({
      code: 'custom', path: ['gate', 'failureLimit'], input: a.gate.failureLimit,
      message: `lets a bad canary run ${worst}s before the abort, more than abortWithin (${a.abortWithin}); lower failureLimit, interval or initialDelay`,
    });
  }
  const scrape = durationSeconds(a.scrapeInterval);
  const sustain = durationSeconds(a.guard.sustain);
  if (sustain % scrape !== 0) {
    ctx.addIssue({ code: 'custom', path: ['guard', 'sustain'], input: a.guard.sustain, message: `must be a multiple of scrapeInterval (${a.scrapeInterval}): the guard judges one 1-minute window per scrape` });
  }
  // An error burst inside one scrape interval spoils the windows of (window / scrape) - 1 points;
  // the guard must need more than that, or a single burst aborts a healthy canary.
  const minSustain = durationSeconds(a.window) + scrape;
  if (sustain < minSustain) {
    ctx.addIssue({
      code: 'custom', path: ['guard', 'sustain'], input: a.guard.sustain,
      message: `must be at least window + scrapeInterval (${minSustain}s): a shorter one lets a single error burst shorter than one scrape interval abort a healthy canary`,
    });
  }
  const guardWorst = worstCaseGuardAbortSeconds(a);
  if (guardWorst > durationSeconds(a.abortWithin)) {
    ctx.addIssue({
      code: 'custom', path: ['guard', 'sustain'], input: a.guard.sustain,
      message: `lets a bad canary run ${guardWorst}s before the guard aborts it, more than abortWithin (${a.abortWithin}); shorten sustain or interval`,
    });
  }
  if (durationSeconds(a.guard.prometheusOutage) < argoErrorRetrySeconds * (a.consecutiveErrorLimit + 1)) {
    ctx.addIssue({
      code: 'custom', path: ['guard', 'prometheusOutage'], input: a.guard.prometheusOutage,
      message: `must be at least what the gate rides out (${argoErrorRetrySeconds * (a.consecutiveErrorLimit + 1)}s): the guard runs through the approval pause, which is long enough to meet a Prometheus restart`,
    });
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

/** Argo Rollouts retries a measurement that errored after this long (analysis.DefaultErrorRetryInterval, v1.9.1). */
export const argoErrorRetrySeconds = 10;

/** Points (one per scrape) the guard needs bad in a row: `sustain / scrapeInterval`. */
export const guardPoints = (a: Pick<AnalysisSettings, 'guard' | 'scrapeInterval'>): number =>
  Math.round(durationSeconds(a.guard.sustain) / durationSeconds(a.scrapeInterval));

/** The guard's consecutiveErrorLimit: errors 10 s apart for `prometheusOutage` are ridden out. */
export const guardConsecutiveErrorLimit = (a: Pick<AnalysisSettings, 'guard'>): number =>
  Math.ceil(durationSeconds(a.guard.prometheusOutage) / argoErrorRetrySeconds);

/**
 * Worst case, in seconds, from the canary going bad to the guard's abort (docs/delivery.md "The
 * guard"): rate() has two samples with bad traffic after two scrapes (a series Traefik only now
 * creates), so the first bad point comes before 2 x scrapeInterval + one point step; the last of
 * the `sustain / scrapeInterval` points comes `sustain - scrapeInterval` later; the next
 * measurement at most one interval after it fails (failureLimit 0); then the controllers act.
 */
export function worstCaseGuardAbortSeconds(a: Pick<AnalysisSettings, 'guard' | 'scrapeInterval' | 'interval' | 'controllerLatency'>): number {
  return 2 * durationSeconds(a.scrapeInterval) + durationSeconds(a.guard.sustain) + durationSeconds(a.interval) + durationSeconds(a.controllerLatency);
}

/**
 * Synthetic traffic for the canary (docs/delivery.md "Synthetic traffic"): while the background
 * analysis runs, a Job sends requests to the canary through Traefik (a probe-only route, in-cluster
 * clients only), counted in the same Traefik series as users' requests. Where users' requests
 * reach minRequests the verdict is theirs alone; below it (nights, staging) the probe's requests
 * make up the evidence.
 */
const Probe = z.object({
  /**
   * Off where something else drives the canary's traffic: staging's canaries get the deploy
   * pipeline's synthetic traffic (load/lms.ts `canary`), and the node has no memory to spare
   * (`npm run budget`).
   */
  enabled: z.boolean(),
  /** Requests per second per app, spread over `paths`. */
  requestsPerSecond: z.number().gt(0, 'must be more than 0').max(50, 'must be at most 50 (the probe makes up evidence, it is not a load test)'),
  /** Paths the probe requests, per app: read-only, no login, representative of what users do. */
  paths: z.object({
    api: z.array(z.string().regex(/^\/[A-Za-z0-9/_.?=&-]*$/, 'must be an absolute URL path like /health/ready')).min(1),
    web: z.array(z.string().regex(/^\/[A-Za-z0-9/_.?=&-]*$/, 'must be an absolute URL path like /')).min(1),
  }).strict(),
  /**
   * Upper bound of one probe Job (activeDeadlineSeconds, and the script stops itself just before).
   * Argo Rollouts deletes it when the rollout completes or aborts; an approval pause longer than
   * this continues without synthetic traffic.
   */
  maxDuration: duration,
  image,
  resources,
  runAsUser: uid,
}).strict();

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
  probe: Probe,
  migration: Migration,
  ingress: Ingress,
  egress: z.array(Egress),
}).strict().superRefine((a, ctx) => {
  // The probe alone must reach minRequests in a window that lost one of its scrapes.
  const probeRequests = a.probe.requestsPerSecond * durationSeconds(a.analysis.window) * (1 - 1 / rateWindowScrapes);
  if (a.probe.enabled && probeRequests < a.analysis.minRequests) {
    ctx.addIssue({
      code: 'custom', path: ['probe', 'requestsPerSecond'], input: a.probe.requestsPerSecond,
      message: `sends ${probeRequests} requests in a window (analysis.window ${a.analysis.window}, one of its ${rateWindowScrapes} scrapes missed), fewer than analysis.minRequests (${a.analysis.minRequests}): a canary without users would get no verdict`,
    });
  }
  if (durationSeconds(a.migration.deadline) >= durationSeconds(a.lifecycle.progressDeadline)) {
    ctx.addIssue({
      code: 'custom', path: ['migration', 'deadline'], input: a.migration.deadline,
      message: `must be shorter than lifecycle.progressDeadline (${a.lifecycle.progressDeadline}) so a slow migration fails as a migration, not as a stuck rollout`,
    });
  }
});
export type AppsEnvironment = z.infer<typeof AppsEnvironment>;

// ---------------------------------------------------------------- values

/**
 * Images, pinned by tag (for humans) and digest (what the node pulls), each once: both environments
 * deploy the same pins. Ours are updated by the images workflow's pull request (npm run bump-image).
 */
const images = {
  lmsApi: { repository: 'ghcr.io/lms-platform/lms-api', tag: '1.0.0', digest: 'sha256:4f1c3e0d9b7a5c2e8f6d4b2a0c9e7d5b3a1f8e6c4d2b0a9e7c5d3b1f9e8d7c6b' },
  lmsWeb: { repository: 'ghcr.io/lms-platform/lms-web', tag: '1.0.0', digest: 'sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b' },
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
  // startSeconds: a NestJS process with its PostgreSQL pool and Redis connection (api) and nginx (web),
  // image on the node; the abort arithmetic depends on it (docs/delivery.md "Abort arithmetic").
  api: { image: images.lmsApi, port: 3000, metricsPort: 9464, runAsUser: 10001, logLevel: 'info', startSeconds: 8, database: { poolSize: 10, sslMode: 'require' } },
  web: {
    image: images.lmsWeb, port: 8080,
    metricsPort: 9113, runAsUser: 10101, probePath: '/healthz', startSeconds: 3, stubStatusPort: 8081,
    exporterImage: images.nginxExporter,
    exporterResources: { requests: { cpu: '5m', memory: '16Mi' }, limits: { cpu: '50m', memory: '32Mi' } },
    cspExtraSources: {},
  },
  lifecycle: {
    preStopSeconds: 10, terminationGracePeriodSeconds: 40, minReadySeconds: 10, progressDeadline: '10m',
    // 2 s: an abort at 50 % waits for new stable pods twice at 4-5 API pods (docs/delivery.md "Abort arithmetic").
    readinessProbePeriodSeconds: 2, startupProbePeriodSeconds: 2,
  },
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
    // Bad for 90 s (6 one-minute windows, one per scrape) while the stable side is fine: 165 s
    // worst case to the abort. A k3s upgrade or a Prometheus restart (WAL replay) during the
    // approval pause is ridden out up to 15 minutes (docs/delivery.md "The guard").
    guard: { sustain: '90s', prometheusOutage: '15m' },
    consecutiveErrorLimit: 4,
    controllerLatency: '15s',
    abortWithin: '3m',
  },
  probe: {
    enabled: true,
    // 4/s = 240 requests a 1-minute window (180 with a missed scrape), enough for minRequests
    // (100) on its own; a small share of what one pod serves.
    requestsPerSecond: 4,
    paths: {
      // Readiness checks PostgreSQL and Redis; add representative public read endpoints here.
      api: ['/health/ready', '/health/live'],
      web: ['/', '/healthz'],
    },
    maxDuration: '72h',
    image: pythonImage,
    // ~23 MB resident at 20 requests a second (python 3, TLS).
    resources: { requests: { cpu: '10m', memory: '24Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
    runAsUser: 65534,
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
    except: [...nonPublicRanges],
    ports: [443, 587],
    reason: 'third-party HTTPS APIs and SMTP submission (e-mail provider); never the cluster or private ranges',
  }],
} satisfies Partial<Omit<z.input<typeof AppsEnvironment>, 'api' | 'web'>> & {
  // Sizes (HPA bounds, resources) differ per environment, below.
  api: Omit<z.input<typeof Api>, 'hpa' | 'resources'>;
  web: Omit<z.input<typeof Web>, 'hpa' | 'resources'>;
};

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
    api: {
      ...shared.api,
      logLevel: 'debug',
      database: { poolSize: 5, sslMode: 'require' },
      // One pod (plus the canary's): staging proves a release works, not capacity (capacity:
      // production's HPA, the cluster HPA test). docs/architecture.md "Capacity".
      hpa: { min: 1, max: 1 },
      // Requests at a NestJS process's working set (~150-200 MiB, an idle staging pod at the low
      // end); limits leave room for spikes.
      resources: { requests: { cpu: '100m', memory: '160Mi' }, limits: { cpu: '500m', memory: '384Mi' } },
    },
    web: {
      ...shared.web,
      hpa: { min: 1, max: 1 },
      resources: { requests: { cpu: '25m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
    },
    // Staging's gate runs under the pipeline's synthetic load: three measurements are enough there and
    // keep merge-to-production inside 15 minutes (npm run lead-time).
    analysis: { ...shared.analysis, gate: { count: 3, failureLimit: 1, inconclusiveLimit: 1 } },
    // The pipeline drives staging's canaries (load/lms.ts `canary`, 40 requests/s); no probe Job.
    probe: { ...shared.probe, enabled: false },
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
    api: {
      ...shared.api,
      // At most 5 pods (+1 canary): the node's requests must stay within 80 % of allocatable
      // (docs/architecture.md "Capacity").
      hpa: { min: 2, max: 5 },
      // Requests at the top of a NestJS working set (~150-200 MiB) plus margin; the limit takes spikes.
      resources: { requests: { cpu: '250m', memory: '224Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    },
    web: {
      ...shared.web,
      // Static files, mostly answered from Cloudflare's cache: 3 Nginx pods are plenty.
      hpa: { min: 2, max: 3 },
      resources: { requests: { cpu: '50m', memory: '48Mi' }, limits: { cpu: '300m', memory: '96Mi' } },
    },
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
