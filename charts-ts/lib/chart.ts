/**
 * The base chart: every chart names the dist/ layer it belongs to, uses stable names (no hash
 * suffixes) and carries the app.kubernetes.io labels.
 */
import { Chart, type ChartProps } from 'cdk8s';
import type { Construct } from 'constructs';

/**
 * The dist/ layout. Flux applies the platform layers in this order (see clusters/ and
 * docs/architecture.md); each environment's apps are published on their own.
 */
export const layers = {
  /** Namespaces, quotas and limits: applied first, so Secrets and everything else have a home. */
  namespaces: 'platform/namespaces',
  /** CRD-bearing controllers (HelmReleases) and their sources. */
  controllers: 'platform/controllers',
  /** Issuers, admission policies, Traefik config, upgrade plans, quotas. */
  configs: 'platform/configs',
  /** Databases, object stores, backups. */
  data: 'platform/data',
  /** Metrics, logs, traces, rules, dashboards. */
  observability: 'platform/observability',
  /**
   * The Flux Kustomizations that tie the layers together. A subdirectory, because clusters/production
   * itself is the `flux bootstrap` path (flux-system/ and the hand-written entry live there).
   */
  flux: 'clusters/production/layers',
  apps: (env: string) => `apps/${env}`,
} as const;

export interface LmsChartProps extends ChartProps {
  /** dist/ directory this chart is written to, one of `layers`. */
  readonly layer: string;
  /** app.kubernetes.io/component of everything in the chart. */
  readonly component?: string;
}

export class LmsChart extends Chart {
  readonly layer: string;

  constructor(scope: Construct, id: string, props: LmsChartProps) {
    super(scope, id, {
      ...props,
      disableResourceNameHashes: true,
      labels: {
        'app.kubernetes.io/part-of': 'lms',
        'app.kubernetes.io/managed-by': 'cdk8s',
        ...(props.component ? { 'app.kubernetes.io/component': props.component } : {}),
        ...props.labels,
      },
    });
    this.layer = props.layer;
  }
}
