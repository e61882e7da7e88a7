/**
 * A stand-in for the metrics Traefik exposes for the app's weighted TraefikService, on 127.0.0.1,
 * with the metric names, labels and buckets of charts-ts/apps/metrics.ts (the ones the analysis
 * queries). Traffic is simulated, not served: a constant total request rate is split between the
 * stable and canary Services by the weights Argo Rollouts has written into the TraefikService, and
 * each side answers with the error ratio and latency the test sets. Counters grow with wall-clock
 * time, so Prometheus' rate()/increase() see exactly the configured rates.
 */
import { createServer, type Server } from 'node:http';
import { traefikMetrics as T } from '../../../charts-ts/apps/metrics.ts';
import { closeServer, trackSockets } from '../../support/close-server.ts';

export interface Behaviour {
  /** Share of responses that are 5xx, 0..1. */
  readonly errorRatio: number;
  /** Latency of every request, seconds. */
  readonly latencySeconds: number;
}

interface Series {
  behaviour: Behaviour;
  /** Accumulated requests by status code. */
  requests: Map<string, number>;
  /** Accumulated histogram per status code: bucket counts (le -> count), sum, count. */
  histograms: Map<string, { buckets: number[]; sum: number; count: number }>;
}

export class TraefikExporter {
  private readonly series = new Map<string, Series>();
  private weights = new Map<string, number>();
  private last = Date.now();
  private server?: Server;
  port = 0;

  /** `totalRps` requests per second reach the TraefikService and are split by its weights. */
  constructor(private readonly totalRps: number) {}

  /** Declare a Traefik service label (`<ns>-<svc>-<port>@kubernetescrd`) with its behaviour. */
  set(service: string, behaviour: Behaviour): void {
    this.advance();
    const s = this.series.get(service);
    if (s) s.behaviour = behaviour;
    else this.series.set(service, { behaviour, requests: new Map(), histograms: new Map() });
  }

  /** Current traffic weights (percent) per service label, as read from the TraefikService. */
  setWeights(weights: Map<string, number>): void {
    this.advance();
    this.weights = weights;
  }

  /** Add the requests that happened since the last call. */
  private advance(): void {
    const now = Date.now();
    const seconds = (now - this.last) / 1000;
    this.last = now;
    if (seconds <= 0) return;
    for (const [service, s] of this.series) {
      const n = this.totalRps * seconds * ((this.weights.get(service) ?? 0) / 100);
      if (n <= 0) continue;
      const split: [string, number][] = [['500', n * s.behaviour.errorRatio], ['200', n * (1 - s.behaviour.errorRatio)]];
      for (const [code, count] of split) {
        if (count <= 0) continue;
        s.requests.set(code, (s.requests.get(code) ?? 0) + count);
        const h = s.histograms.get(code) ?? { buckets: T.latencyBuckets.map(() => 0), sum: 0, count: 0 };
        T.latencyBuckets.forEach((le, i) => { if (s.behaviour.latencySeconds <= le) h.buckets[i] += count; });
        h.sum += count * s.behaviour.latencySeconds;
        h.count += count;
        s.histograms.set(code, h);
      }
    }
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    this.advance();
    const L = T.labels;
    const labels = (service: string, code: string, extra = '') =>
      `${L.service}="${service}",${L.code}="${code}",${L.method}="GET",${L.protocol}="${T.httpProtocol}"${extra}`;
    const out: string[] = [
      `# HELP ${T.requestsTotal} How many HTTP requests processed on a service, partitioned by status code, protocol, and method.`,
      `# TYPE ${T.requestsTotal} counter`,
    ];
    for (const [service, s] of this.series) {
      for (const [code, n] of s.requests) out.push(`${T.requestsTotal}{${labels(service, code)}} ${Math.floor(n)}`);
    }
    out.push(`# HELP ${T.requestDuration} How long it took to process the request on a service, partitioned by status code, protocol, and method.`,
      `# TYPE ${T.requestDuration} histogram`);
    for (const [service, s] of this.series) {
      for (const [code, h] of s.histograms) {
        T.latencyBuckets.forEach((le, i) => out.push(`${T.requestDurationBucket}{${labels(service, code, `,${L.le}="${le}"`)}} ${Math.floor(h.buckets[i])}`));
        out.push(`${T.requestDurationBucket}{${labels(service, code, `,${L.le}="+Inf"`)}} ${Math.floor(h.count)}`);
        out.push(`${T.requestDuration}_sum{${labels(service, code)}} ${h.sum}`);
        out.push(`${T.requestDuration}_count{${labels(service, code)}} ${Math.floor(h.count)}`);
      }
    }
    return `${out.join('\n')}\n`;
  }

  async start(): Promise<number> {
    this.server = trackSockets(createServer((req, res) => {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
        res.end(this.render());
      } else {
        res.writeHead(404).end();
      }
    }));
    await new Promise<void>((done) => this.server!.listen(0, '127.0.0.1', done));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}
