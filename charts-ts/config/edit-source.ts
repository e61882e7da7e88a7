/**
 * Edits of the typed config made by tools (`npm run restore`), on the TypeScript syntax tree as
 * `npm run bump-image` does: the compiler locates the literal, the edit replaces exactly it, and
 * comments, formatting and the rest of the file stay as they are.
 *
 * The restore's switch lives in `databaseValues.<env>` of charts-ts/config/sections/data.ts:
 * `backup.serverName` (the generation the cluster archives under) and the `recovery` block.
 */
import ts from 'typescript';
import type { EnvironmentName } from './schema.ts';

/** A config literal value: what an object literal of strings, numbers and booleans evaluates to. */
export type Literal = string | number | boolean | null | Literal[] | { [key: string]: Literal };

export interface DatabaseEdit {
  /** New `backup.serverName`; absent: unchanged. */
  readonly serverName?: string;
  /** New `recovery` block; null: remove it; absent: unchanged. */
  readonly recovery?: Record<string, string> | null;
}

/** The comment the restore writes above its recovery block. */
export const recoveryMarker = (env: EnvironmentName) =>
  `// Written by \`npm run restore\`; \`npm run restore -- ${env} --finish\` removes it when the restore is done.`;

class SourceError extends Error {}

const propertyName = (p: ts.ObjectLiteralElementLike): string | undefined =>
  ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : undefined;

function unwrap(e: ts.Expression): ts.Expression {
  while (ts.isSatisfiesExpression(e) || ts.isAsExpression(e) || ts.isParenthesizedExpression(e)) e = e.expression;
  return e;
}

function property(o: ts.ObjectLiteralExpression, name: string): ts.PropertyAssignment | undefined {
  const p = o.properties.find((x) => propertyName(x) === name);
  return p && ts.isPropertyAssignment(p) ? p : undefined;
}

function objectAt(o: ts.ObjectLiteralExpression, name: string, where: string): ts.ObjectLiteralExpression {
  const p = property(o, name);
  const v = p && unwrap(p.initializer);
  if (!v || !ts.isObjectLiteralExpression(v)) throw new SourceError(`${where}.${name} is not an object literal`);
  return v;
}

/** The object literal of `databaseValues.<env>`. */
function environmentObject(source: ts.SourceFile, env: EnvironmentName): ts.ObjectLiteralExpression {
  let found: ts.Expression | undefined;
  const visit = (n: ts.Node): void => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === 'databaseValues' && n.initializer) found = n.initializer;
    else ts.forEachChild(n, visit);
  };
  visit(source);
  const root = found && unwrap(found);
  if (!root || !ts.isObjectLiteralExpression(root)) throw new SourceError(`${source.fileName}: no \`databaseValues = { ... }\` object literal`);
  return objectAt(root, env, 'databaseValues');
}

/** Evaluate a literal expression (strings, numbers, booleans, objects, arrays); anything else is refused. */
export function literalValue(e: ts.Expression): Literal {
  e = unwrap(e);
  if (ts.isStringLiteralLike(e)) return e.text;
  if (ts.isNumericLiteral(e)) return Number(e.text);
  if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(e.operand)) return -Number(e.operand.text);
  if (e.kind === ts.SyntaxKind.TrueKeyword) return true;
  if (e.kind === ts.SyntaxKind.FalseKeyword) return false;
  if (e.kind === ts.SyntaxKind.NullKeyword) return null;
  if (ts.isArrayLiteralExpression(e)) return e.elements.map((x) => literalValue(x));
  if (ts.isObjectLiteralExpression(e)) {
    const out: Record<string, Literal> = {};
    for (const p of e.properties) {
      const name = propertyName(p);
      if (name === undefined) throw new SourceError(`not a plain property: ${p.getText()}`);
      out[name] = literalValue((p as ts.PropertyAssignment).initializer);
    }
    return out;
  }
  throw new SourceError(`not a literal: ${e.getText()}`);
}

const parse = (fileName: string, text: string) => ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);

/** `databaseValues.<env>` of a data.ts source, evaluated. */
export function readDatabaseValues(fileName: string, text: string, env: EnvironmentName): Record<string, Literal> {
  return literalValue(environmentObject(parse(fileName, text), env)) as Record<string, Literal>;
}

const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const inline = (o: Record<string, string>) => `{ ${Object.entries(o).map(([k, v]) => `${k}: ${quoted(v)}`).join(', ')} }`;

/** Rewrite `databaseValues.<env>` in a data.ts source; throws when the file does not have the expected shape. */
export function editDatabaseValues(fileName: string, text: string, env: EnvironmentName, edit: DatabaseEdit): string {
  const source = parse(fileName, text);
  const envObject = environmentObject(source, env);
  const where = `databaseValues.${env}`;
  const edits: { start: number; end: number; value: string }[] = [];
  const lineStart = (pos: number) => text.lastIndexOf('\n', pos - 1) + 1;
  const lineEnd = (pos: number) => { const i = text.indexOf('\n', pos); return i < 0 ? text.length : i + 1; };

  const backup = property(envObject, 'backup');
  if (!backup) throw new SourceError(`${fileName}: ${where}.backup is missing`);
  if (edit.serverName !== undefined) {
    const name = property(objectAt(envObject, 'backup', where), 'serverName');
    if (!name || !ts.isStringLiteralLike(name.initializer)) throw new SourceError(`${fileName}: ${where}.backup.serverName is not a string literal`);
    edits.push({ start: name.initializer.getStart(source), end: name.initializer.getEnd(), value: quoted(edit.serverName) });
  }

  if (edit.recovery !== undefined) {
    const existing = property(envObject, 'recovery');
    const indent = /^[ \t]*/.exec(text.slice(lineStart(backup.getStart(source))))![0];
    const block = edit.recovery === null ? '' : `${indent}${recoveryMarker(env)}\n${indent}recovery: ${inline(edit.recovery)},\n`;
    if (existing) {
      // The whole lines of the property, with the marker comment above it when it is ours.
      let start = lineStart(existing.getStart(source));
      const previous = lineStart(start - 1);
      if (start > 0 && text.slice(previous, start).trim().startsWith('// Written by `npm run restore`')) start = previous;
      const after = existing.getEnd();
      const end = lineEnd(text[after] === ',' ? after + 1 : after);
      if (text.slice(existing.getEnd(), end).replace(/^,/, '').trim()) throw new SourceError(`${fileName}: ${where}.recovery shares its line with other code; put it on lines of its own`);
      edits.push({ start, end, value: block });
    } else if (edit.recovery !== null) {
      const after = backup.getEnd();
      const comma = text[after] === ',';
      if (!comma) edits.push({ start: after, end: after, value: ',' });
      const end = lineEnd(comma ? after + 1 : after);
      edits.push({ start: end, end, value: block });
    }
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.value + out.slice(e.end);
  return out;
}

export { SourceError };
