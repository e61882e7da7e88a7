#!/usr/bin/env bash
# Tools for the app workload tests (test/apps):
# - argo-eval (test/apps/argo-eval): Argo Rollouts' own code (v1.9.1, Apache-2.0) as a command: the
#   analysis condition evaluator (utils/evaluate) and the controller's spec validation
#   (pkg/apis/rollouts/validation), so the tests check the rendered Rollouts and AnalysisTemplates
#   with the real implementation; and the ReplicaSet sizes of an abort under dynamicStableScale
#   (utils/replicaset), which the abort arithmetic is checked against. Built into .cache/bin; rebuilt only when its sources change. The
#   first build compiles k8s.io/kubernetes' API validation (10-20 minutes on 2 cores); it is built
#   without -trimpath so the cluster components' build (90-*) reuses those compiled packages.
# - redis-server and redis-cli (Debian), to run the generated redis.conf and the container's start
#   command for real on loopback. Debian's policy-rc.d keeps the packaged service from starting.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
BIN="$PWD/.cache/bin"
SRC="$PWD/test/apps/argo-eval"
mkdir -p "$BIN"

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  # shellcheck disable=SC2086 # APT_OPTS is a list of options
  apt-get install ${APT_OPTS:--y -q} --no-install-recommends redis-server redis-tools
fi
redis-server --version

command -v go >/dev/null || { echo "setup: go is required to build argo-eval (Go >= 1.24)" >&2; exit 1; }
stamp=$(cat "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" | sha256sum | cut -d' ' -f1)
if [ -x "$BIN/argo-eval" ] && [ "$(cat "$BIN/.argo-eval.version" 2>/dev/null)" = "$stamp" ]; then
  echo "argo-eval up to date"
else
  (cd "$SRC" && go build -o "$BIN/argo-eval" .)
  echo "$stamp" > "$BIN/.argo-eval.version"
fi
echo '[{"successCondition":"len(result) > 0","failureCondition":"len(result) == 0","result":[1]}]' | "$BIN/argo-eval"
