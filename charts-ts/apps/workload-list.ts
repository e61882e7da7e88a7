/**
 * The workloads of one app namespace, as one list: what each one is, how many pods it can run at
 * its worst moment, and which shared services it uses. Every derived budget and every peer's
 * policy reads this list instead of naming workloads, so a new workload (a config entry under
 * `environments.<env>.workers`) is counted or admitted without another chart being edited:
 *
 * - the connection budget (charts-ts/data/connection-budget.ts) adds up the PostgreSQL pools;
 * - Redis admits exactly the workloads that use it (charts-ts/apps/network-policies.ts);
 * - the capacity budget and the namespace quota count the rendered pods (charts-ts/lib/capacity.ts).
 *
 * The migration Job is not a client here: its connections are reserved
 * (connection-budget.ts `reservedConnections.migrations`).
 */
import type { Environment } from '../config/schema.ts';
import { names } from '../lib/names.ts';
import { podSelectors } from './labels.ts';

/**
 * Extra API pods during a canary, as a share of hpa.max (rounded up). Not the Rollout's maxSurge:
 * Argo Rollouts ignores maxSurge with traffic routing, and the Rollout sets none. The Rollout uses
 * traffic routing with dynamicStableScale, so stable + canary stay within spec.replicas + 1 (each
 * side rounded up), and an abort briefly adds canary pods that still drain while the stable set is
 * back at full size.
 */
export const canarySurgeShare = 0.25;
/** Extra pods of a worker Deployment's rolling update (its `maxSurge`; `maxUnavailable` is 0). */
export const workerRolloutSurge = 1;

export interface PostgresUse {
  /** Connections each pod keeps open. */
  readonly poolSize: number;
  /** Where poolSize is set, relative to `environments.<env>` (for error messages). */
  readonly poolSizeField: string;
  /** Needs session features: always straight to the primary, never through PgBouncer. */
  readonly session: boolean;
}

export interface AppWorkload {
  /** Object name (Rollout, Deployment, StatefulSet). */
  readonly name: string;
  /** How messages name it: "the API", "lms-reports". */
  readonly title: string;
  /** Labels that select exactly its pods (NetworkPolicy peers). */
  readonly selector: Readonly<Record<string, string>>;
  /** Where its settings are, relative to `environments.<env>`. */
  readonly field: string;
  /** Pods that can run at once at the worst moment, and why that many. */
  readonly worstCasePods: number;
  readonly worstCaseRule: string;
  readonly postgres?: PostgresUse;
  readonly redis: boolean;
}

/** Selector labels of a worker's pods. */
export const workerSelector = (name: string): Record<string, string> => ({ 'app.kubernetes.io/name': name });

/** Every workload of the environment's app namespace, the workers of its config included. */
export function appWorkloads(env: Environment): AppWorkload[] {
  const canaried = (max: number) => max + Math.ceil(max * canarySurgeShare);
  return [
    {
      name: names.apps.api,
      title: 'the API',
      selector: podSelectors.api,
      field: 'apps.api',
      worstCasePods: canaried(env.apps.api.hpa.max),
      worstCaseRule: 'at HPA max incl. canary surge',
      postgres: { poolSize: env.apps.api.database.poolSize, poolSizeField: 'apps.api.database.poolSize', session: false },
      redis: true,
    },
    {
      name: names.apps.web,
      title: 'the web front end',
      selector: podSelectors.web,
      field: 'apps.web',
      worstCasePods: canaried(env.apps.web.hpa.max),
      worstCaseRule: 'at HPA max incl. canary surge',
      redis: false,
    },
    {
      name: names.redis.service,
      title: 'Redis',
      selector: podSelectors.redis,
      field: 'apps.redis',
      worstCasePods: 1,
      worstCaseRule: 'one instance',
      redis: false,
    },
    ...Object.entries(env.workers).map(([name, w]): AppWorkload => ({
      name,
      title: name,
      selector: workerSelector(name),
      field: `workers.${name}`,
      worstCasePods: w.hpa.max + workerRolloutSurge,
      worstCaseRule: `at HPA max + ${workerRolloutSurge} rolling-update surge`,
      ...(w.database ? { postgres: { poolSize: w.database.poolSize, poolSizeField: `workers.${name}.database.poolSize`, session: w.database.session } } : {}),
      redis: w.redis,
    })),
  ];
}
