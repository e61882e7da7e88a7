/**
 * A Flux HelmRelease with secure, production defaults: pinned chart version, CRDs CreateReplace on
 * install and upgrade, retries with rollback on a failed upgrade, drift detection, and a declared
 * capacity footprint that must match the resources set in `values`.
 *
 * Two more facts are recorded as annotations, because the chart's own objects only exist once Flux
 * renders it in the cluster:
 * - `images`: every image the release pulls, checked against the admission policy's allow-list;
 * - `providesApiGroups`: the CRD API groups the chart installs, so the Flux layer checker can prove
 *   that every custom resource is applied in a layer after the one that installs its CRD.
 */
import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import {
  HelmRelease, HelmReleaseSpecChartSpecSourceRefKind, HelmReleaseSpecDriftDetectionMode,
  HelmReleaseSpecInstallCrds, HelmReleaseSpecUpgradeCrds, HelmReleaseSpecChartRefKind, HelmReleaseSpecUpgradeRemediationStrategy,
} from '../imports/flux-helmrelease-helm.toolkit.fluxcd.io.ts';
import { HelmRepository } from '../imports/flux-helmrepository-source.toolkit.fluxcd.io.ts';
import { OciRepository, OciRepositorySpecLayerSelectorOperation } from '../imports/flux-ocirepository-source.toolkit.fluxcd.io.ts';
import { footprintAnnotation, footprintValue, type PodFootprint } from './footprint.ts';

/** JSON list of the images a HelmRelease pulls (registry/path:tag). */
export const imagesAnnotation = 'admission.lms.dev/images';
/** JSON list of the API groups whose CRDs a HelmRelease installs. */
export const providesApiGroupsAnnotation = 'platform.lms.dev/provides-api-groups';

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
  /** Every pod the release runs, with the same requests/limits as set in `values` (empty for a CRD-only chart). */
  readonly footprint: PodFootprint[];
  /** Every image the release runs (registry/path:tag), as set in `values` or the chart's defaults; empty only for a chart without pods (CRDs only). */
  readonly images: string[];
  /** API groups of the CRDs the chart installs (e.g. `cert-manager.io`). */
  readonly providesApiGroups?: string[];
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
    if (!/^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(props.version)) {
      throw new Error(`HelmRelease ${props.name}: chart version "${props.version}" must be an exact version like 1.2.3, not a range`);
    }
    // A chart with no pods (CRDs only) pulls no images.
    if (props.images.length === 0 && props.footprint.length > 0) {
      throw new Error(`HelmRelease ${props.name}: list the images the chart runs in "images" (the admission allow-list is checked against them)`);
    }
    for (const image of props.images) {
      if (!/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?(@sha256:[a-f0-9]{64})?$/.test(image) || !/[:@]/.test(image.split('/').pop()!)) {
        throw new Error(`HelmRelease ${props.name}: image "${image}" must be registry/path:tag (or @sha256 digest), as the cluster pulls it`);
      }
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
        spec: { url: props.source.url, ref: { tag: props.version }, interval: '12h', layerSelector: { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', operation: OciRepositorySpecLayerSelectorOperation.COPY } },
      });
      chartSpec = { chartRef: { kind: HelmReleaseSpecChartRefKind.OCI_REPOSITORY, name: sourceName } };
    }
    this.release = new HelmRelease(this, 'release', {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        annotations: {
          [footprintAnnotation]: footprintValue(props.footprint),
          [imagesAnnotation]: JSON.stringify(props.images),
          ...(props.providesApiGroups?.length ? { [providesApiGroupsAnnotation]: JSON.stringify(props.providesApiGroups) } : {}),
        },
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
          remediation: { retries: 3, remediateLastFailure: true, strategy: HelmReleaseSpecUpgradeRemediationStrategy.ROLLBACK },
        },
        rollback: { cleanupOnFail: true, recreate: false },
        driftDetection: { mode: HelmReleaseSpecDriftDetectionMode.ENABLED },
        values: props.values,
      },
    });
  }
}
