/**
 * The recovery-time arithmetic, in one place: the database restore (RTO of the data layer) and the
 * whole-VPS rebuild around it. The DR drill (drill/report.ts) feeds it what it measured, the DR
 * runbook and the server-rebuild runbook show its tables (test/data/rto.test.ts checks that they
 * are the ones computed here from the config and drill/report.json).
 *
 * Every term says where its number comes from: `measured` (the drill, on its machine), `config`
 * (the repository's settings, e.g. expectedDataSize and Contabo's bandwidth limit), or `estimate`
 * (a step this repository cannot run: Contabo's reinstall, cloud-init, image pulls on a real node).
 */
import type { Config } from '../config/schema.ts';
import type { FluxTimings } from '../lib/flux-timings.ts';
import { memoryBytes } from '../lib/quantity.ts';
import { walRestoreParallelism } from './object-store.ts';

const MB = 1e6;
/** PostgreSQL's WAL segment size (CloudNativePG's default; the cluster sets no other). */
export const walSegmentBytes = 16 * 2 ** 20;

/** What the drill measured (drill/report.json `figures.rto`); all rates are local, with no link limit. */
export interface RtoMeasurements {
  /** Stored / logical size of the base backup, on LMS-shaped data (text, JSON, indexes). */
  readonly baseCompression: number;
  /** Stored / logical size of the archived WAL of an LMS-shaped workload. */
  readonly walCompression: number;
  /** barman-cloud-backup: logical MB per second (the compression is what limits it). */
  readonly backupMBps: number;
  /** barman-cloud-restore: logical MB per second (download, decompression and writing stream together). */
  readonly restoreMBps: number;
  /** Wall seconds the restore_command spends per WAL segment with the configured parallel fetch. */
  readonly walFetchSecondsPerSegment: number;
  /** The same one segment at a time (wal.maxParallel 1), for comparison. */
  readonly walFetchSerialSecondsPerSegment: number;
  /** Replay without the fetch: logical WAL MB per second (server start and promotion included). */
  readonly walApplyMBps: number;
}

export type Basis = 'measured' | 'config' | 'estimate';

export interface RtoTerm {
  readonly id: string;
  readonly what: string;
  readonly minutes: number;
  readonly basis: Basis;
  /** How the number was reached, with its inputs. */
  readonly how: string;
}

/**
 * Fixed parts of a database restore that no drill here can time (no kubelet, no registry): the
 * operator's full-recovery Job starting on a node that has not pulled the operand and plugin images
 * yet (about 400 MB from ghcr.io), and the instance pod replacing the Job afterwards.
 */
export const restoreFixedEstimates = {
  recoveryJobStartMinutes: 3,
  instanceStartMinutes: 2,
} as const;

/**
 * The rebuild of a lost VPS before and after the database restore (docs/runbooks/server-rebuild.md).
 * Estimates: none of these steps can run here. `overlaps` names a step that runs while another one
 * is on the critical path, so it adds nothing to the total.
 */
export const rebuildSteps: ReadonlyArray<{ id: string; what: string; command: string; minutes: number; overlaps?: string; note: string }> = [
  { id: 'decide', what: 'decide, gather credentials', command: '', minutes: 5, note: 'the checklist of server-rebuild.md "What you need"' },
  { id: 'provision', what: 'VPS: reinstall the existing instance', command: 'npm run bootstrap -- provision --reinstall', minutes: 10, note: 'a new order is usually 10-20 min and not guaranteed by Contabo: reinstall whenever the instance exists' },
  { id: 'restore-switch', what: 'switch the databases to restore in place, merge, publish', command: 'npm run restore -- production --to latest --mode in-place --new-server (and staging)', minutes: 10, overlaps: 'provision', note: 'while the VPS reinstalls; published before Flux runs' },
  { id: 'cloud-init', what: 'cloud-init on the VPS (packages, hardening, firewall)', command: 'part of the k3s step\'s wait', minutes: 8, note: '5-8 min' },
  { id: 'cloudflare', what: 'edge: DNS to the new IP, TLS, WAF', command: 'npm run bootstrap -- cloudflare', minutes: 1, overlaps: 'cloud-init', note: 'proxied records switch at once' },
  { id: 'k3s', what: 'k3s install, node Ready, kubeconfig', command: 'npm run bootstrap -- k3s', minutes: 5, note: '3-5 min' },
  { id: 'platform', what: 'Flux bootstrap, then namespaces, secrets, controllers, configs (the operators the restore needs)', command: 'npm run bootstrap -- flux', minutes: 12, note: 'first pulls of Flux, cert-manager, CloudNativePG, the Barman Cloud plugin, Argo Rollouts' },
  { id: 'database', what: 'databases restore (platform-data Ready)', command: 'DR runbook, procedure B', minutes: Number.NaN, note: 'derived: the database table' },
  { id: 'apps', what: 'apps-production and apps-staging side by side (API, web, Redis)', command: '', minutes: 3, note: 'a first rollout skips the canary steps; while a database restores in place production does not wait for staging (charts-ts/platform/flux-layers.ts)' },
  { id: 'observability', what: 'platform-observability (Prometheus, Grafana, Loki, Tempo, collector)', command: '', minutes: 8, overlaps: 'apps', note: 'beside the apps: while a database restores in place the apps layers wait for platform-data only (charts-ts/platform/flux-layers.ts); not on the users\' path, its first image pulls share the link' },
];

/**
 * What the first-deploy test cannot time of the platform step: `flux bootstrap` installing its
 * controllers, and the first pulls of the controllers' images on an empty node (Flux's four,
 * cert-manager's three, CloudNativePG, the Barman Cloud plugin, Argo Rollouts, system-upgrade-
 * controller: about 370 MB compressed; under a minute at 10 MB/s, the rest for unpacking and the
 * pods' starts), with margin.
 */
export const platformPullEstimateMinutes = 4;

/** The layer the data layer waits for: the platform before the restore ends with it. */
const platformBeforeData = 'platform-configs';

export interface RtoInputs {
  readonly config: Config;
  readonly measured: RtoMeasurements;
  /**
   * The first-deploy test's measurement (readFluxTimings('first-deploy')): seconds from the first
   * push to each layer Ready. Without it the platform step is an estimate.
   */
  readonly firstDeploy?: FluxTimings;
}

export interface DatabaseRto {
  readonly environment: 'production';
  readonly dataBytes: number;
  /** WAL replayed at worst: one base-backup interval plus the backup's own duration. */
  readonly walBytes: number;
  readonly walSegments: number;
  readonly baseBackupIntervalHours: number;
  readonly baseBackupHours: number;
  readonly walParallel: number;
  readonly bandwidthMBps: number;
  readonly terms: RtoTerm[];
  readonly minutes: number;
  readonly targetMinutes: number;
}

export interface VpsRto {
  readonly terms: RtoTerm[];
  readonly minutes: number;
  readonly targetMinutes: number;
  /** Minutes of the total that are estimates (not measured or derived from config). */
  readonly estimatedMinutes: number;
}

/**
 * Longest gap in hours between two runs of a six-field (seconds first) daily schedule: "0 0 2 * * *"
 * is 24, "0 0 2,14 * * *" is 12, "0 0 *\/6 * * *" is 6. Day, month and weekday fields must be "*".
 */
export function scheduleIntervalHours(schedule: string): number {
  const f = schedule.trim().split(/\s+/);
  if (f.length !== 6 || f.slice(3).some((x) => x !== '*') || !/^\d+$/.test(f[0]) || !/^\d+$/.test(f[1])) {
    throw new Error(`base-backup schedule "${schedule}": the RTO arithmetic reads fixed seconds and minutes, an hour field and "*" for day, month and weekday`);
  }
  const h = f[2];
  let hours: number[];
  if (h === '*') hours = Array.from({ length: 24 }, (_, i) => i);
  else if (/^\*\/\d+$/.test(h)) {
    const step = Number(h.slice(2));
    hours = Array.from({ length: Math.ceil(24 / step) }, (_, i) => i * step);
  } else if (/^\d+(,\d+)*$/.test(h)) hours = [...new Set(h.split(',').map(Number))].sort((a, b) => a - b);
  else throw new Error(`base-backup schedule "${schedule}": hour field "${h}" is not *, */n or a list`);
  if (hours.some((x) => x > 23)) throw new Error(`base-backup schedule "${schedule}": hours go up to 23`);
  return Math.max(...hours.map((x, i) => (i + 1 < hours.length ? hours[i + 1] - x : 24 - x + hours[0])));
}

const min = (seconds: number) => seconds / 60;
const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;
const f1 = (n: number) => n.toFixed(1);

/** Base-backup transfer and extraction of one database: they stream together, the slower counts. */
function baseTerm(id: string, what: string, bytes: number, m: RtoMeasurements, bw: number): RtoTerm {
  const stored = bytes * m.baseCompression;
  const download = min(stored / MB / bw);
  const extract = min(bytes / MB / m.restoreMBps);
  return {
    id, what, minutes: Math.max(download, extract), basis: 'measured',
    how: `${gb(bytes)} stored as ${gb(stored)} (${(m.baseCompression * 100).toFixed(0)} % measured): download at ${bw} MB/s ${f1(download)} min, ` +
      `extraction at the measured ${f1(m.restoreMBps)} MB/s ${f1(extract)} min; they stream together, the slower counts`,
  };
}

/** The production database's restore, term by term. */
export function databaseRto({ config, measured: m }: RtoInputs): DatabaseRto {
  const data = config.cluster.data;
  const prod = config.environments.production;
  const bw = data.objectives.objectStorageBandwidthMBps;
  const dataBytes = memoryBytes(prod.database.expectedDataSize);
  const walPerDay = memoryBytes(prod.database.expectedWalPerDay);
  const intervalHours = scheduleIntervalHours(data.backup.schedule);
  // The restore replays from the start of the newest base backup: at worst a whole interval plus the
  // backup's own duration (compression on the sidecar's one core, or the upload over the link).
  const backupSeconds = Math.max(dataBytes / MB / m.backupMBps, (dataBytes * m.baseCompression) / MB / bw);
  const baseBackupHours = backupSeconds / 3600;
  const walBytes = walPerDay * (intervalHours + baseBackupHours) / 24;
  const walSegments = Math.ceil(walBytes / walSegmentBytes);
  const walParallel = walRestoreParallelism(config);
  const walStored = walBytes * m.walCompression;
  const terms: RtoTerm[] = [
    {
      id: 'recovery-job', what: 'recovery Job starts (pod, operand and plugin images, init)', minutes: restoreFixedEstimates.recoveryJobStartMinutes, basis: 'estimate',
      how: 'no kubelet or registry here; about 400 MB of images on a node that has none cached',
    },
    baseTerm('base', 'base backup: download and extraction (barman-cloud-restore)', dataBytes, m, bw),
    {
      id: 'wal-transfer', what: 'WAL: transfer over the link', minutes: min(walStored / MB / bw), basis: 'measured',
      how: `${gb(walBytes)} of WAL (${prod.database.expectedWalPerDay} a day x (${intervalHours} h between base backups + ${f1(baseBackupHours)} h the backup takes)) ` +
        `stored as ${gb(walStored)} (${(m.walCompression * 100).toFixed(0)} % measured, ${data.backup.walCompression}) at ${bw} MB/s`,
    },
    {
      id: 'wal-fetch', what: `WAL: restore_command, ${walParallel} segments at a time`, minutes: min(walSegments * m.walFetchSecondsPerSegment), basis: 'measured',
      how: `${walSegments} segments x ${m.walFetchSecondsPerSegment.toFixed(2)} s measured per segment with wal.maxParallel ${walParallel} ` +
        `(one at a time: ${m.walFetchSerialSecondsPerSegment.toFixed(2)} s, ${f1(min(walSegments * m.walFetchSerialSecondsPerSegment))} min); counted on top of the transfer`,
    },
    {
      id: 'wal-apply', what: 'WAL: replay to the target, promotion', minutes: min(walBytes / MB / m.walApplyMBps), basis: 'measured',
      how: `${gb(walBytes)} at the measured ${f1(m.walApplyMBps)} MB/s (the restore_command's time taken out)`,
    },
    {
      id: 'instance', what: 'instance pod replaces the Job, Cluster Ready', minutes: restoreFixedEstimates.instanceStartMinutes, basis: 'estimate',
      how: 'no kubelet here; the images are cached by then',
    },
  ];
  return {
    environment: 'production', dataBytes, walBytes, walSegments, baseBackupIntervalHours: intervalHours, baseBackupHours, walParallel, bandwidthMBps: bw,
    terms, minutes: sum(terms), targetMinutes: data.objectives.databaseRtoMinutes,
  };
}

const sum = (terms: RtoTerm[]) => terms.reduce((a, t) => a + t.minutes, 0);

/**
 * The whole VPS: the rebuild steps around the database, with production and staging restoring at
 * once over the same bucket's bandwidth limit (procedure B restores both).
 */
export function vpsRto(inputs: RtoInputs): VpsRto {
  const { config, measured: m } = inputs;
  const db = databaseRto(inputs);
  const bw = config.cluster.data.objectives.objectStorageBandwidthMBps;
  const others = Object.values(config.environments).filter((e) => e.name !== 'production');
  const otherBytes = others.reduce((a, e) => a + memoryBytes(e.database.expectedDataSize), 0);
  const shared = min((otherBytes * m.baseCompression) / MB / bw);
  const terms: RtoTerm[] = [];
  for (const s of rebuildSteps) {
    if (s.overlaps) continue;
    if (s.id === 'database') {
      terms.push({ id: 'database', what: 'production database restore', minutes: db.minutes, basis: 'measured', how: `the database table: ${f1(db.minutes)} min, of which ${f1(db.terms.filter((t) => t.basis === 'estimate').reduce((a, t) => a + t.minutes, 0))} estimated` });
      if (others.length) {
        terms.push({
          id: 'database-shared', what: `${others.map((e) => e.name).join(', ')} restoring at the same time over the same link`, minutes: shared, basis: 'measured',
          how: `${gb(otherBytes)} stored as ${gb(otherBytes * m.baseCompression)} share the bucket's ${bw} MB/s`,
        });
      }
      continue;
    }
    const flux = inputs.firstDeploy?.secondsFromPush[platformBeforeData];
    if (s.id === 'platform' && flux !== undefined) {
      terms.push({
        id: 'platform-flux', what: `Flux: namespaces, secrets, controllers, configs Ready (the operators the restore needs, the issuers, the ACME certificate)`,
        minutes: flux / 60, basis: 'measured',
        how: `first-deploy test (bench/results/flux-first-deploy.json, ${inputs.firstDeploy!.measuredAt.slice(0, 10)}): push -> ${platformBeforeData} Ready in ${Math.round(flux)} s, real controllers, no image pulls`,
      });
      terms.push({
        id: 'platform-pulls', what: 'flux bootstrap and the controllers\' first image pulls', minutes: platformPullEstimateMinutes, basis: 'estimate',
        how: 'about 370 MB of controller images on an empty node (under a minute at 10 MB/s), unpacking and starts, with margin',
      });
      continue;
    }
    terms.push({ id: s.id, what: s.what, minutes: s.minutes, basis: 'estimate', how: s.note });
  }
  const total = sum(terms);
  return { terms, minutes: total, targetMinutes: config.cluster.data.objectives.rtoMinutes, estimatedMinutes: sum(terms.filter((t) => t.basis === 'estimate')) + db.terms.filter((t) => t.basis === 'estimate').reduce((a, t) => a + t.minutes, 0) };
}

const fmtMin = (m: number) => (m >= 60 ? `${Math.floor(m / 60)} h ${Math.round(m % 60)} min` : `${f1(m)} min`);

/** Markdown table of the database RTO (drill report, DR runbook). */
export function databaseRtoTable(db: DatabaseRto): string {
  const rows = db.terms.map((t) => `| ${t.what} | ${f1(t.minutes)} min | ${t.basis} | ${t.how} |`);
  return [
    '| term | minutes | basis | how |',
    '|---|---|---|---|',
    ...rows,
    `| **database RTO** (production, ${(db.dataBytes / 2 ** 30).toFixed(0)} GiB at ${db.bandwidthMBps} MB/s) | **${f1(db.minutes)} min** | | target ${db.targetMinutes} min: ${db.minutes <= db.targetMinutes ? 'met' : '**NOT met**'} |`,
  ].join('\n');
}

/** Markdown table of the whole-VPS RTO (drill report, DR runbook, server-rebuild runbook). */
export function vpsRtoTable(v: VpsRto): string {
  let at = 0;
  const rows = v.terms.map((t) => {
    at += t.minutes;
    return `| ${t.what} | ${f1(t.minutes)} min | ${fmtMin(at)} | ${t.basis} | ${t.how} |`;
  });
  const overlapped = rebuildSteps.filter((s) => s.overlaps).map((s) => `| ${s.what} | (${s.minutes} min) | during ${s.overlaps} | estimate | ${s.note} |`);
  return [
    '| step | minutes | cumulative | basis | how |',
    '|---|---|---|---|---|',
    ...rows,
    ...overlapped,
    `| **whole-VPS RTO** | **${fmtMin(v.minutes)}** | | | ${fmtMin(v.estimatedMinutes)} of it estimated; target ${v.targetMinutes} min: ${v.minutes <= v.targetMinutes ? 'met' : '**NOT met**'} |`,
  ].join('\n');
}
