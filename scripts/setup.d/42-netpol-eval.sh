#!/usr/bin/env bash
# netpol-eval (test/data/netpol-eval): a real NetworkPolicy evaluator as a command, for the data
# layer's network path tests (test/data/network-paths.test.ts). It wraps the policy matcher of
# Cyclonus, github.com/mattfenwick/cyclonus v0.5.6 (MIT, from the Go module proxy; pinned in the
# wrapper's go.mod, content in its go.sum), the engine Kubernetes SIG Network's policy-assistant
# (sigs.k8s.io/network-policy-api cmd/policy-assistant, Apache-2.0) was forked from. policy-assistant
# itself is not on the Go module proxy: its module path sigs.k8s.io/network-policy-api/policy-assistant
# does not match its directory, so the proxy answers 404 for every version.
# Rebuilt only when the wrapper's sources change (version stamp .cache/bin/.netpol-eval.version).
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
BIN="$PWD/.cache/bin"
SRC="$PWD/test/data/netpol-eval"
mkdir -p "$BIN"

command -v go >/dev/null || { echo "setup: go is required to build netpol-eval (Go >= 1.22)" >&2; exit 1; }
stamp=$(cat "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" | sha256sum | cut -d' ' -f1)
if [ -x "$BIN/netpol-eval" ] && [ "$(cat "$BIN/.netpol-eval.version" 2>/dev/null)" = "$stamp" ]; then
  echo "netpol-eval up to date"
else
  (cd "$SRC" && go build -trimpath -o "$BIN/netpol-eval" .)
  echo "$stamp" > "$BIN/.netpol-eval.version"
fi
# Smoke test: a default-deny egress policy blocks a pod's DNS query; a pod no policy selects is open.
echo '{"policies":[{"metadata":{"name":"deny","namespace":"a"},"spec":{"podSelector":{},"policyTypes":["Egress"]}}],
 "traffic":[{"name":"dns","protocol":"UDP","port":53,"source":{"ip":"10.42.0.2","internal":{"namespace":"a","namespaceLabels":{},"podLabels":{}}},"destination":{"ip":"10.42.0.3","internal":{"namespace":"kube-system","namespaceLabels":{},"podLabels":{}}}},
            {"name":"open","protocol":"UDP","port":53,"source":{"ip":"10.42.0.4","internal":{"namespace":"b","namespaceLabels":{},"podLabels":{}}},"destination":{"ip":"10.42.0.3","internal":{"namespace":"kube-system","namespaceLabels":{},"podLabels":{}}}}]}' \
  | "$BIN/netpol-eval" | tr -d ' \n' | grep -q '"name":"dns","allowed":false.*"name":"open","allowed":true' \
  || { echo "setup: netpol-eval smoke test failed" >&2; exit 1; }
echo "netpol-eval ok"
