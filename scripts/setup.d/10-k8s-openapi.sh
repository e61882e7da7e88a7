#!/usr/bin/env bash
# The OpenAPI v3 spec of the Kubernetes version the cluster runs, for offline schema validation of
# every built-in object in dist/ (test/harness/k8s-openapi.ts).
#
# Source: the Go module k8s.io/kubernetes at the pinned version, path api/openapi-spec/v3/*.json
# (https://github.com/kubernetes/kubernetes/tree/v1.36.3/api/openapi-spec/v3). `go mod download`
# fetches it through the Go module proxy and checks it against the checksum database; the h1: hash
# below (the go.sum line of the module) pins the exact bytes, so a different download fails here.
#
# The version is derived from config (cluster.k3s.version v1.36.3+k3s1 -> 1.36.3). When renovate bumps
# k3s, add the new version's go.sum hash below: `go mod download -json k8s.io/kubernetes@v<version>`
# prints it as "Sum".
# Output: .cache/k8s-openapi/v<version>/*.json plus .source (module@version and hash); then the
# pinned CRDs are parsed into .cache/crd-json/ (test/harness/schema.ts), which also proves they load.
set -euo pipefail
# Keyed by the version derived from the k3s pin (renovate bumps k3s, not this table).
declare -A MODULE_SUMS=(
  [v1.36.3]='h1:qDQdoMiluAE2Eab6Fa52YV+WjiGz9mZFFoagEA6cI+o='
)

version="v$(npx --no-install tsx -e "
import { values } from './charts-ts/config/values.ts';
import { kubernetesVersion } from './charts-ts/config/schema.ts';
process.stdout.write(kubernetesVersion(values.cluster as any));")"
want="${MODULE_SUMS[$version]:-}"
if [ -z "$want" ]; then
  echo "10-k8s-openapi: no go.sum hash pinned for k8s.io/kubernetes@$version (config cluster.k3s.version);" >&2
  echo "  add it to MODULE_SUMS in $0 (from: go mod download -json k8s.io/kubernetes@$version)" >&2
  exit 1
fi
out=".cache/k8s-openapi/$version"
# Parse the pinned CRDs once into .cache/crd-json (keyed by file hash) and check that every schema
# loads, so parallel test workers start fast.
warm() {
  npx --no-install tsx -e "
import { schemaValidator } from './test/harness/schema.ts';
schemaValidator('${version#v}');"
  echo "schemas: Kubernetes ${version#v} and the pinned CRDs load (CRD_DIR=${CRD_DIR:-../shared/crds})"
}

if [ "$(cat "$out/.source" 2>/dev/null)" = "k8s.io/kubernetes@$version $want" ]; then
  echo "k8s OpenAPI $version: present ($out)"
  warm
  exit 0
fi

# Outside any module: download only, never edit a go.mod.
json="$(cd / && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$version")"
field() { printf '%s' "$json" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>process.stdout.write(JSON.parse(s)['$1']??''))"; }
sum="$(field Sum)"
dir="$(field Dir)"
if [ "$sum" != "$want" ]; then
  echo "10-k8s-openapi: k8s.io/kubernetes@$version has hash '$sum', pinned '$want'" >&2
  exit 1
fi
[ -d "$dir/api/openapi-spec/v3" ] || { echo "10-k8s-openapi: $dir/api/openapi-spec/v3 is missing" >&2; exit 1; }

tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$dir"/api/openapi-spec/v3/*.json "$tmp/"
chmod u+w "$tmp"/*.json
echo "k8s.io/kubernetes@$version $want" > "$tmp/.source"
rm -rf "$out"
mv "$tmp" "$out"
echo "k8s OpenAPI $version: $(find "$out" -name '*.json' | wc -l) files in $out"
warm
