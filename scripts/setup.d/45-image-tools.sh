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

# shellcheck source=scripts/go-install-pinned.sh
source "$PWD/scripts/go-install-pinned.sh"
go_install_pinned crane github.com/google/go-containerregistry/cmd/crane "$CRANE_MODULE"
go_install_pinned registry github.com/distribution/distribution/v3/cmd/registry "$REGISTRY_MODULE"
"$GOBIN/crane" version
"$GOBIN/registry" --version
