/**
 * What every bootstrap step receives: the validated config, dry-run mode, the environment (credentials),
 * an output sink, and timing knobs (tests shorten waits; production uses the defaults).
 */
import type { Config } from '../../charts-ts/config/schema.ts';

export interface Timing {
  /** Poll interval while waiting for a resource (instance running, snapshot listed, node Ready). */
  pollMs: number;
  /** First back-off delay for 5xx/network retries; doubles per attempt. */
  retryBaseMs: number;
  /** Attempts per HTTP request before giving up (429 and 5xx). */
  maxAttempts: number;
  /** Longest Retry-After honoured; longer waits fail with a clear message instead of hanging. */
  maxRetryAfterMs: number;
}

export const defaultTiming: Timing = { pollMs: 10_000, retryBaseMs: 1_000, maxAttempts: 5, maxRetryAfterMs: 120_000 };

export interface Output {
  /** Normal progress lines. */
  info(line: string): void;
  /** A planned action (dry-run) or an action being taken. */
  action(line: string): void;
  warn(line: string): void;
}

export const consoleOutput: Output = {
  info: (l) => process.stdout.write(`${l}\n`),
  action: (l) => process.stdout.write(`${l}\n`),
  warn: (l) => process.stderr.write(`warning: ${l}\n`),
};

/** Collects lines (tests, and the GitHub step summary). */
export class BufferOutput implements Output {
  readonly lines: string[] = [];
  info(l: string): void { this.lines.push(l); }
  action(l: string): void { this.lines.push(l); }
  warn(l: string): void { this.lines.push(`warning: ${l}`); }
  get text(): string { return this.lines.join('\n'); }
}

export interface StepOptions {
  /** provision: reinstall an existing instance with fresh user-data (destroys its disk). */
  reinstall?: boolean;
  /** k3s/flux: SSH target (IP or name); default: the instance's IPv4 looked up through the Contabo API. */
  host?: string;
  /** k3s/flux: where the fetched kubeconfig goes (mode 0600). */
  kubeconfig?: string;
  /** render: output directory. */
  out?: string;
}

export interface StepContext {
  readonly config: Config;
  readonly dryRun: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: Output;
  readonly timing: Timing;
  readonly options: StepOptions;
  /** Injected for tests; defaults to global fetch. */
  readonly fetch: typeof fetch;
  /** Clock for names and logs (snapshots are named by date). */
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
}

/** An error the operator can act on: what went wrong and what to do. Printed without a stack. */
export class BootstrapError extends Error {
  constructor(message: string, readonly fix?: string) {
    super(fix ? `${message}\n  fix: ${fix}` : message);
    this.name = 'BootstrapError';
  }
}

export function makeContext(partial: Partial<StepContext> & { config: Config }): StepContext {
  return {
    dryRun: false,
    env: process.env,
    out: consoleOutput,
    timing: defaultTiming,
    options: {},
    fetch: globalThis.fetch.bind(globalThis),
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    ...partial,
  };
}
