/**
 * App workloads of one environment (issue: LMS workloads): one chart per concern, written to
 * dist/apps/<environment>/<concern>.yaml. See docs/delivery.md.
 */
import type { App } from 'cdk8s';
import { Construct } from 'constructs';
import type { Config, Environment } from '../config/schema.ts';
import { ApiChart } from './api.ts';
import { IngressChart } from './ingress.ts';
import { NetworkPoliciesChart } from './network-policies.ts';
import { CanaryProbeChart } from './probe.ts';
import { RedisChart } from './redis.ts';
import { validateCanarySteps } from './steps.ts';
import { WebChart } from './web.ts';
import { WorkerChart } from './worker.ts';

export function addAppCharts(app: App, config: Config, env: Environment): void {
  validateCanarySteps(env);
  // One scope per environment, so chart ids (= file names) repeat across environments.
  const scope = new Construct(app, `apps-${env.name}`);
  new NetworkPoliciesChart(scope, 'network-policies', config, env);
  new RedisChart(scope, 'redis', config, env);
  new ApiChart(scope, 'lms-api', config, env);
  new WebChart(scope, 'lms-web', config, env);
  new IngressChart(scope, 'ingress', config, env);
  if (env.apps.probe.enabled) new CanaryProbeChart(scope, 'canary-probe', config, env);
  // Background workers: one chart each, from its config entry (dist/apps/<env>/<name>.yaml).
  for (const [name, worker] of Object.entries(env.workers)) new WorkerChart(scope, name, config, env, name, worker);
}
