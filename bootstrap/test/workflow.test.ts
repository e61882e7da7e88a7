/** The nightly snapshot workflow: valid for GitHub (actionlint, with shellcheck on its scripts) and wired to the step. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { contaboCredentials } from '../lib/credentials.ts';
import { repoRoot } from './support/config.ts';

const file = `${repoRoot}/.github/workflows/vps-snapshots.yml`;

describe('.github/workflows/vps-snapshots.yml', () => {
  it('passes actionlint', () => {
    const r = spawnSync('actionlint', [file], { encoding: 'utf8' });
    expect(r.error, 'actionlint is installed by scripts/setup.d/70-delivery-tools.sh').toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('runs the snapshots step nightly with every Contabo credential, and reports failures', () => {
    const wf = parse(readFileSync(file, 'utf8'));
    expect(wf.on.schedule[0].cron).toMatch(/^\d+ \d+ \* \* \*$/);
    const steps = wf.jobs.rotate.steps as { run?: string; env?: Record<string, string>; if?: string; uses?: string }[];
    const rotate = steps.find((s) => s.run === 'npm run bootstrap -- snapshots')!;
    expect(Object.keys(rotate.env!).sort()).toEqual(contaboCredentials.map((c) => c.name).sort());
    expect(steps.find((s) => s.if === 'failure()')?.run).toContain('gh issue create');
    for (const s of steps.filter((x) => x.uses)) expect(s.uses).toMatch(/@[0-9a-f]{40}$/);
  });
});
