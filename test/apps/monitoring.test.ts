/**
 * Metrics of the apps: a ServiceMonitor each for api, web and redis, pointed at a Service that
 * selects every pod (stable and canary), on a port the pods really expose, never the public one.
 */
import type { V1ConfigMap, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { canaryServiceNames } from '../../charts-ts/apps/metrics.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { selectorMatches } from '../../charts-ts/lib/workloads.ts';
import type { MonitorJson, RolloutJson } from '../support/kinds.ts';
import { environments, rendered } from './support.ts';

const r = rendered();

describe('service monitors', () => {
  it('scrape api and web on their metrics ports across stable and canary pods, keeping the track label', () => {
    for (const env of environments(r)) {
      for (const [app, port] of [[names.apps.api, env.apps.api.metricsPort], [names.apps.web, env.apps.web.metricsPort]] as const) {
        const sm = r.getOf<MonitorJson>('monitoring.coreos.com', 'ServiceMonitor', app, env.namespace);
        const services = r.findOf<V1Service>('', 'Service', { namespace: env.namespace }).filter((s) => selectorMatches(sm.spec.selector, s.metadata.labels));
        expect(services.map((s) => s.metadata.name)).toEqual([canaryServiceNames(app).metrics]);
        const svc = services[0];
        const rollout = r.getOf<RolloutJson>('argoproj.io', 'Rollout', app, env.namespace);
        // The metrics Service selects by the Rollout's selector only: no revision hash, so both sides.
        expect(svc.spec!.selector).toEqual(rollout.spec.selector.matchLabels);
        expect(svc.spec!.ports).toEqual([{ name: 'metrics', port, targetPort: 'metrics', protocol: 'TCP' }]);
        const containerPorts = rollout.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
        expect(containerPorts).toContainEqual({ name: 'metrics', containerPort: port, protocol: 'TCP' });
        expect(port).not.toBe(app === names.apps.api ? env.apps.api.port : env.apps.web.port);
        expect(sm.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }]);
        expect(sm.spec.podTargetLabels).toEqual(['lms.dev/track']);
      }
      expect(r.get('ServiceMonitor', names.redis.service, env.namespace)).toBeDefined();
    }
  });

  it('the API exports traces to Tempo over OTLP', () => {
    for (const env of environments(r)) {
      const cm = r.getOf<V1ConfigMap>('', 'ConfigMap', `${names.apps.api}-config`, env.namespace).data!;
      expect(cm.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(`http://${names.monitoring.tempo.host}:${names.monitoring.tempo.otlpHttpPort}`);
      expect(cm.OTEL_SERVICE_NAME).toBe(names.apps.api);
      expect(cm.OTEL_RESOURCE_ATTRIBUTES).toContain(`deployment.environment.name=${env.name}`);
    }
  });
});
