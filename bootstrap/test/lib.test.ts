/** Small pieces of the bootstrap library: Retry-After parsing, waits, credentials in dry-run. */
import { describe, expect, it } from 'vitest';
import { BootstrapError } from '../lib/context.ts';
import { contaboCredentials, requireCredentials } from '../lib/credentials.ts';
import { HttpClient, parseRetryAfter } from '../lib/http.ts';
import { waitFor } from '../lib/wait.ts';
import { testContext } from './support/context.ts';

describe('bootstrap library', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-27T02:30:00Z');
    expect(parseRetryAfter('12', now)).toBe(12_000);
    expect(parseRetryAfter('Fri, 27 Nov 2026 02:30:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Fri, 27 Nov 2026 02:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });

  it('waitFor reports progress and fails with the fix after the timeout', async () => {
    const ctx = testContext();
    let n = 0;
    const v = await waitFor(ctx, { what: 'the thing', timeoutMs: 60_000, fix: 'x', check: async () => (++n >= 3 ? { done: true, value: n } : { done: false, status: `step ${n}` }) });
    expect(v).toBe(3);
    expect(ctx.out.lines).toEqual(expect.arrayContaining([expect.stringContaining('… waiting for the thing'), expect.stringContaining('the thing: step 1'), expect.stringContaining('✓ the thing after')]));
    const err = (await waitFor<number>(ctx, { what: 'never', timeoutMs: 0, fix: 'do Y', check: async () => ({ done: false as const, status: 'stuck' }) }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(BootstrapError);
    expect(err.message).toMatch(/timed out after \d+s waiting for never \(last status: stuck\)\n {2}fix: do Y/);
  });

  it('dry-run only warns about missing credentials; a real run fails', () => {
    const dry = testContext({ dryRun: true });
    expect(requireCredentials(dry, 'snapshots', contaboCredentials)).toEqual({});
    expect(dry.out.text).toContain('warning: snapshots: not set (needed for a real run)');
    expect(() => requireCredentials(testContext(), 'snapshots', contaboCredentials)).toThrow(/snapshots: missing credentials/);
  });

  it('the HTTP client refuses to send anything in dry-run mode', async () => {
    const ctx = testContext({ dryRun: true });
    await expect(new HttpClient(ctx, 'Test').send({ method: 'GET', url: 'http://127.0.0.1:9/' })).rejects.toThrow(/dry-run tried to send GET/);
  });
});
