/**
 * `npm run cost -- --users <n>`: monthly cost, cost per active user against the 0.10 USD target, and
 * the break-even user count. Exits 1 when the cost per user is above target.
 */
import { ConfigError, loadConfig } from '../config/load.ts';
import { costReport, formatCostReport } from '../lib/cost.ts';
import { commandLine, integer } from './cli.ts';

const cli = commandLine({
  script: 'cost',
  summary: 'Monthly cost, cost per active user against the target, and the break-even user count. Exit 1 above target.',
  options: { users: integer('<n>', 'monthly active users', { min: 1, default: 1000 }) },
  config: true,
});
try {
  const report = costReport(loadConfig(cli.valuesFile).cluster.cost, cli.options.users);
  console.log(formatCostReport(report));
  process.exit(report.meetsTarget ? 0 : 1);
} catch (e) {
  console.error(e instanceof ConfigError ? e.message : `cost: ${(e as Error).message}`);
  process.exit(2);
}
