/**
 * `npm run bump-image -- --repository <repo> --tag <tag> --digest sha256:<hex>`: pin an image to a new
 * build in the typed config. Every `{ repository: '<repo>', tag: '...', digest: '...' }` object in
 * charts-ts/config/ gets the new tag and digest (ours are written once, in sections/apps.ts, and
 * both environments deploy them: production gets it after staging passes); nothing else in the
 * files changes. The images workflow runs it, then `npm run synth`,
 * and opens the pull request (deploys are by digest).
 *
 * Edits are made on the TypeScript syntax tree (string literals located by the compiler), so
 * comments, formatting and renovate annotations stay as they are.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { imagePatterns } from '../config/fields.ts';
import { repoRoot } from '../lib/crds.ts';
import { commandLine, text } from './cli.ts';

export interface ImagePin {
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
}

const { repository: repositoryPattern, tag: tagPattern, digest: digestPattern } = imagePatterns;

export function validatePin(pin: ImagePin): void {
  const problems: string[] = [];
  if (!repositoryPattern.test(pin.repository)) problems.push(`--repository "${pin.repository}" is not an image repository; use registry/path like ghcr.io/lms-platform/lms-api`);
  if (!tagPattern.test(pin.tag) || pin.tag === 'latest') problems.push(`--tag "${pin.tag}" is not a pinned tag; use the release version like 1.4.2 (never latest)`);
  if (!digestPattern.test(pin.digest)) problems.push(`--digest "${pin.digest}" is not an image digest; use sha256:<64 hex characters> as the registry reports it`);
  if (problems.length) throw new Error(problems.map((p) => `bump-image: ${p}`).join('\n'));
}

const propertyName = (p: ts.ObjectLiteralElementLike): string | undefined =>
  ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : undefined;

/** Rewrite one source file; returns the new text and how many image objects were updated. */
export function bumpSource(fileName: string, text: string, pin: ImagePin): { text: string; updated: number } {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edits: { start: number; end: number; value: string }[] = [];
  let updated = 0;
  const visit = (node: ts.Node): void => {
    if (ts.isObjectLiteralExpression(node)) {
      const props = new Map(node.properties.map((p) => [propertyName(p), p] as const));
      const repo = props.get('repository');
      if (repo && ts.isPropertyAssignment(repo) && ts.isStringLiteralLike(repo.initializer) && repo.initializer.text === pin.repository) {
        for (const [key, value] of [['tag', pin.tag], ['digest', pin.digest]] as const) {
          const p = props.get(key);
          if (!p || !ts.isPropertyAssignment(p) || !ts.isStringLiteralLike(p.initializer)) {
            const { line } = source.getLineAndCharacterOfPosition(node.getStart());
            throw new Error(`bump-image: ${fileName}:${line + 1}: the ${pin.repository} image has no literal "${key}" to update; write it as ${key}: '...'`);
          }
          const quote = p.initializer.getText(source)[0];
          edits.push({ start: p.initializer.getStart(source), end: p.initializer.getEnd(), value: `${quote}${value}${quote}` });
        }
        updated++;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.value + out.slice(e.end);
  return { text: out, updated };
}

/** Every .ts file under charts-ts/config (values and sections). */
export function configFiles(dir = join(repoRoot, 'charts-ts/config')): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

export function bumpImage(pin: ImagePin, files = configFiles()): { file: string; updated: number }[] {
  validatePin(pin);
  const changed: { file: string; updated: number }[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const r = bumpSource(file, text, pin);
    if (r.updated) {
      if (r.text !== text) writeFileSync(file, r.text);
      changed.push({ file, updated: r.updated });
    }
  }
  if (!changed.length) {
    throw new Error(`bump-image: no image with repository '${pin.repository}' in ${files.length} config files; check --repository against the pins in charts-ts/config (ours: sections/apps.ts, images)`);
  }
  return changed;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { options: o } = commandLine({
    script: 'bump-image',
    summary: 'Pin an image to a new build: every config object with this repository gets the tag and digest.',
    options: {
      repository: text('<repo>', 'the image repository, e.g. ghcr.io/lms-platform/lms-api', { required: true }),
      tag: text('<tag>', 'the release version (a leading v is dropped: v1.4.2 -> 1.4.2)', { required: true }),
      digest: text('sha256:<hex>', 'the image digest as the registry reports it', { required: true }),
    },
  });
  try {
    const pin = { repository: o.repository, tag: o.tag.replace(/^v(?=\d)/, ''), digest: o.digest };
    for (const c of bumpImage(pin)) console.log(`bump-image: ${c.file}: ${c.updated} pin(s) of ${pin.repository} -> ${pin.tag}@${pin.digest}`);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
