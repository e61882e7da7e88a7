/**
 * Render the whole output in memory, as `npm run synth` would, optionally with config overrides
 * (deep-merged onto charts-ts/config/values.ts). Chart tests query the result instead of dist/.
 */
import { buildApp } from '../../charts-ts/app.ts';
import { deepMerge, parseConfig } from '../../charts-ts/config/load.ts';
import type { Config } from '../../charts-ts/config/schema.ts';
import { values } from '../../charts-ts/config/values.ts';
import { render, type RenderedFile } from '../../charts-ts/lib/synth.ts';
import { asKind, type NamedManifest } from '../../charts-ts/lib/workloads.ts';

export interface Rendered {
  readonly config: Config;
  readonly files: RenderedFile[];
  /** Every object, with the dist/ file it is written to. */
  readonly objects: { file: string; object: NamedManifest }[];
  /** Objects of one kind (optionally in one namespace / with one name). */
  find(kind: string, opts?: { namespace?: string; name?: string }): NamedManifest[];
  /** Exactly one object, or throw. */
  get(kind: string, name: string, namespace?: string): NamedManifest;
  /**
   * Exactly one object of `kind` in API `group` ("" for the core group), typed `T`: that kind's type
   * (client-node for built-in kinds) or the fields the test reads. Throws as get() does, and when
   * the object is of another API group.
   */
  getOf<T extends object>(group: string, kind: string, name: string, namespace?: string): NamedManifest & T;
  /** Objects of `kind` (as find()), typed `T` as getOf(); throws when one is of another API group. */
  findOf<T extends object>(group: string, kind: string, opts?: { namespace?: string; name?: string }): (NamedManifest & T)[];
}

/** `o` typed `T` when it is `kind` of API `group`; throws otherwise. */
function ofGroup<T extends object>(o: NamedManifest, group: string, kind: string): NamedManifest & T {
  const typed = asKind<T>(o, group, kind);
  if (!typed) throw new Error(`${kind} ${o.metadata.name} is ${o.apiVersion}, not of API group "${group}"`);
  return typed as NamedManifest & T;
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
  const getOf = <T extends object>(group: string, kind: string, name: string, namespace?: string) =>
    ofGroup<T>(get(kind, name, namespace), group, kind);
  const findOf = <T extends object>(group: string, kind: string, opts: { namespace?: string; name?: string } = {}) =>
    find(kind, opts).map((o) => ofGroup<T>(o, group, kind));
  return { config, files, objects, find, get, getOf, findOf };
}
