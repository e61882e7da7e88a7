#!/usr/bin/env bash
# Wait until Flux has taken a clusters-branch commit through the named Kustomizations.
#   applied:   each has applied the revision and passed its health checks (platform layers);
#   attempted: each has started applying it, i.e. its dependencies are Ready at that revision (the
#              apps layer, whose health check is the canary itself: `kubectl argo rollouts status`
#              watches that part).
# Usage: wait-for-flux.sh applied|attempted <clusters commit> <timeout> <kustomization>...
set -euo pipefail
mode="${1:?usage: wait-for-flux.sh applied|attempted <commit> <timeout> <kustomization>...}"
commit="${2:?missing clusters commit}"
timeout="${3:?missing timeout, e.g. 10m}"
shift 3
[ "$#" -gt 0 ] || { echo "name at least one Kustomization" >&2; exit 2; }
case "$mode" in
  applied) field=lastAppliedRevision ;;
  attempted) field=lastAttemptedRevision ;;
  *) echo "mode must be applied or attempted, got $mode" >&2; exit 2 ;;
esac
ns="${FLUX_NAMESPACE:-flux-system}"
revision="${CLUSTERS_BRANCH:-clusters}@sha1:$commit"
for k in "$@"; do
  echo "Kustomization $ns/$k: waiting until $field is $revision (timeout $timeout)"
  if ! kubectl -n "$ns" wait "kustomizations.kustomize.toolkit.fluxcd.io/$k" \
      --for="jsonpath={.status.$field}=$revision" --timeout="$timeout"; then
    kubectl -n "$ns" get "kustomizations.kustomize.toolkit.fluxcd.io/$k" -o yaml | sed -n '/^status:/,$p' >&2 || true
    exit 1
  fi
done
