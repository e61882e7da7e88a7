/**
 * The images workflow's digest flow-back: `npm run bump-image` rewrites the image pins in the typed
 * config on the TypeScript syntax tree. Run here on copies of the real config files.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bumpImage, bumpSource, configFiles } from '../../charts-ts/tools/bump-image.ts';
import { values } from '../../charts-ts/config/values.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const digest = `sha256:${'c'.repeat(64)}`;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bump-image-'));
  cpSync(join(repoRoot, 'charts-ts/config'), join(dir, 'config'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('bump-image', () => {
  it('pins the API image in both environments and changes nothing else', () => {
    const api = values.environments.production.apps.api.image.repository;
    const files = configFiles(join(dir, 'config'));
    const before = Object.fromEntries(files.map((f) => [f, readFileSync(f, 'utf8')]));
    const changed = bumpImage({ repository: api, tag: '1.4.2', digest }, files);
    // Written once (charts-ts/config/sections/apps.ts `images`); both environments deploy that pin.
    expect(changed.reduce((n, c) => n + c.updated, 0)).toBe(1);
    for (const f of files) {
      const after = readFileSync(f, 'utf8');
      const a = before[f].split('\n');
      const b = after.split('\n');
      expect(b.length).toBe(a.length);
      const differing = a.map((line, i) => [line, b[i]]).filter(([x, y]) => x !== y);
      for (const [, line] of differing) {
        // Only lines holding this image's pin change, and they hold the new tag and digest.
        expect(line).toContain(`'${api}'`);
        expect(line).toContain(`tag: '1.4.2'`);
        expect(line).toContain(`digest: '${digest}'`);
      }
    }
    // The web image (a different repository) kept its pin.
    const valuesText = readFileSync(join(dir, 'config/sections/apps.ts'), 'utf8');
    expect(valuesText).toContain(values.environments.production.apps.web.image.digest);
    expect(valuesText).not.toContain(values.environments.production.apps.api.image.digest);
  });

  it('edits the syntax tree: comments, quotes and layout around the pin survive', () => {
    const text = [
      'export const x = {',
      '  // renovate: datasource=docker depName=ghcr.io/acme/api',
      "  api: { repository: 'ghcr.io/acme/api', tag: '1.0.0', digest: \"sha256:" + 'a'.repeat(64) + '" },',
      "  other: { repository: 'ghcr.io/acme/api-worker', tag: '1.0.0', digest: 'sha256:" + 'b'.repeat(64) + "' },",
      "  note: 'ghcr.io/acme/api tag 1.0.0',",
      '};',
    ].join('\n');
    const r = bumpSource('x.ts', text, { repository: 'ghcr.io/acme/api', tag: '2.0.0', digest });
    expect(r.updated).toBe(1);
    expect(r.text.split('\n')).toEqual([
      'export const x = {',
      '  // renovate: datasource=docker depName=ghcr.io/acme/api',
      `  api: { repository: 'ghcr.io/acme/api', tag: '2.0.0', digest: "${digest}" },`,
      "  other: { repository: 'ghcr.io/acme/api-worker', tag: '1.0.0', digest: 'sha256:" + 'b'.repeat(64) + "' },",
      "  note: 'ghcr.io/acme/api tag 1.0.0',",
      '};',
    ]);
  });

  it('rejects bad input naming the option and the fix', () => {
    expect(() => bumpImage({ repository: 'ghcr.io/acme/api', tag: 'latest', digest }, [])).toThrow(/--tag "latest" is not a pinned tag/);
    expect(() => bumpImage({ repository: 'ghcr.io/acme/api', tag: '1.0.0', digest: 'sha256:xyz' }, [])).toThrow(/--digest "sha256:xyz" is not an image digest/);
    expect(() => bumpImage({ repository: 'ghcr.io/acme/unknown', tag: '1.0.0', digest }, configFiles(join(dir, 'config')))).toThrow(/no image with repository 'ghcr.io\/acme\/unknown'/);
  });

  it('runs as npm run bump-image (CLI), stripping a leading v from release tags', () => {
    const file = join(dir, 'config/sections/apps.ts');
    const api = values.environments.staging.apps.api.image.repository;
    // The CLI edits the real charts-ts/config; point it at the copy by running it from a copied tree.
    const tree = join(dir, 'tree');
    cpSync(join(repoRoot, 'charts-ts'), join(tree, 'charts-ts'), { recursive: true, filter: (s) => !s.includes('/imports/') });
    symlinkSync(join(repoRoot, 'node_modules'), join(tree, 'node_modules'));
    execFileSync(join(repoRoot, 'node_modules/.bin/tsx'), [join(tree, 'charts-ts/tools/bump-image.ts'), '--repository', api, '--tag', 'v1.5.0', '--digest', digest], { cwd: tree, encoding: 'utf8' });
    expect(readFileSync(join(tree, 'charts-ts/config/sections/apps.ts'), 'utf8')).toContain(`tag: '1.5.0', digest: '${digest}'`);
    expect(readFileSync(file, 'utf8')).not.toContain(digest); // the other copy is untouched
  });
});
