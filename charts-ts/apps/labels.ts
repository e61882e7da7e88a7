/** Pod labels of the app workloads; the NetworkPolicies and Services select on the same ones. */
import { names } from '../lib/names.ts';

const nameLabel = 'app.kubernetes.io/name';

/** Selector labels of each kind of pod in an app namespace. */
export const podSelectors = {
  api: { [nameLabel]: names.apps.api },
  web: { [nameLabel]: names.apps.web },
  redis: { [nameLabel]: names.redis.service },
  /** The migration Job run by the API Rollout's first analysis step (not an API pod: the HPA must not count it). */
  migration: { [nameLabel]: `${names.apps.api}-migration` },
  /** CloudNativePG instance pods of the database cluster (labels set by the operator). */
  database: { 'cnpg.io/cluster': names.database.cluster },
  /** PgBouncer pods of the data layer's Pooler (when the connection budget needs one). */
  pooler: { 'cnpg.io/poolerName': names.database.poolerService },
} as const;

/** Full pod template labels: the selector plus the common app.kubernetes.io labels. */
export const podLabels = (selector: Record<string, string>, component: string): Record<string, string> => ({
  ...selector,
  'app.kubernetes.io/part-of': 'lms',
  'app.kubernetes.io/component': component,
});
