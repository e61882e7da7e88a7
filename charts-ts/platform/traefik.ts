/**
 * The k3s-bundled Traefik, customised through a HelmChartConfig (k3s merges `valuesContent` over its
 * own values for the bundled chart): Prometheus metrics, JSON logs and access logs, forwarded headers
 * trusted only from Cloudflare's edge, HTTP -> HTTPS redirect, and explicit resources.
 *
 * Settings whose chart keys moved between chart majors (log format, access log, redirections: the
 * chart renamed `logs` to `log`/`accessLog` in v41 and moved redirections under `http` in v39) are
 * given as Traefik's own static-configuration flags, which are stable across the k3s-bundled chart
 * versions. PROXY protocol stays off: Cloudflare's proxied HTTP(S) does not send it.
 */
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import { stringify } from 'yaml';
import type { Config } from '../config/schema.ts';
import { LmsChart, layers } from '../lib/chart.ts';
import { footprintAnnotation, footprintValue } from '../lib/footprint.ts';
import { names } from '../lib/names.ts';
import { pod } from './controller-helpers.ts';

/** Traefik's metrics entry point (the chart's default: container port "metrics", 9100, not exposed). */
export const traefikMetricsPort = { name: 'metrics', port: 9100 } as const;

/** The chart values this repository sets on top of k3s's own. */
export function traefikValues(config: Config): Record<string, unknown> {
  const t = config.cluster.platform.traefik;
  const trustedIPs = [...config.cluster.cloudflare.ipv4, ...config.cluster.cloudflare.ipv6];
  return {
    resources: t.resources,
    service: { spec: { externalTrafficPolicy: t.externalTrafficPolicy } },
    // A Service without ready endpoints (a canary whose pods are not ready) stays in the
    // configuration and answers 503 "no available server"; without this Traefik drops it, and with
    // it the whole weighted TraefikService, so the host would answer 404 (Traefik v3
    // pkg/provider/kubernetes/crd/kubernetes_http.go loadServers). The canary analysis counts
    // those 503s from the router metrics (charts-ts/apps/analysis.ts).
    providers: { kubernetesCRD: { allowEmptyServices: true } },
    ports: {
      web: { forwardedHeaders: { trustedIPs, insecure: false } },
      websecure: { forwardedHeaders: { trustedIPs, insecure: false } },
    },
    metrics: {
      prometheus: {
        entryPoint: traefikMetricsPort.name,
        addEntryPointsLabels: true,
        addRoutersLabels: true,
        addServicesLabels: true,
      },
    },
    additionalArguments: [
      '--log.format=json',
      '--accesslog=true',
      '--accesslog.format=json',
      // Redirect to the exposed port 443 (an entry point name would redirect to the container port).
      '--entryPoints.web.http.redirections.entryPoint.to=:443',
      '--entryPoints.web.http.redirections.entryPoint.scheme=https',
      '--entryPoints.web.http.redirections.entryPoint.permanent=true',
    ],
  };
}

export class TraefikConfigChart extends LmsChart {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id, { layer: layers.configs, component: 'ingress' });
    new ApiObject(this, 'traefik', {
      apiVersion: 'helm.cattle.io/v1',
      kind: 'HelmChartConfig',
      metadata: {
        // k3s matches the HelmChartConfig to its bundled HelmChart by name and namespace.
        name: 'traefik',
        namespace: names.ingress.namespace,
        annotations: { [footprintAnnotation]: footprintValue([pod('traefik (k3s bundled)', 1, config.cluster.platform.traefik.resources)]) },
      },
      spec: { valuesContent: stringify(traefikValues(config), { lineWidth: 0, aliasDuplicateObjects: false }) },
    });
  }
}
