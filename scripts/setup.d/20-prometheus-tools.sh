#!/usr/bin/env bash
# promtool and amtool from the upstream Go modules (Apache-2.0), pinned to the Prometheus 3.x and
# Alertmanager releases kube-prometheus-stack runs, so rules and routes are checked by the same parser.
set -euo pipefail
export GOBIN="$PWD/.cache/bin" GOFLAGS=-mod=mod
# renovate: datasource=go depName=github.com/prometheus/prometheus
PROMETHEUS_MODULE=v0.316.0
# renovate: datasource=go depName=github.com/prometheus/alertmanager
ALERTMANAGER_MODULE=v0.35.0
# shellcheck source=scripts/go-install-pinned.sh
source "$PWD/scripts/go-install-pinned.sh"
go_install_pinned promtool github.com/prometheus/prometheus/cmd/promtool "$PROMETHEUS_MODULE"
go_install_pinned amtool github.com/prometheus/alertmanager/cmd/amtool "$ALERTMANAGER_MODULE"
"$GOBIN/promtool" --version | sed -n 1p
"$GOBIN/amtool" --version 2>&1 | sed -n 1p
