/**
 * npm run bootstrap -- <step> [--dry-run] [--reinstall] [--host <ip>] [--kubeconfig <file>] [--out <dir>] [--values <file>]
 *
 * Host bootstrap: Contabo VPS -> hardened Ubuntu -> k3s -> Flux, plus the Cloudflare edge, the
 * bucket lifecycle and the nightly VPS snapshot rotation. Every step is idempotent; --dry-run prints
 * the plan (HTTP calls, remote and local commands) and changes nothing. Credentials come from the
 * environment only (see docs/runbooks/server-rebuild.md).
 */
import { ConfigError, loadConfig } from '../charts-ts/config/load.ts';
import { flag, parseCommandLine, text, usage, UsageError, usageErrorText } from '../charts-ts/tools/cli.ts';
import { BootstrapError, consoleOutput, makeContext, type StepOptions } from './lib/context.ts';
import { printPlan } from './lib/plan.ts';
import { steps } from './steps/index.ts';

export const bootstrapCli = {
  script: 'bootstrap',
  summary: 'Host bootstrap: Contabo VPS -> hardened Ubuntu -> k3s -> Flux, the Cloudflare edge, the bucket lifecycle and the VPS snapshots.',
  positionals: { usage: '<step>', description: 'one of the steps below', min: 1 },
  options: {
    dryRun: flag('print the plan (HTTP calls, remote and local commands) and change nothing'),
    reinstall: flag('provision: reinstall an existing instance with fresh user-data (destroys its disk)'),
    host: text('<ip>', 'k3s/flux: SSH target (default: the instance\'s IPv4 from the Contabo API)'),
    kubeconfig: text('<file>', 'k3s/flux: where the fetched kubeconfig goes (default $LMS_KUBECONFIG)'),
    out: text('<dir>', 'render: output directory'),
  },
  config: true,
  epilog: () => [
    'steps:',
    ...Object.values(steps).map((s) => `  ${s.name.padEnd(11)} ${s.summary}`),
    '',
    'Every step is idempotent. --dry-run prints the plan and changes nothing. Runbook: docs/runbooks/server-rebuild.md',
  ].join('\n'),
};

export interface ParsedArgs { step?: string; dryRun: boolean; options: StepOptions; help: boolean; valuesFile?: string }

/** The command line (charts-ts/tools/cli.ts); throws UsageError naming the bad flag. */
export function parseArgs(argv: string[]): ParsedArgs {
  // <step> is checked by main, which prints the usage when it is missing.
  const cli = parseCommandLine({ ...bootstrapCli, positionals: { ...bootstrapCli.positionals, min: 0 } }, argv);
  const [step, ...more] = cli.positionals;
  if (more.length) throw new BootstrapError(`one step at a time (got ${cli.positionals.join(' and ')})`, 'use `all` for the whole path');
  const { dryRun, reinstall, host, kubeconfig, out } = cli.options;
  const options: StepOptions = {};
  if (reinstall) options.reinstall = true;
  if (host !== undefined) options.host = host;
  if (kubeconfig !== undefined) options.kubeconfig = kubeconfig;
  if (out !== undefined) options.out = out;
  return { step, dryRun, options, help: cli.help, valuesFile: cli.valuesFile };
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.help || !args.step) {
      process.stdout.write(`${usage(bootstrapCli)}\n`);
      return args.help ? 0 : 2;
    }
    const step = steps[args.step];
    if (!step) throw new BootstrapError(`unknown step "${args.step}"`, `use one of: ${Object.keys(steps).join(', ')}`);
    const ctx = makeContext({ config: loadConfig(args.valuesFile), dryRun: args.dryRun, options: args.options, out: consoleOutput });
    if (ctx.dryRun) printPlan(ctx.out, step.name, step.plan(ctx));
    else await step.run(ctx);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(usageErrorText(bootstrapCli, e));
      return 2;
    }
    if (e instanceof BootstrapError || e instanceof ConfigError) {
      process.stderr.write(`error: ${e.message}\n`);
      // GitHub Actions shows this as an annotation on the run (the snapshot job's failure report).
      if (process.env.GITHUB_ACTIONS === 'true') process.stderr.write(`::error title=bootstrap failed::${e.message.replace(/\n/g, '%0A')}\n`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
