/**
 * Connection budget: can every PostgreSQL client of the namespace, at the worst moment, open its
 * whole pool directly against PostgreSQL and still leave room for everything else? If not, a
 * PgBouncer Pooler goes in between and the clients connect to it (`apiDatabaseHost`).
 *
 * The clients are the workloads of charts-ts/apps/workload-list.ts that use PostgreSQL (the API and
 * any worker of `environments.<env>.workers`), each at its worst case: the API at the HPA maximum
 * plus the canary surge (hpa.max + ceil(hpa.max x canarySurgeShare) pods holding a pool at once), a
 * worker at its HPA maximum plus its rolling update's extra pod; each pod holds its own pool size.
 * A client that needs session features (`database.session`) never goes through PgBouncer: its
 * connections must fit next to PgBouncer's server connections, or the config is refused.
 */
import { ConfigError } from '../config/load.ts';
import type { Environment } from '../config/schema.ts';
import { names } from '../lib/names.ts';
import { appWorkloads, canarySurgeShare, type AppWorkload, type PostgresUse } from '../apps/workload-list.ts';

export { canarySurgeShare };

/** Connections other than the clients' pools, always reserved (PostgreSQL and CloudNativePG defaults). */
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

/** One client workload's share of the budget. */
export interface ConnectionClient {
  readonly workload: AppWorkload;
  readonly postgres: PostgresUse;
  /** worstCasePods x poolSize. */
  readonly connections: number;
}

export interface ConnectionBudget {
  /** API pods that may hold a pool at once (HPA max plus the canary surge). */
  readonly apiPodsWorstCase: number;
  /** Connections those pods open directly: pods x poolSize. */
  readonly apiConnections: number;
  /** Every workload that uses PostgreSQL, at its worst case. */
  readonly clients: ConnectionClient[];
  /** All clients' connections together. */
  readonly connections: number;
  /** Connections of the clients that need a session (always straight to the primary). */
  readonly sessionConnections: number;
  /** What max_connections leaves for the clients after headroom and reserved connections. */
  readonly available: number;
  readonly fits: boolean;
  /** Whether a Pooler is rendered (pooler.mode and fit). */
  readonly pooler: boolean;
  /** PgBouncer max_client_conn when pooled: every pooled client connection plus 25 %. */
  readonly poolerMaxClientConn: number;
}

export function connectionBudget(env: Environment): ConnectionBudget {
  const db = env.database;
  const clients = appWorkloads(env).flatMap((workload): ConnectionClient[] =>
    (workload.postgres ? [{ workload, postgres: workload.postgres, connections: workload.worstCasePods * workload.postgres.poolSize }] : []));
  const sum = (list: ConnectionClient[]) => list.reduce((n, c) => n + c.connections, 0);
  const api = clients.find((c) => c.workload.name === names.apps.api);
  const connections = sum(clients);
  const sessionConnections = sum(clients.filter((c) => c.postgres.session));
  const available = Math.floor(db.maxConnections * (1 - headroomShare)) - reservedTotal;
  const fits = connections <= available;
  const pooler = db.pooler.mode === 'always' || (db.pooler.mode === 'auto' && !fits);
  return {
    apiPodsWorstCase: api?.workload.worstCasePods ?? 0,
    apiConnections: api?.connections ?? 0,
    clients,
    connections,
    sessionConnections,
    available,
    fits,
    pooler,
    poolerMaxClientConn: Math.ceil((connections - sessionConnections) * 1.25),
  };
}

/**
 * Where the API (and every client without `session`) connects: the Pooler's Service when the
 * budget needs one, else the primary's `-rw`. (Migrations keep using `-rw`: they need session
 * features such as advisory locks.)
 */
export const apiDatabaseHost = (env: Environment): string =>
  (connectionBudget(env).pooler ? names.database.poolerService : names.database.rwService);

/** Where a client connects: `-rw` when it needs a session, else as the API does. */
export const databaseHost = (env: Environment, postgres: Pick<PostgresUse, 'session'>): string =>
  (postgres.session ? names.database.rwService : apiDatabaseHost(env));

const clientText = (c: ConnectionClient): string =>
  `${c.workload.worstCasePods} pods ${c.workload.worstCaseRule} x ${c.postgres.poolSizeField} ${c.postgres.poolSize}`;

const titles = (clients: ConnectionClient[]): string => {
  const t = clients.map((c) => c.workload.title);
  return t.length <= 1 ? t.join('') : `${t.slice(0, -1).join(', ')} and ${t[t.length - 1]}`;
};

/** The budget, or a ConfigError that says which numbers to change. */
export function checkedConnectionBudget(env: Environment): ConnectionBudget {
  const b = connectionBudget(env);
  const at = `environments.${env.name}.database`;
  const problems: string[] = [];
  const reservedText = `after ${headroomShare * 100}% headroom and ${reservedTotal} reserved`;
  if (!b.fits && env.database.pooler.mode === 'never') {
    const only = b.clients.length === 1 ? b.clients[0] : undefined;
    const needs = only
      ? `${titles(b.clients)} needs ${b.connections} connections (${clientText(only)})`
      : `${titles(b.clients)} need ${b.connections} connections (${b.clients.map((c) => `${c.workload.title}: ${clientText(c)} = ${c.connections}`).join('; ')})`;
    const lower = b.clients.length === 1 && only?.workload.name === names.apps.api
      ? 'lower the pool size or apps.api.hpa.max'
      : `lower a pool size (${b.clients.map((c) => c.postgres.poolSizeField).join(', ')}) or an HPA maximum`;
    problems.push(
      `${at}.pooler.mode: "never" but ${needs} ` +
      `and max_connections ${env.database.maxConnections} leaves ${b.available} (${reservedText}); ` +
      `set pooler.mode to "auto", ${lower}, or raise maxConnections`,
    );
  }
  const serverConns = b.pooler ? env.database.pooler.defaultPoolSize * env.database.pooler.instances : 0;
  if (b.pooler && b.sessionConnections > 0 && b.sessionConnections + serverConns > b.available) {
    // Session clients always connect straight to the primary: no pooler can make room for them.
    // (Without a pooler every client fits, or pooler.mode "never" was reported above.)
    for (const c of b.clients.filter((x) => x.postgres.session)) {
      const others = b.sessionConnections - c.connections;
      problems.push(
        `environments.${env.name}.${c.postgres.poolSizeField}: ${clientText(c)} = ${c.connections} connections straight to PostgreSQL ` +
        `(database.session: PgBouncer's transaction pooling would break them)` +
        `${others ? `, plus ${others} of the other session clients` : ''}${serverConns ? `, plus ${serverConns} PgBouncer server connections` : ''}, ` +
        `but max_connections ${env.database.maxConnections} leaves ${b.available} (${reservedText}); ` +
        `lower ${c.workload.field}.database.poolSize or ${c.workload.field}.hpa.max, raise ${at}.maxConnections, or set ${c.workload.field}.database.session to false to connect through PgBouncer`,
      );
    }
  } else if (b.pooler && serverConns > b.available - b.sessionConnections) {
    problems.push(
      `${at}.pooler.defaultPoolSize: ${env.database.pooler.defaultPoolSize} x ${env.database.pooler.instances} PgBouncer instance(s) = ${serverConns} server connections, ` +
      `but max_connections ${env.database.maxConnections} leaves ${b.available}; lower defaultPoolSize or raise maxConnections`,
    );
  }
  if (problems.length) throw new ConfigError(problems);
  return b;
}
