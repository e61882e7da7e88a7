/**
 * `npm run restore -- <env> --to <time|latest> --mode in-place|side-by-side [--new-server] [--dry-run]`
 * `npm run restore -- <env> --finish [--dry-run]`
 *
 * A database restore as one command (docs/runbooks/disaster-recovery.md). It
 *
 * 1. plans the config change: the `recovery` block of `environments.<env>.database` and, in place, a
 *    new `backup.serverName`. Server names are fresh: never one in config, and never one the bucket
 *    already holds when AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are set (else a step says how to check);
 * 2. checks the target time (not in the future, inside the recovery window);
 * 3. renders everything with that change and checks it fits: the capacity budget and every namespace
 *    quota (charts-ts/lib/capacity.ts). When it does not, it refuses with the numbers (and says whether
 *    the other mode would fit) and writes nothing;
 * 4. writes the change into charts-ts/config/sections/data.ts (on the syntax tree) and the synthesized
 *    dist/ (the same files `npm run synth` writes for the edited file);
 * 5. prints the steps in order: the Flux Kustomizations to suspend first (so Flux neither recreates an
 *    empty initdb Cluster nor points the old cluster at the new server name, and no release starts),
 *    the merge, the deletion (in place, running cluster), what to resume and when, what to watch.
 *
 * It does not run kubectl or flux itself: the steps are paced by a pull request and a restore that
 * takes most of an hour, they run through the SSH tunnel from the operator's machine
 * (docs/runbooks/server-rebuild.md), and printing them keeps every step reviewable and testable.
 * `--finish` removes the recovery block again (keeping the new server name) and prints the clean-up
 * and the resume steps. `--dry-run` prints the plan and writes nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp } from '../app.ts';
import { editDatabaseValues, readDatabaseValues, type DatabaseEdit } from '../config/edit-source.ts';
import { ConfigError, deepMerge, parseConfig } from '../config/load.ts';
import { environmentNames, type Config, type ConfigInput, type Environment, type EnvironmentName } from '../config/schema.ts';
import { targetTime as targetTimeField } from '../config/sections/data.ts';
import { values as repositoryValues } from '../config/values.ts';
import { nextServerName, recoveryClusterName, recoveryPlan, recoveryVolumeSize } from '../data/recovery.ts';
import { budgetVerdict } from '../lib/budget.ts';
import { computeCapacity, formatQuota, type Capacity } from '../lib/capacity.ts';
import { repoRoot } from '../lib/crds.ts';
import { names } from '../lib/names.ts';
import { platformNs } from '../lib/namespaces.ts';
import { render, writeRendered, type RenderedFile } from '../lib/synth.ts';
import { fluxLayers, fluxSource } from '../platform/flux-layers.ts';
import { layers } from '../lib/chart.ts';
import { flag, parseCommandLine, usage, usageErrorText, UsageError, type CliSpec, type Option } from './cli.ts';

export type RestoreMode = 'in-place' | 'side-by-side';
const modes: readonly RestoreMode[] = ['in-place', 'side-by-side'];

/** `--mode`: one of the two modes. */
const modeOption: Option<RestoreMode | undefined> = {
  type: 'string', valueName: '<in-place|side-by-side>',
  description: 'side-by-side: a second cluster next to the live one (bad data; copy rows back). in-place: the cluster itself is rebuilt from the backups (lost VPS or volume; every later write is lost)',
  convert: (raw, f) => {
    if (raw === undefined) return undefined;
    if (!modes.includes(raw as RestoreMode)) throw new UsageError(`${f} must be in-place or side-by-side, got "${String(raw)}"`);
    return raw as RestoreMode;
  },
};

/** `--to`: `latest` or an RFC 3339 time with a zone. */
const toOption: Option<string | undefined> = {
  type: 'string', valueName: '<time|latest>',
  description: 'the point to restore to: an RFC 3339 time with a zone (2026-09-01T10:14:00Z: just before the damage) or latest (all archived WAL)',
  convert: (raw, f) => {
    if (raw === undefined) return undefined;
    const s = String(raw);
    if (s === 'latest' || targetTimeField.safeParse(s).success) return s;
    throw new UsageError(`${f} must be "latest" or an RFC 3339 time with a zone like 2026-09-01T10:14:00Z, got "${s}"`);
  },
};

export const restoreCli = {
  script: 'restore',
  summary: 'Restore an environment\'s database from the Barman Cloud backups: write the config change and dist/, check quota and capacity first, print the Flux steps in order.',
  positionals: { usage: '<env>', description: `the environment: ${environmentNames.join(' or ')}`, min: 1, max: 1 },
  options: {
    to: toOption,
    mode: modeOption,
    newServer: flag('in-place on a server being rebuilt (procedure B): the cluster does not exist yet, so nothing is suspended or deleted; merge before `npm run bootstrap -- flux`'),
    finish: flag('end the restore: remove the recovery block (the new server name stays), print the clean-up and resume steps'),
    dryRun: flag('print the plan and the steps; write nothing'),
  },
  epilog: () => [
    'examples:',
    '  npm run restore -- production --to 2026-09-01T10:14:00Z --mode side-by-side --dry-run',
    '  npm run restore -- production --to latest --mode in-place --new-server',
    '  npm run restore -- production --finish',
    '',
    'exit status: 0 done (or planned, with --dry-run), 1 refused (does not fit, bad target, config error), 2 usage error',
  ].join('\n'),
} satisfies CliSpec<Record<string, Option<unknown>>>;

export interface RestoreDeps {
  /** The config input as charts-ts/config/sections/data.ts holds it now (values.ts). */
  readonly values: ConfigInput;
  /** The file the recovery block is written to. */
  readonly dataFile: string;
  readonly distDir: string;
  readonly now: () => Date;
  /** Server names under `<postgresPrefix>/<env>/` in the bucket; undefined when it cannot be listed. */
  readonly listServerNames: (config: Config, env: EnvironmentName) => Promise<{ names?: string[]; note: string }>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export interface Step {
  readonly title: string;
  readonly commands?: string[];
  readonly notes?: string[];
}

// ------------------------------------------------------------------ planning

export interface RestorePlan {
  readonly env: Environment;
  readonly mode: RestoreMode;
  readonly targetTime?: string;
  readonly sourceServerName: string;
  readonly archiveServerName: string;
  /** side-by-side: the recovery cluster's volume. */
  readonly storageSize?: string;
  readonly edit: DatabaseEdit;
  /** The database section as it will read after the edit (for the override and the read-back check). */
  readonly database: Record<string, unknown>;
  /** Whether the bucket was listed for the fresh name (else a step checks it by hand). */
  readonly bucketListed: boolean;
  readonly bucketNote: string;
}

const retentionDays = (config: Config, env: Environment) => env.database.backup.retentionDays ?? config.cluster.data.backup.retentionDays;

/** A refusal: printed with its reasons, exit 1, nothing written. */
export class Refusal extends Error {
  constructor(readonly reasons: string[]) {
    super(reasons.join('\n'));
    this.name = 'Refusal';
  }
}

/** The first name of `sequence` that is not taken. */
export function freshName(first: string, next: (n: string) => string, taken: ReadonlySet<string>): string {
  let name = first;
  for (let i = 0; taken.has(name); i++) {
    if (i > 1000) throw new Error(`no free server name after ${first}`);
    name = next(name);
  }
  return name;
}

/** lms-db-recovery-1 -> lms-db-recovery-2. */
const nextRecoveryName = (n: string) => n.replace(/-(\d+)$/, (_, d) => `-${Number(d) + 1}`);

export function checkTarget(config: Config, env: Environment, to: string, now: Date): string | undefined {
  if (to === 'latest') return undefined;
  const t = Date.parse(to);
  if (t > now.getTime()) {
    throw new Refusal([`--to ${to} is in the future (now ${now.toISOString()}): PostgreSQL stops with "recovery ended before configured recovery target was reached"; use --to latest for the newest point`]);
  }
  const days = retentionDays(config, env);
  const oldest = new Date(now.getTime() - days * 86_400_000);
  if (t < oldest.getTime()) {
    throw new Refusal([
      `--to ${to} is older than ${env.name}'s recovery window (${days} days: nothing before ${oldest.toISOString()} is kept, ` +
      `environments.${env.name}.database.backup.retentionDays / cluster.data.backup.retentionDays); use a logical dump (procedure C of docs/runbooks/disaster-recovery.md)`,
    ]);
  }
  return to;
}

export async function planRestore(config: Config, envName: EnvironmentName, to: string, mode: RestoreMode, deps: Pick<RestoreDeps, 'now' | 'listServerNames'>): Promise<RestorePlan> {
  const env = config.environments[envName];
  const db = env.database;
  if (db.recovery) {
    throw new Refusal([
      `environments.${envName}.database.recovery is already set (${db.recovery.mode} from ${db.recovery.sourceServerName}): one restore at a time; ` +
      `finish it first with \`npm run restore -- ${envName} --finish\``,
    ]);
  }
  const targetTime = checkTarget(config, env, to, deps.now());
  const listed = await deps.listServerNames(config, envName);
  const taken = new Set([db.backup.serverName, ...(listed.names ?? [])]);
  const source = db.backup.serverName;
  if (listed.names && !listed.names.includes(source)) {
    throw new Refusal([`the bucket has no backups under ${config.cluster.data.backup.postgresPrefix}/${envName}/${source}/ (it holds: ${listed.names.join(', ') || 'nothing'}); ` +
      `environments.${envName}.database.backup.serverName must name the generation to restore from`]);
  }
  const base = { bucketListed: listed.names !== undefined, bucketNote: listed.note, env, mode, targetTime, sourceServerName: source };
  const recoveryBase = { mode, sourceServerName: source, ...(targetTime ? { targetTime } : {}) };
  if (mode === 'in-place') {
    const archive = freshName(nextServerName(source), nextServerName, taken);
    const recovery = recoveryBase;
    return { ...base, archiveServerName: archive, edit: { serverName: archive, recovery }, database: { backup: { ...db.backup, serverName: archive }, recovery } };
  }
  const archive = freshName(`${recoveryClusterName}-1`, nextRecoveryName, taken);
  const storageSize = recoveryVolumeSize(env);
  const recovery = { ...recoveryBase, serverName: archive, storageSize };
  return { ...base, archiveServerName: archive, storageSize, edit: { recovery }, database: { recovery } };
}

/** The config input with `environments.<env>.database` replaced by `database` fields (recovery removed when absent). */
export function withDatabase(input: ConfigInput, envName: EnvironmentName, database: Record<string, unknown>, removeRecovery = false): ConfigInput {
  const merged = deepMerge(input, { environments: { [envName]: { database } } }) as ConfigInput;
  if (removeRecovery) {
    const copy = structuredClone(merged);
    delete copy.environments[envName].database.recovery;
    return copy;
  }
  return merged;
}

export interface Rendered {
  readonly config: Config;
  readonly files: RenderedFile[];
  readonly capacity: Capacity;
}

export function renderAndCheck(input: ConfigInput): Rendered {
  const config = parseConfig(input);
  const files = render(buildApp(config));
  const capacity = computeCapacity(files.flatMap((f) => f.objects.map((object) => ({ file: f.path, object }))), config);
  return { config, files, capacity };
}

// ------------------------------------------------------------------ steps

const flux = (verb: string, kind: string, name: string) => `flux ${verb} ${kind} ${name} -n ${platformNs.flux}`;

interface Layers { data: string; apps: string[] }

function layerNames(config: Config): Layers {
  const all = fluxLayers(config);
  const data = all.find((l) => l.path === layers.data)!.name;
  // In dependency order (staging before production).
  const apps = all.filter((l) => environmentNames.some((e) => l.path === layers.apps(e))).map((l) => l.name);
  return { data, apps };
}

const mergeStep = (envName: string, what: string, newServer = false): Step => ({
  title: newServer
    ? 'Commit and push to main now (a pull request with a reviewer if anyone is reachable, else review afterwards) and approve the deploy run\'s production job: it publishes dist/ to the clusters branch, which the new server\'s Flux will read'
    : 'Review and merge, then approve the deploy run\'s production job: it publishes dist/ to the clusters branch',
  commands: [
    'npm test',
    `git switch -c restore-${envName}`,
    'git add charts-ts/config/sections/data.ts dist',
    `git commit -m "restore ${envName}: ${what}"`,
    `git push -u origin restore-${envName}   # open the pull request, merge it`,
  ],
  notes: [
    'The repository variable DEPLOY_FREEZE must be false: a frozen deploy workflow publishes nothing (releases are frozen in Flux instead).',
    ...(newServer ? [] : ['The deploy run fails at "Wait for Flux" while the data layer is suspended or restoring: expected. Its publish step must have succeeded.']),
  ],
});

function bucketCheck(config: Config, plan: RestorePlan): string[] {
  if (plan.bucketListed) return [];
  const path = `${config.cluster.objectStorage.bucket}/${config.cluster.data.backup.postgresPrefix}/${plan.env.name}/`;
  return [`rclone lsf c:${path}   # must list ${plan.sourceServerName}/ and must NOT list ${plan.archiveServerName}/ (rclone setup: procedure C)`];
}

export function restoreSteps(config: Config, plan: RestorePlan, newServer: boolean, written: boolean): Step[] {
  const ns = plan.env.namespace;
  const { data, apps } = layerNames(config);
  const target = plan.targetTime ? `to ${plan.targetTime}` : 'to the latest archived WAL';
  const cluster = plan.mode === 'in-place' ? names.database.cluster : recoveryClusterName;
  const checks: Step = {
    title: 'Check the target and the names',
    commands: [
      ...(newServer ? [] : [`kubectl cnpg status ${names.database.cluster} -n ${ns}   # "First Point of Recoverability" must be before the target`]),
      ...(plan.storageSize ? [`kubectl exec -n ${ns} ${names.database.cluster}-1 -c postgres -- psql -tAc "SELECT pg_size_pretty(sum(pg_database_size(datname))) FROM pg_database"   # must be well below ${plan.storageSize}`] : []),
      ...(newServer ? [] : environmentNames.map((e) => `kubectl argo rollouts list rollouts -n ${config.environments[e].namespace}   # no canary in progress (else: kubectl argo rollouts abort <name> -n ${config.environments[e].namespace})`)),
      ...bucketCheck(config, plan),
    ],
    notes: [plan.bucketNote],
  };
  const written_: Step = {
    title: written
      ? `Written by this command: charts-ts/config/sections/data.ts (environments.${plan.env.name}.database) and dist/`
      : 'Not written (--dry-run): charts-ts/config/sections/data.ts and dist/; run again without --dry-run',
  };
  const watch: Step = {
    title: `Watch the restore (about the RTO of docs/runbooks/disaster-recovery.md; the restore Job first, then the instance)`,
    commands: [
      `kubectl get cluster ${cluster} -n ${ns} -w`,
      `kubectl logs -n ${ns} job/${cluster}-1-full-recovery -f`,
    ],
    notes: [`${data} stays not Ready until ${cluster} is Ready; the layers after it wait meanwhile (expected).`],
  };
  const finish: Step = { title: 'When done', commands: [`npm run restore -- ${plan.env.name} --finish`] };

  if (plan.mode === 'side-by-side') {
    return [
      checks,
      {
        title: 'Freeze releases: suspend the apps layers, the last one first (the capacity check counts no canary pods or migration Jobs while the restore lasts)',
        commands: [...apps].reverse().map((a) => flux('suspend', 'kustomization', a)),
      },
      written_,
      mergeStep(plan.env.name, `side-by-side ${target}`),
      {
        title: `Apply: Flux creates ${recoveryClusterName} in ${data}; the live ${names.database.cluster} is untouched`,
        commands: [flux('reconcile', 'source git', fluxSource.name), flux('reconcile', 'kustomization', data)],
      },
      watch,
      { title: 'Compare and copy rows back: procedure A step 4 of docs/runbooks/disaster-recovery.md' },
      finish,
    ];
  }
  if (newServer) {
    return [
      checks,
      written_,
      mergeStep(plan.env.name, `in place ${target}, archiving as ${plan.archiveServerName}`, true),
      {
        title: `Rebuild the server (docs/runbooks/server-rebuild.md): Flux reconciles the layers in order; ${data} creates ${names.database.cluster} from the backups, the apps wait for it`,
        commands: ['npm run bootstrap -- all --reinstall'],
      },
      watch,
      {
        title: `Verify, and wait for the first base backup under ${plan.archiveServerName}`,
        commands: [`kubectl cnpg status ${names.database.cluster} -n ${ns}`, `kubectl get backups -n ${ns}`],
      },
      finish,
    ];
  }
  return [
    checks,
    {
      title: `Freeze releases and stop the data layer: suspend the apps layers (last first), then ${data}. Suspended, Flux can neither recreate an empty initdb ${names.database.cluster} after the deletion below nor point the old cluster at the new server name`,
      commands: [...[...apps].reverse(), data].map((a) => flux('suspend', 'kustomization', a)),
    },
    written_,
    mergeStep(plan.env.name, `in place ${target}, archiving as ${plan.archiveServerName}`),
    {
      title: `Fetch the published revision (${data} is suspended: it applies nothing yet)`,
      commands: [flux('reconcile', 'source git', fluxSource.name)],
    },
    {
      title: `Delete the old cluster; its volume goes with it and every write after the target is lost`,
      commands: [
        `kubectl delete cluster ${names.database.cluster} -n ${ns} --wait`,
        `kubectl get pvc -n ${ns} -l cnpg.io/cluster=${names.database.cluster}   # must list nothing`,
      ],
    },
    {
      title: `Resume the data layer: Flux creates ${names.database.cluster} bootstrapping from ${plan.sourceServerName}, archiving under ${plan.archiveServerName}`,
      commands: [flux('resume', 'kustomization', data)],
    },
    watch,
    {
      title: `Verify, and wait for the first base backup under ${plan.archiveServerName}`,
      commands: [`kubectl cnpg status ${names.database.cluster} -n ${ns}`, `kubectl get backups -n ${ns}`],
    },
    finish,
  ];
}

export function finishSteps(config: Config, envName: EnvironmentName, recovery: NonNullable<Environment['database']['recovery']>, archive: string, now: Date, written: boolean): Step[] {
  const env = config.environments[envName];
  const ns = env.namespace;
  const { data, apps } = layerNames(config);
  const bucket = `${config.cluster.objectStorage.bucket}/${config.cluster.data.backup.postgresPrefix}/${envName}`;
  const resume: Step = {
    title: 'Resume releases, staging first; then re-run the newest deploy run if it failed while they were suspended',
    commands: [...apps.map((a) => flux('resume', 'kustomization', a)), 'gh run list --workflow deploy.yml --limit 3', 'gh run rerun <id of the newest failed deploy run>'],
  };
  const steps: Step[] = [
    {
      title: written
        ? `Written by this command: the recovery block removed from charts-ts/config/sections/data.ts (backup.serverName stays ${env.database.backup.serverName}) and dist/`
        : 'Not written (--dry-run): charts-ts/config/sections/data.ts and dist/; run again without --dry-run',
    },
    {
      ...mergeStep(envName, `finish the ${recovery.mode} restore`),
      notes: ['The repository variable DEPLOY_FREEZE must be false: a frozen deploy workflow publishes nothing.'],
    },
  ];
  if (recovery.mode === 'side-by-side') {
    steps.push(
      {
        title: `Apply: Flux prunes ${recoveryClusterName} and its volume`,
        commands: [
          flux('reconcile', 'source git', fluxSource.name),
          flux('reconcile', 'kustomization', data),
          `kubectl get cluster,pvc -n ${ns} -l cnpg.io/cluster=${recoveryClusterName}   # must list nothing before releases resume`,
        ],
      },
      resume,
      {
        title: `After the incident review: delete the recovery cluster's own archive (not needed; shred any CSV copies too)`,
        commands: [`rclone purge c:${bucket}/${archive}/`],
      },
    );
  } else {
    const keepUntil = new Date(now.getTime() + (env.database.backup.retentionDays ?? config.cluster.data.backup.retentionDays) * 86_400_000);
    steps.push(
      {
        title: `Apply (the bootstrap change is ignored by the running cluster; a future re-creation would start empty, so use this command again for it)`,
        commands: [flux('reconcile', 'source git', fluxSource.name), flux('reconcile', 'kustomization', data)],
      },
      resume,
      {
        title: `Keep the old generation ${recovery.sourceServerName}/ until ${keepUntil.toISOString().slice(0, 10)} (the new one then covers the whole recovery window), then delete it: the plugin's retention only prunes the current server name`,
        commands: [`rclone purge c:${bucket}/${recovery.sourceServerName}/`],
      },
    );
  }
  return steps;
}

export function formatSteps(steps: Step[]): string[] {
  const out: string[] = ['', 'steps:'];
  steps.forEach((s, i) => {
    out.push(`  ${i + 1}. ${s.title}`);
    for (const c of s.commands ?? []) out.push(`       ${c}`);
    for (const n of s.notes ?? []) out.push(`       note: ${n}`);
  });
  return out;
}

export function formatCapacity(c: Capacity): string[] {
  return [
    'capacity (the rendered output with this change):',
    `  node: ${budgetVerdict(c.budget).replace(/^budget: /, '')}`,
    ...c.quotas.map((q) => `  quota ${formatQuota(q)}`),
  ];
}

// ------------------------------------------------------------------ the runbook's numbers

const mib = (b: number) => `${Math.round(b / 2 ** 20)}Mi`;
const share = (part: number, whole: number) => `${(Math.floor((part / whole) * 1000 + 1e-6) / 10).toFixed(1)} %`;

/**
 * What each restore needs, computed from the config as `npm run restore` would write it: the table in
 * docs/runbooks/disaster-recovery.md ("Capacity during a restore"), checked by test/data/restore.test.ts.
 */
export function restoreCapacityTable(input: ConfigInput): string {
  const base = parseConfig(input);
  const sideBySide = (env: EnvironmentName) => ({
    mode: 'side-by-side', sourceServerName: base.environments[env].database.backup.serverName,
    serverName: `${recoveryClusterName}-1`, storageSize: recoveryVolumeSize(base.environments[env]),
  });
  const inPlace = (env: EnvironmentName) => ({
    backup: { serverName: nextServerName(base.environments[env].database.backup.serverName) },
    recovery: { mode: 'in-place', sourceServerName: base.environments[env].database.backup.serverName },
  });
  const production = base.environments.production;
  const rows: [string, ConfigInput, EnvironmentName][] = [
    ['none (steady state)', input, 'production'],
    ['production side-by-side', withDatabase(input, 'production', { recovery: sideBySide('production') }), 'production'],
    [
      `production side-by-side sized like the live cluster (${production.database.storageSize}, ${production.database.resources.requests.memory}), releases not frozen: the old procedure A`,
      deepMerge(withDatabase(input, 'production', { recovery: { ...sideBySide('production'), storageSize: production.database.storageSize } }), {
        cluster: { data: { recoveryCluster: { resources: production.database.resources, maxConnections: production.database.maxConnections } } },
      }) as ConfigInput,
      'production',
    ],
    ['staging side-by-side', withDatabase(input, 'staging', { recovery: sideBySide('staging') }), 'staging'],
    ['production in-place', withDatabase(input, 'production', inPlace('production')), 'production'],
    ['staging and production side-by-side at once', withDatabase(withDatabase(input, 'staging', { recovery: sideBySide('staging') }), 'production', { recovery: sideBySide('production') }), 'production'],
  ];
  const lines = [
    '| restore | node: memory requests (80 % of allocatable allowed) | namespace | volumes (quota) | memory requests (quota) | memory limits (quota) | fits |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const [label, rowInput, envName] of rows) {
    const config = parseConfig(rowInput);
    const files = render(buildApp(config));
    const objects = files.flatMap((f) => f.objects.map((object) => ({ file: f.path, object })));
    // The old procedure A had no freeze: counted with the canary pods and migration Jobs.
    const capacity = computeCapacity(objects, config, label.includes('the old procedure A') ? { releasesFrozen: false } : {});
    const b = capacity.budget;
    const q = capacity.quotas.find((x) => x.namespace === config.environments[envName].namespace)!;
    const cell = (k: 'requests.storage' | 'requests.memory' | 'limits.memory') => {
      const used = k === 'requests.storage' ? `${Math.round(q.used[k] / 2 ** 30)}Gi` : `${(q.used[k] / 2 ** 30).toFixed(2)}Gi`;
      const over = q.used[k] > q.hard[k]! + 1e-9;
      return `${over ? '**' : ''}${used} of ${Math.round(q.hard[k]! / 2 ** 30)}Gi${over ? '**' : ''}`;
    };
    lines.push(`| ${label} | ${b.fits ? '' : '**'}${mib(b.requests.memory)} = ${share(b.requests.memory, b.allocatable.memory)}${b.fits ? '' : '**'} | ${q.namespace} | ${cell('requests.storage')} | ${cell('requests.memory')} | ${cell('limits.memory')} | ${capacity.problems.length ? 'no' : 'yes'} |`);
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------ running

/** Server names in the bucket, when S3 credentials are in the environment. */
export async function bucketServerNames(config: Config, env: EnvironmentName): Promise<{ names?: string[]; note: string }> {
  const id = process.env.AWS_ACCESS_KEY_ID;
  const secret = process.env.AWS_SECRET_ACCESS_KEY;
  const prefix = `${config.cluster.data.backup.postgresPrefix}/${env}/`;
  const where = `${config.cluster.objectStorage.bucket}/${prefix}`;
  if (!id || !secret) return { note: `bucket not listed (no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY): the server names are the next ones after the config's; check ${where} by hand (the rclone line above)` };
  try {
    const { S3Client, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const client = new S3Client({
      endpoint: config.cluster.objectStorage.endpoint,
      region: config.cluster.bootstrap.objectStorage.signingRegion,
      forcePathStyle: true,
      credentials: { accessKeyId: id, secretAccessKey: secret },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const found: string[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: config.cluster.objectStorage.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
      for (const p of r.CommonPrefixes ?? []) if (p.Prefix) found.push(p.Prefix.slice(prefix.length).replace(/\/$/, ''));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return { names: found.sort(), note: `bucket listed: ${where} holds ${found.join(', ') || 'nothing'}` };
  } catch (e) {
    return { note: `bucket not listed (${(e as Error).message}); check ${where} by hand (the rclone line above)` };
  }
}

export const defaultDeps = (): RestoreDeps => ({
  values: repositoryValues,
  dataFile: join(repoRoot, 'charts-ts/config/sections/data.ts'),
  distDir: join(repoRoot, 'dist'),
  now: () => new Date(),
  listServerNames: bucketServerNames,
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
});

/** Edit the data file, checking the edit reads back as planned; returns the new text (not written). */
function editedSource(deps: RestoreDeps, envName: EnvironmentName, edit: DatabaseEdit, expect: (db: Record<string, unknown>) => string | undefined): string {
  const before = readFileSync(deps.dataFile, 'utf8');
  const after = editDatabaseValues(deps.dataFile, before, envName, edit);
  const problem = expect(readDatabaseValues(deps.dataFile, after, envName) as Record<string, unknown>);
  if (problem) throw new Error(`restore: the edit of ${deps.dataFile} does not read back as planned (${problem}); nothing written`);
  return after;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The whole command; returns the exit status. */
export async function runRestore(argv: readonly string[], deps: RestoreDeps = defaultDeps()): Promise<number> {
  let cli: ReturnType<typeof parseCommandLine<typeof restoreCli.options>>;
  try {
    cli = parseCommandLine(restoreCli, argv);
    if (cli.help) {
      deps.out(usage(restoreCli));
      return 0;
    }
    const envName = cli.positionals[0];
    if (!environmentNames.includes(envName as EnvironmentName)) throw new UsageError(`<env> must be ${environmentNames.join(' or ')}, got "${envName}"`);
    const o = cli.options;
    if (o.finish && (o.to !== undefined || o.mode !== undefined || o.newServer)) throw new UsageError('--finish takes no --to, --mode or --new-server');
    if (!o.finish && o.to === undefined) throw new UsageError('missing --to <time|latest>');
    if (!o.finish && o.mode === undefined) throw new UsageError('missing --mode <in-place|side-by-side>');
    if (o.newServer && o.mode !== 'in-place') throw new UsageError('--new-server goes with --mode in-place (a side-by-side restore needs the live cluster)');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    deps.err(usageErrorText(restoreCli, e).trimEnd());
    return 2;
  }
  const envName = cli.positionals[0] as EnvironmentName;
  const o = cli.options;
  const dryRun = o.dryRun;
  try {
    const current = parseConfig(deps.values);
    const display = (p: string) => relative(repoRoot, p) || p;
    if (o.finish) {
      const recovery = current.environments[envName].database.recovery;
      if (!recovery) throw new Refusal([`environments.${envName}.database.recovery is not set: no restore to finish`]);
      const archive = recoveryPlan(current.environments[envName])!.archiveServerName;
      const r = renderAndCheck(withDatabase(deps.values, envName, {}, true));
      deps.out(`restore ${envName}: finish the ${recovery.mode} restore from ${recovery.sourceServerName}`);
      for (const l of formatCapacity(r.capacity)) deps.out(l);
      if (r.capacity.problems.length) throw new Refusal(r.capacity.problems);
      if (!dryRun) {
        const text = editedSource(deps, envName, { recovery: null }, (db) => (db.recovery === undefined ? undefined : 'recovery is still there'));
        writeFileSync(deps.dataFile, text);
        writeRendered(r.files, deps.distDir);
        deps.out(`wrote ${display(deps.dataFile)} and ${display(deps.distDir)}/ (${r.files.reduce((n, f) => n + f.objects.length, 0)} objects)`);
      }
      for (const l of formatSteps(finishSteps(r.config, envName, recovery, archive, deps.now(), !dryRun))) deps.out(l);
      return 0;
    }

    const plan = await planRestore(current, envName, o.to!, o.mode!, deps);
    deps.out(`restore ${envName}: ${plan.mode} ${plan.targetTime ? `to ${plan.targetTime}` : 'to the latest archived WAL'}${dryRun ? ' (dry run: nothing is written)' : ''}`);
    deps.out(`  restore from  ${current.cluster.data.backup.postgresPrefix}/${envName}/${plan.sourceServerName}/`);
    deps.out(`  archive into  ${current.cluster.data.backup.postgresPrefix}/${envName}/${plan.archiveServerName}/ (new${plan.bucketListed ? ', not in the bucket' : ''})`);
    if (plan.storageSize) {
      deps.out(`  volume        ${plan.storageSize} (expectedDataSize ${plan.env.database.expectedDataSize} + 10 % + 2Gi of WAL; the live database must be smaller: step 1 checks it)`);
      const size = current.cluster.data.recoveryCluster;
      deps.out(`  cluster       ${recoveryClusterName}, 1 instance, ${size.resources.requests.memory} memory, max_connections ${size.maxConnections} (cluster.data.recoveryCluster)`);
    }
    deps.out(`  config        environments.${envName}.database: ${JSON.stringify(plan.edit.serverName ? { backup: { serverName: plan.edit.serverName }, recovery: plan.edit.recovery } : { recovery: plan.edit.recovery })}`);
    const r = renderAndCheck(withDatabase(deps.values, envName, plan.database));
    for (const l of formatCapacity(r.capacity)) deps.out(l);
    if (r.capacity.problems.length) {
      const reasons = [...r.capacity.problems];
      if (plan.mode === 'side-by-side') {
        const other = await planRestore(current, envName, o.to!, 'in-place', { ...deps, listServerNames: async () => ({ names: plan.bucketListed ? [plan.sourceServerName] : undefined, note: '' }) });
        const alt = renderAndCheck(withDatabase(deps.values, envName, other.database));
        reasons.push(alt.capacity.problems.length
          ? 'in-place does not fit either'
          : `in-place would fit (npm run restore -- ${envName} --to ${o.to} --mode in-place), but it replaces the live database and loses every write after the target`);
      }
      throw new Refusal(reasons);
    }
    if (!dryRun) {
      const text = editedSource(deps, envName, plan.edit, (db) => {
        const want = plan.database as { backup?: { serverName: string }; recovery: unknown };
        if (!same(db.recovery, want.recovery)) return `recovery reads ${JSON.stringify(db.recovery)}`;
        if (want.backup && (db.backup as { serverName?: string })?.serverName !== want.backup.serverName) return `backup.serverName reads ${JSON.stringify(db.backup)}`;
        return undefined;
      });
      writeFileSync(deps.dataFile, text);
      writeRendered(r.files, deps.distDir);
      deps.out(`wrote ${display(deps.dataFile)} and ${display(deps.distDir)}/ (${r.files.reduce((n, f) => n + f.objects.length, 0)} objects)`);
    }
    for (const l of formatSteps(restoreSteps(r.config, plan, o.newServer, !dryRun))) deps.out(l);
    return 0;
  } catch (e) {
    if (e instanceof Refusal) {
      deps.err(`restore ${envName}: refused, nothing written:`);
      for (const reason of e.reasons) deps.err(`  ${reason}`);
      return 1;
    }
    if (e instanceof ConfigError) {
      deps.err(e.message);
      return 1;
    }
    throw e;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runRestore(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error(`restore failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
