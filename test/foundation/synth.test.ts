/**
 * `npm run synth` as a user runs it (tsx charts-ts/main.ts, as a child process): the output is
 * byte-identical across runs, and a bad config value fails with a one-line error naming the field
 * while the output directory stays exactly as it was.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../charts-ts/lib/crds.ts';

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'lms-synth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const synth = (...args: string[]) => run(join(repoRoot, 'node_modules/.bin/tsx'), ['charts-ts/main.ts', ...args], { cwd: repoRoot, env: process.env });

/** Every file under `dir` (relative path -> sha256), including the kustomization.yaml files. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

describe.concurrent('synth', () => {
  it('gives byte-identical output when run twice', async () => {
    const a = join(tmp, 'a');
    const b = join(tmp, 'b');
    const [first] = await Promise.all([synth('--out', a), synth('--out', b)]);
    expect(first.stdout).toMatch(/^synth: wrote \d+ objects in \d+ files to /);
    const ta = tree(a);
    expect(Object.keys(ta).length).toBeGreaterThan(1);
    expect(Object.keys(ta)).toContain('platform/controllers/kustomization.yaml');
    expect(tree(b)).toEqual(ta);
  });

  it('rejects a bad config value with one line naming the field and leaves the output untouched', async () => {
    const out = join(tmp, 'existing');
    mkdirSync(join(out, 'platform'), { recursive: true });
    writeFileSync(join(out, 'platform', 'keep.yaml'), 'kind: Sentinel\n');
    const before = tree(out);
    const values = join(tmp, 'bad-values.yaml');
    writeFileSync(values, 'environments:\n  staging:\n    hostnames:\n      web: Staging_LMS.example.com\n');

    const err = await synth('--values', values, '--out', out).then(() => undefined, (e) => e as { code: number; stderr: string });
    expect(err, 'synth must fail on a bad config value').toBeDefined();
    expect(err!.code).not.toBe(0);
    const errors = err!.stderr.split('\n').filter((l) => l.startsWith('config:'));
    expect(errors).toEqual([
      'config: environments.staging.hostnames.web: "Staging_LMS.example.com" is not a valid hostname; use a lower-case DNS name like lms.example.com',
    ]);
    expect(tree(out)).toEqual(before);
    // No temporary or backup directory is left next to the output.
    expect(readdirSync(dirname(out)).filter((e) => e.startsWith('existing.'))).toEqual([]);
  });

  it('refuses output whose requests do not fit 80 % of the node (the capacity budget), writing nothing', async () => {
    const out = join(tmp, 'over-budget');
    mkdirSync(join(out, 'platform'), { recursive: true });
    writeFileSync(join(out, 'platform', 'keep.yaml'), 'kind: Sentinel\n');
    const before = tree(out);
    const values = join(tmp, 'big-values.yaml');
    // Production API up to 9 pods: 4 more pods of 250m / 224Mi than the budget holds.
    writeFileSync(values, 'environments:\n  production:\n    apps:\n      api:\n        hpa:\n          max: 9\n');
    const err = await synth('--values', values, '--out', out).then(() => undefined, (e) => e as { code: number; stderr: string });
    expect(err, 'synth must refuse an output over the capacity budget').toBeDefined();
    expect(err!.code).toBe(1);
    expect(err!.stderr.split('\n').filter((l) => l.startsWith('config:'))).toEqual([
      expect.stringMatching(/^config: capacity: FAIL, requests \(HPA maxima, canary pods, jobs, k3s's pods\) need CPU \d+m = [\d.]+ % and memory \d+Mi = [\d.]+ % of allocatable, above the 80 % limit .*lower requests or HPA maxima in config, or resize the node \(npm run budget shows every workload\)$/),
    ]);
    expect(tree(out)).toEqual(before);
  });

  it('names an unknown config field instead of ignoring it', async () => {
    const values = join(tmp, 'typo-values.yaml');
    writeFileSync(values, 'cluster:\n  nodee: {}\n');
    const err = await synth('--values', values, '--out', join(tmp, 'never')).then(() => undefined, (e) => e as { code: number; stderr: string });
    expect(err?.code).toBe(1);
    expect(err!.stderr).toMatch(/^config: cluster: unknown field\(s\) "nodee"; remove them or check the spelling/m);
    expect(() => statSync(join(tmp, 'never'))).toThrow();
  });
});
