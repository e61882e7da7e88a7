/**
 * npm run bootstrap -- <step> [--dry-run] [--reinstall] [--host <ip>] [--kubeconfig <file>] [--out <dir>] [--values <file>]
 *
 * Host bootstrap: Contabo VPS -> hardened Ubuntu -> k3s -> Flux, plus the Cloudflare edge, the
 * bucket lifecycle and the nightly VPS snapshot rotation. Every step is idempotent; --dry-run prints
 * the plan (HTTP calls, remote and local commands) and changes nothing. Credentials come from the
 * environment only (see docs/runbooks/server-rebuild.md).
 */
import { ConfigError, loadConfig } from '../charts-ts/config/load.ts';
import { BootstrapError, consoleOutput, makeContext, type StepOptions } from './lib/context.ts';
import { printPlan } from './lib/plan.ts';
import { steps } from './steps/index.ts';

export interface ParsedArgs { step?: string; dryRun: boolean; options: StepOptions; help: boolean }

export function parseArgs(argv: string[]): ParsedArgs {
  const r: ParsedArgs = { dryRun: false, options: {}, help: false };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (!v || v.startsWith('--')) throw new BootstrapError(`${flag} needs a value`, `e.g. ${flag} ${flag === '--host' ? '203.0.113.10' : '<path>'}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--dry-run': r.dryRun = true; break;
      case '--reinstall': r.options.reinstall = true; break;
      case '--host': r.options.host = value(i++, a); break;
      case '--kubeconfig': r.options.kubeconfig = value(i++, a); break;
      case '--out': r.options.out = value(i++, a); break;
      case '--values': i++; break; // read by loadConfig
      case '-h': case '--help': r.help = true; break;
      default:
        if (a.startsWith('-')) throw new BootstrapError(`unknown option ${a}`, 'run `npm run bootstrap -- --help`');
        if (r.step) throw new BootstrapError(`one step at a time (got ${r.step} and ${a})`, 'use `all` for the whole path');
        r.step = a;
    }
  }
  return r;
}

const usage = (): string => [
  'usage: npm run bootstrap -- <step> [--dry-run] [--reinstall] [--host <ip>] [--kubeconfig <file>] [--out <dir>] [--values <file>]',
  '',
  'steps:',
  ...Object.values(steps).map((s) => `  ${s.name.padEnd(11)} ${s.summary}`),
  '',
  'Every step is idempotent. --dry-run prints the plan and changes nothing. Runbook: docs/runbooks/server-rebuild.md',
].join('\n');

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.help || !args.step) {
      process.stdout.write(`${usage()}\n`);
      return args.help ? 0 : 2;
    }
    const step = steps[args.step];
    if (!step) throw new BootstrapError(`unknown step "${args.step}"`, `use one of: ${Object.keys(steps).join(', ')}`);
    const ctx = makeContext({ config: loadConfig(), dryRun: args.dryRun, options: args.options, out: consoleOutput });
    if (ctx.dryRun) printPlan(ctx.out, step.name, step.plan(ctx));
    else await step.run(ctx);
    return 0;
  } catch (e) {
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
