/**
 * The disaster-recovery drill: real PostgreSQL, a real S3-compatible server (moto) on loopback, and
 * the barman-cloud / pg_dump / age / rclone command lines the cluster runs, derived from the same
 * config and constructs (charts-ts/data/object-store.ts, charts-ts/data/logical-dump.ts).
 *
 * Physical path (point-in-time recovery):
 *   base backup -> keep writing -> note a target time -> write more (and delete rows, the "bad
 *   deploy") -> destroy the data directory -> barman-cloud-restore + barman-cloud-wal-restore to the
 *   target -> every row committed before the target is back, none after, bulk data checksums match,
 *   and the source backups were not written to (the restored server archives under a new name).
 * Logical path: the three dump steps (pg_dump -Fc, age, rclone upload + prune) -> download ->
 *   decrypt -> pg_restore into a fresh database -> row counts and checksums of every table match.
 *
 * Local substitutions, and only these: the S3 endpoint (loopback), dummy credentials, a throw-away
 * age key pair, the PostgreSQL connection (Unix socket, no TLS) and the scratch paths.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { deepMerge, parseConfig } from '../charts-ts/config/load.ts';
import type { Config, Environment, EnvironmentName } from '../charts-ts/config/schema.ts';
import { values } from '../charts-ts/config/values.ts';
import { logicalDumpSteps, type DumpStep } from '../charts-ts/data/logical-dump.ts';
import { backupLayout, barmanCommands, credentialKeys, objectStoreSpec } from '../charts-ts/data/object-store.ts';
import { nextServerName, postgresTargetTime } from '../charts-ts/data/recovery.ts';
import { names } from '../charts-ts/lib/names.ts';
import { PgServer, shellArg } from './postgres.ts';
import { lmsIndexSql, lmsRows, lmsSchemaSql, lmsSizes, lmsTables, lmsTraffic, prng, TextGen } from './lms-data.ts';
import { freePort, startS3, type S3Server } from './s3.ts';
import { findTools, run, type Tools } from './tools.ts';
import { isSegment, readWalRestoreLog, writeWalRestoreScript } from './wal-restore.ts';

export interface DrillOptions {
  /** Units of LMS-shaped data (1 ~ 15 MiB of tables and indexes; 70 ~ 1 GiB), next to pgbench at scale 1. */
  readonly scale: number;
  /** Environment whose config the drill uses. @default production */
  readonly environment?: EnvironmentName;
  /** Keep the scratch directory (for debugging). */
  readonly keep?: boolean;
  readonly log?: (line: string) => void;
}

export interface PhysicalResult {
  readonly databaseBytes: number;
  /** Tables and indexes of the LMS-shaped data, and of pgbench (which compresses far better). */
  readonly lmsBytes: number;
  readonly pgbenchBytes: number;
  readonly backupSeconds: number;
  /** Compressed base backup as stored in the bucket. */
  readonly baseBackupStoredBytes: number;
  /** WAL generated between the base backup and the end of the drill. */
  readonly walBytes: number;
  /** Archived segments from the backup's first WAL on: their count and stored (compressed) bytes. */
  readonly walSegmentsArchived: number;
  readonly walStoredBytes: number;
  /** WAL between the backup's start and the recovery target (what the restore replays). */
  readonly replayedWalBytes: number;
  /** wal.maxParallel of the ObjectStore: segments fetched per restore_command call. */
  readonly walMaxParallel: number;
  /** restore_command calls during the replay: total wall seconds, segments restored, calls served from the spool. */
  readonly walFetchSeconds: number;
  readonly walSegmentsRestored: number;
  readonly walSpoolHits: number;
  /** The same segments fetched one at a time (barman-cloud-wal-restore per segment), seconds per segment. */
  readonly walFetchSerialSecondsPerSegment: number;
  /** Per LMS table: count:checksum at the target and after the restore. */
  readonly lmsAtTarget: Record<string, string>;
  readonly lmsRestored: Record<string, string>;
  readonly restoreSeconds: number;
  /** From server start to promotion: fetching and replaying WAL up to the target. */
  readonly replaySeconds: number;
  /** Seconds from pg_switch_wal() until that segment was archived. */
  readonly archiveLagSeconds: number;
  readonly targetTime: string;
  readonly committedBeforeTarget: number;
  readonly committedAfterTarget: number;
  /** Rows committed before the target and missing after the restore (must be empty). */
  readonly lostRows: number[];
  /** Rows committed after the target and present after the restore (must be empty). */
  readonly rowsAfterTarget: number[];
  readonly bulkChecksumAtTarget: string;
  readonly bulkChecksumRestored: string;
  /** The restore wrote nothing under the source server name. */
  readonly sourceBackupsUntouched: boolean;
  /** The restored server archives under this new name. */
  readonly restoredServerName: string;
}

export interface TableComparison {
  readonly table: string;
  readonly source: string;
  readonly restored: string;
}

export interface LogicalResult {
  readonly dumpSeconds: number;
  readonly encryptSeconds: number;
  readonly uploadSeconds: number;
  readonly restoreSeconds: number;
  readonly encryptedBytes: number;
  readonly objectKey: string;
  /** The object in the bucket is age ciphertext (header), and no plaintext was left in scratch. */
  readonly ciphertextOnly: boolean;
  readonly tables: TableComparison[];
  readonly mismatches: string[];
  /** An expired dump was pruned, a foreign object and the new dump were kept. */
  readonly pruneExpired: boolean;
  readonly pruneKeptOthers: boolean;
}

export interface DrillResult {
  readonly startedAt: string;
  readonly environment: EnvironmentName;
  readonly scale: number;
  readonly versions: Record<string, string>;
  /** CPUs and the 1-minute load average at the start and the end: the rates are measured on a shared machine. */
  readonly machine: { cpus: number; loadStart: number; loadEnd: number };
  readonly config: Config;
  readonly physical: PhysicalResult;
  readonly logical: LogicalResult;
}

const fingerprintSql = (t: string) => `SELECT count(*) || ':' || coalesce(bit_xor(hashtextextended(r::text, 0)), 0) FROM ${t} r`;
const bulkChecksumSql = `SELECT count(*) || ':' || coalesce(sum(abalance), 0) || ':' || coalesce(bit_xor(hashtextextended(aid::text || ':' || abalance::text, 0)), 0) FROM pgbench_accounts`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

export async function runDrill(opts: DrillOptions): Promise<DrillResult> {
  const log = opts.log ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const loadStart = loadavg()[0];
  const tools = await findTools();
  const envName = opts.environment ?? 'production';
  const root = mkdtempSync(join(tmpdir(), 'lms-drill-'));
  chmodSync(root, 0o755);
  let s3: S3Server | undefined;
  const servers: PgServer[] = [];
  // pg_ctl daemonizes the server: if this process is interrupted, stop it anyway (a server left
  // behind keeps retrying its archive_command against a gone S3 endpoint).
  const onSignal = (signal: NodeJS.Signals) => {
    for (const s of servers) s.killSync();
    s3?.killSync();
    if (!opts.keep) rmSync(root, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const bucket = parseConfig(values).cluster.objectStorage.bucket;
    s3 = await startS3(tools, bucket);
    log(`s3: moto on ${s3.endpoint}, bucket ${bucket}`);

    // Age key pair for this drill only; the config's recipients are replaced by its public key.
    const keyFile = join(root, 'drill-age.key');
    await run([tools.ageKeygen, '-o', keyFile]);
    const recipient = /public key: (age1[0-9a-z]+)/.exec(readFileSync(keyFile, 'utf8'))![1];
    const config = parseConfig(deepMerge(values, {
      cluster: {
        objectStorage: { endpoint: s3.endpoint },
        data: { logicalDump: { ageRecipients: [recipient] } },
      },
    }));
    const env = config.environments[envName];
    const versions = await collectVersions(tools);

    const primary = new PgServer(tools, root, 'primary', await freePort());
    servers.push(primary);
    const physical = await physicalDrill({ tools, config, env, s3, root, primary, scale: opts.scale, log });
    const logical = await logicalDrill({ tools, config, env, s3, root, server: primary, keyFile, log });
    const machine = { cpus: cpus().length, loadStart, loadEnd: loadavg()[0] };
    return { startedAt, environment: envName, scale: opts.scale, versions, machine, config, physical, logical };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const s of servers) await s.kill();
    await s3?.stop();
    if (!opts.keep) rmSync(root, { recursive: true, force: true });
    else log(`kept ${root}`);
  }
}

async function collectVersions(tools: Tools): Promise<Record<string, string>> {
  const first = async (argv: string[]) => (await run(argv)).split('\n')[0].trim();
  return {
    postgresql: await first([join(tools.pgBin, 'postgres'), '--version']),
    'barman-cloud': await first([join(tools.barmanBin, 'barman-cloud-backup'), '--version']),
    moto: (await run([join(tools.motoServer, '..', 'python'), '-c', 'import moto; print(moto.__version__)'])).trim(),
    age: await first([tools.age, '--version']),
    rclone: await first([tools.rclone, 'version']),
  };
}

/** rclone against the drill's S3 server, configured like the dump CronJob's upload step. */
function rcloneEnv(s3: S3Server): Record<string, string> {
  return {
    RCLONE_CONFIG_DRILL_TYPE: 's3',
    RCLONE_CONFIG_DRILL_PROVIDER: 'Other',
    RCLONE_CONFIG_DRILL_ENDPOINT: s3.endpoint,
    RCLONE_CONFIG_DRILL_ACCESS_KEY_ID: s3.accessKeyId,
    RCLONE_CONFIG_DRILL_SECRET_ACCESS_KEY: s3.secretAccessKey,
    RCLONE_CONFIG_DRILL_FORCE_PATH_STYLE: 'true',
  };
}

/** Objects under a bucket path: key -> size (recursive). */
async function listObjects(tools: Tools, s3: S3Server, path: string): Promise<Map<string, number>> {
  const out = await run([tools.rclone, 'lsf', '-R', '--files-only', '--format', 'ps', '--separator', '\t', `drill:${path}`], { env: rcloneEnv(s3) })
    .catch((e: Error) => (/directory not found/i.test(e.message) ? '' : Promise.reject(e)));
  return new Map(out.split('\n').filter(Boolean).map((l) => {
    const [p, s] = l.split('\t');
    return [p, Number(s)];
  }));
}
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

interface PhysicalCtx {
  tools: Tools; config: Config; env: Environment; s3: S3Server; root: string; primary: PgServer; scale: number; log: (l: string) => void;
}

/** The barman-cloud commands and PostgreSQL settings of the drill's server, as the plugin renders them. */
function barmanSetup(c: PhysicalCtx) {
  const { tools, config, env, s3, primary: pg } = c;
  const spec = objectStoreSpec(config, env);
  const serverName = env.database.backup.serverName;
  const restoredServerName = nextServerName(serverName);
  const cmds = barmanCommands(spec, serverName);
  const restoredCmds = barmanCommands(spec, restoredServerName);
  const bar = (name: string) => join(tools.barmanBin, name);
  const s3env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, ...cmds.env };
  const barmanTmp = join(pg.dir, 'barman-tmp');
  const settings = (archiveArgs: string[]) => ({
    wal_level: 'replica',
    archive_mode: 'on',
    archive_command: `'${[bar('barman-cloud-wal-archive'), ...archiveArgs, '%p'].map(shellArg).join(' ').replace(/'/g, "''")}'`,
    archive_timeout: `'${config.cluster.data.backup.archiveTimeout}'`,
    max_wal_size: "'1GB'",
    log_checkpoints: 'off',
  });
  return { spec, serverName, restoredServerName, cmds, restoredCmds, bar, s3env, barmanTmp, settings };
}
type Barman = ReturnType<typeof barmanSetup>;

/**
 * The LMS database: pgbench's tables plus LMS-shaped data (what the base-backup compression and the
 * WAL are measured on), and the writers the drill uses after the backup: a stretch of LMS traffic,
 * single-row commits, the bulk tables' checksum.
 */
async function loadWorkload(c: PhysicalCtx) {
  const { tools, primary: pg, log } = c;
  await pg.sql(`CREATE ROLE ${names.database.owner} LOGIN PASSWORD 'drill'`);
  await pg.sql(`CREATE DATABASE ${names.database.name} OWNER ${names.database.owner}`);
  const app = pg.connEnv(names.database.owner, names.database.name);
  const t0Load = process.hrtime.bigint();
  await run([join(tools.pgBin, 'pgbench'), '-i', '-q', '-s', '1', '--foreign-keys'], { env: app });
  const db = (q: string) => pg.sql(q, names.database.name, names.database.owner);
  const gen = new TextGen(prng(17));
  const sizes = lmsSizes(c.scale);
  await run([join(tools.pgBin, 'psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1'], { env: app, input: lmsSchemaSql });
  const copyIn = async (table: string, chunks: Iterable<string>) => {
    let batch: string[] = [];
    let size = 0;
    const flush = async () => {
      if (!batch.length) return;
      await run([join(tools.pgBin, 'psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `COPY ${table} FROM STDIN`], { env: app, input: batch.join('') });
      batch = [];
      size = 0;
    };
    for (const chunk of chunks) {
      batch.push(chunk);
      size += chunk.length;
      if (size >= 16e6) await flush();
    }
    await flush();
  };
  for (const t of lmsTables) await copyIn(t, lmsRows(t, 1, sizes[t], sizes, gen));
  await run([join(tools.pgBin, 'psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1'], { env: app, input: lmsIndexSql });
  const relBytes = async (tables: readonly string[]) => Number(await db(`SELECT sum(pg_total_relation_size(t::regclass)) FROM unnest(ARRAY[${tables.map((t) => `'${t}'`).join(',')}]) t`));
  const lmsBytes = await relBytes(lmsTables);
  const pgbenchBytes = await relBytes(['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history']);
  log(`dataset: LMS-shaped ${(lmsBytes / 2 ** 20).toFixed(0)} MiB (scale ${c.scale}), pgbench ${(pgbenchBytes / 2 ** 20).toFixed(0)} MiB, in ${seconds(t0Load).toFixed(1)} s`);
  // A stretch of LMS traffic (new events and submissions, progress updates): the WAL a day writes.
  const traffic = async (phase: number) => {
    const t = lmsTraffic(c.scale, sizes, phase * 100_000_000, gen);
    for (const { table, chunks } of t.copies) await copyIn(table, chunks);
    await db(t.updateSql);
  };
  await db(`CREATE TABLE drill_events (id bigint PRIMARY KEY, phase text NOT NULL, committed_at timestamptz NOT NULL DEFAULT clock_timestamp(), payload text NOT NULL)`);
  // Each INSERT commits on its own (psql reading a script autocommits statement by statement).
  const insertEach = async (from: number, to: number, phase: string) => {
    const stmts = [];
    for (let id = from; id <= to; id++) stmts.push(`INSERT INTO drill_events (id, phase, payload) VALUES (${id}, '${phase}', md5('${id}'));`);
    await run([join(tools.pgBin, 'psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1'], { env: app, input: stmts.join('\n') });
  };
  return { app, db, traffic, insertEach, lmsBytes, pgbenchBytes };
}

/** The disaster (the data directory gone) and the recovery to `targetTime` as CloudNativePG runs it. */
async function restoreToTarget(c: PhysicalCtx, b: Barman, backupId: string, targetTime: string) {
  const { tools, primary: pg, log } = c;
  const { spec, cmds, restoredCmds, bar, s3env, settings } = b;
  // Disaster: the data directory is gone.
  await pg.stop('immediate');
  rmSync(pg.dataDir, { recursive: true, force: true });
  log(`destroyed ${pg.dataDir}; restoring ${backupId} to ${targetTime}`);
  mkdirSync(pg.dataDir, { mode: 0o700 });
  pg.chown(pg.dataDir);

  const t0Restore = process.hrtime.bigint();
  await run([bar('barman-cloud-restore'), ...cmds.restore(backupId, pg.dataDir)], { asPostgres: tools, env: s3env });
  const restoreSeconds = seconds(t0Restore);
  // Recovery as CloudNativePG configures it (restore_command = the plugin's WAL restore, fetching
  // wal.maxParallel segments at a time into its spool; recovery_target_action = promote), archiving
  // under a new server name afterwards.
  const walMaxParallel = spec.configuration.wal.maxParallel;
  const spoolDir = join(pg.dir, 'wal-spool');
  pg.prepareDirs(spoolDir);
  const walRestore = writeWalRestoreScript({
    path: join(c.root, 'wal-restore.sh'), spoolDir, logFile: join(spoolDir, '..', 'wal-restore.log'),
    walRestore: [bar('barman-cloud-wal-restore'), ...cmds.walRestore], maxParallel: walMaxParallel,
  });
  pg.configure({
    ...settings(restoredCmds.walArchive),
    restore_command: `'${[walRestore.path, '%f', '%p'].map(shellArg).join(' ').replace(/'/g, "''")}'`,
    recovery_target_time: `'${postgresTargetTime(targetTime)}'`,
    recovery_target_action: "'promote'",
  });
  const signal = join(pg.dataDir, 'recovery.signal');
  writeFileSync(signal, '');
  pg.chown(signal);
  const t0Replay = process.hrtime.bigint();
  await pg.start(s3env, 3600);
  await poll('promotion after point-in-time recovery', 3_600_000, async () => ((await pg.sql('SELECT pg_is_in_recovery()')) === 'f' ? true : undefined));
  const replaySeconds = seconds(t0Replay);
  const calls = readWalRestoreLog(walRestore.logFile);
  const walFetchSeconds = calls.reduce((a, x) => a + x.seconds, 0);
  const restoredSegments = calls.filter((x) => x.ok && isSegment(x.wal)).map((x) => x.wal);
  const walSpoolHits = calls.filter((x) => x.fromSpool).length;
  log(`restored in ${restoreSeconds.toFixed(1)} s, replayed and promoted in ${replaySeconds.toFixed(1)} s ` +
    `(${restoredSegments.length} segments, ${walSpoolHits} from the spool, restore_command ${walFetchSeconds.toFixed(1)} s)`);

  return { restoreSeconds, replaySeconds, walMaxParallel, walFetchSeconds, restoredSegments, walSpoolHits };
}

/**
 * What the restore brought back: the drill's rows up to the target and none after it, the bulk and
 * LMS tables as they were, the WAL fetch one segment at a time for comparison, and the source
 * backups untouched by the restored server's own archiving.
 */
async function checkRestored(c: PhysicalCtx, b: Barman, restoredSegments: string[], sourcePath: string, sourceBefore: Map<string, number>) {
  const { tools, s3, primary: pg } = c;
  const { cmds, bar, s3env } = b;
  const db = (q: string) => pg.sql(q, names.database.name, names.database.owner);
  const present = new Set((await db('SELECT id FROM drill_events ORDER BY id')).split('\n').filter(Boolean).map(Number));
  const lostRows: number[] = [];
  for (let id = 1; id <= 300; id++) if (!present.has(id)) lostRows.push(id);
  const rowsAfterTarget = [...present].filter((id) => id > 300);
  const bulkChecksumRestored = await db(bulkChecksumSql);
  const lmsRestored: Record<string, string> = {};
  for (const t of lmsTables) lmsRestored[t] = await db(fingerprintSql(t));
  // For comparison: the same segments one at a time, as without wal.maxParallel.
  const serialDir = join(c.root, 'wal-serial');
  mkdirSync(serialDir);
  const sample = restoredSegments.slice(0, 16);
  const t0Serial = process.hrtime.bigint();
  for (const w of sample) await run([bar('barman-cloud-wal-restore'), ...cmds.walRestore, w, join(serialDir, w)], { env: s3env });
  const walFetchSerialSecondsPerSegment = sample.length ? seconds(t0Serial) / sample.length : 0;
  rmSync(serialDir, { recursive: true, force: true });
  // Make the restored server archive something, then prove the source prefix did not change.
  await pg.sql('SELECT pg_switch_wal()');
  await pg.sql('CHECKPOINT');
  const sourceAfter = await listObjects(tools, s3, sourcePath);
  const sourceBackupsUntouched = sourceBefore.size === sourceAfter.size
    && [...sourceBefore].every(([k, v]) => sourceAfter.get(k) === v);

  return { lostRows, rowsAfterTarget, bulkChecksumRestored, lmsRestored, walFetchSerialSecondsPerSegment, sourceBackupsUntouched };
}

/** `barman-cloud-backup-list --format json` (cmds.list): the fields read. */
interface BarmanCatalog {
  readonly backups_list: readonly { readonly backup_id: string; readonly backup_name?: string | null; readonly begin_wal?: string }[];
}

async function physicalDrill(c: PhysicalCtx): Promise<PhysicalResult> {
  const { tools, s3, primary: pg, log } = c;
  const b = barmanSetup(c);
  const { spec, serverName, restoredServerName, cmds, bar, s3env, barmanTmp, settings } = b;

  await pg.initdb();
  pg.prepareDirs(barmanTmp);
  pg.configure(settings(cmds.walArchive));
  await pg.start(s3env);
  log(`postgres: ${pg.dataDir} (port ${pg.port}, socket only), archive_command = barman-cloud-wal-archive ${cmds.walArchive.join(' ')} %p`);

  const { app, db, traffic, insertEach, lmsBytes, pgbenchBytes } = await loadWorkload(c);
  await insertEach(1, 100, 'before-backup');
  const databaseBytes = Number(await pg.sql('SELECT sum(pg_database_size(datname)) FROM pg_database'));

  // Base backup, exactly as the sidecar runs it (the sidecar adds only the local connection).
  const startLsn = await pg.sql('SELECT pg_current_wal_lsn()');
  const t0Backup = process.hrtime.bigint();
  await run([bar('barman-cloud-backup'), ...cmds.backup('drill-base')], {
    asPostgres: tools, env: { ...s3env, ...pg.connEnv(), TMPDIR: barmanTmp },
  });
  const backupSeconds = seconds(t0Backup);
  const catalog = JSON.parse(await run([bar('barman-cloud-backup-list'), ...cmds.list], { env: s3env })) as BarmanCatalog;
  const backupId = catalog.backups_list.find((b) => b.backup_name === 'drill-base')?.backup_id;
  const beginWal: string = catalog.backups_list.find((b) => b.backup_name === 'drill-base')?.begin_wal ?? '';
  if (!backupId) throw new Error(`base backup "drill-base" is not in the catalog: ${JSON.stringify(catalog)}`);
  const layoutPath = spec.configuration.destinationPath.replace(/^s3:\/\//, '');
  const baseBackupStoredBytes = total(await listObjects(tools, s3, `${layoutPath}/${serverName}/base/${backupId}`));
  log(`base backup ${backupId}: ${(databaseBytes / 2 ** 20).toFixed(0)} MiB in ${backupSeconds.toFixed(1)} s, ${(baseBackupStoredBytes / 2 ** 20).toFixed(1)} MiB stored`);

  // Keep writing: LMS traffic, single-row commits and pgbench transactions on the bulk tables.
  const t0Traffic = process.hrtime.bigint();
  await traffic(1);
  await insertEach(101, 300, 'before-target');
  await run([join(tools.pgBin, 'pgbench'), '-n', '-c', '2', '-j', '1', '-t', '200'], { env: app });
  log(`traffic after the backup: ${seconds(t0Traffic).toFixed(1)} s`);
  const bulkChecksumAtTarget = await db(bulkChecksumSql);
  const lmsAtTarget: Record<string, string> = {};
  for (const t of lmsTables) lmsAtTarget[t] = await db(fingerprintSql(t));
  const targetLsn = await pg.sql('SELECT pg_current_wal_lsn()');
  const targetTime = await pg.sql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);
  await sleep(1500);
  // After the target: more traffic, more rows, more bulk changes, and the bad deploy that deletes data.
  await traffic(2);
  await insertEach(301, 400, 'after-target');
  await run([join(tools.pgBin, 'pgbench'), '-n', '-c', '2', '-j', '1', '-t', '200'], { env: app });
  await db(`DELETE FROM drill_events WHERE phase = 'before-backup'`);
  const endLsn = await pg.sql('SELECT pg_current_wal_lsn()');
  const walBytes = Number(await pg.sql(`SELECT pg_wal_lsn_diff('${endLsn}', '${startLsn}')`));
  const replayedWalBytes = Number(await pg.sql(`SELECT pg_wal_lsn_diff('${targetLsn}', '${startLsn}')`));

  // Ship the last segment now (archive_timeout would within 5 min) and wait until it is archived.
  const t0Switch = process.hrtime.bigint();
  const lastWal = await pg.sql('SELECT pg_walfile_name(pg_switch_wal())');
  await poll('the last WAL segment to be archived', 120_000, async () => {
    const archived = await pg.sql('SELECT coalesce(last_archived_wal, \'\') FROM pg_stat_archiver');
    return archived >= lastWal ? archived : undefined;
  });
  const archiveLagSeconds = seconds(t0Switch);
  const sourcePath = `${layoutPath}/${serverName}`;
  const sourceBefore = await listObjects(tools, s3, sourcePath);
  // The segments a restore of this backup reads: from its first WAL on (the load before it is not).
  const walObjects = [...(await listObjects(tools, s3, `${sourcePath}/wals`))]
    .filter(([k]) => { const name = k.split('/').pop()!.slice(0, 24); return isSegment(name) && name >= beginWal; });
  const walSegmentsArchived = walObjects.length;
  const walStoredBytes = walObjects.reduce((a, [, v]) => a + v, 0);

  const { restoreSeconds, replaySeconds, walMaxParallel, walFetchSeconds, restoredSegments, walSpoolHits } = await restoreToTarget(c, b, backupId, targetTime);

  const { lostRows, rowsAfterTarget, bulkChecksumRestored, lmsRestored, walFetchSerialSecondsPerSegment, sourceBackupsUntouched } =
    await checkRestored(c, b, restoredSegments, sourcePath, sourceBefore);

  return {
    databaseBytes, lmsBytes, pgbenchBytes, backupSeconds, baseBackupStoredBytes, walBytes, walSegmentsArchived, walStoredBytes, replayedWalBytes,
    walMaxParallel, walFetchSeconds, walSegmentsRestored: restoredSegments.length, walSpoolHits, walFetchSerialSecondsPerSegment,
    lmsAtTarget, lmsRestored, restoreSeconds, replaySeconds,
    archiveLagSeconds, targetTime,
    committedBeforeTarget: 300, committedAfterTarget: 100,
    lostRows, rowsAfterTarget, bulkChecksumAtTarget, bulkChecksumRestored, sourceBackupsUntouched, restoredServerName,
  };
}

interface LogicalCtx {
  tools: Tools; config: Config; env: Environment; s3: S3Server; root: string; server: PgServer; keyFile: string; log: (l: string) => void;
}

async function logicalDrill(c: LogicalCtx): Promise<LogicalResult> {
  const { tools, config, env, s3, server: pg, log } = c;
  const layout = backupLayout(config, env);
  const scratch = join(c.root, 'dump');
  const paths = { work: join(scratch, 'work'), home: join(scratch, 'home'), caDir: join(scratch, 'ca') };
  for (const d of Object.values(paths)) mkdirSync(d, { recursive: true });
  const steps = logicalDumpSteps(config, env, paths);

  // Seed the prefix: an expired dump (must be pruned) and a foreign object (must be kept).
  const prefix = `${layout.bucket}/${layout.logicalPrefix}`;
  const expired = join(scratch, 'expired.dump.age');
  writeFileSync(expired, 'expired');
  const old = new Date(Date.now() - (config.cluster.data.logicalDump.retentionDays + 10) * 86400_000);
  utimesSync(expired, old, old);
  const foreign = join(scratch, 'README.txt');
  writeFileSync(foreign, 'not a dump');
  utimesSync(foreign, old, old);
  await run([tools.rclone, 'copyto', expired, `drill:${prefix}/lms-${env.name}-20000101T000000Z.dump.age`], { env: rcloneEnv(s3) });
  await run([tools.rclone, 'copyto', foreign, `drill:${prefix}/README.txt`], { env: rcloneEnv(s3) });

  const secrets: Record<string, Record<string, string>> = {
    [names.database.appSecret]: { dbname: names.database.name, username: names.database.owner, password: 'drill' },
    [config.cluster.objectStorage.credentialsSecret]: {
      [credentialKeys.accessKeyId]: s3.accessKeyId, [credentialKeys.secretAccessKey]: s3.secretAccessKey,
    },
  };
  // The server is reached over its Unix socket, without TLS; everything else is the step's own env.
  const local: Record<string, string> = { PGHOST: pg.sockDir, PGPORT: String(pg.port), PGSSLMODE: 'disable', PATH: tools.path };
  const stepEnv = (s: DumpStep) => ({
    ...Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, typeof v === 'string' ? v : secrets[v.secret][v.key]])),
    ...(s.name === 'dump' ? local : { PATH: tools.path }),
  });
  const timings: Record<string, number> = {};
  for (const s of steps) {
    const t0 = process.hrtime.bigint();
    const out = await run(s.command, { env: stepEnv(s), cwd: scratch });
    timings[s.name] = seconds(t0);
    log(`${s.name}: ${timings[s.name].toFixed(1)} s ${out.trim().split('\n').pop() ?? ''}`);
  }

  const listed = await listObjects(tools, s3, prefix);
  const objectKey = [...listed.keys()].find((k) => k.startsWith(`lms-${env.name}-`) && !k.includes('20000101T000000Z'));
  if (!objectKey) throw new Error(`no new dump under ${prefix}: ${[...listed.keys()].join(', ')}`);
  const pruneExpired = ![...listed.keys()].some((k) => k.includes('20000101T000000Z'));
  const pruneKeptOthers = listed.has('README.txt');
  const plaintextLeft = existsSync(join(paths.work, 'lms.dump'));

  // Restore: download, decrypt, pg_restore into a fresh database.
  const restoreDir = join(c.root, 'restore');
  mkdirSync(restoreDir);
  const downloaded = join(restoreDir, objectKey);
  await run([tools.rclone, 'copyto', `drill:${prefix}/${objectKey}`, downloaded], { env: rcloneEnv(s3) });
  const header = readFileSync(downloaded).subarray(0, 21).toString('latin1');
  const encryptedBytes = statSync(downloaded).size;
  const decrypted = join(restoreDir, 'lms.dump');
  await run([tools.age, '--decrypt', '--identity', c.keyFile, '--output', decrypted, downloaded]);
  const restoredDb = `${names.database.name}_restored`;
  await pg.sql(`CREATE DATABASE ${restoredDb} OWNER ${names.database.owner}`);
  const t0 = process.hrtime.bigint();
  await run([join(tools.pgBin, 'pg_restore'), '--exit-on-error', '--no-password', '-d', restoredDb, decrypted], { env: pg.connEnv() });
  const restoreSeconds = seconds(t0);

  const tablesSql = `SELECT string_agg(quote_ident(tablename), ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'`;
  const sourceTables = (await pg.sql(tablesSql, names.database.name)).split(',').filter(Boolean);
  const restoredTables = (await pg.sql(tablesSql, restoredDb)).split(',').filter(Boolean);
  const mismatches: string[] = [];
  if (sourceTables.join() !== restoredTables.join()) mismatches.push(`tables differ: ${sourceTables.join()} vs ${restoredTables.join()}`);
  const fingerprint = (t: string) => `SELECT count(*) || ':' || coalesce(bit_xor(hashtextextended(r::text, 0)), 0) FROM ${t} r`;
  const tables: TableComparison[] = [];
  for (const t of sourceTables) {
    const source = await pg.sql(fingerprint(t), names.database.name);
    const restored = restoredTables.includes(t) ? await pg.sql(fingerprint(t), restoredDb) : 'missing';
    tables.push({ table: t, source, restored });
    if (source !== restored) mismatches.push(`${t}: ${source} (source) vs ${restored} (restored)`);
  }
  return {
    dumpSeconds: timings.dump, encryptSeconds: timings.encrypt, uploadSeconds: timings.upload, restoreSeconds,
    encryptedBytes, objectKey,
    ciphertextOnly: header.startsWith('age-encryption.org/v1') && !plaintextLeft,
    tables, mismatches, pruneExpired, pruneKeptOthers,
  };
}
