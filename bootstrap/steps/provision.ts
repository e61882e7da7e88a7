/**
 * provision: the Contabo VPS (created, or reinstalled with --reinstall) with the generated cloud-init
 * user-data, the Object Storage subscription in the configured region, and the backup bucket.
 * Idempotent: an existing instance is left alone unless --reinstall; an existing storage/bucket is kept.
 */
import type { Config } from '../../charts-ts/config/schema.ts';
import { BootstrapError, type StepContext } from '../lib/context.ts';
import { objectStorageCredentials, requireCredentials } from '../lib/credentials.ts';
import { HttpServerError } from '../lib/http.ts';
import type { PlanItem } from '../lib/plan.ts';
import { waitFor } from '../lib/wait.ts';
import { userData } from '../host/cloud-init.ts';
import {
  contaboCalls, contaboEndpoints, contaboPlan, contaboTokenPlan, objectStorageRegionName,
  type ContaboClient, type ContaboInstance, type CreateInstanceBody, type CreateObjectStorageBody,
} from '../providers/contabo.ts';
import { ensureBucket, s3Client, s3Plan } from '../providers/s3.ts';
import { contaboClient, findOwnInstance, type Step } from './common.ts';

const instanceBody = (config: Config, imageId: string): CreateInstanceBody => {
  const c = config.cluster.bootstrap.contabo;
  return {
    imageId,
    productId: c.productId,
    region: c.region,
    userData: userData(config),
    displayName: config.cluster.node.hostname,
    period: c.periodMonths,
    // Contabo's default user is replaced by cloud-init's admin user; root login is disabled there.
    defaultUser: 'root',
  };
};

const storageBody = (config: Config): CreateObjectStorageBody => {
  const o = config.cluster.bootstrap.contabo.objectStorage;
  return {
    region: objectStorageRegionName[config.cluster.objectStorage.region]!,
    totalPurchasedSpaceTB: o.sizeTB,
    displayName: `${config.cluster.node.hostname}-backups`,
    autoScaling: { state: o.autoScalingLimitTB > 0 ? 'enabled' : 'disabled', sizeLimitTB: o.autoScalingLimitTB },
  };
};

const INSTANCE_TIMEOUT_MS = 30 * 60_000;

async function waitRunning(ctx: StepContext, client: ContaboClient, id: number): Promise<ContaboInstance> {
  return waitFor(ctx, {
    what: `instance ${id} to be running`,
    timeoutMs: INSTANCE_TIMEOUT_MS,
    fix: 'check the instance in the Contabo control panel; run provision again once it is running',
    check: async () => {
      const i = await client.getInstance(id);
      if (!i) return { done: false, status: 'not listed yet' };
      if (i.status === 'error' || i.status === 'product_not_available' || i.status === 'verification_required' || i.status === 'pending_payment') {
        throw new BootstrapError(`instance ${id} is in status ${i.status}${i.errorMessage ? `: ${i.errorMessage}` : ''}`, 'resolve it in the Contabo control panel (payment, verification or support), then run provision again');
      }
      return i.status === 'running' ? { done: true, value: i } : { done: false, status: i.status };
    },
  });
}

/** The node's shape must match what the capacity budget assumes (cluster.node). */
function checkShape(config: Config, i: ContaboInstance): void {
  const n = config.cluster.node;
  const gib = (mb: number) => Math.round(mb / 1024);
  if (i.cpuCores !== n.cpu || gib(i.ramMb) !== n.memoryGiB || gib(i.diskMb) < n.diskGiB) {
    throw new BootstrapError(
      `instance ${i.instanceId} (${i.productId}) has ${i.cpuCores} vCPU, ${gib(i.ramMb)} GiB RAM, ${gib(i.diskMb)} GiB disk; cluster.node says ${n.cpu} vCPU, ${n.memoryGiB} GiB, ${n.diskGiB} GiB`,
      'fix bootstrap.contabo.productId or cluster.node (the capacity budget uses cluster.node)',
    );
  }
}

/** Creates the instance; a 5xx on the POST is followed by a lookup before any retry (no double order). */
async function createInstance(ctx: StepContext, client: ContaboClient, body: CreateInstanceBody): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const created = await client.createInstance(body);
      ctx.out.info(`✓ ordered instance ${created.instanceId} (${body.productId}, ${body.region})`);
      return created.instanceId;
    } catch (e) {
      if (!(e instanceof HttpServerError) || attempt >= ctx.timing.maxAttempts) throw e;
      ctx.out.info(`  … Contabo answered ${e.status} to the order; checking whether the instance was created before retrying`);
      const existing = await findOwnInstance(client, ctx.config);
      if (existing) return existing.instanceId;
      await ctx.sleep(ctx.timing.retryBaseMs * 2 ** (attempt - 1));
    }
  }
}

async function ensureObjectStorage(ctx: StepContext, client: ContaboClient): Promise<void> {
  const cfg = ctx.config.cluster.objectStorage;
  const region = objectStorageRegionName[cfg.region]!;
  const host = new URL(cfg.endpoint).host;
  const all = await client.listObjectStorages();
  const usable = all.filter((s) => s.status !== 'CANCELLED');
  const inRegion = usable.find((s) => s.region === region);
  if (inRegion) {
    const s3Host = inRegion.s3Url.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (s3Host !== host) {
      throw new BootstrapError(`the ${region} object storage (${inRegion.objectStorageId}) serves ${inRegion.s3Url}, but cluster.objectStorage.endpoint is ${cfg.endpoint}`, `set cluster.objectStorage.endpoint to https://${s3Host} (and .region to match)`);
    }
    ctx.out.info(`✓ object storage ${inRegion.objectStorageId} in ${region} exists (${inRegion.s3Url}, ${inRegion.status})`);
    return;
  }
  if (usable.length) {
    ctx.out.warn(`object storage exists only in ${usable.map((s) => s.region).join(', ')}; ordering one in ${region} as cluster.objectStorage.region (${cfg.region}) says`);
  }
  const body = storageBody(ctx.config);
  let created;
  for (let attempt = 1; ; attempt++) {
    try {
      created = await client.createObjectStorage(body);
      break;
    } catch (e) {
      if (!(e instanceof HttpServerError) || attempt >= ctx.timing.maxAttempts) throw e;
      const again = (await client.listObjectStorages()).find((s) => s.region === region && s.status !== 'CANCELLED');
      if (again) { created = again; break; }
      await ctx.sleep(ctx.timing.retryBaseMs * 2 ** (attempt - 1));
    }
  }
  ctx.out.info(`✓ ordered object storage ${created.objectStorageId} in ${region} (${body.totalPurchasedSpaceTB} TB)`);
  await waitFor(ctx, {
    what: `object storage ${created.objectStorageId} to be ready`,
    timeoutMs: 30 * 60_000,
    fix: 'check the object storage in the Contabo control panel, then run provision again',
    check: async () => {
      const s = (await client.listObjectStorages()).find((x) => x.objectStorageId === created.objectStorageId);
      return s?.status === 'READY' ? { done: true, value: s } : { done: false, status: s?.status ?? 'not listed yet' };
    },
  });
}

export const provision: Step = {
  name: 'provision',
  summary: 'Contabo VPS with cloud-init user-data (create, or --reinstall), object storage, backup bucket',

  plan(ctx) {
    const ep = contaboEndpoints(ctx.env);
    const c = ctx.config.cluster.bootstrap.contabo;
    const body = instanceBody(ctx.config, `<imageId of ${c.imageName}>`);
    const items: PlanItem[] = [
      contaboTokenPlan(ep),
      contaboPlan(ep, contaboCalls.listImages(c.imageName)),
      contaboPlan(ep, contaboCalls.listInstances(ctx.config.cluster.node.hostname)),
      contaboPlan(ep, contaboCalls.createInstance(body), `no instance named ${ctx.config.cluster.node.hostname}`),
    ];
    if (ctx.options.reinstall) {
      items.push(contaboPlan(ep, contaboCalls.reinstallInstance('<instanceId>', { imageId: body.imageId, userData: body.userData, defaultUser: 'root' }), 'instance exists (--reinstall: its disk is wiped)'));
    } else {
      items.push({ kind: 'note', text: 'an existing instance is kept as it is (pass --reinstall to rebuild it from the user-data)' });
    }
    items.push(
      { kind: 'wait', what: 'instance status "running" (polls GET /v1/compute/instances/<id>)' },
      contaboPlan(ep, contaboCalls.listObjectStorages()),
      contaboPlan(ep, contaboCalls.createObjectStorage(storageBody(ctx.config)), `no object storage in ${objectStorageRegionName[ctx.config.cluster.objectStorage.region]}`),
      s3Plan.headBucket(ctx.config),
      s3Plan.createBucket(ctx.config),
    );
    return items;
  },

  async run(ctx) {
    const config = ctx.config;
    const c = config.cluster.bootstrap.contabo;
    const client = contaboClient(ctx, 'provision');
    const s3creds = requireCredentials(ctx, 'provision', objectStorageCredentials);

    const images = await client.findImages(c.imageName);
    if (!images[0]) {
      throw new BootstrapError(`Contabo has no standard image named ${c.imageName}`, 'set bootstrap.contabo.imageName to a name listed by GET /v1/compute/images?standardImage=true (e.g. ubuntu-24.04)');
    }
    const body = instanceBody(config, images[0].imageId);
    let inst = await findOwnInstance(client, config);
    let id: number;
    if (!inst) {
      id = await createInstance(ctx, client, body);
    } else if (ctx.options.reinstall) {
      ctx.out.info(`reinstalling instance ${inst.instanceId} with ${c.imageName} and fresh user-data (its disk is wiped)`);
      await client.reinstallInstance(inst.instanceId, { imageId: body.imageId, userData: body.userData, defaultUser: body.defaultUser });
      id = inst.instanceId;
      // The status flips to "installing" shortly after the request; do not mistake the old "running".
      await waitFor(ctx, {
        what: `instance ${id} to start reinstalling`, timeoutMs: 5 * 60_000, fix: 'check the instance in the control panel',
        check: async () => { const i = await client.getInstance(id); return i && i.status !== 'running' ? { done: true, value: i } : { done: false, status: i?.status ?? 'unknown' }; },
      });
    } else {
      id = inst.instanceId;
      if (inst.productId !== c.productId) ctx.out.warn(`instance ${id} runs product ${inst.productId}, config says ${c.productId} (changing the product is an upgrade in the control panel)`);
      ctx.out.info(`✓ instance ${id} (${inst.name}) exists, status ${inst.status}; kept as it is (--reinstall rebuilds it)`);
    }
    inst = await waitRunning(ctx, client, id);
    checkShape(config, inst);
    ctx.out.info(`✓ instance ${id} running: IPv4 ${inst.ipConfig?.v4?.ip ?? '?'}, IPv6 ${inst.ipConfig?.v6?.ip ?? '-'}`);

    await ensureObjectStorage(ctx, client);
    const s3 = s3Client(config, { accessKeyId: s3creds.AWS_ACCESS_KEY_ID!, secretAccessKey: s3creds.AWS_SECRET_ACCESS_KEY! });
    const created = await ensureBucket(s3, config);
    ctx.out.info(`✓ bucket ${config.cluster.objectStorage.bucket} ${created ? 'created' : 'exists'}`);
    ctx.out.info('next: cloud-init finishes on the VPS within ~5 minutes; then `npm run bootstrap -- k3s`');
  },
};
