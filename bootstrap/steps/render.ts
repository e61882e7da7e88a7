/** render: writes every generated host file into a directory for review (touches no provider). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userData, hostFiles } from '../host/cloud-init.ts';
import { k3sFiles, k3sInstallScript } from '../host/k3s.ts';
import type { Step } from './common.ts';

export const renderFiles = (config: Parameters<typeof userData>[0]): Record<string, string> => {
  const files: Record<string, string> = { 'user-data.yaml': userData(config), 'k3s-install.sh': k3sInstallScript(config) };
  for (const f of [...hostFiles(config), ...k3sFiles(config)]) files[`host${f.path}`] = f.content;
  return files;
};

export const render: Step = {
  name: 'render',
  summary: 'write the generated user-data, host files and k3s files to --out (default .cache/bootstrap/render)',
  plan(ctx) {
    const out = ctx.options.out ?? '.cache/bootstrap/render';
    return Object.keys(renderFiles(ctx.config)).map((f) => ({ kind: 'exec' as const, command: `write ${join(out, f)}` }));
  },
  async run(ctx) {
    const out = ctx.options.out ?? '.cache/bootstrap/render';
    for (const [rel, content] of Object.entries(renderFiles(ctx.config))) {
      const file = join(out, rel);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, content);
      ctx.out.info(`wrote ${file}`);
    }
  },
};
