/**
 * PostgreSQL parameters sized to the container's memory limit, so that the worst case (every
 * connection running two work_mem-sized sorts/hashes while autovacuum and a maintenance command run)
 * stays inside the limit instead of ending in an OOM kill.
 */
import { MiB, memoryBytes } from '../lib/quantity.ts';

export interface MemoryPlan {
  readonly sharedBuffersMiB: number;
  readonly effectiveCacheSizeMiB: number;
  readonly maintenanceWorkMemMiB: number;
  readonly autovacuumWorkMemMiB: number;
  readonly autovacuumMaxWorkers: number;
  readonly workMemMiB: number;
  /** Memory the plan may use at worst, in MiB; always <= 90 % of the limit. */
  readonly worstCaseMiB: number;
  readonly limitMiB: number;
}

/** Private memory of an idle backend (catalog caches, buffers), measured ~2-4 MiB; 4 is conservative. */
export const backendOverheadMiB = 4;
/** Sorts/hashes one query may hold at once in the worst case the plan budgets for. */
export const workMemOpsPerConnection = 2;
/** The plan keeps 10 % of the limit for the postmaster, WAL buffers, page tables and the exporter. */
export const usableShare = 0.9;
const autovacuumMaxWorkers = 3;
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export class MemoryBudgetError extends Error {}

export function planMemory(memoryLimit: string, maxConnections: number): MemoryPlan {
  const limitMiB = Math.floor(memoryBytes(memoryLimit) / MiB);
  const sharedBuffersMiB = Math.floor(limitMiB / 4);
  const maintenanceWorkMemMiB = clamp(Math.floor(limitMiB / 16), 16, 512);
  const autovacuumWorkMemMiB = clamp(Math.floor(maintenanceWorkMemMiB / 2), 8, 256);
  const fixed = sharedBuffersMiB + maintenanceWorkMemMiB + autovacuumMaxWorkers * autovacuumWorkMemMiB + maxConnections * backendOverheadMiB;
  const perOp = Math.floor((limitMiB * usableShare - fixed) / (maxConnections * workMemOpsPerConnection));
  if (perOp < 1) {
    throw new MemoryBudgetError(
      `connections do not fit a ${memoryLimit} memory limit (shared_buffers ${sharedBuffersMiB}MB, ` +
      `${backendOverheadMiB}MB per backend, at least 1MB work_mem each); lower maxConnections (use the pooler) or raise resources.limits.memory`,
    );
  }
  const workMemMiB = Math.min(perOp, 64);
  const worstCaseMiB = fixed + maxConnections * workMemOpsPerConnection * workMemMiB;
  return {
    sharedBuffersMiB,
    // Page cache counts against the container's memory cgroup, so the planner may assume what is
    // left of the limit, not the node's RAM.
    effectiveCacheSizeMiB: limitMiB - sharedBuffersMiB,
    maintenanceWorkMemMiB,
    autovacuumWorkMemMiB,
    autovacuumMaxWorkers,
    workMemMiB,
    worstCaseMiB,
    limitMiB,
  };
}

export interface ParameterOptions {
  readonly memoryLimit: string;
  readonly cpuLimitCores: number;
  readonly maxConnections: number;
  readonly archiveTimeout: string;
}

/** `spec.postgresql.parameters` (CloudNativePG takes strings only). */
export function postgresParameters(o: ParameterOptions): Record<string, string> {
  const m = planMemory(o.memoryLimit, o.maxConnections);
  const parallel = Math.max(1, Math.min(4, Math.floor(o.cpuLimitCores)));
  return {
    max_connections: String(o.maxConnections),
    shared_buffers: `${m.sharedBuffersMiB}MB`,
    effective_cache_size: `${m.effectiveCacheSizeMiB}MB`,
    work_mem: `${m.workMemMiB}MB`,
    maintenance_work_mem: `${m.maintenanceWorkMemMiB}MB`,
    autovacuum_work_mem: `${m.autovacuumWorkMemMiB}MB`,
    autovacuum_max_workers: String(m.autovacuumMaxWorkers),
    // The RPO: a quiet database still ships its current WAL segment at least this often.
    archive_timeout: o.archiveTimeout,
    max_wal_size: '1GB',
    min_wal_size: '256MB',
    wal_compression: 'lz4',
    checkpoint_completion_target: '0.9',
    // Local NVMe: random reads cost little more than sequential ones.
    random_page_cost: '1.1',
    effective_io_concurrency: '200',
    max_parallel_workers_per_gather: String(Math.max(1, Math.floor(parallel / 2))),
    max_parallel_maintenance_workers: String(Math.max(1, Math.floor(parallel / 2))),
    // Any pg_stat_statements.* parameter makes CloudNativePG preload the library and create the
    // extension in every database (docs: postgresql_conf.md "Enabling pg_stat_statements").
    'pg_stat_statements.max': '5000',
    'pg_stat_statements.track': 'top',
    log_min_duration_statement: '1s',
    log_lock_waits: 'true',
    log_temp_files: '10MB',
    idle_in_transaction_session_timeout: '10min',
    timezone: 'UTC',
  };
}
