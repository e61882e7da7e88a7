/**
 * The operators and controllers that act on our objects, each started as soon as its chart (or, for
 * system-upgrade-controller, our own manifest) has created its Deployment, and run as that
 * Deployment's container would run (pod-process.ts): CloudNativePG, the Barman Cloud plugin,
 * cert-manager, prometheus-operator, kube-state-metrics, system-upgrade-controller and Argo Rollouts.
 *
 * Webhooks stay as the charts register them: the API server reaches `<service>.<namespace>.svc`
 * through its egress selector (the CONNECT proxy, as in k3s), which the test routes to the
 * process's webhook port. Components that call Services themselves (CloudNativePG dialling its
 * plugin) get the same proxy as HTTPS_PROXY.
 */
import type { ControlPlane } from '../../cluster/support/control-plane.ts';
import type { Kube } from '../../cluster/support/kube.ts';
import { freePort } from '../../cluster/support/processes.ts';
import { findDeployment, setFlag, startPodProcess, type PodProcess, type PodProcessSpec } from './pod-process.ts';

/** Routes a Service address the API server (or a component) dials to a local port. */
export interface ServiceRouter {
  route(serviceAddress: string, local: string): void;
  readonly url: string;
}

export interface OperatorSpec extends Omit<PodProcessSpec, 'rewrite'> {
  /** Services whose port the process serves: `<service>.<namespace>.svc:<port>` -> a local port. */
  readonly serves?: readonly { readonly service: string; readonly port: number; readonly flag: string; readonly address?: boolean }[];
  /** Rewrites besides the served ports (leader election, metrics and health addresses). */
  rewrite(args: string[], ports: () => Promise<number>): Promise<string[]> | string[];
  /** A line in its log that says it is up. */
  readonly started: RegExp;
}

/** The node's architecture as Go names it (the images' manager_<arch> suffix). */
const goArch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;

const loopback = async (next: () => Promise<number>) => `127.0.0.1:${await next()}`;

const notLeader = (a: string[], flag = '--leader-elect') => setFlag(a, flag, 'false');

export function operatorSpecs(): OperatorSpec[] {
  return [
    {
      name: 'cert-manager-webhook', binary: 'cert-manager-webhook', namespace: 'cert-manager', selector: 'app.kubernetes.io/name=webhook,app.kubernetes.io/instance=cert-manager',
      serves: [{ service: 'cert-manager-webhook', port: 443, flag: '--secure-port' }], kubeconfigFlag: '--kubeconfig',
      rewrite: async (a, port) => setFlag(setFlag(a, '--healthz-port', String(await port())), '--metrics-listen-address', await loopback(port)),
      started: /serving|Listening|listening/i,
    },
    {
      // Reads KUBECONFIG only (its --kubeconfig flag is ignored upstream).
      name: 'cert-manager-cainjector', binary: 'cert-manager-cainjector', namespace: 'cert-manager', selector: 'app.kubernetes.io/name=cainjector,app.kubernetes.io/instance=cert-manager',
      rewrite: async (a, port) => setFlag(notLeader(a), '--metrics-listen-address', await loopback(port)),
      started: /Starting|starting/,
    },
    {
      name: 'cert-manager-controller', binary: 'cert-manager-controller', namespace: 'cert-manager', selector: 'app.kubernetes.io/name=cert-manager,app.kubernetes.io/component=controller',
      kubeconfigFlag: '--kubeconfig',
      rewrite: async (a, port) => setFlag(setFlag(notLeader(a), '--metrics-listen-address', await loopback(port)), '--internal-healthz-listen-address', await loopback(port)),
      started: /starting control loop|Starting/,
    },
    {
      name: 'cnpg-operator', binary: 'cnpg-manager', namespace: 'cnpg-system', selector: 'app.kubernetes.io/name=cloudnative-pg',
      // Without its instance manager for the node's architecture the operator cannot record the
      // Cluster's status ("invalid architecture") and creates no PostgreSQL pod at all.
      imageFiles: { [`operator/manager_${goArch}`]: 'cnpg-manager' },
      serves: [{ service: 'cnpg-webhook-service', port: 443, flag: '--webhook-port' }],
      rewrite: async (a, port) => setFlag(notLeader(a), '--metrics-bind-address', await loopback(port)),
      started: /"starting manager"|Starting workers/,
    },
    {
      name: 'barman-cloud-plugin', binary: 'barman-cloud-plugin', namespace: 'cnpg-system', selector: 'app.kubernetes.io/name=plugin-barman-cloud',
      serves: [{ service: 'barman-cloud', port: 9090, flag: '--server-address', address: true }],
      rewrite: async (a, port) => setFlag(setFlag(notLeader(a), '--metrics-bind-address', await loopback(port)), '--health-probe-bind-address', await loopback(port)),
      started: /Starting|starting/,
    },
    {
      // Reads KUBECONFIG (pkg/k8s NewClusterConfig), then replaces its impersonation with `--as`.
      name: 'prometheus-operator', binary: 'prometheus-operator', namespace: 'monitoring', selector: 'app=kube-prometheus-stack-operator',
      impersonateFlag: '--as',
      rewrite: async (a, port) => setFlag(a, '--web.listen-address', await loopback(port)),
      started: /Starting|starting/,
    },
    {
      name: 'kube-state-metrics', binary: 'kube-state-metrics', namespace: 'monitoring', selector: 'app.kubernetes.io/name=kube-state-metrics',
      kubeconfigFlag: '--kubeconfig',
      rewrite: async (a, port) => setFlag(setFlag(setFlag(setFlag(a, '--port', String(await port())), '--telemetry-port', String(await port())), '--host', '127.0.0.1'), '--telemetry-host', '127.0.0.1'),
      started: /Started|started|Starting/,
    },
    {
      name: 'system-upgrade-controller', binary: 'system-upgrade-controller', namespace: 'system-upgrade', selector: 'app.kubernetes.io/component=system-upgrade-controller',
      kubeconfigFlag: '--kubeconfig',
      rewrite: (a) => a,
      started: /Starting|starting/,
    },
    {
      name: 'rollouts-controller', binary: 'rollouts-controller', namespace: 'argo-rollouts', selector: 'app.kubernetes.io/name=argo-rollouts,app.kubernetes.io/component=rollouts-controller',
      kubeconfigFlag: '--kubeconfig',
      // The controller listens on 0.0.0.0 (hard-coded upstream); free ports keep runs from colliding.
      rewrite: async (a, port) => setFlag(setFlag(notLeader(a), '--healthzPort', String(await port())), '--metricsPort', String(await port())),
      started: /Started (Rollout|\d+ Rollout) workers|Starting Rollout workers/,
    },
  ];
}

/**
 * `specs` with the one named `name` changed by `change`: how a test points a component at its
 * stand-ins (cert-manager's DNS-01 resolvers and trusted roots, for one), kept next to the spec.
 */
export function withOperator(specs: OperatorSpec[], name: string, change: (spec: OperatorSpec) => OperatorSpec): OperatorSpec[] {
  if (!specs.some((s) => s.name === name)) throw new Error(`withOperator: no operator named ${name} (have ${specs.map((s) => s.name).join(', ')})`);
  return specs.map((s) => (s.name === name ? change(s) : s));
}

export interface RunningOperator extends PodProcess {
  readonly spec: OperatorSpec;
  readonly startedAt: number;
}

/**
 * Starts each operator once its Deployment exists and stops them all at the end. `poll()` is called
 * by the test's wait loops; errors starting an operator are kept and reported, not swallowed.
 */
export class OperatorSupervisor {
  readonly running = new Map<string, RunningOperator>();
  /** Why an operator whose Deployment exists is not running (retried on every poll). */
  private readonly lastError = new Map<string, string>();
  /** Exits per operator (each followed by a restart). */
  readonly exits = new Map<string, string[]>();

  constructor(private readonly plane: ControlPlane, private readonly kube: Kube, private readonly router: ServiceRouter,
    private readonly specs: OperatorSpec[] = operatorSpecs()) {}

  async poll(): Promise<void> {
    for (const [name, r] of this.running) {
      if (r.proc.exit === undefined) { await r.syncVolumes().catch(() => undefined); continue; }
      // restartPolicy Always: the kubelet restarts a container that exited; so does the harness,
      // and a component that keeps exiting is reported by crashed() (CrashLoopBackOff).
      this.exits.set(name, [...(this.exits.get(name) ?? []), `${r.proc.exit}: ${r.proc.logTail(8)}`]);
      this.running.delete(name);
    }
    for (const spec of this.specs) {
      if (this.running.has(spec.name)) continue;
      if (!(await findDeployment(this.kube, spec.namespace, spec.selector).catch(() => undefined))) continue;
      try {
        const served: { service: string; port: number; local: number }[] = [];
        const started = await startPodProcess(this.plane, this.kube, {
          ...spec,
          env: { HTTPS_PROXY: this.router.url, NO_PROXY: '127.0.0.1,localhost', ...spec.env },
          rewrite: async (args) => {
            let a = args;
            for (const s of spec.serves ?? []) {
              const local = await freePort();
              served.push({ service: s.service, port: s.port, local });
              a = setFlag(a, s.flag, s.address ? `127.0.0.1:${local}` : String(local));
            }
            return spec.rewrite(a, freePort);
          },
        });
        for (const s of served) this.router.route(`${s.service}.${spec.namespace}.svc:${s.port}`, `127.0.0.1:${s.local}`);
        this.running.set(spec.name, { ...started, spec, startedAt: Date.now() });
        this.lastError.delete(spec.name);
      } catch (e) {
        this.lastError.set(spec.name, `${spec.name}: ${(e as Error).message}`);
      }
    }
  }

  /** Operators whose Deployment exists but that could not be started, with the reason. */
  get errors(): string[] {
    return [...this.lastError.values()];
  }

  /** Operators that exited more than `limit` times: what a kubelet would show as CrashLoopBackOff. */
  crashed(limit = 3): string[] {
    return [...this.exits.entries()].filter(([, e]) => e.length > limit)
      .map(([name, e]) => `${name} exited ${e.length} times; last: ${e[e.length - 1]}`);
  }

  async stop(): Promise<void> {
    for (const r of [...this.running.values()].reverse()) await r.proc.stop();
  }
}
