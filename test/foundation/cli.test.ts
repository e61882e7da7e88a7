/**
 * The command line of every `npm run` tool (charts-ts/tools/cli.ts): parseArgs in strict mode, so a
 * misspelt flag or a bad value stops the tool with the flag named and the usage, instead of running
 * with a default. The parser is tested in memory; then every tool of package.json is run as a user
 * runs it (tsx, a child process) with a misspelt flag, with --help, and some with a bad value.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { flag, integer, list, parseCommandLine, text, usage, UsageError } from '../../charts-ts/tools/cli.ts';

const spec = {
  script: 'demo',
  summary: 'A demo tool.',
  positionals: { usage: '<path>...', description: 'what to work on', max: 2 },
  options: {
    users: integer('<n>', 'active users', { min: 1, max: 100_000, default: 1000 }),
    out: text('<dir>', 'where to write'),
    writeDocs: flag('also write the docs'),
    repoPath: list('<path>', 'extra paths'),
  },
  config: true,
};

const parse = (...argv: string[]) => parseCommandLine(spec, argv);
const problem = (...argv: string[]): string => {
  try {
    parse(...argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
};

describe('command-line parser', () => {
  const env = process.env.LMS_VALUES;
  afterEach(() => {
    if (env === undefined) delete process.env.LMS_VALUES;
    else process.env.LMS_VALUES = env;
  });

  it('gives typed values, defaults and kebab-case flags', () => {
    const cli = parse('a', '--users', '50', '--write-docs', '--out=x', '--repo-path', 'p', '--repo-path', 'q', 'b');
    expect(cli.options).toEqual({ users: 50, out: 'x', writeDocs: true, repoPath: ['p', 'q'] });
    expect(cli.positionals).toEqual(['a', 'b']);
    expect(parse().options).toEqual({ users: 1000, out: undefined, writeDocs: false, repoPath: [] });
  });

  it('names an unknown flag and suggests the close one', () => {
    expect(problem('--user', '50')).toBe('unknown option --user (did you mean --users?)');
    expect(problem('--writedocs')).toBe('unknown option --writedocs (did you mean --write-docs?)');
    expect(problem('--frobnicate')).toBe('unknown option --frobnicate');
    expect(problem('-x')).toBe('unknown option -x');
  });

  it('rejects a missing value, a value for a switch and a flag given twice', () => {
    expect(problem('--out')).toBe('--out needs a value: --out <dir>');
    expect(problem('--out', '--write-docs')).toBe('--out needs a value: --out <dir> (got "--write-docs"; for a value starting with "-" write --out=--write-docs)');
    expect(problem('--out', '')).toBe('--out needs a non-empty value');
    expect(problem('--write-docs=yes')).toBe('--write-docs takes no value (got "yes")');
    expect(problem('--users', '5', '--users', '6')).toBe('--users is given twice');
  });

  it('rejects numbers that are not whole or out of range', () => {
    expect(problem('--users', 'abc')).toBe('--users must be a whole number >= 1 and <= 100000, got "abc"');
    expect(problem('--users=-5')).toBe('--users must be a whole number >= 1 and <= 100000, got "-5"');
    expect(problem('--users', '-5')).toMatch(/^--users needs a value: --users <n> \(got "-5"; for a value starting with "-" write --users=-5\)$/);
    expect(problem('--users', '0')).toMatch(/^--users must be a whole number >= 1/);
    expect(problem('--users', '1.5')).toMatch(/got "1\.5"$/);
    expect(problem('--users', '1e3')).toMatch(/got "1e3"$/);
    expect(problem('--users', '100001')).toMatch(/got "100001"$/);
  });

  it('checks positionals and required options', () => {
    expect(problem('a', 'b', 'c')).toBe('too many arguments ("a", "b", "c"); expected <path>...');
    expect(() => parseCommandLine({ script: 'x', summary: '', options: {} }, ['stray'])).toThrow('unexpected argument "stray"');
    const needs = { script: 'x', summary: '', positionals: { usage: '<step>', min: 1 }, options: { tag: text('<tag>', 'the tag', { required: true }) } };
    expect(() => parseCommandLine(needs, ['--tag', '1'])).toThrow('missing <step>');
    expect(() => parseCommandLine(needs, ['s'])).toThrow('missing --tag <tag>');
    expect(parseCommandLine(needs, ['s', '--tag', '1']).options.tag).toBe('1');
  });

  it('handles --values in one place: the flag, else LMS_VALUES, and only for tools that load the config', () => {
    delete process.env.LMS_VALUES;
    expect(parse().valuesFile).toBeUndefined();
    process.env.LMS_VALUES = 'env.yaml';
    expect(parse().valuesFile).toBe('env.yaml');
    expect(parse('--values', 'flag.yaml').valuesFile).toBe('flag.yaml');
    expect(() => parseCommandLine({ ...spec, config: false }, ['--values', 'v.yaml'])).toThrow('unknown option --values');
  });

  it('prints --help from the spec', () => {
    expect(parse('--help').help).toBe(true);
    expect(parse('-h').help).toBe(true);
    expect(usage(spec).split('\n')).toEqual([
      'usage: npm run demo -- [<path>...] [--users <n>] [--out <dir>] [--write-docs] [--repo-path <path>] [--values <file>]',
      '',
      'A demo tool.',
      '',
      'options:',
      '  <path>...           what to work on',
      '  --users <n>         active users (default 1000)',
      '  --out <dir>         where to write',
      '  --write-docs        also write the docs',
      '  --repo-path <path>  extra paths; repeatable',
      '  --values <file>     config overrides, deep-merged onto charts-ts/config/values.ts (default: $LMS_VALUES)',
      '  -h, --help          print this help',
    ]);
  });
});

const run = promisify(execFile);
// Two tools at a time: each is a tsx start-up (a few seconds of CPU), and the machine has two cores.
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(f: () => Promise<T>): Promise<T> {
  if (running < 2) running++;
  else await new Promise<void>((r) => waiting.push(r));
  try {
    return await f();
  } finally {
    const next = waiting.shift();
    if (next) next(); // hand the slot over
    else running--;
  }
}
const tool = (entry: string, args: string[]) => limited(() => run(join(repoRoot, 'node_modules/.bin/tsx'), [entry, ...args], { cwd: repoRoot, env: process.env, timeout: 120_000 })
  .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string })));
const timeout = 300_000;

/** Every tsx tool of package.json, with a realistic typo of one of its flags (must be refused before it does anything). */
const typos: Record<string, { args: string[]; bad: string; hint?: string }> = {
  synth: { args: ['--value', 'v.yaml'], bad: '--value', hint: '--values' },
  secrets: { args: ['scaffold', '--forse'], bad: '--forse', hint: '--force' },
  import: { args: ['--downlaod'], bad: '--downlaod', hint: '--download' },
  publish: { args: ['apps/staging', '--repo-paths', 'clusters/production/secrets'], bad: '--repo-paths', hint: '--repo-path' },
  release: { args: ['wait', '--commit', 'a'.repeat(40), '--layers', 'apps-staging'], bad: '--layers', hint: '--layer' },
  'lead-time': { args: ['--write-doc'], bad: '--write-doc', hint: '--write-docs' },
  'bump-image': { args: ['--repo', 'ghcr.io/acme/api', '--tag', '1.0.0', '--digest', `sha256:${'a'.repeat(64)}`], bad: '--repo' },
  'image:age': { args: ['--pinn'], bad: '--pinn', hint: '--pin' },
  'bench:synth': { args: ['--run', '1'], bad: '--run', hint: '--runs' },
  'bench:compression': { args: ['--scales', '2'], bad: '--scales', hint: '--scale' },
  budget: { args: ['--dists', 'dist'], bad: '--dists', hint: '--dist' },
  drill: { args: ['--scales', '1'], bad: '--scales', hint: '--scale' },
  restore: { args: ['production', '--to', 'latest', '--mdoe', 'in-place'], bad: '--mdoe', hint: '--mode' },
  bootstrap: { args: ['render', '--dryrun'], bad: '--dryrun', hint: '--dry-run' },
  cost: { args: ['--user', '50'], bad: '--user', hint: '--users' },
  diff: { args: ['--mardown'], bad: '--mardown', hint: '--markdown' },
  docs: { args: ['--chek'], bad: '--chek', hint: '--check' },
};

const scripts: Record<string, string> = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).scripts;
const entries = Object.fromEntries(Object.entries(scripts).flatMap(([name, command]) => {
  const m = /^tsx (\S+\.ts)$/.exec(command);
  return m ? [[name, m[1]]] : [];
}));

describe('every npm run tool parses its flags strictly', () => {
  it('covers every tsx tool of package.json', () => {
    expect(Object.keys(typos).sort()).toEqual(Object.keys(entries).sort());
  });

  describe.concurrent.each(Object.entries(typos))('npm run %s', (script, typo) => {
    it(`refuses ${typo.bad} with the flag named and the usage, before doing anything`, async () => {
      const r = await tool(entries[script], typo.args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${script}: unknown option ${typo.bad}${typo.hint ? ` (did you mean ${typo.hint}?)` : ''}\n`);
      expect(r.stderr).toContain(`\nusage: npm run ${script} --`);
      expect(r.stdout).toBe('');
    }, timeout);
  });

  // The shared path (cost) and bootstrap's own (it prints its steps after the options).
  it.concurrent.each(['cost', 'bootstrap'])('npm run %s -- --help prints the usage and exits 0', async (script) => {
    const r = await tool(entries[script], ['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: npm run ${script} --`));
    expect(r.stdout).toContain('-h, --help');
    expect(r.stderr).toBe('');
  }, timeout);

  it.concurrent.each([
    ['cost', ['--users', 'abc'], 'cost: --users must be a whole number >= 1, got "abc"'],
    ['cost', ['--users=-5'], 'cost: --users must be a whole number >= 1, got "-5"'],
    ['bench:synth', ['--runs', '11'], 'bench:synth: --runs must be a whole number >= 1 and <= 10, got "11"'],
    ['drill', ['--scale', '0'], 'drill: --scale must be a whole number >= 1, got "0"'],
    ['publish', ['apps/staging', '--attempts', 'many'], 'publish: --attempts must be a whole number >= 1, got "many"'],
    ['bump-image', ['--repository', 'ghcr.io/acme/api', '--tag', '1.0.0'], 'bump-image: missing --digest sha256:<hex>'],
    ['secrets', ['chek'], 'secrets: unknown command "chek"; use check or scaffold'],
    ['restore', ['production', '--to', 'yesterday', '--mode', 'in-place'], 'restore: --to must be "latest" or an RFC 3339 time with a zone like 2026-09-01T10:14:00Z, got "yesterday"'],
  ])('npm run %s %j: a bad value is refused with the flag named', async (script, args, message) => {
    const r = await tool(entries[script], args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(message);
    expect(r.stderr).toContain(`\nusage: npm run ${script} --`);
  }, timeout);
});
