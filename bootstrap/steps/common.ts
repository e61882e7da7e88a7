/** Shared by the steps: the Contabo client, finding our instance, and the server's addresses. */
import type { Config } from '../../charts-ts/config/schema.ts';
import { BootstrapError, type StepContext } from '../lib/context.ts';
import { contaboCredentials, requireCredentials } from '../lib/credentials.ts';
import type { PlanItem } from '../lib/plan.ts';
import { ContaboClient, contaboCalls, contaboCredentialsFrom, contaboEndpoints, contaboPlan, type ContaboInstance } from '../providers/contabo.ts';

export interface Step {
  readonly name: string;
  readonly summary: string;
  plan(ctx: StepContext): PlanItem[];
  run(ctx: StepContext): Promise<void>;
}

export const contaboClient = (ctx: StepContext, step: string): ContaboClient =>
  new ContaboClient(ctx, contaboCredentialsFrom(requireCredentials(ctx, step, contaboCredentials)));

/** The instance named after cluster.node.hostname, checked against the configured region. */
export async function findOwnInstance(client: ContaboClient, config: Config): Promise<ContaboInstance | undefined> {
  const name = config.cluster.node.hostname;
  const found = await client.findInstances(name);
  if (found.length > 1) {
    throw new BootstrapError(`Contabo has ${found.length} instances named ${name} (ids ${found.map((i) => i.instanceId).join(', ')})`, 'rename or cancel the extra ones in the control panel; the bootstrap finds its server by display name');
  }
  const inst = found[0];
  const region = config.cluster.bootstrap.contabo.region;
  if (inst && inst.region !== region) {
    throw new BootstrapError(`instance ${name} (${inst.instanceId}) is in region ${inst.region}, but bootstrap.contabo.region is ${region}`, `set bootstrap.contabo.region to ${inst.region}, or rename that instance if it is not this cluster's server`);
  }
  return inst;
}

export const instanceLookupPlan = (ctx: StepContext): PlanItem =>
  contaboPlan(contaboEndpoints(ctx.env), contaboCalls.listInstances(ctx.config.cluster.node.hostname));

export interface ServerAddress { ipv4: string; ipv6?: string }

/**
 * Where the server is: --host / LMS_HOST when given (no API call), otherwise the instance's addresses
 * from the Contabo API.
 */
export async function serverAddress(ctx: StepContext, step: string): Promise<ServerAddress> {
  const given = ctx.options.host ?? ctx.env.LMS_HOST;
  if (given) return { ipv4: given, ipv6: ctx.env.LMS_HOST_IPV6 };
  if (!ctx.env.CONTABO_CLIENT_ID) {
    throw new BootstrapError(`${step}: no server address`, 'pass --host <IPv4> (or set LMS_HOST), or set the CONTABO_* credentials so the step can look the instance up');
  }
  const inst = await findOwnInstance(contaboClient(ctx, step), ctx.config);
  const ipv4 = inst?.ipConfig?.v4?.ip;
  if (!inst || !ipv4) {
    throw new BootstrapError(`${step}: no running instance named ${ctx.config.cluster.node.hostname} with an IPv4 address`, 'run `npm run bootstrap -- provision` first, or pass --host <IPv4>');
  }
  return { ipv4, ipv6: inst.ipConfig?.v6?.ip || undefined };
}

export const hostPlanNote = (ctx: StepContext): PlanItem =>
  (ctx.options.host ?? ctx.env.LMS_HOST)
    ? { kind: 'note', text: `server: ${ctx.options.host ?? ctx.env.LMS_HOST} (given)` }
    : { ...(instanceLookupPlan(ctx) as Extract<PlanItem, { kind: 'http' }>), when: 'server address: looked up by display name (pass --host to skip)' };
