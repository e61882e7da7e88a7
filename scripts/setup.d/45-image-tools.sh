#!/usr/bin/env bash
# Image tools (test/data/age-image.test.ts; the age-image workflow pushes with the same crane):
#   crane      github.com/google/go-containerregistry/cmd/crane (Apache-2.0): pushes an OCI layout
#              to a registry as is (no re-compression, so the pinned digest survives the push).
#   registry   github.com/distribution/distribution/v3/cmd/registry (Apache-2.0): the reference
#              OCI distribution registry (the registry GHCR and Docker Hub implement), on loopback.
set -euo pipefail
export GOBIN="$PWD/.cache/bin" GOFLAGS=-mod=mod
mkdir -p "$GOBIN"

# renovate: datasource=go depName=github.com/google/go-containerregistry
CRANE_MODULE=v0.22.1
# renovate: datasource=go depName=github.com/distribution/distribution/v3
REGISTRY_MODULE=v3.1.2

stamp() { [ -x "$GOBIN/$1" ] && [ "$(cat "$GOBIN/.$1.version" 2>/dev/null)" = "$2" ]; }
if ! stamp crane "$CRANE_MODULE"; then
  go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_MODULE"
  echo "$CRANE_MODULE" > "$GOBIN/.crane.version"
fi
if ! stamp registry "$REGISTRY_MODULE"; then
  go install "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_MODULE"
  echo "$REGISTRY_MODULE" > "$GOBIN/.registry.version"
fi
"$GOBIN/crane" version
"$GOBIN/registry" --version
