// Pins the k3s helm-controller (Apache-2.0, https://github.com/k3s-io/helm-controller) whose
// generated CRDs (pkg/crds/yaml/generated: HelmChart, HelmChartConfig in helm.cattle.io/v1) k3s
// installs itself; they are not in the pinned CRD set because no chart installs them. Nothing is
// built from it: scripts/setup.d/90-cluster-components.sh copies those two files from the verified
// module download into .cache/cluster/crds/ for the cluster tests. k3s v1.36 embeds helm-controller v0.17.x.
module lms-gitops/test/cluster/components/helm-controller

go 1.26.0

// renovate: datasource=go depName=github.com/k3s-io/helm-controller
require github.com/k3s-io/helm-controller v0.17.7
