#!/usr/bin/env bash
# Tools for the delivery tests (test/delivery/): Debian's nginx (`nginx -t` and a loopback server for
# the web image's nginx.conf), shellcheck (actionlint runs it on every `run:` script) and actionlint
# built from its Go module (MIT), pinned.
set -euo pipefail
export GOBIN="$PWD/.cache/bin" GOFLAGS=-mod=mod
# renovate: datasource=go depName=github.com/rhysd/actionlint
ACTIONLINT_MODULE=v1.7.12

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
if [ "${#missing[@]}" -gt 0 ]; then
  # shellcheck disable=SC2086 # APT_OPTS is a list of options
  DEBIAN_FRONTEND=noninteractive apt-get install ${APT_OPTS:--y -q} --no-install-recommends "${missing[@]}"
  # The package starts a system nginx on :80; the tests run their own on loopback, so stop it.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
  if [ -f /run/nginx.pid ]; then kill "$(cat /run/nginx.pid)" 2>/dev/null || true; fi
fi

# shellcheck source=scripts/go-install-pinned.sh
source "$PWD/scripts/go-install-pinned.sh"
go_install_pinned actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_MODULE"
"$GOBIN/actionlint" -version | sed -n 1p
/usr/sbin/nginx -v
shellcheck --version | sed -n 2p
