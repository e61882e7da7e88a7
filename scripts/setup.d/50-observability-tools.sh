#!/usr/bin/env bash
# alloy-syntax: Grafana Alloy's own configuration parser (the github.com/grafana/alloy/syntax Go
# module, Apache-2.0, pinned in test/observability/alloy-syntax/go.mod) behind a small command, so
# the tests parse the generated Alloy pipeline. promtool and amtool come from 20-prometheus-tools.sh.
# Rebuilt only when its source changes.
set -euo pipefail
export GOBIN="$PWD/.cache/bin" GOFLAGS=-mod=mod
src=test/observability/alloy-syntax
stamp=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)
if [ -x "$GOBIN/alloy-syntax" ] && [ "$(cat "$GOBIN/.alloy-syntax.version" 2>/dev/null)" = "$stamp" ]; then
  echo "alloy-syntax up to date"
  exit 0
fi
(cd "$src" && go build -trimpath -o "$GOBIN/alloy-syntax" .)
echo "$stamp" > "$GOBIN/.alloy-syntax.version"
echo "built alloy-syntax"
