#!/usr/bin/env bash
# sops and age for the secrets tests (test/platform/sops.test.ts): the tests encrypt and decrypt with
# the repository's .sops.yaml rules using the real binaries.
#   age:  Debian package (BSD-3-Clause) https://packages.debian.org/bookworm/age
#   sops: built from the upstream Go module (MPL-2.0) into .cache/bin; Debian has no sops package.
#         https://github.com/getsops/sops/releases
set -euo pipefail
export GOBIN="$PWD/.cache/bin" GOFLAGS=-mod=mod
# renovate: datasource=go depName=github.com/getsops/sops/v3
SOPS_MODULE=v3.13.3
if ! command -v age >/dev/null || ! command -v age-keygen >/dev/null; then
  # shellcheck disable=SC2086 # APT_OPTS is a list of options
  DEBIAN_FRONTEND=noninteractive apt-get install ${APT_OPTS:--y -q} age >/dev/null
fi
if ! { [ -x "$GOBIN/sops" ] && [ "$(cat "$GOBIN/.sops.version" 2>/dev/null)" = "$SOPS_MODULE" ]; }; then
  go install "github.com/getsops/sops/v3/cmd/sops@$SOPS_MODULE"
  echo "$SOPS_MODULE" > "$GOBIN/.sops.version"
fi
age --version
"$GOBIN/sops" --version --disable-version-check | head -1
