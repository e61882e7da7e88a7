/**
 * snapshots: nightly rotation of the VPS snapshots the Contabo plan includes (bootstrap.contabo.snapshots.slots).
 * Keeps the newest ones the rotation owns (names "<prefix>-YYYYMMDD"), deletes the oldest owned one
 * when all slots are full, creates today's, and waits until it is listed. Snapshots it does not own
 * (taken by hand before a risky change) are never deleted: if they fill every slot, it fails and says so.
 * Idempotent: a second run on the same day finds today's snapshot and does nothing.
 */
import { appendFileSync } from 'node:fs';
import { BootstrapError, type StepContext } from '../lib/context.ts';
import { HttpServerError } from '../lib/http.ts';
import { waitFor } from '../lib/wait.ts';
import { contaboCalls, contaboEndpoints, contaboPlan, contaboTokenPlan, type ContaboClient, type ContaboSnapshot } from '../providers/contabo.ts';
import { contaboClient, findOwnInstance, instanceLookupPlan, type Step } from './common.ts';

export const snapshotName = (prefix: string, now: Date): string => `${prefix}-${now.toISOString().slice(0, 10).replace(/-/g, '')}`;

const byAge = (a: ContaboSnapshot, b: ContaboSnapshot) => Date.parse(a.createdDate) - Date.parse(b.createdDate);

/** Writes the run's result to the GitHub Actions job summary when running there. */
function summary(ctx: StepContext, lines: string[]): void {
  const file = ctx.env.GITHUB_STEP_SUMMARY;
  if (file) appendFileSync(file, `${['### VPS snapshots', '', ...lines].join('\n')}\n`);
}

async function createSnapshot(ctx: StepContext, client: ContaboClient, instanceId: number, name: string): Promise<void> {
  const body = { name, description: `nightly rotation by bootstrap (${ctx.now().toISOString()})` };
  for (let attempt = 1; ; attempt++) {
    try {
      await client.createSnapshot(instanceId, body);
      return;
    } catch (e) {
      if (!(e instanceof HttpServerError) || attempt >= ctx.timing.maxAttempts) throw e;
      ctx.out.info(`  … Contabo answered ${e.status} to the snapshot request; checking before retrying`);
      if ((await client.listSnapshots(instanceId)).some((s) => s.name === name)) return;
      await ctx.sleep(ctx.timing.retryBaseMs * 2 ** (attempt - 1));
    }
  }
}

export const snapshots: Step = {
  name: 'snapshots',
  summary: 'rotate the VPS snapshots included in the plan (nightly, from GitHub Actions)',

  plan(ctx) {
    const ep = contaboEndpoints(ctx.env);
    const s = ctx.config.cluster.bootstrap.contabo.snapshots;
    const name = snapshotName(s.prefix, ctx.now());
    return [
      contaboTokenPlan(ep),
      instanceLookupPlan(ctx),
      contaboPlan(ep, contaboCalls.listSnapshots('<instanceId>')),
      { kind: 'note', text: `nothing more when ${name} already exists` },
      contaboPlan(ep, contaboCalls.deleteSnapshot('<instanceId>', `<oldest ${s.prefix}-* snapshot>`), `all ${s.slots} slots used`),
      contaboPlan(ep, contaboCalls.createSnapshot('<instanceId>', { name, description: 'nightly rotation by bootstrap (<time>)' })),
      { kind: 'wait', what: `${name} listed (polls GET .../snapshots)` },
    ];
  },

  async run(ctx) {
    const s = ctx.config.cluster.bootstrap.contabo.snapshots;
    const client = contaboClient(ctx, 'snapshots');
    const inst = await findOwnInstance(client, ctx.config);
    if (!inst) throw new BootstrapError(`no Contabo instance named ${ctx.config.cluster.node.hostname}`, 'provision the server first, or fix cluster.node.hostname');
    const id = inst.instanceId;
    const name = snapshotName(s.prefix, ctx.now());
    let current = await client.listSnapshots(id);
    const listing = (l: ContaboSnapshot[]) => l.slice().sort(byAge).map((x) => `${x.name} (${x.createdDate.slice(0, 10)})`).join(', ') || 'none';

    if (current.some((x) => x.name === name)) {
      ctx.out.info(`✓ ${name} already exists on instance ${id}; nothing to do (snapshots: ${listing(current)})`);
      summary(ctx, [`- ${name} already existed; snapshots: ${listing(current)}`]);
      return;
    }
    const deleted: string[] = [];
    while (current.length >= s.slots) {
      const owned = current.filter((x) => x.name.startsWith(`${s.prefix}-`)).sort(byAge);
      const oldest = owned[0];
      if (!oldest) {
        throw new BootstrapError(
          `all ${s.slots} snapshot slots of instance ${id} hold snapshots the rotation does not own: ${listing(current)}`,
          `delete one of them in the Contabo control panel once it is no longer needed (the rotation only deletes "${s.prefix}-*" snapshots)`,
        );
      }
      await client.deleteSnapshot(id, oldest.snapshotId);
      deleted.push(oldest.name);
      ctx.out.info(`✓ deleted ${oldest.name} (oldest of the rotation)`);
      current = current.filter((x) => x.snapshotId !== oldest.snapshotId);
    }
    await createSnapshot(ctx, client, id, name);
    ctx.out.info(`✓ requested ${name}`);
    const done = await waitFor(ctx, {
      what: `snapshot ${name} to be listed`,
      timeoutMs: 20 * 60_000,
      fix: 'check the snapshot in the Contabo control panel; re-running the job is safe',
      check: async () => {
        const l = await client.listSnapshots(id);
        return l.some((x) => x.name === name) ? { done: true, value: l } : { done: false, status: `${l.length} snapshot(s) listed` };
      },
    });
    ctx.out.info(`✓ snapshots of instance ${id}: ${listing(done)}`);
    summary(ctx, [`- created ${name}`, ...deleted.map((d) => `- deleted ${d}`), `- snapshots now: ${listing(done)}`]);
  },
};
