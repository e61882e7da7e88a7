#!/usr/bin/env bash
# kubectl and the Argo Rollouts kubectl plugin for the deploy jobs, both pinned:
# - kubectl $KUBECTL_VERSION (the cluster's Kubernetes version), checked against the sha256 that
#   dl.k8s.io publishes next to the binary (https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/);
# - kubectl-argo-rollouts built from the tag of the controller the cluster runs, with the tag's
#   commit checked, so the plugin needs no unpinned download (~1 min; the workflow caches the result).
# Usage: install-kube-tools.sh <bin dir>
set -euo pipefail
bin="${1:?usage: install-kube-tools.sh <bin dir>}"
: "${KUBECTL_VERSION:?set KUBECTL_VERSION, e.g. v1.36.3}"
: "${ARGO_ROLLOUTS_VERSION:?set ARGO_ROLLOUTS_VERSION, e.g. v1.9.1}"
: "${ARGO_ROLLOUTS_COMMIT:?set ARGO_ROLLOUTS_COMMIT to the 40-hex commit of that tag}"
mkdir -p "$bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ "$("$bin/kubectl" version --client -o json 2>/dev/null | jq -r .clientVersion.gitVersion)" != "$KUBECTL_VERSION" ]; then
  base="https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/amd64"
  curl -fsSL --retry 3 -o "$work/kubectl" "$base/kubectl"
  curl -fsSL --retry 3 -o "$work/kubectl.sha256" "$base/kubectl.sha256"
  echo "$(cat "$work/kubectl.sha256")  $work/kubectl" | sha256sum --check --quiet
  install -m 0755 "$work/kubectl" "$bin/kubectl"
fi

if ! "$bin/kubectl-argo-rollouts" version --short 2>/dev/null | grep -qF "$ARGO_ROLLOUTS_VERSION"; then
  git clone --quiet --depth 1 --branch "$ARGO_ROLLOUTS_VERSION" https://github.com/argoproj/argo-rollouts.git "$work/argo-rollouts"
  actual="$(git -C "$work/argo-rollouts" rev-parse HEAD)"
  if [ "$actual" != "$ARGO_ROLLOUTS_COMMIT" ]; then
    echo "argo-rollouts $ARGO_ROLLOUTS_VERSION is commit $actual, expected $ARGO_ROLLOUTS_COMMIT: the tag moved; refusing to build" >&2
    exit 1
  fi
  version_pkg=github.com/argoproj/argo-rollouts/utils/version
  (cd "$work/argo-rollouts" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X $version_pkg.version=${ARGO_ROLLOUTS_VERSION#v} -X $version_pkg.gitCommit=$actual -X $version_pkg.gitTag=$ARGO_ROLLOUTS_VERSION -X $version_pkg.gitTreeState=clean" \
    -o "$bin/kubectl-argo-rollouts" ./cmd/kubectl-argo-rollouts)
fi
"$bin/kubectl" version --client
"$bin/kubectl-argo-rollouts" version --short
