/** A step context for tests: collected output, short waits, recorded sleeps, a fixed clock. */
import type { Config } from '../../../charts-ts/config/schema.ts';
import { BufferOutput, makeContext, type StepContext, type StepOptions } from '../../lib/context.ts';
import { testConfig } from './config.ts';

export interface TestContext extends StepContext { out: BufferOutput; sleeps: number[] }

export function testContext(p: { config?: Config; env?: Record<string, string | undefined>; dryRun?: boolean; options?: StepOptions; now?: Date } = {}): TestContext {
  const sleeps: number[] = [];
  const out = new BufferOutput();
  const ctx = makeContext({
    config: p.config ?? testConfig(),
    env: p.env ?? {},
    dryRun: p.dryRun ?? false,
    options: p.options ?? {},
    out,
    timing: { pollMs: 1, retryBaseMs: 10, maxAttempts: 4, maxRetryAfterMs: 60_000 },
    now: () => p.now ?? new Date('2026-11-27T02:30:00Z'),
    // Recorded, not slept: tests check the waits the client asked for (Retry-After, back-off).
    sleep: async (ms) => { sleeps.push(ms); await new Promise((r) => setImmediate(r)); },
  });
  return Object.assign(ctx, { out, sleeps });
}
