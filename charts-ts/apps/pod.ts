/**
 * Secure pod templates for the app workloads. cdk8s-plus-27 cannot emit an Argo Rollout's pod
 * template, so the Rollouts, the Redis StatefulSet and the Jobs share this small builder. It applies
 * the defaults cdk8s-plus applies (non-root, read-only root filesystem, no privilege escalation, no
 * service account token) plus what Pod Security `restricted` requires (drop ALL capabilities,
 * seccomp RuntimeDefault), and makes requests, limits and probes mandatory in the types.
 */
import type { V1Container, V1EnvFromSource, V1EnvVar, V1PodSpec, V1Probe, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { Resources } from '../config/schema.ts';

/** The Kubernetes API's types (client-node), so a field the API has is never re-declared here. */
export type EnvVar = V1EnvVar;

/** Exactly one way to probe: an HTTP GET, a command, or a TCP connect. */
export type ProbeAction = Required<Pick<V1Probe, 'httpGet'>> | Required<Pick<V1Probe, 'exec'>> | Required<Pick<V1Probe, 'tcpSocket'>>;

export interface Probe {
  readonly action: ProbeAction;
  readonly periodSeconds?: number;
  readonly failureThreshold?: number;
  readonly timeoutSeconds?: number;
  readonly initialDelaySeconds?: number;
}

export interface ContainerProps {
  readonly name: string;
  readonly image: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly ports?: { name: string; containerPort: number }[];
  readonly env?: EnvVar[];
  readonly envFrom?: V1EnvFromSource[];
  readonly resources: Resources;
  /** Non-root uid (and gid) the process runs as. */
  readonly runAsUser: number;
  readonly runAsGroup?: number;
  /**
   * Readiness gates traffic; liveness restarts a wedged process; startup shields slow starts.
   * Required for every long-running container (podSpec rejects one without); Job containers have none.
   */
  readonly probes?: { readiness: Probe; liveness: Probe; startup?: Probe };
  /** Writable directories (emptyDir each, the root filesystem stays read-only). */
  readonly writablePaths?: string[];
  readonly volumeMounts?: V1VolumeMount[];
  /** Keep serving this long after the pod is marked terminating (endpoint propagation). */
  readonly preStopSleepSeconds?: number;
}

const probeJson = (p: Probe): V1Probe => ({
  ...p.action,
  periodSeconds: p.periodSeconds ?? 10,
  timeoutSeconds: p.timeoutSeconds ?? 2,
  failureThreshold: p.failureThreshold ?? 3,
  ...(p.initialDelaySeconds ? { initialDelaySeconds: p.initialDelaySeconds } : {}),
});

/** Readiness failureThreshold that keeps a failing pod in rotation for about 10 s, whatever the period. */
export const unreadyAfter = (l: { readinessProbePeriodSeconds: number }): number => Math.max(2, Math.ceil(10 / l.readinessProbePeriodSeconds));

/** Name of the emptyDir volume backing a writable path ("/var/cache/nginx" -> "var-cache-nginx"). */
export const writableVolumeName = (path: string): string =>
  path.replace(/^\/+|\/+$/g, '').replace(/[^a-z0-9]+/gi, '-').toLowerCase() || 'root';

export function container(p: ContainerProps): V1Container {
  return {
    name: p.name,
    image: p.image,
    imagePullPolicy: 'IfNotPresent',
    ...(p.command ? { command: p.command } : {}),
    ...(p.args ? { args: p.args } : {}),
    ...(p.ports?.length ? { ports: p.ports.map((x) => ({ ...x, protocol: 'TCP' })) } : {}),
    ...(p.envFrom?.length ? { envFrom: p.envFrom } : {}),
    ...(p.env?.length ? { env: p.env } : {}),
    resources: p.resources,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: p.runAsUser,
      runAsGroup: p.runAsGroup ?? p.runAsUser,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...(p.probes?.startup ? { startupProbe: probeJson(p.probes.startup) } : {}),
    ...(p.probes ? { readinessProbe: probeJson(p.probes.readiness), livenessProbe: probeJson(p.probes.liveness) } : {}),
    ...(p.preStopSleepSeconds ? { lifecycle: { preStop: { sleep: { seconds: p.preStopSleepSeconds } } } } : {}),
    // No empty list: the API server drops it, and Flux would see drift on every apply.
    ...nonEmpty('volumeMounts', [
      ...(p.writablePaths ?? []).map((path) => ({ name: writableVolumeName(path), mountPath: path })),
      ...(p.volumeMounts ?? []),
    ]),
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

export interface PodSpecProps {
  readonly serviceAccountName: string;
  readonly containers: ContainerProps[];
  readonly volumes?: V1Volume[];
  readonly terminationGracePeriodSeconds?: number;
  /** `Never` for Jobs (run to completion, no probes); long-running pods keep the default. */
  readonly restartPolicy?: 'Never';
  /** Owns the group of mounted volumes (PVCs). */
  readonly fsGroup?: number;
  /** Spread pods matching these labels across nodes and zones (meaningful from the second node on). */
  readonly spreadLabels?: Record<string, string>;
  /** Pod labels whose values separate revisions when spreading (e.g. rollouts-pod-template-hash). */
  readonly spreadMatchLabelKeys?: string[];
}

export function podSpec(p: PodSpecProps): V1PodSpec {
  if (p.restartPolicy !== 'Never') {
    const unprobed = p.containers.filter((c) => !c.probes).map((c) => c.name);
    if (unprobed.length) throw new Error(`containers ${unprobed.join(', ')} run continuously and need readiness and liveness probes`);
  }
  const emptyDirs = [...new Set(p.containers.flatMap((c) => c.writablePaths ?? []).map(writableVolumeName))];
  const spread = p.spreadLabels
    ? ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'].map((topologyKey) => ({
      maxSkew: 1,
      topologyKey,
      // A single node cannot satisfy a hard spread; the scheduler prefers spreading once it can.
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: p.spreadLabels },
      ...(p.spreadMatchLabelKeys?.length ? { matchLabelKeys: p.spreadMatchLabelKeys } : {}),
    }))
    : undefined;
  return {
    serviceAccountName: p.serviceAccountName,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    ...(p.restartPolicy ? { restartPolicy: p.restartPolicy } : {}),
    ...(p.terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds: p.terminationGracePeriodSeconds } : {}),
    securityContext: {
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
      ...(p.fsGroup !== undefined ? { fsGroup: p.fsGroup, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
    },
    ...(spread ? { topologySpreadConstraints: spread } : {}),
    containers: p.containers.map(container),
    volumes: [
      ...emptyDirs.map((name) => ({ name, emptyDir: { sizeLimit: '64Mi' } })),
      ...(p.volumes ?? []),
    ],
  };
}

/** `{ [key]: list }`, or nothing for an empty list (which the API server would not store). */
function nonEmpty<T>(key: string, list: T[]): Record<string, T[]> {
  return list.length ? { [key]: list } : {};
}
