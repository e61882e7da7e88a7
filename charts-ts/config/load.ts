/**
 * Loading and validating the configuration. Overrides (a YAML/JSON file deep-merged onto values.ts)
 * come from `--values <file>` or LMS_VALUES, read by the tools' command line (charts-ts/tools/cli.ts,
 * `valuesFile`), which passes the path in; tests and one-off runs (e.g. a DR restore) use them.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { crossSectionChecks } from './cross-checks.ts';
import { Config } from './schema.ts';
import { values } from './values.ts';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.map((p) => `config: ${p}`).join('\n'));
    this.name = 'ConfigError';
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merge key by key; arrays and scalars replace. */
export function deepMerge<T>(base: T, patch: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(patch)) return (patch === undefined ? base : patch) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = deepMerge((base as Record<string, unknown>)[k], v);
  return out as T;
}

const show = (v: unknown): string => {
  if (v === undefined) return 'missing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

const valueAt = (root: unknown, path: PropertyKey[]): unknown =>
  path.reduce<unknown>((o, k) => (isPlainObject(o) || Array.isArray(o) ? (o as Record<PropertyKey, unknown>)[k] : undefined), root);

const formatPath = (path: PropertyKey[]): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(root)';

/**
 * The schema plus the rules that span sections. They live apart from schema.ts because they use the
 * libraries built on the config's types (abort arithmetic, maintenance windows, availability), which
 * import those types from schema.ts: attached here, the module graph has no cycle.
 */
const CheckedConfig = Config.superRefine((c, ctx) => crossSectionChecks(c, ctx));

/** Parse raw input into a Config, or throw a ConfigError naming each bad field, its value and what is allowed. */
export function parseConfig(input: unknown): Config {
  const r = CheckedConfig.safeParse(input);
  if (r.success) return r.data;
  // One line per field: the first (most specific) problem of each path.
  const byPath = new Map<string, string>();
  for (const i of r.error.issues) {
    const key = formatPath([...i.path]);
    if (!byPath.has(key)) byPath.set(key, formatIssue(i, input));
  }
  throw new ConfigError([...byPath.values()]);
}

function formatIssue(i: z.core.$ZodIssue, input: unknown): string {
  const path = [...i.path];
  if (i.code === 'unrecognized_keys') {
    return `${formatPath(path)}: unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}; remove them or check the spelling against charts-ts/config/schema.ts`;
  }
  const got = valueAt(input, path);
  const message = i.code === 'invalid_type' && got === undefined ? `is required (${i.message})` : i.message;
  return `${formatPath(path)}: ${show(got)} ${message}`;
}

/** values.ts, with the overrides file deep-merged onto it when one is given, validated. */
export function loadConfig(overrideFile?: string): Config {
  let input: unknown = values;
  if (overrideFile) {
    let patch: unknown;
    try {
      patch = parse(readFileSync(overrideFile, 'utf8'));
    } catch (e) {
      throw new ConfigError([`${overrideFile}: cannot read overrides (${(e as Error).message})`]);
    }
    input = deepMerge(values, patch);
  }
  return parseConfig(input);
}
