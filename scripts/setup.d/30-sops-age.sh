#!/usr/bin/env bash
# sops for the secrets tests (test/platform/sops.test.ts): the tests encrypt and decrypt with the
# repository's .sops.yaml rules using the real binaries.
#   sops: built from the upstream Go module (MPL-2.0) into .cache/bin; Debian has no sops package.
#         https://github.com/getsops/sops/releases
#   age:  the pinned filippo.io/age of scripts/setup.d/40-data-tools.sh (the dump image's version).
set -euo pipefail
export GOBIN="$PWD/.cache/bin" GOFLAGS=-mod=mod
# renovate: datasource=go depName=github.com/getsops/sops/v3
SOPS_MODULE=v3.13.3
# shellcheck source=scripts/go-install-pinned.sh
source "$PWD/scripts/go-install-pinned.sh"
go_install_pinned sops github.com/getsops/sops/v3/cmd/sops "$SOPS_MODULE"
"$GOBIN/sops" --version --disable-version-check | sed -n 1p
