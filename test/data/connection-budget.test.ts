/**
 * The connection budget is a rule, not a comment: API pods at the HPA maximum plus the canary surge,
 * times the API's pool size, must fit max_connections with headroom, or a PgBouncer Pooler is
 * rendered (and the API is pointed at it), or the config is rejected.
 */
import { describe, expect, it } from 'vitest';
import {
  apiDatabaseHost, canarySurgeShare, connectionBudget, headroomShare, reservedTotal,
} from '../../charts-ts/data/connection-budget.ts';
import { footprintAnnotation } from '../../charts-ts/lib/footprint.ts';
import { names } from '../../charts-ts/lib/names.ts';
import type { NetworkPolicyJson } from '../support/kinds.ts';
import { renderAll } from '../support/render.ts';
import { cnpgGroup, type CnpgPoolerJson, type PodMonitorJson } from './support/cnpg.ts';

const withApi = (env: 'staging' | 'production', hpaMax: number, poolSize: number, database: Record<string, unknown> = {}) => ({
  environments: {
    [env]: {
      apps: { api: { hpa: { max: hpaMax }, database: { poolSize } } },
      database,
    },
  },
});

describe('connection budget', () => {
  it('counts HPA max plus the canary surge, times the pool size, against max_connections with headroom', () => {
    const r = renderAll();
    for (const env of Object.values(r.config.environments)) {
      const b = connectionBudget(env);
      const pods = env.apps.api.hpa.max + Math.ceil(env.apps.api.hpa.max * canarySurgeShare);
      expect(b.apiPodsWorstCase).toBe(pods);
      expect(b.apiConnections).toBe(pods * env.apps.api.database.poolSize);
      expect(b.available).toBe(Math.floor(env.database.maxConnections * (1 - headroomShare)) - reservedTotal);
      expect(b.fits).toBe(b.apiConnections <= b.available);
    }
  });

  it('staging fits: no Pooler, the API connects to -rw', () => {
    const r = renderAll();
    const staging = r.config.environments.staging;
    expect(connectionBudget(staging).fits).toBe(true);
    expect(r.find('Pooler', { namespace: staging.namespace })).toHaveLength(0);
    expect(apiDatabaseHost(staging)).toBe(names.database.rwService);
  });

  it('a fleet that does not fit gets a PgBouncer Pooler sized from the budget, and the API is pointed at it', () => {
    // 10 pods (8 + 2 surge) x 10 = 100 connections; max_connections 50 leaves 40 - reserved.
    const r = renderAll(withApi('staging', 8, 10));
    const staging = r.config.environments.staging;
    const b = connectionBudget(staging);
    expect(b.fits).toBe(false);
    const pooler = r.getOf<CnpgPoolerJson>(cnpgGroup, 'Pooler', names.database.poolerService, staging.namespace);
    expect(pooler.spec.cluster.name).toBe(names.database.cluster);
    expect(pooler.spec.type).toBe('rw');
    expect(pooler.spec.pgbouncer.poolMode).toBe('transaction');
    expect(Number(pooler.spec.pgbouncer.parameters.max_client_conn)).toBeGreaterThanOrEqual(b.apiConnections);
    expect(Number(pooler.spec.pgbouncer.parameters.default_pool_size) * pooler.spec.instances).toBeLessThanOrEqual(b.available);
    expect(pooler.spec.pgbouncer.image).toMatch(/^ghcr\.io\/cloudnative-pg\/pgbouncer:[^@]+@sha256:[a-f0-9]{64}$/);
    const [pod] = JSON.parse(pooler.metadata.annotations![footprintAnnotation]) as unknown[];
    expect(pod).toMatchObject({ replicas: staging.database.pooler.instances, ...staging.database.pooler.resources });
    expect(r.getOf<PodMonitorJson>('monitoring.coreos.com', 'PodMonitor', names.database.poolerService, staging.namespace).spec.selector.matchLabels)
      .toEqual({ 'cnpg.io/poolerName': names.database.poolerService });
    const np = r.getOf<NetworkPolicyJson>('networking.k8s.io', 'NetworkPolicy', names.database.poolerService, staging.namespace);
    expect(np.spec.ingress![0]).toEqual({ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 5432 }] });
    expect(np.spec.egress).toContainEqual({ to: [{ podSelector: { matchLabels: { 'cnpg.io/cluster': names.database.cluster } } }], ports: [{ protocol: 'TCP', port: 5432 }] });
    expect(apiDatabaseHost(staging)).toBe(names.database.poolerService);
  });

  it('production at its configured HPA maximum needs the Pooler, and has it', () => {
    const r = renderAll();
    const prod = r.config.environments.production;
    expect(connectionBudget(prod).fits).toBe(false);
    expect(r.find('Pooler', { namespace: prod.namespace })).toHaveLength(1);
  });

  it('every container CloudNativePG puts in the pooler pod has requests and limits (its bootstrap-controller init container only gets what the template names)', () => {
    // Regression (npm run test:e2e): CNPG 1.30 copies only the template's pod-level resources to
    // the bootstrap-controller init container; without an entry for it, lms-resources-required
    // and the quota refuse the Deployment the operator creates, and production has no pooler.
    const r = renderAll();
    const pooler = r.findOf<CnpgPoolerJson>(cnpgGroup, 'Pooler', { namespace: r.config.environments.production.namespace })[0];
    const init = pooler.spec.template!.spec.initContainers?.find((c: { name: string }) => c.name === 'bootstrap-controller');
    const main = pooler.spec.template!.spec.containers.find((c: { name: string }) => c.name === 'pgbouncer');
    expect(init?.resources).toEqual(main!.resources);
    expect(Object.keys(init!.resources!.requests!).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(init!.resources!.limits!).sort()).toEqual(['cpu', 'memory']);
  });

  it('pooler.mode "always" adds it even when the API fits; "never" with a misfit is a config error naming the fix', () => {
    const always = renderAll({ environments: { staging: { database: { pooler: { mode: 'always' } } } } });
    expect(always.find('Pooler', { namespace: 'lms-staging' })).toHaveLength(1);
    expect(() => renderAll(withApi('staging', 8, 10, { pooler: { mode: 'never' } })))
      .toThrow(/config: environments\.staging\.database\.pooler\.mode: "never" but the API needs 100 connections \(10 pods .* x apps\.api\.database\.poolSize 10\).*set pooler\.mode to "auto"/);
  });

  it('rejects a pooler whose server connections exceed what max_connections leaves', () => {
    expect(() => renderAll(withApi('staging', 8, 10, { pooler: { defaultPoolSize: 100 } })))
      .toThrow(/environments\.staging\.database\.pooler\.defaultPoolSize: 100 x 1 PgBouncer instance\(s\) = 100 server connections/);
  });
});
