/**
 * A throw-away PostgreSQL server for the drill: its own data directory, a Unix socket only (no TCP
 * listener at all), run as the postgres OS user when the drill runs as root.
 */
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { run, type Tools } from './tools.ts';

/** Quote one argument for a POSIX shell command line inside postgresql.conf. */
export function shellArg(a: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}
/** A postgresql.conf string value. */
const confString = (s: string) => `'${s.replace(/'/g, "''")}'`;

export class PgServer {
  readonly dir: string;
  readonly dataDir: string;
  readonly sockDir: string;
  readonly logFile: string;
  private running = false;

  constructor(readonly tools: Tools, root: string, readonly name: string, readonly port: number) {
    this.dir = join(root, name);
    this.dataDir = join(this.dir, 'data');
    this.sockDir = join(this.dir, 'sock');
    this.logFile = join(this.dir, 'postgres.log');
  }

  /** Directories the server user owns (created empty). */
  prepareDirs(...extra: string[]): void {
    for (const d of [this.dir, this.sockDir, ...extra]) {
      mkdirSync(d, { recursive: true, mode: 0o755 });
      this.chown(d);
    }
  }

  chown(path: string): void {
    if (this.tools.pgOwner) chownSync(path, this.tools.pgOwner.uid, this.tools.pgOwner.gid);
  }

  async initdb(): Promise<void> {
    this.prepareDirs();
    await run([join(this.tools.pgBin, 'initdb'), '-D', this.dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-instructions', '--data-checksums'],
      { asPostgres: this.tools });
  }

  /** (Re)write the drill's settings file (included from postgresql.conf). */
  configure(settings: Record<string, string>): void {
    const conf = join(this.dataDir, 'postgresql.conf');
    const include = "include_if_exists = 'drill.conf'\n";
    const lines = Object.entries({
      port: String(this.port),
      listen_addresses: "''",
      unix_socket_directories: confString(this.sockDir),
      ...settings,
    }).map(([k, v]) => `${k} = ${v}`);
    const path = join(this.dataDir, 'drill.conf');
    writeFileSync(path, `${lines.join('\n')}\n`);
    this.chown(path);
    if (existsSync(conf) && !readFileSync(conf, 'utf8').includes(include)) writeFileSync(conf, readFileSync(conf, 'utf8') + include);
  }

  async start(env: Record<string, string> = {}, timeoutSeconds = 600): Promise<void> {
    await run([join(this.tools.pgBin, 'pg_ctl'), '-D', this.dataDir, '-l', this.logFile, '-w', '-t', String(timeoutSeconds), 'start'],
      { asPostgres: this.tools, env });
    this.running = true;
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.running) return;
    await run([join(this.tools.pgBin, 'pg_ctl'), '-D', this.dataDir, '-m', mode, '-w', 'stop'], { asPostgres: this.tools });
    this.running = false;
  }

  /** Best effort, for cleanup paths. */
  async kill(): Promise<void> {
    if (!this.running) return;
    try { await this.stop('immediate'); } catch { /* already gone */ }
  }

  /** Synchronous stop, for signal handlers. */
  killSync(): void {
    if (!this.running) return;
    const argv = [...this.tools.asPostgres, join(this.tools.pgBin, 'pg_ctl'), '-D', this.dataDir, '-m', 'immediate', '-w', 'stop'];
    spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 30_000 });
    this.running = false;
  }

  /** libpq environment for a client of this server. */
  connEnv(user = 'postgres', database = 'postgres'): Record<string, string> {
    return { PGHOST: this.sockDir, PGPORT: String(this.port), PGUSER: user, PGDATABASE: database };
  }

  /** Run SQL with psql; returns unaligned, tuples-only output. */
  async sql(query: string, database = 'postgres', user = 'postgres'): Promise<string> {
    const out = await run([join(this.tools.pgBin, 'psql'), '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-c', query],
      { env: this.connEnv(user, database) });
    return out.trim();
  }
}
