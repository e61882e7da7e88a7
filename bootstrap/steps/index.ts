/** The steps, in the order `all` runs them. */
import type { PlanItem } from '../lib/plan.ts';
import { cloudflare } from './cloudflare.ts';
import type { Step } from './common.ts';
import { flux } from './flux.ts';
import { github } from './github.ts';
import { k3s } from './k3s.ts';
import { lifecycle } from './lifecycle.ts';
import { provision } from './provision.ts';
import { render } from './render.ts';
import { snapshots } from './snapshots.ts';

/** From nothing to a reconciling cluster. Snapshots run nightly on their own (GitHub Actions). */
export const allSequence: Step[] = [provision, cloudflare, lifecycle, github, k3s, flux];

export const all: Step = {
  name: 'all',
  summary: `the whole path: ${allSequence.map((s) => s.name).join(' -> ')}`,
  plan(ctx) {
    return allSequence.flatMap((s): PlanItem[] => [{ kind: 'note', text: `--- ${s.name}: ${s.summary}` }, ...s.plan(ctx)]);
  },
  async run(ctx) {
    for (const s of allSequence) {
      ctx.out.info(`\n=== ${s.name}: ${s.summary}`);
      await s.run(ctx);
    }
    ctx.out.info('\n✓ all steps done: the cluster reconciles the clusters branch');
  },
};

export const steps: Record<string, Step> = Object.fromEntries(
  [provision, cloudflare, lifecycle, github, k3s, flux, snapshots, all, render].map((s) => [s.name, s]),
);
