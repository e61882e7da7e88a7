/**
 * `npm run budget`: the capacity budget of dist/ against the node (see charts-ts/lib/budget.ts for
 * how each workload is counted) and each namespace's quota (charts-ts/lib/capacity.ts). Prints the
 * table; exits 1 when requests do not fit, a quota is exceeded or an object makes pods without a
 * declared footprint, 2 on bad input. While a restore is configured, releases count as frozen.
 * Options: `--dist <dir>` (default dist/), `--values <file>` (config overrides, as for synth).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigError, loadConfig } from '../config/load.ts';
import { formatBudget, type BudgetInput } from '../lib/budget.ts';
import { computeCapacity, formatQuota } from '../lib/capacity.ts';
import { repoRoot } from '../lib/crds.ts';
import { commandLine, text } from './cli.ts';

function readDist(dir: string): BudgetInput[] {
  const out: BudgetInput[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.yaml') && e !== 'kustomization.yaml') {
        for (const doc of parseAllDocuments(readFileSync(p, 'utf8'))) {
          const object = doc.toJS();
          if (object) out.push({ file: relative(dir, p), object });
        }
      }
    }
  };
  walk(dir);
  return out;
}

const cli = commandLine({
  script: 'budget',
  summary: 'The requests and limits of every workload in dist/ against the node\'s allocatable CPU and memory. Exit 1 when they do not fit.',
  options: { dist: text('<dir>', 'the synthesized output to count (default dist/)') },
  config: true,
});
const dist = resolve(cli.options.dist ?? resolve(repoRoot, 'dist'));

try {
  if (!existsSync(dist)) throw new Error(`${dist} does not exist; run \`npm run synth\` first`);
  const config = loadConfig(cli.valuesFile);
  const { budget, quotas, problems } = computeCapacity(readDist(dist), config);
  console.log(formatBudget(budget));
  console.log(['', 'namespace quotas (the same pods; volumes claimed):', ...quotas.map((q) => `  ${formatQuota(q)}`), ...problems.filter((p) => p.startsWith('quota:')).map((p) => `error: ${p}`)].join('\n'));
  process.exit(problems.length ? 1 : 0);
} catch (e) {
  console.error(e instanceof ConfigError ? e.message : `budget: ${(e as Error).message}`);
  process.exit(2);
}
