/**
 * The validation harness: schema + whole-output invariants over a set of objects.
 *
 *   import { validateObjects, formatProblems } from '../harness/index.ts';
 *   const problems = validateObjects(renderAll().objects);
 *   expect(problems, formatProblems(problems)).toEqual([]);
 *
 * `validateObjects` takes the objects of one complete output (cross-object rules such as "the
 * namespace exists" or "the Service selects a pod" look at all of them together). Pass only the
 * objects of a test's interest to `validateSchemas` for schema-only checks.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { allowances, type Allowance } from './allowances.ts';
import { checkInvariants } from './invariants.ts';
import { type OutputObject, type Problem } from './problem.ts';
import { schemaValidator } from './schema.ts';

export { formatProblem, formatProblems, type OutputObject, type Problem, type Rule } from './problem.ts';
export { parseImage } from './invariants.ts';
export { schemaValidator } from './schema.ts';

export interface ValidateOptions {
  /** Kubernetes version to validate against; default: the one config pins (cluster.k3s.version). */
  readonly kubernetesVersion?: string;
}

/** Schema problems only (built-in kinds against the Kubernetes OpenAPI, custom resources against their CRD). */
export function validateSchemas(objects: readonly OutputObject[], opts: ValidateOptions = {}): Problem[] {
  const v = schemaValidator(opts.kubernetesVersion);
  return objects.flatMap((o) => v.validate(o));
}

const refOf = (a: Allowance) => `${a.kind}/${a.namespace ? `${a.namespace}/` : ''}${a.name}`;
const covers = (a: Allowance, p: Problem) => a.rule === p.rule && refOf(a) === p.ref
  && (a.path === undefined || p.path === a.path || p.path.startsWith(`${a.path}.`) || p.path.startsWith(`${a.path}[`));

function allProblems(objects: readonly OutputObject[], opts: ValidateOptions): Problem[] {
  const v = schemaValidator(opts.kubernetesVersion);
  const scopeOf = (apiVersion: string, kind: string) => {
    const t = v.resolve(apiVersion, kind);
    return typeof t === 'string' ? undefined : t.namespaced;
  };
  return [...objects.flatMap((o) => v.validate(o)), ...checkInvariants(objects, scopeOf)];
}

/**
 * Schema and whole-output invariants of one complete output, minus the problems accepted in
 * test/harness/allowances.ts.
 */
export function validateObjects(objects: readonly OutputObject[], opts: ValidateOptions = {}): Problem[] {
  return allProblems(objects, opts).filter((p) => !allowances.some((a) => covers(a, p)));
}

/** Allowances (test/harness/allowances.ts) that accept no problem of the output: stale entries to remove. */
export function unusedAllowances(objects: readonly OutputObject[], opts: ValidateOptions = {}): string[] {
  const problems = allProblems(objects, opts);
  return allowances.filter((a) => !problems.some((p) => covers(a, p)))
    .map((a) => `${a.rule} ${refOf(a)}${a.path ? ` ${a.path}` : ''}: matches no problem any more; remove it from test/harness/allowances.ts`);
}

/**
 * Every object in a synthesized dist/ directory (paths relative to it), and problems with the
 * directory itself: each layer's generated kustomization.yaml must list exactly its YAML files.
 */
export function loadDist(dir: string): { objects: OutputObject[]; problems: Problem[] } {
  if (!existsSync(dir)) throw new Error(`${dir} does not exist; run \`npm run synth\``);
  const objects: OutputObject[] = [];
  const problems: Problem[] = [];
  const walk = (d: string) => {
    const entries = readdirSync(d).sort();
    const yamls = entries.filter((e) => e.endsWith('.yaml') && e !== 'kustomization.yaml' && statSync(join(d, e)).isFile());
    for (const e of entries) if (statSync(join(d, e)).isDirectory()) walk(join(d, e));
    for (const f of yamls) {
      const file = relative(dir, join(d, f));
      for (const doc of parseAllDocuments(readFileSync(join(d, f), 'utf8'))) {
        if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
        const object = doc.toJS();
        if (object !== null && object !== undefined) objects.push({ file, object });
      }
    }
    if (!yamls.length) return;
    const kFile = relative(dir, join(d, 'kustomization.yaml'));
    const at = { file: kFile, object: { kind: 'Kustomization', metadata: { name: relative(dir, d) } } };
    if (!existsSync(join(d, 'kustomization.yaml'))) {
      problems.push({ rule: 'kustomization', file: kFile, ref: `Kustomization/${relative(dir, d)}`, path: '', message: 'is missing; run `npm run synth`' });
      return;
    }
    const listed: string[] = parseAllDocuments(readFileSync(join(d, 'kustomization.yaml'), 'utf8'))[0]?.toJS()?.resources ?? [];
    const missing = yamls.filter((y) => !listed.includes(y));
    const extra = listed.filter((r) => !yamls.includes(r));
    if (missing.length || extra.length) {
      problems.push({
        rule: 'kustomization', file: at.file, ref: `Kustomization/${at.object.metadata.name}`, path: 'resources',
        message: `${missing.length ? `does not list ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `lists missing files ${extra.join(', ')}` : ''}; run \`npm run synth\``,
      });
    }
  };
  walk(dir);
  return { objects, problems };
}
