/**
 * Child processes of a test run: each component runs in its own process group with its log in the
 * run directory, is stopped by `stop()` (TERM, then KILL), and is also killed when the test process
 * exits for any reason, so a failed run leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Exit code/signal once the process has exited, else undefined. */
  readonly exit: string | undefined;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try { process.kill(-child.pid, signal); } catch { /* already gone */ }
}

process.on('exit', () => { for (const child of running) killGroup(child, 'SIGKILL'); });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  const onSignal = () => {
    for (const child of running) killGroup(child, 'SIGKILL');
    // Then die of the same signal, as if no handler had been installed.
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  };
  process.on(signal, onSignal);
}

/**
 * Start `bin args...` in `runDir` (or `cwd`), logging to `<runDir>/<name>.log`; its pid is appended
 * to `<runDir>/pids`.
 */
export function startProcess(name: string, bin: string, args: string[], runDir: string, env: NodeJS.ProcessEnv = {}, cwd = runDir): Proc {
  const logFile = join(runDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', fd, fd],
    detached: true, // own process group: stop() reaches its children too
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${bin}`);
  running.add(child);
  appendFileSync(join(runDir, 'pids'), `${child.pid} ${name}\n`);
  let exit: string | undefined;
  const exited = new Promise<void>((done) => child.once('exit', (code, signal) => {
    exit = signal ?? `exit code ${code}`;
    running.delete(child);
    done();
  }));
  child.once('error', (e) => { exit = `spawn error: ${e.message}`; running.delete(child); });
  const logTail = (lines = 40) => {
    try { return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n'); } catch { return ''; }
  };
  return {
    name,
    pid: child.pid,
    logFile,
    get exit() { return exit; },
    logTail,
    async stop() {
      if (exit !== undefined) return;
      killGroup(child, 'SIGTERM');
      const timedOut = await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)]);
      if (timedOut) { killGroup(child, 'SIGKILL'); await exited; }
    },
  };
}

/** Kill every process group listed in `<runDir>/pids` (used by the global teardown for stragglers). */
export function killRecorded(runDir: string): void {
  let lines: string[] = [];
  try { lines = readFileSync(join(runDir, 'pids'), 'utf8').trim().split('\n'); } catch { return; }
  for (const line of lines) {
    const pid = Number(line.split(' ')[0]);
    if (pid > 0) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }
  }
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** Thrown inside a `waitFor` check: the wait is over, it can never succeed (the failure is final). */
export class StopWaiting extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StopWaiting';
  }
}

/**
 * Poll `check` until it returns a value other than undefined/false (a StopWaiting thrown by it fails
 * at once; other errors are retried), or fail after `timeoutMs` with
 * `what` and, when given, the log tail of a process that died meanwhile.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number; procs?: Proc[]; diagnose?: () => Promise<string> | string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let lastError: unknown;
  for (;;) {
    for (const p of opts.procs ?? []) {
      if (p.exit !== undefined) throw new Error(`${p.name} exited (${p.exit}) while waiting for ${what}; log ${p.logFile}:\n${p.logTail()}`);
    }
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (e) {
      if (e instanceof StopWaiting) throw e;
      lastError = e;
    }
    if (Date.now() > deadline) {
      const detail = lastError ? ` (last error: ${(lastError as Error).message ?? lastError})` : '';
      const logs = (opts.procs ?? []).map((p) => `--- ${p.name} (${p.logFile}):\n${p.logTail(15)}`).join('\n');
      const diagnosis = opts.diagnose ? await Promise.resolve(opts.diagnose()).catch((e) => `(diagnosis failed: ${e})`) : '';
      throw new Error(`timed out after ${opts.timeoutMs ?? 60_000} ms waiting for ${what}${detail}${logs ? `\n${logs}` : ''}${diagnosis ? `\n${diagnosis}` : ''}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}
