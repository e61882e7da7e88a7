/** Polling with progress output, for the long waits (instance install, snapshot, node Ready). */
import { BootstrapError, type StepContext } from './context.ts';

export interface WaitSpec<T> {
  /** What we wait for, e.g. "instance 12345 to be running". */
  what: string;
  timeoutMs: number;
  /** Returns the value when done, or a short status for the progress line. */
  check: () => Promise<{ done: true; value: T } | { done: false; status: string }>;
  /** What to do when it times out. */
  fix: string;
}

const fmt = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

export async function waitFor<T>(ctx: StepContext, spec: WaitSpec<T>): Promise<T> {
  const start = Date.now();
  ctx.out.info(`… waiting for ${spec.what} (up to ${fmt(spec.timeoutMs)})`);
  for (;;) {
    const r = await spec.check();
    const elapsed = Date.now() - start;
    if (r.done) {
      ctx.out.info(`✓ ${spec.what} after ${fmt(elapsed)}`);
      return r.value;
    }
    if (elapsed >= spec.timeoutMs) {
      throw new BootstrapError(`timed out after ${fmt(elapsed)} waiting for ${spec.what} (last status: ${r.status})`, spec.fix);
    }
    ctx.out.info(`  … ${spec.what}: ${r.status} (${fmt(elapsed)} / ${fmt(spec.timeoutMs)})`);
    await ctx.sleep(ctx.timing.pollMs);
  }
}
