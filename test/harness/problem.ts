/**
 * What the harness reports: one line per problem,
 * `<file> <Kind>/<namespace>/<name> <path>: <what is wrong and how to fix it>`.
 */

import type { Manifest } from '../../charts-ts/lib/workloads.ts';

/**
 * One object of the output and the dist/ file it is (or would be) written to. The object is as
 * rendered or read from YAML: the harness checks it, so no field is assumed to be there.
 */
export interface OutputObject {
  readonly file: string;
  readonly object: Manifest;
}

export type Rule =
  | 'schema'
  | 'unique'
  | 'labels'
  | 'namespace'
  | 'resources'
  | 'security'
  | 'probes'
  | 'image'
  | 'secret-data'
  | 'selector'
  | 'service-target'
  | 'hpa-target'
  | 'pdb-target'
  | 'kustomization';

export interface Problem {
  readonly rule: Rule;
  readonly file: string;
  /** `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects. */
  readonly ref: string;
  /** Dotted path inside the object (`spec.template.spec.containers[0].image`), or '' for the whole object. */
  readonly path: string;
  readonly message: string;
}

export const refOf = (o: Manifest | undefined): string => {
  const ns = o?.metadata?.namespace;
  const name = o?.metadata?.name ?? '(no name)';
  return `${o?.kind ?? '(no kind)'}/${ns ? `${ns}/` : ''}${name}`;
};

export const problem = (rule: Rule, at: OutputObject, path: string, message: string): Problem =>
  ({ rule, file: at.file, ref: refOf(at.object), path, message });

export const formatProblem = (p: Problem): string => `${p.file} ${p.ref}${p.path ? ` ${p.path}` : ''}: ${p.message}`;

/** All problems, one per line (for test failure messages and CLIs). */
export const formatProblems = (ps: readonly Problem[]): string => ps.map(formatProblem).join('\n');
