/**
 * `npm run drill [-- --scale N] [-- --keep]`: the full DR drill (about 1 GiB of LMS-shaped data by
 * default, drill/lms-data.ts). Writes drill/report.md and drill/report.json and exits non-zero if a restore lost a
 * committed row or any other check failed. Quarterly procedure: docs/runbooks/disaster-recovery.md.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, flag, integer } from '../charts-ts/tools/cli.ts';
import { runDrill } from './drill.ts';
import { figures, reportMarkdown } from './report.ts';
import { repoRoot } from './tools.ts';

/** Scale 70 is about 1 GiB of LMS-shaped tables and indexes (15 MiB a unit). */
const defaultScale = 70;
const { options: { scale, keep } } = commandLine({
  script: 'drill',
  summary: 'The disaster-recovery drill: real PostgreSQL, barman-cloud and S3 server, timed restores. Writes drill/report.md and drill/report.json; exit 1 if a restore lost a committed row.',
  options: {
    scale: integer('<n>', `units of LMS-shaped data, ~15 MiB each (${defaultScale} = ~1 GiB)`, { min: 1, default: defaultScale }),
    keep: flag('keep the scratch directory (for debugging)'),
  },
});

const t0 = Date.now();
try {
  const result = await runDrill({ scale, keep, log: (l) => console.log(`drill: ${l}`) });
  const f = figures(result);
  const md = reportMarkdown(result, f);
  const { config: _config, ...rest } = result;
  writeFileSync(join(repoRoot, 'drill', 'report.md'), md);
  writeFileSync(join(repoRoot, 'drill', 'report.json'), `${JSON.stringify({ ...rest, figures: f }, null, 2)}\n`);
  console.log(md);
  console.log(`drill: ${((Date.now() - t0) / 1000).toFixed(0)} s; report in drill/report.md`);
  if (result.physical.databaseBytes < 2 ** 30 && scale >= defaultScale) console.warn('drill: the dataset is below 1 GiB; raise --scale');
  process.exit(f.lossless ? 0 : 1);
} catch (e) {
  console.error(`drill failed: ${(e as Error).stack ?? e}`);
  process.exit(1);
}
