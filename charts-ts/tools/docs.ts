/**
 * `npm run docs`: regenerate docs/architecture/ (Mermaid C4 context and container diagrams) from
 * the config and the synthesized objects. `--check` exits 1 when the committed files are stale.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../app.ts';
import { loadConfig } from '../config/load.ts';
import { architectureDocs } from '../lib/c4.ts';
import { repoRoot } from '../lib/crds.ts';
import { render } from '../lib/synth.ts';
import { commandLine, flag } from './cli.ts';

const cli = commandLine({
  script: 'docs',
  summary: 'Regenerate the C4 diagrams in docs/architecture/ from the config and the synthesized objects.',
  options: { check: flag('write nothing; exit 1 when the committed files are stale') },
  config: true,
});
const config = loadConfig(cli.valuesFile);
const objects = render(buildApp(config)).flatMap((f) => f.objects);
const dir = join(repoRoot, 'docs', 'architecture');
const docs = architectureDocs(config, objects);
const check = cli.options.check;
let stale = 0;
mkdirSync(dir, { recursive: true });
for (const [file, text] of Object.entries(docs)) {
  const path = join(dir, file);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (current === text) continue;
  stale++;
  if (check) console.error(`docs/architecture/${file} is stale: run npm run docs`);
  else { writeFileSync(path, text); console.log(`wrote docs/architecture/${file}`); }
}
if (check && stale) process.exit(1);
