/**
 * Evaluates the admission policy definitions (policies/) the way the API server does, with a real CEL
 * implementation (@bufbuild/cel: the conformance-tested CEL evaluator for JavaScript, RE2 regular
 * expressions, the strings extension Kubernetes enables): bindings' namespace selectors, resource
 * rules, match conditions, variables in order, validations and their messages. Real enforcement by
 * kube-apiserver is tested in test/cluster.
 */
import { isCelError, parse, run, type CelInput, type CelValue } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import type { Manifest } from '../../../charts-ts/lib/workloads.ts';
import type { AdmissionPolicy } from '../../../policies/index.ts';

/** JSON -> CEL input: objects become maps, integral numbers CEL ints (as Kubernetes does). */
export const toCel = (v: unknown): CelInput =>
  Array.isArray(v) ? v.map(toCel)
    : v && typeof v === 'object' ? new Map(Object.entries(v).map(([k, x]) => [k, toCel(x)]))
      // Left: strings, floats, booleans, null: CEL inputs as they are.
      : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v as CelInput;

/** CEL value -> plain JS (lists and maps), for messages and assertions. */
export const fromCel = (v: unknown): unknown => {
  if (v && typeof v === 'object' && typeof (v as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function' && !(typeof v === 'string')) {
    const map = v as { get?: unknown; has?: unknown; entries(): Iterable<[unknown, unknown]> };
    if (typeof map.get === 'function' && typeof map.has === 'function') {
      return Object.fromEntries([...map.entries()].map(([k, x]) => [String(k), fromCel(x)]));
    }
    return [...(v as Iterable<unknown>)].map(fromCel);
  }
  return typeof v === 'bigint' ? Number(v) : v;
};

export class CelEvaluationError extends Error {}

function evalCel(expression: string, bindings: Record<string, CelInput>): CelValue {
  const r = run(expression, bindings, { funcs: strings });
  if (isCelError(r)) throw new CelEvaluationError(`${expression}: ${r.message}`);
  return r;
}

/** Every CEL expression of a policy, with where it is. */
export function policyExpressions(p: AdmissionPolicy): { where: string; expression: string }[] {
  return [
    ...(p.matchConditions ?? []).map((m) => ({ where: `${p.name} matchConditions.${m.name}`, expression: m.expression })),
    ...(p.variables ?? []).map((v) => ({ where: `${p.name} variables.${v.name}`, expression: v.expression })),
    ...p.validations.flatMap((v, i) => [
      { where: `${p.name} validations[${i}].expression`, expression: v.expression },
      ...(v.messageExpression ? [{ where: `${p.name} validations[${i}].messageExpression`, expression: v.messageExpression }] : []),
    ]),
  ];
}

/** Parse errors of every expression (empty when all parse). */
export function parseProblems(p: AdmissionPolicy): string[] {
  const out: string[] = [];
  for (const { where, expression } of policyExpressions(p)) {
    try {
      parse(expression);
    } catch (e) {
      out.push(`${where}: ${(e as Error).message}`);
    }
  }
  return out;
}

const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');
const resourceOf = (kind: string): string => `${kind.toLowerCase()}s`;

/** Does the policy's binding select this namespace (labels as the API server sees them)? */
export function bindingSelects(p: AdmissionPolicy, namespace: string, labels: Record<string, string>): boolean {
  const all: Record<string, string> = { ...labels, 'kubernetes.io/metadata.name': namespace };
  if ('allExcept' in p.namespaces) return !p.namespaces.allExcept.includes(namespace);
  const v = all[p.namespaces.withLabel.key];
  return v !== undefined && p.namespaces.withLabel.values.includes(v);
}

/** Do the policy's resource rules match this object on CREATE? */
export function rulesMatch(p: AdmissionPolicy, object: Manifest): boolean {
  const group = groupOf(String(object.apiVersion));
  const version = String(object.apiVersion).split('/').pop()!;
  return p.resourceRules.some((r) => r.operations.includes('CREATE')
    && (r.apiGroups.includes('*') || r.apiGroups.includes(group))
    && (r.apiVersions.includes('*') || r.apiVersions.includes(version))
    && (r.resources.includes('*') || r.resources.includes(resourceOf(object.kind!))));
}

export interface Decision {
  readonly allowed: boolean;
  /** One message per failed validation (messageExpression result, or message). */
  readonly messages: string[];
}

/** Evaluate one policy on an object already known to be in scope. */
export function evaluate(p: AdmissionPolicy, object: Manifest): Decision {
  const base: Record<string, CelInput> = { object: toCel(object), oldObject: null, request: toCel({ operation: 'CREATE', namespace: object?.metadata?.namespace ?? '' }) };
  for (const m of p.matchConditions ?? []) {
    if (evalCel(m.expression, base) !== true) return { allowed: true, messages: [] };
  }
  const variables = new Map<string, CelInput>();
  for (const v of p.variables ?? []) variables.set(v.name, evalCel(v.expression, { ...base, variables }));
  const bindings = { ...base, variables };
  const messages: string[] = [];
  for (const v of p.validations) {
    const ok = evalCel(v.expression, bindings);
    if (ok === true) continue;
    if (ok !== false) throw new CelEvaluationError(`${p.name}: ${v.expression} returned ${String(ok)}, not a bool`);
    messages.push(v.messageExpression ? String(evalCel(v.messageExpression, bindings)) : v.message);
  }
  return { allowed: messages.length === 0, messages };
}

/** All policies bound to the object's namespace and matching it; the combined decision. */
export function admit(policies: AdmissionPolicy[], object: Manifest, namespaceLabels: Record<string, string> = {}): Decision & { checkedBy: string[] } {
  const ns = object.metadata?.namespace ?? 'default';
  const applicable = policies.filter((p) => bindingSelects(p, ns, namespaceLabels) && rulesMatch(p, object));
  const decisions = applicable.map((p) => evaluate(p, object));
  const messages = decisions.flatMap((d) => d.messages);
  return { allowed: messages.length === 0, messages, checkedBy: applicable.map((p) => p.name) };
}
