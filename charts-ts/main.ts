/**
 * `npm run synth`: validate the config, build every chart, and replace dist/ atomically.
 * Options: `--values <file>` (or LMS_VALUES) deep-merges overrides onto charts-ts/config/values.ts;
 * `--out <dir>` writes elsewhere than dist/.
 */
import { resolve } from 'node:path';
import { buildApp } from './app.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import { assertCapacity } from './lib/capacity.ts';
import { repoRoot } from './lib/crds.ts';
import { writeDist } from './lib/synth.ts';
import { commandLine, text } from './tools/cli.ts';

const cli = commandLine({
  script: 'synth',
  summary: 'Validate the config, render every chart and replace dist/ atomically (a failure leaves it as it was).',
  options: { out: text('<dir>', 'write here instead of dist/') },
  config: true,
});
const out = resolve(cli.options.out ?? resolve(repoRoot, 'dist'));

try {
  const config = loadConfig(cli.valuesFile);
  // The capacity budget (npm run budget) and the namespace quotas are part of the config check:
  // output that does not fit the node within the headroom, or a namespace's quota, is refused like a
  // bad value, and dist/ stays as it was (charts-ts/lib/capacity.ts).
  const files = writeDist(buildApp(config), out, (rendered) =>
    assertCapacity(rendered.flatMap((f) => f.objects.map((object) => ({ file: f.path, object }))), config));
  const objects = files.reduce((n, f) => n + f.objects.length, 0);
  console.log(`synth: wrote ${objects} objects in ${files.length} files to ${out}`);
} catch (e) {
  // A config error is one line per bad field; nothing was written, so the output dir is as it was.
  if (e instanceof ConfigError) console.error(e.message);
  else console.error(`synth failed (${out} left unchanged): ${(e as Error).stack ?? e}`);
  process.exit(1);
}
