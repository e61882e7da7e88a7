import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffManifests, fieldChanges, formatMarkdown } from '../../charts-ts/lib/diff.ts';

const fixtures = join(import.meta.dirname, 'fixtures', 'diff');
const run = (...args: string[]) => execFileSync('npx', ['tsx', 'charts-ts/tools/diff.ts',
  '--before-dir', join(fixtures, 'before'), '--after-dir', join(fixtures, 'after'), ...args], { encoding: 'utf8' });

describe('rendered diff', () => {
  it('reports added, removed and changed objects with the changed fields (terminal)', () => {
    const out = run();
    expect(out).toContain('+ ConfigMap.core lms-staging/new-settings');
    expect(out).toContain('- ConfigMap.core lms-staging/old-settings');
    expect(out).toContain('~ Rollout.argoproj.io lms-staging/lms-api');
    expect(out).toContain('spec.template.spec.containers[name=api].image: ghcr.io/lms-platform/lms-api:1.0.0@sha256:aaaa -> ghcr.io/lms-platform/lms-api:1.1.0@sha256:bbbb');
    expect(out).toContain('spec.template.spec.containers[name=api].resources.limits.memory: 384Mi -> 512Mi');
    // Reordered containers and a Service moved to another file are not changes.
    expect(out).not.toContain('sidecar');
    expect(out).not.toContain('Service.core');
    expect(out).toMatch(/1 added, 1 changed, 1 removed/);
  });

  it('renders Markdown for the pull-request comment', () => {
    const out = run('--markdown');
    expect(out).toMatch(/^### Cluster diff/);
    expect(out).toContain('| added | `ConfigMap.core lms-staging/new-settings` | apps/staging/api.yaml |');
    expect(out).toContain('| `spec.template.spec.containers[name=api].resources.limits.memory` | `384Mi` | `512Mi` |');
  });

  it('says so when nothing changed', () => {
    const objs = [{ file: 'a.yaml', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: '1' } } }];
    expect(diffManifests(objs, objs)).toEqual([]);
    expect(formatMarkdown([])).toContain('No changes');
  });

  it('diffs unnamed arrays by index and scalars by value', () => {
    expect(fieldChanges({ args: ['a', 'b'] }, { args: ['a', 'c', 'd'] })).toEqual([
      { path: 'args[1]', before: 'b', after: 'c' },
      { path: 'args[2]', before: undefined, after: 'd' },
    ]);
  });
});
