/**
 * `npm run cost -- --users <n>`: monthly cost, cost per active user against the 0.10 USD target, and
 * the break-even user count. Exits 1 when the cost per user is above target.
 */
import { ConfigError, loadConfig } from '../config/load.ts';
import { costReport, formatCostReport } from '../lib/cost.ts';

const i = process.argv.indexOf('--users');
const users = i >= 0 ? Number(process.argv[i + 1]) : 1000;
try {
  const report = costReport(loadConfig().cluster.cost, users);
  console.log(formatCostReport(report));
  process.exit(report.meetsTarget ? 0 : 1);
} catch (e) {
  console.error(e instanceof ConfigError ? e.message : `cost: ${(e as Error).message}`);
  process.exit(2);
}
