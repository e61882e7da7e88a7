/**
 * `npm run bench:synth [-- --runs N]`: time `npm run synth` end to end (tsx start, config, every
 * chart, the atomic write) as the deploy workflow runs it, and record the result in
 * bench/results/synth.json, which `npm run lead-time` reads as the synth step's duration.
 * Runs one after another (default 3) into a temporary directory; dist/ is not touched.
 */
import { spawnSync } from 'node:child_process';
import { cpus, tmpdir } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchResultPath, type BenchResult } from '../charts-ts/tools/lead-time.ts';
import { repoRoot } from '../charts-ts/lib/crds.ts';
import { commandLine, integer } from '../charts-ts/tools/cli.ts';

const { options: { runs } } = commandLine({
  script: 'bench:synth',
  summary: 'Time `npm run synth` end to end, one run after another, and record the result in bench/results/synth.json (read by npm run lead-time).',
  options: { runs: integer('<n>', 'how many runs', { min: 1, max: 10, default: 3 }) },
});

const out = mkdtempSync(join(tmpdir(), 'bench-synth-'));
const samples: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(join(repoRoot, 'node_modules/.bin/tsx'), ['charts-ts/main.ts', '--out', join(out, 'dist')], { cwd: repoRoot, encoding: 'utf8' });
    const secs = Number(process.hrtime.bigint() - start) / 1e9;
    if (r.status !== 0) {
      console.error(`bench:synth: synth failed:\n${r.stderr}`);
      process.exit(1);
    }
    samples.push(Math.round(secs * 100) / 100);
    console.log(`run ${i + 1}: ${secs.toFixed(2)}s`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

const sorted = [...samples].sort((a, b) => a - b);
const result: BenchResult = {
  command: 'tsx charts-ts/main.ts (npm run synth)',
  runs,
  seconds: samples,
  median: sorted[Math.floor(sorted.length / 2)],
  max: sorted[sorted.length - 1],
  measuredAt: new Date().toISOString(),
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`,
};
writeFileSync(benchResultPath, `${JSON.stringify(result, null, 2)}\n`);
console.log(`bench:synth: median ${result.median}s, max ${result.max}s -> ${benchResultPath}`);
