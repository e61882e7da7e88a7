/**
 * A Flux HelmRelease with secure, production defaults: pinned chart version, CRDs CreateReplace on
 * install and upgrade, retries with rollback on a failed upgrade, drift detection, and a declared
 * capacity footprint that must match the resources set in `values`.
 */
import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import {
  HelmRelease, HelmReleaseSpecChartSpecSourceRefKind, HelmReleaseSpecDriftDetectionMode,
  HelmReleaseSpecInstallCrds, HelmReleaseSpecUpgradeCrds, HelmReleaseSpecChartRefKind,
} from '../imports/flux-helmrelease-helm.toolkit.fluxcd.io.ts';
import { HelmRepository } from '../imports/flux-helmrepository-source.toolkit.fluxcd.io.ts';
import { OciRepository } from '../imports/flux-ocirepository-source.toolkit.fluxcd.io.ts';
import { footprintAnnotation, footprintValue, type PodFootprint } from './footprint.ts';

export type ChartSource =
  /** A classic Helm repository (index.yaml). */
  | { readonly kind: 'helm'; readonly url: string }
  /** An OCI artifact holding the chart; `url` is oci://registry/path/chart. */
  | { readonly kind: 'oci'; readonly url: string };

export interface FluxHelmReleaseProps {
  readonly name: string;
  readonly namespace: string;
  readonly chart: string;
  /** Exact chart version: ranges are rejected so upgrades are pull requests. */
  readonly version: string;
  readonly source: ChartSource;
  readonly values: Record<string, unknown>;
  /** Every pod the release runs, with the same requests/limits as set in `values`. */
  readonly footprint: PodFootprint[];
  /** Other HelmReleases (namespace/name) that must be ready first. */
  readonly dependsOn?: { name: string; namespace?: string }[];
  /** @default 30m */
  readonly interval?: Duration;
  /** @default 10m */
  readonly timeout?: Duration;
}

export class FluxHelmRelease extends Construct {
  readonly release: HelmRelease;

  constructor(scope: Construct, id: string, props: FluxHelmReleaseProps) {
    super(scope, id);
    if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(props.version)) {
      throw new Error(`HelmRelease ${props.name}: chart version "${props.version}" must be an exact version like 1.2.3, not a range`);
    }
    const interval = (props.interval ?? Duration.minutes(30)).toSeconds();
    const sourceName = `${props.name}-chart`;
    let chartSpec: Record<string, unknown>;
    if (props.source.kind === 'helm') {
      new HelmRepository(this, 'source', {
        metadata: { name: sourceName, namespace: props.namespace },
        spec: { url: props.source.url, interval: '12h' },
      });
      chartSpec = {
        chart: {
          spec: {
            chart: props.chart,
            version: props.version,
            sourceRef: { kind: HelmReleaseSpecChartSpecSourceRefKind.HELM_REPOSITORY, name: sourceName },
            interval: '12h',
          },
        },
      };
    } else {
      new OciRepository(this, 'source', {
        metadata: { name: sourceName, namespace: props.namespace },
        spec: { url: props.source.url, ref: { tag: props.version }, interval: '12h', layerSelector: { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', operation: 'copy' } as any },
      });
      chartSpec = { chartRef: { kind: HelmReleaseSpecChartRefKind.OCI_REPOSITORY, name: sourceName } };
    }
    this.release = new HelmRelease(this, 'release', {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        annotations: { [footprintAnnotation]: footprintValue(props.footprint) },
      },
      spec: {
        ...chartSpec,
        releaseName: props.name,
        interval: `${interval / 60}m`,
        timeout: `${(props.timeout ?? Duration.minutes(10)).toSeconds() / 60}m`,
        dependsOn: props.dependsOn,
        install: { crds: HelmReleaseSpecInstallCrds.CREATE_REPLACE, remediation: { retries: 3 } },
        upgrade: {
          crds: HelmReleaseSpecUpgradeCrds.CREATE_REPLACE,
          cleanupOnFail: true,
          remediation: { retries: 3, remediateLastFailure: true, strategy: 'rollback' as any },
        },
        rollback: { cleanupOnFail: true, recreate: false },
        driftDetection: { mode: HelmReleaseSpecDriftDetectionMode.ENABLED },
        values: props.values,
      },
    });
  }
}
