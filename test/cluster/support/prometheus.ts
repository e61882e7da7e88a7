/**
 * A real Prometheus server (the pinned 3.x build) on 127.0.0.1 scraping one target, so the Argo
 * Rollouts analysis runs its real PromQL against real scraped samples.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { binary } from './components.ts';
import { freePort, startProcess, waitFor, type Proc } from './processes.ts';

export interface Prometheus {
  readonly url: string;
  readonly proc: Proc;
  /** Instant query; the result vector. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
}

export async function startPrometheus(runDir: string, target: string, scrapeInterval: string): Promise<Prometheus> {
  const dir = join(runDir, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'prometheus.yml'), stringify({
    global: { scrape_interval: scrapeInterval, scrape_timeout: scrapeInterval, evaluation_interval: scrapeInterval },
    scrape_configs: [{ job_name: 'traefik', static_configs: [{ targets: [target] }] }],
  }));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess('prometheus', binary('prometheus'), [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], runDir);
  await waitFor('Prometheus ready', async () => (await fetch(`${url}/-/ready`)).ok, { timeoutMs: 60_000, procs: [proc] });
  return {
    url,
    proc,
    async query(promql: string) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`);
      const body = await res.json() as { status: string; error?: string; data: { result: Awaited<ReturnType<Prometheus['query']>> } };
      if (body.status !== 'success') throw new Error(`Prometheus query failed: ${body.error ?? res.status}: ${promql}`);
      return body.data.result;
    },
  };
}
