/**
 * Config section: the background workers of one environment (issue 18). Schema and values.
 *
 * A worker is a plain autoscaled Deployment with no public traffic (a queue consumer, a report
 * generator): everything about it lives in its one entry, `environments.<env>.workers.<name>`, and
 * the build derives the rest from that entry (charts-ts/apps/worker.ts renders it; the connection
 * budget, the network policies of Redis and the worker, the capacity budget and the namespace quota
 * count it; docs/development.md "Adding a background worker").
 */
import { z } from 'zod';
import { hpa, image, poolSize, port, resources, sslMode, uid, type EnvironmentName } from '../fields.ts';
import { names } from '../../lib/names.ts';

/** Names already taken in an app namespace (objects and chart ids): a worker must not reuse one. */
export const reservedWorkerNames: readonly string[] = [
  names.apps.api, names.apps.web, `${names.apps.api}-migration`, names.redis.service,
  names.database.cluster, names.database.rwService, names.database.poolerService,
  'canary-probe', 'network-policies', 'ingress', 'default-deny', 'allow-dns',
];

export const Worker = z.object({
  /** Pinned by tag and digest, like every image. */
  image,
  /** Arguments to the image's entrypoint that start the worker, e.g. ["dist/worker.js"]. */
  args: z.array(z.string().min(1)).min(1).optional(),
  runAsUser: uid,
  /** Where the worker answers its health check and Prometheus scrapes it; nothing else reaches it. */
  port,
  /** Path that answers 200 while the worker can take jobs (readiness and liveness). */
  healthPath: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'must be an absolute URL path like /health').default('/health'),
  hpa,
  resources,
  /**
   * PostgreSQL, if the worker uses it: every pod's pool counts in the connection budget
   * (charts-ts/data/connection-budget.ts) at the HPA maximum plus the rolling update's extra pod.
   */
  database: z.object({
    poolSize,
    sslMode: sslMode.default('require'),
    /**
     * The worker needs session features (LISTEN/NOTIFY, session advisory locks, temporary tables),
     * which PgBouncer's transaction pooling breaks: it always connects to the primary's -rw Service,
     * and its pool must fit max_connections next to PgBouncer's server connections.
     */
    session: z.boolean().default(false),
  }).strict().optional(),
  /** Whether the worker uses Redis (BullMQ queues): Redis then admits it. */
  redis: z.boolean().default(false),
}).strict();
export type Worker = z.infer<typeof Worker>;

const workerNamePattern = /^[a-z]([a-z0-9-]{0,40}[a-z0-9])?$/;

/** Workers by name (the name of the Deployment and everything around it). */
export const WorkersEnvironment = z.record(z.string(), Worker).default({}).superRefine((workers, ctx) => {
  for (const name of Object.keys(workers)) {
    if (!workerNamePattern.test(name)) {
      ctx.addIssue({ code: 'custom', path: [name], input: name, message: `is named "${name}", which is not a worker name; use a short lower-case Kubernetes name like lms-reports` });
    } else if (reservedWorkerNames.includes(name)) {
      ctx.addIssue({ code: 'custom', path: [name], input: name, message: `is named "${name}", which is already used in the app namespace; pick a name other than ${reservedWorkerNames.join(', ')}` });
    }
  }
});
export type WorkersEnvironment = z.infer<typeof WorkersEnvironment>;

// ---------------------------------------------------------------- values

/** No background workers yet; add one per environment as `<name>: { image, port, hpa, resources, ... }`. */
export const workersValues: Record<EnvironmentName, z.input<typeof WorkersEnvironment>> = {
  staging: {},
  production: {},
};
