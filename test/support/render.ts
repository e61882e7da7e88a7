/**
 * Render the whole output in memory, as `npm run synth` would, optionally with config overrides
 * (deep-merged onto charts-ts/config/values.ts). Chart tests query the result instead of dist/.
 */
import { buildApp } from '../../charts-ts/app.ts';
import { deepMerge, parseConfig } from '../../charts-ts/config/load.ts';
import type { Config } from '../../charts-ts/config/schema.ts';
import { values } from '../../charts-ts/config/values.ts';
import { render, type RenderedFile } from '../../charts-ts/lib/synth.ts';

export interface Rendered {
  readonly config: Config;
  readonly files: RenderedFile[];
  /** Every object, with the dist/ file it is written to. */
  readonly objects: { file: string; object: any }[];
  /** Objects of one kind (optionally in one namespace / with one name). */
  find(kind: string, opts?: { namespace?: string; name?: string }): any[];
  /** Exactly one object, or throw. */
  get(kind: string, name: string, namespace?: string): any;
}

export function renderAll(overrides: unknown = undefined): Rendered {
  const config = parseConfig(overrides === undefined ? values : deepMerge(values, overrides));
  const files = render(buildApp(config));
  const objects = files.flatMap((f) => f.objects.map((object) => ({ file: f.path, object })));
  const find = (kind: string, opts: { namespace?: string; name?: string } = {}) =>
    objects.map((o) => o.object).filter((o) => o.kind === kind
      && (opts.namespace === undefined || o.metadata?.namespace === opts.namespace)
      && (opts.name === undefined || o.metadata?.name === opts.name));
  const get = (kind: string, name: string, namespace?: string) => {
    const found = find(kind, { name, namespace });
    if (found.length !== 1) throw new Error(`expected one ${kind} ${namespace ? `${namespace}/` : ''}${name}, found ${found.length}`);
    return found[0];
  };
  return { config, files, objects, find, get };
}
