/**
 * Schema for k3s's HelmChartConfig (helm.cattle.io/v1), which configures the charts k3s installs
 * itself (the bundled Traefik). k3s registers this CRD at startup, so it is not among the pinned
 * upstream CRD files (../shared/crds); without this schema a HelmChartConfig could not be validated.
 *
 * Written from the Go types of k3s-io/helm-controller v0.17.7 (the version k3s's go.mod requires):
 * https://github.com/k3s-io/helm-controller/blob/v0.17.7/pkg/apis/helm.cattle.io/v1/types.go
 * (HelmChartConfig, HelmChartConfigSpec, SecretSpec, and the kubebuilder enums of FailurePolicy and
 * ServerSide). The CRD k3s generates from them:
 * https://github.com/k3s-io/helm-controller/blob/v0.17.7/pkg/crds/yaml/generated/helm.cattle.io_helmchartconfigs.yaml
 * When k3s moves to another helm-controller release, re-check these fields against its types.go.
 */
export const helmChartConfigCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'helmchartconfigs.helm.cattle.io' },
  spec: {
    group: 'helm.cattle.io',
    names: { kind: 'HelmChartConfig', plural: 'helmchartconfigs', singular: 'helmchartconfig', listKind: 'HelmChartConfigList' },
    scope: 'Namespaced',
    versions: [{
      name: 'v1',
      served: true,
      storage: true,
      schema: {
        openAPIV3Schema: {
          type: 'object',
          properties: {
            apiVersion: { type: 'string' },
            kind: { type: 'string' },
            metadata: { type: 'object' },
            spec: {
              type: 'object',
              properties: {
                // `Values *apiextv1.JSON`: structured values, merged over valuesContent.
                values: { 'x-kubernetes-preserve-unknown-fields': true },
                valuesContent: { type: 'string' },
                valuesSecrets: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      name: { type: 'string' },
                      keys: { type: 'array', items: { type: 'string' } },
                      ignoreUpdates: { type: 'boolean' },
                    },
                  },
                },
                // +kubebuilder:validation:Enum={"abort","reinstall","retry"}
                failurePolicy: { type: 'string', enum: ['abort', 'reinstall', 'retry'] },
                // +kubebuilder:validation:Enum={"true","false","auto"}
                serverSide: { type: 'string', enum: ['true', 'false', 'auto'] },
                forceConflicts: { type: 'boolean' },
              },
            },
          },
        },
      },
    }],
  },
} as const;
