/**
 * Connection budget: can every API pod, at the worst moment, open its whole pool directly against
 * PostgreSQL and still leave room for everything else? If not, a PgBouncer Pooler goes in between
 * and the API connects to it (`apiDatabaseHost`).
 *
 * The worst moment is a canary release at the HPA maximum: the Rollout (charts-ts/apps/canary.ts)
 * uses traffic routing with dynamicStableScale, so stable + canary stay within spec.replicas + 1
 * (each side rounded up), and an abort briefly adds canary pods that still drain while the stable
 * set is back at full size. The budget allows hpa.max + ceil(hpa.max x canarySurgeShare) API pods
 * holding a pool at once. The pool size is the API's own setting (apps.api.database.poolSize).
 */
import { ConfigError } from '../config/load.ts';
import type { Environment } from '../config/schema.ts';
import { names } from '../lib/names.ts';

/**
 * Extra API pods during a canary, as a share of hpa.max (rounded up). Not the Rollout's maxSurge:
 * Argo Rollouts ignores maxSurge with traffic routing, and the Rollout sets none.
 */
export const canarySurgeShare = 0.25;

/** Connections other than the API's, always reserved (PostgreSQL and CloudNativePG defaults). */
export const reservedConnections = {
  /** superuser_reserved_connections (PostgreSQL default). */
  superuserReserved: 3,
  /** CloudNativePG instance manager and its metrics exporter (one per database it queries). */
  instanceManager: 3,
  /** The nightly base backup (barman-cloud-backup) and the logical dump (pg_dump). */
  backups: 2,
  /** The migration Job of a release. */
  migrations: 2,
  /** Operators' psql sessions during an incident. */
  operators: 2,
} as const;
export const reservedTotal = Object.values(reservedConnections).reduce((a, b) => a + b, 0);
/** Share of max_connections never planned for: leaks, retries, slow disconnects. */
export const headroomShare = 0.2;

export interface ConnectionBudget {
  /** API pods that may hold a pool at once (HPA max plus the canary surge). */
  readonly apiPodsWorstCase: number;
  /** Connections those pods open directly: pods x poolSize. */
  readonly apiConnections: number;
  /** What max_connections leaves for the API after headroom and reserved connections. */
  readonly available: number;
  readonly fits: boolean;
  /** Whether a Pooler is rendered (pooler.mode and fit). */
  readonly pooler: boolean;
  /** PgBouncer max_client_conn when pooled: every API connection plus 25 %. */
  readonly poolerMaxClientConn: number;
}

export function connectionBudget(env: Environment): ConnectionBudget {
  const db = env.database;
  const apiPodsWorstCase = env.api.hpa.max + Math.ceil(env.api.hpa.max * canarySurgeShare);
  const apiConnections = apiPodsWorstCase * env.apps.api.database.poolSize;
  const available = Math.floor(db.maxConnections * (1 - headroomShare)) - reservedTotal;
  const fits = apiConnections <= available;
  const pooler = db.pooler.mode === 'always' || (db.pooler.mode === 'auto' && !fits);
  return { apiPodsWorstCase, apiConnections, available, fits, pooler, poolerMaxClientConn: Math.ceil(apiConnections * 1.25) };
}

/**
 * Where the API connects: the Pooler's Service when the budget needs one, else the primary's `-rw`.
 * (Migrations keep using `-rw`: they need session features such as advisory locks.)
 */
export const apiDatabaseHost = (env: Environment): string =>
  (connectionBudget(env).pooler ? names.database.poolerService : names.database.rwService);

/** The budget, or a ConfigError that says which numbers to change. */
export function checkedConnectionBudget(env: Environment): ConnectionBudget {
  const b = connectionBudget(env);
  const at = `environments.${env.name}.database`;
  const problems: string[] = [];
  if (!b.fits && env.database.pooler.mode === 'never') {
    problems.push(
      `${at}.pooler.mode: "never" but the API needs ${b.apiConnections} connections (${b.apiPodsWorstCase} pods at HPA max incl. canary surge x apps.api.database.poolSize ${env.apps.api.database.poolSize}) ` +
      `and max_connections ${env.database.maxConnections} leaves ${b.available} (after ${headroomShare * 100}% headroom and ${reservedTotal} reserved); ` +
      'set pooler.mode to "auto", lower the pool size or api.hpa.max, or raise maxConnections',
    );
  }
  if (b.pooler) {
    const serverConns = env.database.pooler.defaultPoolSize * env.database.pooler.instances;
    if (serverConns > b.available) {
      problems.push(
        `${at}.pooler.defaultPoolSize: ${env.database.pooler.defaultPoolSize} x ${env.database.pooler.instances} PgBouncer instance(s) = ${serverConns} server connections, ` +
        `but max_connections ${env.database.maxConnections} leaves ${b.available}; lower defaultPoolSize or raise maxConnections`,
      );
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return b;
}
