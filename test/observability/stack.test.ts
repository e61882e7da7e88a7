/**
 * The observability stack's HelmReleases: pinned versions, sizing for the single 12 GB node (every
 * container has requests and limits, the declared footprints match the values, the whole stack
 * stays within 1 vCPU / 3 GiB of requests), the settings the issue requires (retention, selectors,
 * one scrape of the k3s registry, Loki caches off, OTLP receivers, linked datasources) and the
 * layer order (CRDs before anything that uses them).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../charts-ts/config/load.ts';
import { layers } from '../../charts-ts/lib/chart.ts';
import { crdDir } from '../../charts-ts/lib/crds.ts';
import { footprintAnnotation, type PodFootprint } from '../../charts-ts/lib/footprint.ts';
import { imagesAnnotation, providesApiGroupsAnnotation } from '../../charts-ts/lib/helm-release.ts';
import { names } from '../../charts-ts/lib/names.ts';
import { cpuCores, GiB, memoryBytes } from '../../charts-ts/lib/quantity.ts';
import { alloyConfig } from '../../charts-ts/observability/stack/logs-traces.ts';
import { datasourceUids, endpoints } from '../../charts-ts/observability/stack/endpoints.ts';
import type { NamedManifest } from '../../charts-ts/lib/workloads.ts';
import { renderAll } from '../support/render.ts';
import { rendered, repoRoot, run, tempDir } from './support.ts';

const r = rendered();
const o = r.config.cluster.observability;
const ns = names.monitoring.namespace;
/** Container resources as the chart values give them. */
type Resources = { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
type Enabled = { enabled: boolean };
/** A HelmRelease: the fields read; `V` the chart values read. */
interface HelmReleaseJson<V> {
  spec: { releaseName?: string; chart: { spec: { version: string; chart: string; sourceRef: { name: string } } }; values: V };
}
/** A kube-state-metrics custom resource state entry. */
interface KsmResource { groupVersionKind: { group: string; kind: string }; metricNamePrefix: string; metrics: { labelsFromPath: { ready: unknown } }[] }
interface GrafanaDataSource {
  type: string;
  jsonData: { derivedFields?: { datasourceUid: string; url: string }[]; tracesToLogsV2?: { tags: { value: string }[] } };
}
/** The kube-prometheus-stack values read here. */
interface KpsValues {
  prometheus: {
    prometheusSpec: {
      image: { tag: string };
      retention: string;
      retentionSize: string;
      storageSpec: { volumeClaimTemplate: { spec: { resources: { requests: { storage: string } } } } };
      [field: string]: unknown;
    };
  };
  alertmanager: { alertmanagerSpec: { image: { tag: string } } };
  prometheusOperator: { admissionWebhooks: { enabled?: boolean; certManager?: { enabled?: boolean } }; tls?: { enabled?: boolean } };
  kubeApiServer: Enabled; kubeControllerManager: Enabled; kubeScheduler: Enabled; kubeProxy: Enabled; kubeEtcd: Enabled;
  kubelet: Enabled & { serviceMonitor: { metricRelabelings: { action: string }[] } };
  defaultRules: { create: boolean };
  crds: Enabled;
  grafana: {
    image: { tag: string };
    defaultDashboardsEnabled: boolean;
    sidecar: { dashboards: unknown; datasources: { exemplarTraceIdDestinations: { datasourceUid: string } } };
    additionalDataSources: GrafanaDataSource[];
  };
  'kube-state-metrics': {
    rbac: { extraRules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    customResourceState: { enabled: boolean; config: { spec: { resources: KsmResource[] } } };
  };
}
interface LokiValues {
  deploymentMode: string;
  singleBinary: { replicas: number; persistence: unknown };
  chunksCache: Enabled; resultsCache: Enabled; gateway: Enabled; lokiCanary: Enabled; test: Enabled;
  sidecar: { rules: Enabled };
  read: { replicas: number }; write: { replicas: number }; backend: { replicas: number };
  loki: { image: { tag: string }; storage: { type: string }; limits_config: { retention_period: string }; compactor: { retention_enabled: boolean } };
}
interface TempoValues { tempo: { tag: string }; config: string; persistence: unknown }
interface AlloyValues {
  alloy: { configMap: { content: string }; mounts: { varlog: boolean }; securityContext: { runAsNonRoot: boolean } };
  controller: { type: string };
  rbac: unknown;
}
const release = <V = unknown>(name: string) => r.getOf<HelmReleaseJson<V>>('helm.toolkit.fluxcd.io', 'HelmRelease', name, ns);
const kps = release<KpsValues>('kube-prometheus-stack');
const loki = release<LokiValues>('loki');
const tempo = release<TempoValues>('tempo');
const alloy = release<AlloyValues>('alloy');
/** The value at a dotted path of the chart values. */
const at = (obj: unknown, path: string): unknown => path.split('.').reduce<unknown>((x, k) => (x as Record<string, unknown> | null | undefined)?.[k], obj);

/**
 * Where each pod's containers get their resources in the chart values, read from each chart's
 * values.yaml and templates (independently of the code that builds the values).
 */
const podResources: Record<string, { release: NamedManifest & HelmReleaseJson<unknown>; pods: Record<string, string[]> }> = {
  'kube-prometheus-stack': {
    release: kps,
    pods: {
      prometheus: ['prometheus.prometheusSpec.resources', 'prometheusOperator.prometheusConfigReloader.resources'],
      alertmanager: ['alertmanager.alertmanagerSpec.resources', 'prometheusOperator.prometheusConfigReloader.resources'],
      'prometheus-operator': ['prometheusOperator.resources'],
      'kube-state-metrics': ['kube-state-metrics.resources'],
      'node-exporter': ['prometheus-node-exporter.resources'],
      grafana: ['grafana.resources', 'grafana.sidecar.resources', 'grafana.sidecar.resources'],
    },
  },
  loki: { release: loki, pods: { loki: ['singleBinary.resources'] } },
  tempo: { release: tempo, pods: { tempo: ['tempo.resources'] } },
  alloy: { release: alloy, pods: { alloy: ['alloy.resources', 'configReloader.resources'] } },
};

const sum = (values: unknown, paths: string[], kind: 'requests' | 'limits') => ({
  cpu: paths.reduce((s, p) => s + cpuCores((at(values, p) as Resources)[kind].cpu), 0),
  memory: paths.reduce((s, p) => s + memoryBytes((at(values, p) as Resources)[kind].memory), 0),
});

describe('observability HelmReleases', () => {
  it('pin the chart versions from config, from the chart repositories in config', () => {
    const pins = { 'kube-prometheus-stack': o.charts.kubePrometheusStack, loki: o.charts.loki, tempo: o.charts.tempo, alloy: o.charts.alloy, 'prometheus-operator-crds': o.charts.prometheusOperatorCrds };
    for (const [name, pin] of Object.entries(pins)) {
      const hr = release(name);
      expect(hr.spec.chart.spec.version, name).toBe(pin.version);
      expect(hr.spec.chart.spec.chart, name).toBe(pin.chart);
      expect(r.getOf<{ spec: { url: string } }>('source.toolkit.fluxcd.io', 'HelmRepository', hr.spec.chart.spec.sourceRef.name, ns).spec.url, name).toBe(pin.repository);
    }
  });

  it('run Prometheus and Alertmanager at the releases promtool and amtool are built from', () => {
    const setup = readFileSync(join(repoRoot, 'scripts/setup.d/20-prometheus-tools.sh'), 'utf8');
    const module = (name: string) => /(?:^|\n)\S*=?(v\d+\.\d+\.\d+)/.exec(setup.split(`depName=${name}`)[1] ?? '')?.[1];
    // The prometheus Go module v0.X.Y is Prometheus v3.X.Y.
    const prometheusModule = module('github.com/prometheus/prometheus')!;
    expect(prometheusModule).toMatch(/^v0\.\d+\.\d+$/);
    const [, minor, patch] = /^v0\.3(\d\d)\.(\d+)$/.exec(prometheusModule)!;
    expect(o.prometheus.version).toBe(`v3.${Number(minor)}.${patch}`);
    expect(o.alertmanager.version).toBe(module('github.com/prometheus/alertmanager'));
    expect(kps.spec.values.prometheus.prometheusSpec.image.tag).toBe(o.prometheus.version);
    expect(kps.spec.values.alertmanager.alertmanagerSpec.image.tag).toBe(o.alertmanager.version);
  });

  it('set requests and limits for every container, matching each declared pod footprint', () => {
    for (const [name, { release: hr, pods }] of Object.entries(podResources)) {
      const footprint = JSON.parse(hr.metadata.annotations![footprintAnnotation]) as PodFootprint[];
      expect(footprint.map((p) => p.name.split(' ')[0]), name).toEqual(Object.keys(pods));
      for (const [i, [pod, paths]] of Object.entries(pods).entries()) {
        for (const p of paths) {
          const res = at(hr.spec.values, p) as { requests?: Partial<Resources['requests']>; limits?: Partial<Resources['limits']> } | undefined;
          expect(res?.requests?.cpu && res?.requests?.memory && res?.limits?.cpu && res?.limits?.memory, `${name} ${p}`).toBeTruthy();
        }
        for (const kind of ['requests', 'limits'] as const) {
          const want = sum(hr.spec.values, paths, kind);
          expect(cpuCores(footprint[i][kind].cpu), `${name}/${pod} ${kind}.cpu`).toBeCloseTo(want.cpu, 6);
          expect(memoryBytes(footprint[i][kind].memory), `${name}/${pod} ${kind}.memory`).toBe(want.memory);
        }
      }
    }
  });

  it('the whole stack requests at most 1 vCPU and 3 GiB (about a sixth of the node)', () => {
    let cpu = 0;
    let memory = 0;
    for (const { release: hr } of Object.values(podResources)) {
      for (const p of JSON.parse(hr.metadata.annotations![footprintAnnotation]) as PodFootprint[]) {
        cpu += cpuCores(p.requests.cpu) * p.replicas;
        memory += memoryBytes(p.requests.memory) * p.replicas;
      }
    }
    expect(cpu).toBeLessThanOrEqual(1);
    expect(memory).toBeLessThanOrEqual(3 * GiB);
  });

  it('declare every image they run', () => {
    const images = (hr: NamedManifest) => JSON.parse(hr.metadata.annotations![imagesAnnotation]) as string[];
    expect(images(kps)).toEqual(expect.arrayContaining([
      `quay.io/prometheus/prometheus:${o.prometheus.version}`, `quay.io/prometheus/alertmanager:${o.alertmanager.version}`,
    ]));
    expect(images(kps)).toHaveLength(8);
    expect(images(loki)).toEqual(['docker.io/grafana/loki:3.7.6']);
    expect(images(tempo)).toEqual(['docker.io/grafana/tempo:2.10.8']);
    expect(images(alloy)).toHaveLength(2);
    // The values set the same tags, so the declared list is what runs.
    expect(kps.spec.values.grafana.image.tag).toBe('13.2.0');
    expect(loki.spec.values.loki.image.tag).toBe('3.7.6');
    expect(tempo.spec.values.tempo.tag).toBe('2.10.8');
  });

  it('refuse a chart bump whose image list was not revisited', () => {
    expect(() => renderAll({ cluster: { observability: { charts: { loki: { version: '18.12.0' } } } } }))
      .toThrow(/charts\.loki\.version: "18\.12\.0" differs from 18\.11\.0.*images\.ts/);
  });

  it('kube-prometheus-stack is released so that Prometheus is the Service the apps\' analyses query', () => {
    expect(kps.spec.releaseName).toBe('kube-prometheus-stack');
    // Chart fullname = release name (it contains the chart name); the Prometheus Service is <fullname>-prometheus.
    expect(new URL(names.monitoring.prometheusUrl).host).toBe(`${kps.spec.releaseName}-prometheus.${ns}.svc.cluster.local:9090`);
  });

  it('reject bad observability settings with the field and what is allowed', () => {
    const problems = (over: unknown) => {
      try {
        renderAll({ cluster: { observability: over } });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(problems({ slo: { apiAvailability: 1 } })).toMatch(/cluster\.observability\.slo\.apiAvailability: 1 must be below 1: an objective of 100 % leaves no error budget/);
    expect(problems({ slo: { window: '28d' } })).toMatch(/cluster\.observability\.slo\.window: "28d" must be "30d"/);
    expect(problems({ prometheus: { retention: '5 weeks' } })).toMatch(/cluster\.observability\.prometheus\.retention: "5 weeks" is not a duration/);
    expect(problems({ loki: { resources: { requests: { cpu: 'lots' } } } })).toMatch(/cluster\.observability\.loki\.resources\.requests\.cpu: "lots" is not a CPU quantity/);
    expect(problems({ slo: { pagingEnvironments: ['prod'] } })).toMatch(/pagingEnvironments\[0\]: "prod" must be staging or production/);
  });

  it('reject a chart version range with the field named', () => {
    try {
      renderAll({ cluster: { observability: { charts: { tempo: { version: '^2.2.0' } } } } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toMatch(/cluster\.observability\.charts\.tempo\.version: "\^2\.2\.0" must be an exact chart version/);
    }
  });
});

describe('kube-prometheus-stack values', () => {
  const v = kps.spec.values;

  it('Prometheus keeps data by time and size, long enough for the 30-day SLO window, on a volume', () => {
    const spec = v.prometheus.prometheusSpec;
    expect(spec.retention).toBe(o.prometheus.retention);
    expect(Number(spec.retention.replace('d', ''))).toBeGreaterThan(30);
    expect(spec.retentionSize).toBe(o.prometheus.retentionSize);
    const size = spec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage;
    expect(memoryBytes(size)).toBeGreaterThan(Number(spec.retentionSize.replace('GB', '')) * 1e9);
  });

  it('the operator mounts no Secret that nothing creates: TLS off while the admission webhook (and its cert Jobs) is off', () => {
    // Regression (npm run test:e2e, pods must have every Secret they mount): the chart's TLS listener
    // mounts <release>-admission, made only by the webhook's patch Jobs or cert-manager.
    const op = v.prometheusOperator;
    const secretMade = op.admissionWebhooks?.enabled !== false || op.admissionWebhooks?.certManager?.enabled === true;
    expect(op.tls?.enabled === false || secretMade).toBe(true);
  });

  it('selects ServiceMonitors, PodMonitors, Probes, ScrapeConfigs and rules from every namespace', () => {
    for (const k of ['rule', 'serviceMonitor', 'podMonitor', 'probe', 'scrapeConfig']) {
      expect(v.prometheus.prometheusSpec[`${k}SelectorNilUsesHelmValues`], k).toBe(false);
    }
  });

  it('scrapes the k3s process registry once, through the kubelet (k3s-io/k3s#2262)', () => {
    for (const c of ['kubeApiServer', 'kubeControllerManager', 'kubeScheduler', 'kubeProxy', 'kubeEtcd'] as const) expect(v[c].enabled, c).toBe(false);
    expect(v.kubelet.enabled).toBe(true);
    expect(v.kubelet.serviceMonitor.metricRelabelings[0].action).toBe('drop');
  });

  it('replaces the default rules and dashboards with ours, and installs no CRDs itself', () => {
    expect(v.defaultRules.create).toBe(false);
    expect(v.grafana.defaultDashboardsEnabled).toBe(false);
    expect(v.crds.enabled).toBe(false);
    expect(v.prometheusOperator.admissionWebhooks.enabled).toBe(false);
  });

  it('reports Flux readiness through kube-state-metrics (gotk_resource_info)', () => {
    const cfg = v['kube-state-metrics'].customResourceState;
    expect(cfg.enabled).toBe(true);
    const kinds = cfg.config.spec.resources.map((x) => x.groupVersionKind.kind);
    expect(kinds).toEqual(expect.arrayContaining(['Kustomization', 'HelmRelease', 'GitRepository', 'OCIRepository', 'HelmRepository']));
    for (const res of cfg.config.spec.resources) {
      expect(res.metricNamePrefix).toBe('gotk');
      expect(res.metrics[0].labelsFromPath.ready).toEqual(['status', 'conditions', '[type=Ready]', 'status']);
    }
  });

  it('lets kube-state-metrics list and watch every kind it reports (the chart grants only the CRD list)', () => {
    // The plural of each reported kind, from the pinned Flux CRDs.
    const plurals = new Map<string, string>();
    for (const f of readdirSync(join(crdDir(), 'flux'))) {
      for (const doc of parseAllDocuments(readFileSync(join(crdDir(), 'flux', f), 'utf8'))) {
        const crd = doc.toJS();
        if (crd?.kind === 'CustomResourceDefinition') plurals.set(`${crd.spec.group}/${crd.spec.names.kind}`, crd.spec.names.plural);
      }
    }
    const rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] = v['kube-state-metrics'].rbac.extraRules ?? [];
    const allowed = (group: string, plural: string, verb: string) => rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(plural) && r.verbs.includes(verb));
    const missing = v['kube-state-metrics'].customResourceState.config.spec.resources.flatMap((res) => {
      const { group, kind } = res.groupVersionKind;
      const plural = plurals.get(`${group}/${kind}`);
      if (!plural) return [`${group}/${kind}: no such CRD in ${join(crdDir(), 'flux')}`];
      return ['list', 'watch'].filter((verb) => !allowed(group, plural, verb)).map((verb) => `${verb} ${plural}.${group}`);
    });
    expect(missing).toEqual([]);
  });

  it('Grafana loads dashboards from labelled ConfigMaps and links logs, traces and metrics', () => {
    expect(v.grafana.sidecar.dashboards).toMatchObject({ enabled: true, label: 'grafana_dashboard', labelValue: '1' });
    const ds = Object.fromEntries(v.grafana.additionalDataSources.map((d) => [d.type, d]));
    expect(ds.loki).toMatchObject({ uid: datasourceUids.loki, url: endpoints.loki });
    expect(ds.tempo).toMatchObject({ uid: datasourceUids.tempo, url: endpoints.tempoQuery });
    // logs -> trace
    expect(ds.loki.jsonData.derivedFields!.every((f) => f.datasourceUid === datasourceUids.tempo && f.url === '$${__value.raw}')).toBe(true);
    // trace -> logs, with the Loki labels Alloy sets
    expect(ds.tempo.jsonData.tracesToLogsV2).toMatchObject({ datasourceUid: datasourceUids.loki, filterByTraceID: true });
    expect(ds.tempo.jsonData.tracesToLogsV2!.tags.map((t) => t.value)).toEqual(['app', 'namespace']);
    expect(v.grafana.sidecar.datasources.exemplarTraceIdDestinations.datasourceUid).toBe(datasourceUids.tempo);
  });
});

describe('Loki, Tempo and Alloy values', () => {
  it('Loki runs monolithic on a volume, with the memcached caches, gateway and canary off, and retention', () => {
    const v = loki.spec.values;
    expect(v.deploymentMode).toBe('Monolithic');
    expect(v.singleBinary.replicas).toBe(1);
    for (const c of ['chunksCache', 'resultsCache', 'gateway', 'lokiCanary', 'test'] as const) expect(v[c].enabled, c).toBe(false);
    expect(v.sidecar.rules.enabled).toBe(false);
    for (const c of ['read', 'write', 'backend'] as const) expect(v[c].replicas, c).toBe(0);
    expect(v.loki.storage.type).toBe('filesystem');
    expect(v.loki.limits_config.retention_period).toBe(o.loki.retention);
    expect(v.loki.compactor.retention_enabled).toBe(true);
    expect(v.singleBinary.persistence).toMatchObject({ enabled: true, size: o.loki.storage });
  });

  it('Tempo is the `tempo` Service with only the OTLP receivers on the ports the apps send to', () => {
    const v = tempo.spec.values;
    expect(tempo.spec.releaseName).toBe(names.monitoring.tempo.host.split('.')[0]);
    const cfg = parse(v.config);
    expect(Object.keys(cfg.distributor.receivers)).toEqual(['otlp']);
    expect(cfg.distributor.receivers.otlp.protocols.grpc.endpoint).toBe(`0.0.0.0:${names.monitoring.tempo.otlpGrpcPort}`);
    expect(cfg.distributor.receivers.otlp.protocols.http.endpoint).toBe(`0.0.0.0:${names.monitoring.tempo.otlpHttpPort}`);
    expect(cfg.compactor.compaction.block_retention).toBe(o.tempo.retention);
    expect(v.persistence).toMatchObject({ enabled: true, size: o.tempo.storage });
  });

  it('Alloy tails pod logs through the API into Loki and forwards OTLP traces to Tempo', () => {
    const v = alloy.spec.values;
    const cfg = v.alloy.configMap.content;
    expect(cfg).toBe(alloyConfig());
    expect(cfg).toContain('loki.source.kubernetes "pods"');
    expect(cfg).toContain(`url = "${endpoints.loki}/loki/api/v1/push"`);
    expect(cfg).toContain('otelcol.receiver.otlp "default"');
    expect(cfg).toContain(`endpoint = "${endpoints.tempoOtlpGrpc}"`);
    expect(v.controller.type).toBe('deployment');
    expect(v.alloy.mounts.varlog).toBe(false);
    expect(v.alloy.securityContext.runAsNonRoot).toBe(true);
    // It reads pods and logs, not Secrets.
    expect(JSON.stringify(v.rbac)).not.toContain('secrets');
  });

  it('the Alloy pipeline parses with Alloy\'s own parser and every component it references exists', () => {
    const dir = tempDir('alloy');
    const file = join(dir, 'config.alloy');
    writeFileSync(file, alloy.spec.values.alloy.configMap.content);
    const result = run('alloy-syntax', [file]);
    expect(result.status, result.output).toBe(0);
    const blocks: { name: string; label: string }[] = JSON.parse(result.output);
    const defined = new Set(blocks.map((b) => `${b.name}.${b.label}`));
    // References are `<component>.<label>.<export>` on the right of `=` or in a list.
    const code = alloy.spec.values.alloy.configMap.content.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\/\/.*$/gm, '');
    const refs = [...code.matchAll(/(?:=|\[|,)\s*([a-z_]+(?:\.[a-z0-9_]+){2,})/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThanOrEqual(6);
    for (const ref of refs) expect([...defined].some((d) => ref.startsWith(`${d}.`)), ref).toBe(true);
    // The parser rejects broken syntax (the check bites).
    writeFileSync(file, 'loki.write "default" { endpoint { url = } }');
    expect(run('alloy-syntax', [file]).status).toBe(1);
  });
});

describe('layers', () => {
  it('installs the monitoring CRDs with the controllers, before every layer that uses them', () => {
    const crds = r.objects.find((x) => x.object.kind === 'HelmRelease' && x.object.metadata.name === 'prometheus-operator-crds')!;
    expect(crds.file.startsWith(`${layers.controllers}/`)).toBe(true);
    expect(JSON.parse(crds.object.metadata.annotations![providesApiGroupsAnnotation])).toEqual(['monitoring.coreos.com']);
    const early = [layers.namespaces, layers.controllers].filter(Boolean);
    const users = r.objects.filter((x) => String(x.object.apiVersion).startsWith('monitoring.coreos.com/'));
    expect(users.length).toBeGreaterThan(0);
    for (const u of users) expect(early.some((l) => u.file.startsWith(`${l}/`)), `${u.file}: ${u.object.kind} ${u.object.metadata.name}`).toBe(false);
  });

  it('puts the stack, rules and dashboards in the observability layer', () => {
    for (const name of ['kube-prometheus-stack', 'loki', 'tempo', 'alloy']) {
      const x = r.objects.find((y) => y.object.kind === 'HelmRelease' && y.object.metadata.name === name)!;
      expect(x.file.startsWith(`${layers.observability}/`), name).toBe(true);
    }
  });
});
