/**
 * No import cycles in our code (issue 18, "one home per fact"): a cycle means two modules each own
 * part of one fact, and with ES modules a value cycle can read a binding before it is initialised.
 * Type-only imports count too: they are how the cycle between config/schema.ts and the libraries
 * built on its types started.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../charts-ts/lib/crds.ts';

/** Every .ts file under `dirs`, with the relative imports that resolve to another of them. */
function importGraph(dirs: readonly string[]): Map<string, string[]> {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) { if (f !== 'node_modules') walk(p); } else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) files.push(p);
    }
  };
  for (const d of dirs) walk(join(repoRoot, d));
  const known = new Set(files);
  return new Map(files.map((f) => [f, ts.preProcessFile(readFileSync(f, 'utf8'), true, true).importedFiles
    .map((i) => i.fileName).filter((n) => n.startsWith('.')).map((n) => resolve(dirname(f), n)).filter((p) => known.has(p))]));
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

describe('import graph', () => {
  it('finds a cycle, including one through a type-only import (the check bites)', () => {
    expect(importCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
    expect(importCycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it('charts-ts, bootstrap, drill, bench, images and test have no import cycles', () => {
    const graph = importGraph(['charts-ts', 'bootstrap', 'drill', 'bench', 'images', 'test']);
    expect(graph.size).toBeGreaterThan(100);
    const cycles = importCycles(graph).map((c) => c.map((f) => relative(repoRoot, f)).join(' <-> '));
    expect(cycles, 'import cycle: move the shared part into a module both import (types next to their schema, helpers in lib/)').toEqual([]);
  });
});
