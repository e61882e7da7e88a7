/**
 * The observability stack as Flux HelmReleases, one chart per concern:
 *
 * - prometheus-operator CRDs, with the controllers (every later layer uses ServiceMonitors,
 *   PodMonitors and PrometheusRules: the data layer's PodMonitors, our rules, the platform's monitors);
 * - metrics: kube-prometheus-stack (Prometheus, Alertmanager, operator, kube-state-metrics,
 *   node-exporter, Grafana);
 * - logs: Loki; traces: Tempo; collector: Alloy.
 */
import { Duration } from 'cdk8s';
import type { Construct } from 'constructs';
import type { Config } from '../../config/schema.ts';
import type { ChartPin } from '../../config/sections/observability.ts';
import { LmsChart, layers } from '../../lib/chart.ts';
import { FluxHelmRelease, type FluxHelmReleaseProps } from '../../lib/helm-release.ts';
import { names } from '../../lib/names.ts';
import { releases } from './endpoints.ts';
import { checkImageListsCurrent } from './images.ts';
import { kubePrometheusStackFootprint, kubePrometheusStackImages, kubePrometheusStackValues } from './kube-prometheus-stack.ts';
import {
  alloyFootprint, alloyImages, alloyValues, lokiFootprint, lokiImages, lokiValues, tempoFootprint, tempoImages, tempoValues,
} from './logs-traces.ts';

const namespace = names.monitoring.namespace;

/** The API group of the prometheus-operator CRDs. */
export const monitoringApiGroup = 'monitoring.coreos.com';

type ReleaseProps = Omit<FluxHelmReleaseProps, 'namespace' | 'chart' | 'version' | 'source'>;

const release = (scope: Construct, pin: ChartPin, props: ReleaseProps) => new FluxHelmRelease(scope, props.name, {
  ...props,
  namespace,
  chart: pin.chart,
  version: pin.version,
  source: pin.repository.startsWith('oci://') ? { kind: 'oci', url: pin.repository } : { kind: 'helm', url: pin.repository },
});

/** The prometheus-operator CRDs (controllers layer): no pods. */
export class MonitoringCrdsChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.controllers, component: 'monitoring-crds' });
    release(this, config.cluster.observability.charts.prometheusOperatorCrds, {
      name: releases.crds,
      values: {},
      footprint: [],
      images: [],
      providesApiGroups: [monitoringApiGroup],
    });
  }
}

export class MetricsChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.observability, component: 'metrics' });
    checkImageListsCurrent(config.cluster.observability.charts);
    release(this, config.cluster.observability.charts.kubePrometheusStack, {
      name: releases.kubePrometheusStack,
      values: kubePrometheusStackValues(config),
      footprint: kubePrometheusStackFootprint(config),
      images: kubePrometheusStackImages(config),
      dependsOn: [{ name: releases.crds, namespace }],
      // First install creates two volumes and six workloads.
      timeout: Duration.minutes(15),
    });
  }
}

export class LogsChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.observability, component: 'logs' });
    release(this, config.cluster.observability.charts.loki, {
      name: releases.loki,
      values: lokiValues(config),
      footprint: lokiFootprint(config),
      images: lokiImages(),
      // Its ServiceMonitor needs the CRDs.
      dependsOn: [{ name: releases.crds, namespace }],
    });
  }
}

export class TracesChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.observability, component: 'traces' });
    release(this, config.cluster.observability.charts.tempo, {
      name: releases.tempo,
      values: tempoValues(config),
      footprint: tempoFootprint(config),
      images: tempoImages(),
      dependsOn: [{ name: releases.crds, namespace }],
    });
  }
}

export class CollectorChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.observability, component: 'collector' });
    release(this, config.cluster.observability.charts.alloy, {
      name: releases.alloy,
      values: alloyValues(config),
      footprint: alloyFootprint(config),
      images: alloyImages(),
      // Where it sends logs and traces: retried either way, but a clean first start is quieter.
      dependsOn: [{ name: releases.loki, namespace }, { name: releases.tempo, namespace }],
    });
  }
}
