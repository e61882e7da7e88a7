/**
 * The GitHub Actions workflows: actionlint (the rhysd/actionlint Go module, built by
 * scripts/setup.d/70-delivery-tools.sh, running shellcheck on every `run:` script) on every
 * workflow, shellcheck on the helper scripts, every action pinned by commit, and the deploy
 * pipeline's paths, names and versions checked against the typed config and the rendered output.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { layers } from '../../charts-ts/lib/chart.ts';
import { canaryEventTypes } from '../../charts-ts/lib/canary-events.ts';
import { desiredRulesets, rulesetNames } from '../../bootstrap/steps/github.ts';
import { asKind } from '../../charts-ts/lib/workloads.ts';
import { renderAll, type Rendered } from '../support/render.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
process.env.PATH = `${repoRoot}/.cache/bin:${process.env.PATH}`;
const workflowsDir = join(repoRoot, '.github/workflows');
const scriptsDir = join(repoRoot, '.github/scripts');
const workflowFiles = readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f)).sort();
/** A GitHub Actions workflow (https://docs.github.com/actions/reference/workflow-syntax-for-github-actions): the fields read. */
interface Step { id?: string; name?: string; uses?: string; run?: string; if?: string; with?: Record<string, string | number | boolean>; env?: Record<string, string> }
/** `permissions`: a map of scopes, or `read-all` / `write-all`. */
type Permissions = Record<string, string> | string;
/** `environment`: a name, or a name and URL. */
type JobEnvironment = string | { name: string; url?: string };
interface Job { name?: string; steps?: Step[]; permissions?: Permissions; needs?: unknown; environment?: JobEnvironment; env?: Record<string, string>; concurrency?: unknown; container?: string | { image?: string } }
interface Workflow {
  on: {
    push?: { branches: string[] };
    repository_dispatch?: { types: string[] };
    workflow_dispatch?: { inputs: Record<string, { default?: string }> };
    schedule?: unknown;
    [event: string]: unknown;
  };
  permissions?: Permissions;
  env?: Record<string, string>;
  concurrency?: unknown;
  jobs: Record<string, Job>;
}
/** The environment of a job that names it with a URL (deploy.yml's production job). */
const environmentOf = (job: Job) => job.environment as { name: string; url?: string };
const workflow = (name: string): Workflow => parse(readFileSync(join(workflowsDir, name), 'utf8')) as Workflow;
const runs = (job: Job): string => (job.steps ?? []).map((s) => s.run ?? '').join('\n');
/** The `npm run release -- wait` calls of a job: the layers (--layer) and whether it waits for the deployment's canaries. */
const releaseWaits = (job: Job): { layers: string[]; canaries: boolean }[] =>
  (job.steps ?? []).flatMap((s) => (s.run ?? '').replace(/\\\n/g, ' ').split('\n')
    .filter((l: string) => /npm run --silent release -- wait\b/.test(l))
    .map((l: string) => ({ layers: [...l.matchAll(/--layer (\S+)/g)].map((m) => m[1]), canaries: l.includes('--deployment') })));
const uses = (job: Job): string[] => (job.steps ?? []).map((s) => s.uses).filter((u): u is string => Boolean(u));
/** The `npm run publish` command of a job: dist/ paths, --repo-path paths and --remote. */
const publishCommand = (job: Job): { dist: string[]; repo: string[]; remote?: string } => {
  const step = job.steps!.find((s) => s.id === 'publish')!;
  const words = step.run!.replace(/\\\n/g, ' ').split('\n').find((l: string) => l.includes('npm run publish'))!.trim().split(/\s+/).slice(4);
  const repo: string[] = [];
  const dist: string[] = [];
  let remote: string | undefined;
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '--repo-path') repo.push(words[++i]);
    else if (words[i] === '--remote') remote = words[++i];
    else dist.push(words[i]);
  }
  return { dist, repo, ...(remote ? { remote } : {}) };
};

const tool = (name: string): string => {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name} is not installed: run \`npm run setup\` (scripts/setup.d/70-delivery-tools.sh)`);
  return r.stdout.trim();
};

/** Every `uses:` in a workflow text that is not pinned to a full commit with a version comment. */
export function unpinnedUses(text: string): string[] {
  const problems: string[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    const m = /^\s*(?:-\s*)?uses:\s*["']?([^\s"'#]+)["']?\s*(#.*)?$/.exec(line);
    if (!m) continue;
    const [, ref, comment] = m;
    if (ref.startsWith('./')) continue; // an action in this repository
    if (ref.startsWith('docker://')) {
      if (!/@sha256:[a-f0-9]{64}$/.test(ref)) problems.push(`line ${i + 1}: ${ref} is not pinned by digest`);
      continue;
    }
    if (!/^[^@\s]+@[0-9a-f]{40}$/.test(ref)) problems.push(`line ${i + 1}: ${ref} is not pinned to a 40-hex commit`);
    else if (!/^#\s*v\d+\.\d+\.\d+\b/.test(comment ?? '')) problems.push(`line ${i + 1}: ${ref} has no "# vX.Y.Z" comment naming the release`);
  }
  return problems;
}

describe('actionlint', () => {
  it('passes every workflow, with shellcheck checking the run scripts', () => {
    expect(workflowFiles).toEqual(expect.arrayContaining(['ci.yml', 'deploy.yml', 'images.yml', 'load-test.yml', 'dr-drill.yml']));
    tool('shellcheck');
    const r = spawnSync(tool('actionlint'), ['-color=false', ...workflowFiles.map((f) => join(workflowsDir, f))], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('fails a broken workflow, including a shellcheck finding in a run script (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'actionlint-'));
    try {
      mkdirSync(join(dir, '.github/workflows'), { recursive: true });
      writeFileSync(join(dir, '.github/workflows/bad.yml'), [
        'on: push',
        'jobs:',
        '  a:',
        '    runs-on: ubuntu-24.04',
        '    steps:',
        '      - run: echo ${{ github.event.head_commit.message }}', // script injection
        '      - run: rm -rf $DIR/*', // SC2115/SC2086
        '      - run: echo ${{ steps.nope.outputs.x }}',
        '',
      ].join('\n'));
      const r = spawnSync(tool('actionlint'), ['-color=false', '.github/workflows/bad.yml'], { cwd: dir, encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stdout).toMatch(/potentially untrusted/);
      expect(r.stdout).toMatch(/shellcheck reported issue/);
      expect(r.stdout).toMatch(/property "nope" is not defined/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shellcheck passes the helper scripts the workflows run', () => {
    const scripts = readdirSync(scriptsDir).filter((f) => f.endsWith('.sh')).map((f) => join(scriptsDir, f));
    expect(scripts.length).toBeGreaterThan(0);
    const r = spawnSync(tool('shellcheck'), ['--severity=style', ...scripts], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('pinned actions', () => {
  it.each(workflowFiles)('%s: every action is pinned to a commit SHA with its version in a comment', (file) => {
    expect(unpinnedUses(readFileSync(join(workflowsDir, file), 'utf8'))).toEqual([]);
  });

  it('the pin check catches tags, short SHAs, branches and a missing version comment', () => {
    expect(unpinnedUses([
      '      - uses: actions/checkout@v4',
      '      - uses: actions/checkout@11bd719',
      '      - uses: actions/setup-node@main',
      '      - uses: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae',
      '      - uses: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae # v5.0.5',
      '      - uses: ./.github/actions/local',
      '      - uses: docker://alpine:3.20',
    ].join('\n'))).toEqual([
      'line 1: actions/checkout@v4 is not pinned to a 40-hex commit',
      'line 2: actions/checkout@11bd719 is not pinned to a 40-hex commit',
      'line 3: actions/setup-node@main is not pinned to a 40-hex commit',
      'line 4: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae has no "# vX.Y.Z" comment naming the release',
      'line 7: docker://alpine:3.20 is not pinned by digest',
    ]);
  });

  it('no action that builds its image from a Dockerfile on a mutable tag: such tools run as docker:// images by digest', () => {
    // hadolint-action v3.3.0 builds FROM ghcr.io/hadolint/hadolint:v2.14.0-debian, dockle-action
    // v0.4.15 FROM goodwithtech/dockle:v0.4.15 (both read from the tagged commits): the commit pin
    // does not pin what runs.
    const tagBuilt = ['hadolint/hadolint-action', 'goodwithtech/dockle-action'];
    for (const file of workflowFiles) {
      for (const [id, job] of Object.entries(workflow(file).jobs ?? {})) {
        for (const u of uses(job)) expect(tagBuilt.includes(u.split('@')[0]), `${file} job ${id} uses ${u}`).toBe(false);
      }
    }
    const build = workflow('images.yml').jobs.build.steps!;
    const step = (re: RegExp) => build.find((s) => re.test(s.name ?? ''))!;
    expect(step(/hadolint/).uses).toMatch(/^docker:\/\/hadolint\/hadolint:v2\.14\.0@sha256:[a-f0-9]{64}$/);
    expect(step(/hadolint/).with!.args).toContain('--failure-threshold warning');
    expect(step(/Dockle/).uses).toMatch(/^docker:\/\/goodwithtech\/dockle:v0\.4\.15@sha256:[a-f0-9]{64}$/);
    expect(step(/Dockle/).with!.args).toBe('--exit-code 1 --exit-level warn ${{ steps.names.outputs.scan }}');
  });

  it('container images of jobs are pinned by digest', () => {
    for (const file of workflowFiles) {
      for (const [id, job] of Object.entries(workflow(file).jobs ?? {})) {
        const image = typeof job.container === 'string' ? job.container : job.container?.image;
        if (image) expect(image, `${file} job ${id}`).toMatch(/@sha256:[a-f0-9]{64}$/);
      }
    }
  });
});

describe('workflows against the config', () => {
  let r: Rendered;
  beforeAll(() => { r = renderAll(); }, 300_000);
  const deploy = workflow('deploy.yml');

  it('ci.yml: on pull requests, runs install, type-check, lint, synth, the dist/ check, README\'s tests and the diff comment', () => {
    const ci = workflow('ci.yml');
    expect(Object.keys(ci.on)).toEqual(['pull_request']);
    const script = runs(ci.jobs.checks);
    const order = ['npm ci', 'npm run typecheck', 'npm run lint', 'import-crds.ts --download', 'npm run synth', 'git diff --exit-code --stat -- dist', 'npm run setup', 'npm test', 'npm run test:cluster'];
    const at = order.map((s) => script.indexOf(s));
    expect(at.every((i) => i >= 0), `missing: ${order.filter((_, i) => at[i] < 0)}`).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    // README's test command is what CI runs.
    expect(readFileSync(join(repoRoot, 'README.md'), 'utf8')).toContain('npm run setup && npm test && npm run test:cluster');
    // The diff is rendered with a read-only token (npm ci runs there); the comment job holds the
    // write token and installs nothing.
    expect(ci.jobs['dist-diff'].permissions).toEqual({ contents: 'read' });
    expect(runs(ci.jobs['dist-diff'])).toContain('.github/scripts/dist-diff-comment.sh');
    expect((ci.jobs['dist-diff-comment'].permissions as Record<string, string>)['pull-requests']).toBe('write');
    expect(runs(ci.jobs['dist-diff-comment'])).toContain('.github/scripts/pr-comment.sh');
    expect(runs(ci.jobs['dist-diff-comment'])).not.toMatch(/\bnpm\b/);
  });

  it('deploy.yml: push to main; one job in the `production` environment, which renders dist/ again before publishing', () => {
    expect(deploy.on.push!.branches).toEqual(['main']);
    // No verify job on the path to production: the main ruleset's strict required checks (no bypass)
    // already proved dist/ current on the merged tree; the production job repeats the render.
    expect(Object.keys(deploy.jobs)).toEqual(['production']);
    expect(deploy.jobs.production.needs).toBeUndefined();
    expect(environmentOf(deploy.jobs.production).name).toBe('production');
    expect(deploy.jobs.production.permissions).toEqual({ contents: 'read', deployments: 'write', statuses: 'read' });
    const steps: Step[] = deploy.jobs.production.steps!;
    const at = (re: RegExp) => steps.findIndex((st) => re.test(st.run ?? ''));
    const check = at(/git diff --exit-code --stat -- dist/);
    expect(check).toBeGreaterThan(0);
    expect(steps[check].run).toMatch(/npm run synth/);
    expect(check).toBeLessThan(at(/npm run publish/));
  });

  it('main only takes merges that passed ci.yml on an up-to-date branch (what makes a second render job redundant)', () => {
    const main = desiredRulesets(r.config).find((x) => x.name === rulesetNames.main)!;
    expect(main.bypass_actors).toEqual([]);
    const checks = main.rules?.find((x) => x.type === 'required_status_checks')?.parameters as { strict_required_status_checks_policy: boolean; required_status_checks: { context: string }[] };
    expect(checks.strict_required_status_checks_policy).toBe(true);
    // The ci.yml job that runs synth and the dist/ check is among the required contexts.
    const ciJob = Object.values(workflow('ci.yml').jobs).find((j) => runs(j).includes('git diff --exit-code --stat -- dist'));
    expect(ciJob?.name).toBeDefined();
    expect(checks.required_status_checks.map((c) => c.context)).toContain(ciJob!.name);
    expect(main.rules?.some((x) => x.type === 'pull_request')).toBe(true);
  });

  it('deploy.yml: deploys queue per environment, never cancelling one another (no workflow-wide group)', () => {
    // A workflow-wide group would make GitHub replace a pending run of the group with the newer one:
    // a merge waiting for approval would silently be dropped.
    expect(deploy.concurrency).toBeUndefined();
    let deploying = 0;
    for (const [id, job] of Object.entries(deploy.jobs)) {
      const env = typeof job.environment === 'string' ? job.environment : job.environment?.name;
      if (!env) continue;
      deploying++;
      expect(job.concurrency, `deploy.yml job ${id}`).toEqual({ group: `deploy-${env}`, 'cancel-in-progress': false });
    }
    expect(deploying).toBe(1);
  });

  it('Node 24 LTS in every workflow (setup-node and job containers)', () => {
    let seen = 0;
    for (const file of workflowFiles) {
      const wf = workflow(file);
      for (const [id, job] of Object.entries(wf.jobs ?? {})) {
        for (const s of job.steps ?? []) {
          if (!String(s.uses ?? '').startsWith('actions/setup-node@')) continue;
          const v = String(s.with?.['node-version'] ?? '').replace(/^\$\{\{ env\.(\w+) \}\}$/, (_m, k) => String(job.env?.[k] ?? wf.env?.[k]));
          expect(v, `${file} job ${id}`).toMatch(/^24(\.|$)/);
          seen++;
        }
        const image = typeof job.container === 'string' ? job.container : job.container?.image;
        if (image?.startsWith('node:')) { expect(image, `${file} job ${id}`).toMatch(/^node:24\./); seen++; }
      }
    }
    expect(seen).toBeGreaterThan(5);
    // The repository itself still supports Node 20 (development machines, .ci/run).
    expect(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).engines.node).toMatch(/^>=20\./);
  });

  it('Contabo credentials are read only by jobs in the protected `contabo` environment', () => {
    let readers = 0;
    for (const file of workflowFiles) {
      const wf = workflow(file);
      expect(JSON.stringify(wf.env ?? {}), `${file} workflow env`).not.toContain('secrets.CONTABO_');
      for (const [id, job] of Object.entries(wf.jobs ?? {})) {
        if (!JSON.stringify(job).includes('secrets.CONTABO_')) continue;
        readers++;
        const env = typeof job.environment === 'string' ? job.environment : job.environment?.name;
        expect(env, `${file} job ${id} reads CONTABO_* secrets`).toBe('contabo');
      }
    }
    expect(readers).toBeGreaterThan(0);
  });

  it('deploy.yml publishes exactly the configured paths, and together they cover every dist/ layer', () => {
    const p = r.config.cluster.delivery.publish;
    expect(publishCommand(deploy.jobs.production)).toEqual({
      dist: [...p.platform.dist, ...p.staging.dist, ...p.production.dist],
      repo: [...p.platform.repo, ...p.staging.repo, ...p.production.repo],
      remote: 'clusters',
    });
    // One commit, one approval: platform layers and encrypted Secrets go out with the production apps.
    expect(Object.entries(deploy.jobs).filter(([, j]) => runs(j).includes('npm run publish')).map(([id]) => id)).toEqual(['production']);
    const published = [...p.platform.dist, ...p.staging.dist, ...p.production.dist];
    const allLayers = [layers.namespaces, layers.controllers, layers.configs, layers.data, layers.observability, layers.flux, layers.apps('staging'), layers.apps('production')];
    expect([...published].sort()).toEqual([...allLayers].sort());
    // What synth writes is all published (nothing in dist/ is left behind).
    const dirs = [...new Set(r.files.map((f) => f.path.split('/').slice(0, -1).join('/')))];
    for (const d of dirs) expect(published.some((pp) => d === pp || d.startsWith(`${pp}/`)), `dist/${d} is not published by any stage`).toBe(true);
    for (const path of [...p.platform.repo, ...p.staging.repo, ...p.production.repo]) {
      expect(existsSync(join(repoRoot, path)), `--repo-path ${path} does not exist in the repository`).toBe(true);
    }
  });

  it('every Flux layer reads a path some stage publishes, and the deploy waits for each of them by name', () => {
    const p = r.config.cluster.delivery.publish;
    const all = [...p.platform.dist, ...p.platform.repo, ...p.staging.dist, ...p.production.dist];
    const ks = r.find('Kustomization').filter((k) => k.apiVersion.startsWith('kustomize.toolkit.fluxcd.io/'))
      .map((k) => asKind<{ metadata: { name: string }; spec: { path: string } }>(k, 'kustomize.toolkit.fluxcd.io', 'Kustomization')!);
    expect(ks.length).toBeGreaterThan(0);
    for (const k of ks) {
      const path = k.spec.path.replace(/^\.\//, '');
      expect(all.some((pp) => path === pp || path.startsWith(`${pp}/`)), `Kustomization ${k.metadata.name} reads ${path}, which no stage publishes`).toBe(true);
    }
    const byPath = (path: string) => ks.find((k) => k.spec.path === `./${path}`)!.metadata.name;
    const platform = ks.filter((k) => !k.spec.path.startsWith('./apps/')).map((k) => k.metadata.name).sort();
    // Flux's commit statuses (flux/<layer>): the platform and a healthy staging first, then
    // production (its health check is the approval pause), with its canaries' aborts (canary/<rollout>).
    expect(releaseWaits(deploy.jobs.production)).toEqual([
      { layers: expect.any(Array), canaries: false },
      { layers: [byPath(layers.apps('production'))], canaries: true },
    ]);
    expect([...releaseWaits(deploy.jobs.production)[0].layers].sort()).toEqual([...platform, byPath(layers.apps('staging'))].sort());
  });

  it('deploy.yml names the hosts of the config', () => {
    const job = deploy.jobs.production;
    expect(environmentOf(job).url).toBe(`https://${r.config.environments.production.hostnames.web}`);
    expect(job.env).toMatchObject({
      WEB_URL: `https://${r.config.environments.staging.hostnames.web}`,
      API_URL: `https://${r.config.environments.staging.hostnames.api}`,
    });
    expect(runs(job)).toContain('k6 run --quiet --env SCENARIO=smoke');
    expect(deploy.env!.CLUSTERS_BRANCH).toBe(r.config.cluster.delivery.clustersBranch);
  });

  it('deploy.yml: freeze check first; synthetic canary traffic from before the publish until staging is Healthy, then the smoke test', () => {
    expect(deploy.jobs.production.steps![0].env!.FREEZE).toBe('${{ vars.DEPLOY_FREEZE }}');
    const steps: Step[] = deploy.jobs.production.steps!;
    const at = (re: RegExp) => steps.findIndex((s) => re.test(s.run ?? ''));
    const traffic = at(/k6 run .*--env SCENARIO=canary/);
    expect(traffic).toBeGreaterThan(0);
    expect(steps[traffic].run).toMatch(/&\n/); // in the background
    expect(traffic).toBeLessThan(at(/npm run publish/));
    const status = at(/--layer apps-staging/);
    const stop = at(/kill -INT "\$K6_CANARY_PID"/);
    expect(stop).toBeGreaterThan(status);
    expect(steps[stop].if).toContain('always()');
    expect(at(/--env SCENARIO=smoke/)).toBeGreaterThan(stop);
  });

  it('no workflow talks to the Kubernetes API: no kubectl, no kubeconfig, no cluster credential (6443 stays closed)', () => {
    for (const file of workflowFiles) {
      const text = readFileSync(join(workflowsDir, file), 'utf8');
      expect(text, file).not.toMatch(/\bkubectl (?!argo rollouts (promote|abort|get))|KUBECONFIG|:6443\b/i);
    }
    for (const file of readdirSync(scriptsDir)) expect(readFileSync(join(scriptsDir, file), 'utf8'), file).not.toMatch(/\bkubectl\b|KUBECONFIG/);
  });

  it('canary-events.yml takes exactly the events the Rollouts controller sends, and passes the payload through env only', () => {
    const wf = workflow('canary-events.yml');
    expect(wf.on.repository_dispatch!.types).toEqual(Object.values(canaryEventTypes));
    const job = wf.jobs.record;
    expect(job.permissions).toEqual({ contents: 'read', deployments: 'write', statuses: 'write' });
    const step = job.steps!.at(-1)!;
    // Payload values reach the script as environment variables, never spliced into it.
    expect(step.run).not.toContain('${{');
    expect(step.env).toMatchObject({ NAMESPACE: '${{ github.event.client_payload.namespace }}', TEMPLATE_HASH: '${{ github.event.client_payload.templateHash }}' });
    expect(step.run).toContain('npm run --silent release -- canary-event');
  });

  it('images.yml is a reusable workflow: hadolint, Trivy (config and image), Dockle, SBOM, GHCR push, digest pull request', () => {
    const images = workflow('images.yml');
    expect(Object.keys(images.on)).toEqual(['workflow_call']);
    const actions = uses(images.jobs.build).map((u) => u.split('@')[0]);
    expect(actions).toEqual(expect.arrayContaining([
      'docker://hadolint/hadolint:v2.14.0', 'aquasecurity/trivy-action', 'docker://goodwithtech/dockle:v0.4.15',
      'docker/build-push-action', 'docker/login-action', 'anchore/sbom-action',
    ]));
    const trivy = images.jobs.build.steps!.filter((s) => s.uses?.startsWith('aquasecurity/trivy-action'));
    expect(trivy.map((s) => s.with!['scan-type'] ?? 'image').sort()).toEqual(['config', 'image']);
    for (const s of trivy) expect(s.with!['exit-code']).toBe('1');
    // Scans run on the local build, before the push.
    const names_ = images.jobs.build.steps!.map((s) => s.name ?? s.uses);
    const pushAt = images.jobs.build.steps!.findIndex((s) => s.id === 'push');
    const dockleAt = names_.findIndex((n) => /dockle/i.test(n!));
    expect(dockleAt).toBeGreaterThan(0);
    expect(dockleAt).toBeLessThan(pushAt);
    expect(images.jobs.build.steps![pushAt].with).toMatchObject({ push: true, sbom: true });
    expect(runs(images.jobs['pin-digest'])).toContain('npm run bump-image');
    expect(uses(images.jobs['pin-digest']).some((u) => u.startsWith('peter-evans/create-pull-request@'))).toBe(true);
  });

  it('load-test.yml runs the k6 load scenario against staging', () => {
    const lt = workflow('load-test.yml');
    expect(lt.on.workflow_dispatch!.inputs.scenario.default).toBe('load');
    expect(lt.jobs.k6.env).toMatchObject({
      WEB_URL: `https://${r.config.environments.staging.hostnames.web}`,
      API_URL: `https://${r.config.environments.staging.hostnames.api}`,
    });
    expect(runs(lt.jobs.k6)).toMatch(/k6 run .*--env SCENARIO="\$SCENARIO".* load\/lms\.ts/s);
  });

  it('dr-drill.yml runs npm run drill quarterly and on demand', () => {
    const dr = workflow('dr-drill.yml');
    expect(dr.on.schedule).toEqual([{ cron: '0 6 8 1,4,7,10 *' }]);
    expect(dr.on).toHaveProperty('workflow_dispatch');
    const script = runs(dr.jobs.drill);
    expect(script.indexOf('npm run setup')).toBeGreaterThan(-1);
    expect(script.indexOf('npm run drill')).toBeGreaterThan(script.indexOf('npm run setup'));
    expect(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).scripts.drill).toBeDefined();
  });
});

describe('one pusher: only the production environment\'s deploy key moves the clusters branch', () => {
  const deploy = workflow('deploy.yml');
  const job = deploy.jobs.production;
  const steps: Step[] = job.steps!;
  const keyRef = 'secrets.CLUSTERS_DEPLOY_KEY';

  it('the clusters deploy key is read by one step of one job, and that job runs in the `production` environment', () => {
    const readers: string[] = [];
    for (const file of workflowFiles) {
      const wf = workflow(file);
      expect(JSON.stringify(wf.env ?? {}), `${file} workflow env`).not.toContain(keyRef);
      for (const [id, j] of Object.entries(wf.jobs ?? {})) {
        expect(JSON.stringify(j.env ?? {}), `${file} job ${id} env`).not.toContain(keyRef);
        (j.steps ?? []).forEach((s, i: number) => { if (JSON.stringify(s).includes(keyRef)) readers.push(`${file}:${id}:${i}`); });
      }
    }
    const publishAt = steps.findIndex((s) => s.id === 'publish');
    expect(readers).toEqual([`deploy.yml:production:${publishAt}`]);
    expect(environmentOf(job).name).toBe('production');
    // The push goes over SSH with the key, against GitHub's published host keys, never the job token.
    const script: string = steps[publishAt].run!;
    expect(script).toMatch(/trap 'rm -f "\$key"' EXIT/);
    expect(script).toContain('StrictHostKeyChecking=yes');
    expect(script).toContain('UserKnownHostsFile=$GITHUB_WORKSPACE/.github/known_hosts');
    expect(publishCommand(job).remote).toBe('clusters');
    expect(script).toMatch(/git remote add clusters "git@github\.com:\$GITHUB_REPOSITORY\.git"/);
  });

  it('no write token on disk while third-party code installs or runs: every checkout of a job that can write persists no credentials', () => {
    for (const file of workflowFiles) {
      for (const [id, j] of Object.entries(workflow(file).jobs ?? {})) {
        const perms = j.permissions ?? workflow(file).permissions ?? {};
        const writes = typeof perms === 'string' ? perms === 'write-all' : Object.values(perms).includes('write');
        for (const s of j.steps ?? []) {
          if (!String(s.uses ?? '').startsWith('actions/checkout@')) continue;
          if (file === 'deploy.yml' || writes) expect(s.with?.['persist-credentials'], `${file} job ${id}`).toBe(false);
        }
      }
    }
    // The key comes after the install, and no install runs after it.
    const publishAt = steps.findIndex((s) => s.id === 'publish');
    const installs = steps.map((s, i) => (/\bnpm (ci|install)\b/.test(s.run ?? '') ? i : -1)).filter((i) => i >= 0);
    expect(installs.length).toBeGreaterThan(0);
    for (const i of installs) expect(i).toBeLessThan(publishAt);
  });

  it('no workflow asks for contents: write (the job token could push to any branch the rulesets let it)', () => {
    for (const file of workflowFiles) {
      const wf = workflow(file);
      const all: [string, Permissions | undefined][] = [['workflow', wf.permissions], ...Object.entries(wf.jobs ?? {}).map(([id, j]): [string, Permissions | undefined] => [id, j.permissions])];
      for (const [where, perms] of all) {
        expect(perms === 'write-all' || (perms as Record<string, string> | undefined)?.contents === 'write', `${file} ${where}`).toBe(false);
      }
    }
  });

  it('.github/known_hosts holds exactly GitHub\'s published host keys (ssh-keygen fingerprints)', () => {
    const r = spawnSync('ssh-keygen', ['-lf', join(repoRoot, '.github/known_hosts')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/githubs-ssh-key-fingerprints
    expect(r.stdout.trim().split('\n').map((l) => l.split(' ').slice(1).join(' ')).sort()).toEqual([
      'SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU github.com (ED25519)',
      'SHA256:p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM github.com (ECDSA)',
    ]);
  });
});

