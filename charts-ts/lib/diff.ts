/**
 * Object-level diff between two sets of manifests (the `clusters` branch and dist/): which objects
 * are added or removed, and for changed ones which fields changed. Objects are keyed by
 * apiVersion group, kind, namespace and name, so moving an object between files is not a change.
 */
import type { Manifest } from './workloads.ts';

export interface FieldChange {
  /** Dotted path, e.g. spec.template.spec.containers[0].image */
  readonly path: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

export interface ObjectDiff {
  readonly key: string;
  readonly kind: 'added' | 'removed' | 'changed';
  readonly file: string;
  readonly fields: FieldChange[];
}

export interface Located { readonly file: string; readonly object: Manifest }

export const objectKey = (o: Manifest): string => {
  const group = String(o.apiVersion ?? '').includes('/') ? String(o.apiVersion).split('/')[0] : 'core';
  const ns = o.metadata?.namespace ? `${o.metadata.namespace}/` : '';
  return `${o.kind}.${group} ${ns}${o.metadata?.name}`;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An item of a named list (containers, env, volumes, ...). */
type Named = Record<string, unknown> & { readonly name: string };

/** Field-level changes between two values; arrays of named items are matched by name. */
export function fieldChanges(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => fieldChanges(before[k], after[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const named = (a: unknown[]): a is Named[] => a.every((x) => isObject(x) && typeof x.name === 'string');
    if (named(before) && named(after) && before.length && after.length) {
      const b = new Map(before.map((x) => [x.name, x]));
      const a = new Map(after.map((x) => [x.name, x]));
      const names = [...new Set([...b.keys(), ...a.keys()])];
      return names.flatMap((n) => fieldChanges(b.get(n), a.get(n), `${path}[name=${n}]`));
    }
    const n = Math.max(before.length, after.length);
    return Array.from({ length: n }, (_, i) => fieldChanges(before[i], after[i], `${path}[${i}]`)).flat();
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path: path || '(root)', before, after }];
}

export function diffManifests(before: Located[], after: Located[]): ObjectDiff[] {
  const b = new Map(before.map((l) => [objectKey(l.object), l]));
  const a = new Map(after.map((l) => [objectKey(l.object), l]));
  const out: ObjectDiff[] = [];
  for (const [key, l] of a) {
    const old = b.get(key);
    if (!old) out.push({ key, kind: 'added', file: l.file, fields: [] });
    else {
      const fields = fieldChanges(old.object, l.object);
      if (fields.length) out.push({ key, kind: 'changed', file: l.file, fields });
    }
  }
  for (const [key, l] of b) if (!a.has(key)) out.push({ key, kind: 'removed', file: l.file, fields: [] });
  return out.sort((x, y) => x.file.localeCompare(y.file) || x.key.localeCompare(y.key));
}

const short = (v: unknown): string => {
  if (v === undefined) return '(none)';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

const sign = { added: '+', removed: '-', changed: '~' } as const;

export function formatTerminal(diffs: ObjectDiff[]): string {
  if (!diffs.length) return 'No changes.';
  const lines: string[] = [];
  for (const d of diffs) {
    lines.push(`${sign[d.kind]} ${d.key}  (${d.file})`);
    for (const f of d.fields) lines.push(`    ${f.path}: ${short(f.before)} -> ${short(f.after)}`);
  }
  lines.push('', summary(diffs));
  return lines.join('\n');
}

export function summary(diffs: ObjectDiff[]): string {
  const count = (k: ObjectDiff['kind']) => diffs.filter((d) => d.kind === k).length;
  return `${count('added')} added, ${count('changed')} changed, ${count('removed')} removed`;
}

const md = (s: string): string => s.replace(/\|/g, '\\|').replace(/`/g, "'");

export function formatMarkdown(diffs: ObjectDiff[], maxFields = 20): string {
  if (!diffs.length) return '### Cluster diff\n\nNo changes to the cluster.';
  const lines = ['### Cluster diff', '', `**${summary(diffs)}**`, '', '| | object | file |', '|---|---|---|'];
  for (const d of diffs) lines.push(`| ${d.kind} | \`${md(d.key)}\` | ${md(d.file)} |`);
  const changed = diffs.filter((d) => d.kind === 'changed');
  for (const d of changed) {
    lines.push('', `<details><summary><code>${md(d.key)}</code>: ${d.fields.length} field(s)</summary>`, '');
    lines.push('| field | before | after |', '|---|---|---|');
    for (const f of d.fields.slice(0, maxFields)) lines.push(`| \`${md(f.path)}\` | \`${md(short(f.before))}\` | \`${md(short(f.after))}\` |`);
    if (d.fields.length > maxFields) lines.push(`| ... | ${d.fields.length - maxFields} more | |`);
    lines.push('', '</details>');
  }
  return lines.join('\n');
}
