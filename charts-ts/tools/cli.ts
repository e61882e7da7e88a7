/**
 * The command line of every `npm run` tool: `node:util` parseArgs in strict mode, a typed option spec
 * and the usage text generated from it.
 *
 * - An unknown option, a missing value, a value the option does not take or a bad value (`--users abc`)
 *   exits 2 with `<tool>: <what is wrong, naming the flag>` and the usage text on stderr; nothing runs.
 * - `--help` / `-h` prints the usage on stdout and exits 0.
 * - `config: true` adds `--values <file>` (config overrides, deep-merged onto charts-ts/config/values.ts;
 *   LMS_VALUES when the flag is absent) in this one place: the tool passes `valuesFile` to `loadConfig`.
 *   A tool without it rejects `--values` like any unknown option.
 *
 * ```ts
 * const cli = commandLine({
 *   script: 'cost',
 *   summary: 'Monthly cost and cost per active user.',
 *   options: { users: integer('<n>', 'monthly active users', { min: 1, default: 1000 }) },
 *   config: true,
 * });
 * cli.options.users; // number
 * loadConfig(cli.valuesFile);
 * ```
 *
 * Option keys are camelCase; the flag is their kebab-case (`writeDocs` -> `--write-docs`).
 */
import { parseArgs } from 'node:util';

/** A command-line mistake: printed with the usage, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Raw = string | boolean | string[] | undefined;

export interface Option<T> {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
  /** Shown after the flag in the usage, e.g. `<file>`. String options only. */
  readonly valueName?: string;
  readonly description: string;
  /** Shown in the usage line without brackets; absence is a usage error. */
  readonly required?: boolean;
  /** What parseArgs gave (undefined when the flag is absent) -> the tool's value; throws UsageError. */
  readonly convert: (raw: Raw, flag: string) => T;
}

type AnyOption = Option<unknown>;
export type OptionValues<O extends Record<string, AnyOption>> = { [K in keyof O]: O[K] extends Option<infer T> ? T : never };

export interface Positionals {
  /** As shown in the usage line, e.g. `<step>` or `<path>...`. */
  readonly usage: string;
  readonly description?: string;
  readonly min?: number;
  readonly max?: number;
}

export interface CliSpec<O extends Record<string, AnyOption>> {
  /** The npm script, e.g. `cost` for `npm run cost`. Prefixes every error. */
  readonly script: string;
  /** One or two sentences: what the tool does. */
  readonly summary: string;
  readonly options: O;
  /** Positional arguments; none are accepted without this. */
  readonly positionals?: Positionals;
  /** The tool loads the config: adds `--values <file>` (else LMS_VALUES). */
  readonly config?: boolean;
  /** Printed after the options (e.g. bootstrap's list of steps). */
  readonly epilog?: () => string;
}

export interface CommandLine<O extends Record<string, AnyOption>> {
  readonly options: OptionValues<O>;
  readonly positionals: string[];
  /** Config overrides: `--values <file>`, else $LMS_VALUES, else undefined (always undefined without `config`). */
  readonly valuesFile: string | undefined;
  /** `--help` or `-h` was given (then nothing else is checked). */
  readonly help: boolean;
}

const flagName = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const nonEmpty = (raw: Raw, flag: string): string | undefined => {
  if (raw === undefined) return undefined;
  if (raw === '') throw new UsageError(`${flag} needs a non-empty value`);
  return raw as string;
};

/** A boolean switch: `--check`. */
export const flag = (description: string, short?: string): Option<boolean> =>
  ({ type: 'boolean', description, short, convert: (raw) => raw === true });

/** A string value: `--out <dir>`; with `default` or `required` it is always a string. */
export function text(valueName: string, description: string): Option<string | undefined>;
export function text(valueName: string, description: string, opts: { readonly default: string } | { readonly required: true }): Option<string>;
export function text(valueName: string, description: string, opts: { readonly default?: string; readonly required?: boolean } = {}): Option<string | undefined> {
  return {
    type: 'string', valueName, description, required: opts.required,
    convert: (raw, f) => nonEmpty(raw, f) ?? opts.default,
  };
}

/** A whole number in [min, max]: `--runs <n>`. */
export function integer(valueName: string, description: string, range: { readonly min?: number; readonly max?: number }): Option<number | undefined>;
export function integer(valueName: string, description: string, range: { readonly min?: number; readonly max?: number; readonly default: number }): Option<number>;
export function integer(valueName: string, description: string, range: { readonly min?: number; readonly max?: number; readonly default?: number }): Option<number | undefined> {
  const { min = -Infinity, max = Infinity } = range;
  const allowed = [min > -Infinity ? `>= ${min}` : '', max < Infinity ? `<= ${max}` : ''].filter(Boolean).join(' and ');
  return {
    type: 'string', valueName, description: range.default === undefined ? description : `${description} (default ${range.default})`,
    convert: (raw, f) => {
      const s = nonEmpty(raw, f);
      if (s === undefined) return range.default;
      const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        throw new UsageError(`${f} must be a whole number${allowed ? ` ${allowed}` : ''}, got "${s}"`);
      }
      return n;
    },
  };
}

/** A repeatable string value: `--repo-path <path>` (any number of times). */
export const list = (valueName: string, description: string): Option<string[]> => ({
  type: 'string', multiple: true, valueName, description: `${description}; repeatable`,
  convert: (raw, f) => ((raw as string[] | undefined) ?? []).map((v) => nonEmpty(v, f)!),
});

const valuesOption = text('<file>', 'config overrides, deep-merged onto charts-ts/config/values.ts (default: $LMS_VALUES)');
const helpOption = flag('print this help', 'h');

function allOptions(spec: CliSpec<Record<string, AnyOption>>): [string, AnyOption][] {
  const own = Object.entries(spec.options);
  for (const [key] of own) if (key === 'help' || (spec.config && key === 'values')) throw new Error(`cli: ${spec.script}: option "${key}" is reserved`);
  return [...own, ...(spec.config ? [['values', valuesOption] as [string, AnyOption]] : []), ['help', helpOption]];
}

const shown = (o: AnyOption, f: string): string => (o.type === 'string' ? `${f} ${o.valueName ?? '<value>'}` : f);

/** The usage text: the command line, the summary, then one line per option. */
export function usage<O extends Record<string, AnyOption>>(spec: CliSpec<O>): string {
  const options = allOptions(spec);
  const line = [`usage: npm run ${spec.script} --`];
  if (spec.positionals) line.push(spec.positionals.min ? spec.positionals.usage : `[${spec.positionals.usage}]`);
  for (const [key, o] of options) {
    if (key === 'help') continue;
    const s = shown(o, `--${flagName(key)}`);
    line.push(o.required ? s : `[${s}]`);
  }
  const rows: [string, string][] = [
    ...(spec.positionals?.description ? [[spec.positionals.usage, spec.positionals.description] as [string, string]] : []),
    ...options.map(([key, o]): [string, string] => [`${o.short ? `-${o.short}, ` : ''}${shown(o, `--${flagName(key)}`)}`, o.description]),
  ];
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return [
    line.join(' '),
    '',
    spec.summary,
    '',
    'options:',
    ...rows.map(([l, d]) => `  ${l.padEnd(width)}${d}`),
    ...(spec.epilog ? ['', spec.epilog()] : []),
  ].join('\n');
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/**
 * Turns parseArgs' strict-mode error into one line naming the flag: the same arguments are read
 * again leniently, and the first token strict mode refuses is described.
 */
function explain(args: string[], options: [string, AnyOption][], positionals: boolean, error: Error): string {
  const byName = new Map(options.map(([key, o]) => [flagName(key), o]));
  const { tokens } = parseArgs({ args, options: parseArgsOptions(options), strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind === 'positional' && !positionals) return `unexpected argument "${t.value}"`;
    if (t.kind !== 'option') continue;
    // A known short option (-h) comes back under its long name.
    const o = byName.get(t.name);
    if (!o) {
      const near = [...byName.keys()].map((n) => ({ n, d: distance(t.name, n) })).sort((a, b) => a.d - b.d)[0];
      const hint = near && (near.d <= 2 || near.n.startsWith(t.name) || t.name.startsWith(near.n)) ? ` (did you mean --${near.n}?)` : '';
      return `unknown option ${t.rawName}${hint}`;
    }
    if (o.type === 'boolean' && t.value !== undefined) return `${t.rawName} takes no value (got "${t.value}")`;
    if (o.type === 'string') {
      const value = shown(o, t.rawName);
      if (t.value === undefined) return `${t.rawName} needs a value: ${value}`;
      if (!t.inlineValue && t.value.startsWith('-')) {
        return `${t.rawName} needs a value: ${value} (got "${t.value}"; for a value starting with "-" write ${t.rawName}=${t.value})`;
      }
    }
  }
  return error.message;
}

function parseArgsOptions(options: [string, AnyOption][]) {
  return Object.fromEntries(options.map(([key, o]) => [flagName(key), { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]));
}

/** Parse `argv` against the spec; throws UsageError naming the flag. Pure (no exit, no output). */
export function parseCommandLine<O extends Record<string, AnyOption>>(spec: CliSpec<O>, argv: readonly string[]): CommandLine<O> {
  const options = allOptions(spec);
  const args = [...argv];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: parseArgsOptions(options), strict: true, allowPositionals: Boolean(spec.positionals), tokens: true });
  } catch (e) {
    if (!String((e as { code?: string }).code).startsWith('ERR_PARSE_ARGS_')) throw e;
    throw new UsageError(explain(args, options, Boolean(spec.positionals), e as Error));
  }
  const values = parsed.values as Record<string, Raw>;
  const help = values.help === true;
  // An option given twice is a mistake (which one was meant?), except the repeatable ones.
  const seen = new Set<string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    const o = options.find(([key]) => flagName(key) === t.name)?.[1];
    if (!o?.multiple && seen.has(t.name)) throw new UsageError(`--${t.name} is given twice`);
    seen.add(t.name);
  }
  const out: Record<string, unknown> = {};
  for (const [key, o] of options) {
    if (key === 'help' || key === 'values') continue;
    const f = `--${flagName(key)}`;
    const raw = values[flagName(key)];
    if (o.required && raw === undefined && !help) throw new UsageError(`missing ${shown(o, f)}`);
    out[key] = o.convert(raw, f);
  }
  const positionals = parsed.positionals;
  const p = spec.positionals;
  if (p && !help) {
    if (positionals.length < (p.min ?? 0)) throw new UsageError(`missing ${p.usage}`);
    if (p.max !== undefined && positionals.length > p.max) {
      throw new UsageError(`too many arguments (${positionals.map((a) => `"${a}"`).join(', ')}); expected ${p.usage}`);
    }
  }
  const valuesFile = spec.config ? valuesOption.convert(values.values, '--values') ?? (process.env.LMS_VALUES || undefined) : undefined;
  return { options: out as OptionValues<O>, positionals, valuesFile, help };
}

/** The message for a usage error: `<script>: <problem>`, a blank line, the usage. */
export const usageErrorText = <O extends Record<string, AnyOption>>(spec: CliSpec<O>, e: UsageError): string =>
  `${spec.script}: ${e.message}\n\n${usage(spec)}\n`;

/** A mistake found after parsing (a bad positional, options that do not go together): print it with the usage, exit 2. */
export function failUsage<O extends Record<string, AnyOption>>(spec: CliSpec<O>, message: string): never {
  process.stderr.write(usageErrorText(spec, new UsageError(message)));
  process.exit(2);
}

/**
 * Parse the process's arguments (or `argv`): `--help` prints the usage and exits 0; a usage error
 * prints the problem and the usage on stderr and exits 2.
 */
export function commandLine<O extends Record<string, AnyOption>>(spec: CliSpec<O>, argv: readonly string[] = process.argv.slice(2)): CommandLine<O> {
  try {
    const cli = parseCommandLine(spec, argv);
    if (cli.help) {
      process.stdout.write(`${usage(spec)}\n`);
      process.exit(0);
    }
    return cli;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return failUsage(spec, e.message);
  }
}
