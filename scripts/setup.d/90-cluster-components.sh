#!/usr/bin/env bash
# The real components `npm run test:cluster` runs (docs/testing.md), built from their Go modules into
# .cache/bin. Each component is a wrapper module under test/cluster/components/<name>/: its go.mod pins
# the version (renovate-annotated) and its go.sum the content. A binary is rebuilt only when its
# version stamp (.cache/bin/.<binary>.version) differs from the pin (for cert-manager, whose wrapper holds
# our own main packages: the pin plus a hash of that code), so re-runs take a second.
#
# With internet you can skip a build and use official release binaries instead: set any of
# KUBE_APISERVER_BIN, KUBE_CONTROLLER_MANAGER_BIN, KUBE_SCHEDULER_BIN, KINE_BIN, KWOK_BIN,
# ROLLOUTS_CONTROLLER_BIN, PROMETHEUS_BIN, CERT_MANAGER_CONTROLLER_BIN, CERT_MANAGER_WEBHOOK_BIN,
# CERT_MANAGER_CAINJECTOR_BIN, PEBBLE_BIN to an executable; a wrapper whose binaries are all given
# that way is not built. The tests check the version of whatever binary they run.
# Likewise for the controllers and operators: SOURCE_CONTROLLER_BIN, KUSTOMIZE_CONTROLLER_BIN,
# FLUX_HELM_CONTROLLER_BIN, NOTIFICATION_CONTROLLER_BIN, CNPG_MANAGER_BIN, BARMAN_CLOUD_PLUGIN_BIN,
# PROMETHEUS_OPERATOR_BIN, KUBE_STATE_METRICS_BIN, SYSTEM_UPGRADE_CONTROLLER_BIN (Flux's release
# binaries record no module version, so the tests' version check rejects them).
#
# Build logs and times: .cache/logs/build-<name>.log. First build on 2 cores: see docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOFLAGS=-mod=mod
BIN="$PWD/.cache/bin"
LOGS="$PWD/.cache/logs"
COMPONENTS="$PWD/test/cluster/components"
mkdir -p "$BIN" "$LOGS"

command -v go >/dev/null || { echo "setup: go is required to build the cluster test components (Go >= 1.26.7)" >&2; exit 1; }

# The pinned version of MODULE in wrapper NAME.
pinned() { (cd "$COMPONENTS/$1" && go list -m -f '{{.Version}}' "$2"); }

# The replace directives of a go.mod as sorted "old => new version" lines.
replaces() {
  # shellcheck disable=SC2016 # JavaScript template literal, not shell
  go mod edit -json "$1" | node -e '
    const mod = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const lines = (mod.Replace ?? []).map((r) => `${r.Old.Path} => ${r.New.Path} ${r.New.Version ?? ""}`.trim());
    console.log(lines.sort().join("\n"));'
}

# k8s.io/kubernetes replaces every k8s.io/* staging module with ./staging/src/...; the wrapper must
# replace each of them (minus the never-published sample-cli-plugin) with the matching v0.x.y release.
check_kubernetes_replaces() {
  local version="$1" staging="v0.${1#v1.}" upstream_dir
  upstream_dir=$(go mod download -json "k8s.io/kubernetes@$version" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).Dir)')
  local want have
  want=$(replaces "$upstream_dir/go.mod" | awk -v v="$staging" '$1 != "k8s.io/sample-cli-plugin" { print $1 " => " $1 " " v }')
  have=$(replaces "$COMPONENTS/kubernetes/go.mod")
  if [ "$want" != "$have" ]; then
    echo "setup: test/cluster/components/kubernetes/go.mod: the replace block must map every staging module of k8s.io/kubernetes@$version to its $staging release; difference (< wanted, > present):" >&2
    diff <(echo "$want") <(echo "$have") >&2 || true
    exit 1
  fi
}

# A field of `go mod download -json MODULE@VERSION` ("Dir", "Origin.Hash", ...), empty when absent
# (the module proxy does not always record the commit).
download_field() {
  go mod download -json "$1" | node -e '
    const info = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log(process.argv[1].split(".").reduce((o, k) => o?.[k], info) ?? "");' "$2"
}

# Replace directives a wrapper needs beyond its upstream's, because the version upstream uses is not
# on the Go module proxy; the wrapper's go.mod says what (if anything) that changes in the binary.
replace_deviations() {
  case "$1" in
    flux-source-controller) echo "github.com/fluxcd/pkg/artifact => github.com/fluxcd/pkg/artifact v0.18.1" ;;
    flux-helm-controller) echo "helm.sh/helm/v4 => helm.sh/helm/v4 v4.2.4" ;;
  esac
}

# A wrapper carries the replace directives of its upstream go.mod (they only apply in the main module,
# so `go install MODULE@VERSION` would link other versions): the same lines, except that upstream's
# replacement of one of its own nested modules by its directory (`MODULE/api => ./api`; that directory
# is not in the module zip) becomes that nested module at the same tag, or at a pseudo-version of the
# same commit where the nested module is not tagged; plus the deviations above.
check_upstream_replaces() {
  local name="$1" module="$2" version="$3" upstream_dir commit deviations want have
  upstream_dir=$(download_field "$module@$version" Dir)
  commit=$(download_field "$module@$version" Origin.Hash)
  deviations=$(replace_deviations "$name")
  want=$( { replaces "$upstream_dir/go.mod" | awk -v skip=" $(echo "$deviations" | awk '{ printf "%s ", $1 }')" 'index(skip, " " $1 " ") == 0'
    [ -z "$deviations" ] || echo "$deviations"; } | LC_ALL=C sort)
  have=$(replaces "$COMPONENTS/$name/go.mod" | awk -v m="$module/" -v v="$version" -v c="${commit:0:12}" '
    index($1, m) == 1 && $3 == $1 && ($4 == v || (c != "" && $4 ~ ("-" c "$"))) { print $1 " => ./" substr($1, length(m) + 1); next }
    { print }' | LC_ALL=C sort)
  if [ "$want" != "$have" ]; then
    echo "setup: test/cluster/components/$name/go.mod: the replace directives must be those of $module $version's go.mod (nested modules at the same tag or commit); difference (< wanted, > wrapper):" >&2
    diff <(echo "$want") <(echo "$have") >&2 || true
    exit 1
  fi
}

# No module under the AGPL may end up in a binary we build (project rule).
check_licenses() {
  local name="$1" dir
  while read -r dir; do
    [ -n "$dir" ] || continue
    if grep -qs "GNU AFFERO GENERAL PUBLIC LICENSE" "$dir"/LICENSE* "$dir"/COPYING* 2>/dev/null; then
      echo "setup: $name links $(basename "$dir"), which is AGPL-licensed; that is not allowed" >&2
      exit 1
    fi
  done < <(cd "$COMPONENTS/$name" && go list -deps -f '{{with .Module}}{{.Dir}}{{end}}' tool | sort -u)
}

# build NAME MODULE "BINARY=ENV_VAR[:GO_NAME] ..." [extra ldflags] [note shown while building] [source id]
# GO_NAME: the file name `go build` gives that tool (its package path's last element) when it is not BINARY.
# Source id: for a wrapper with code of its own, a hash of that code; it joins the version stamp
# (VERSION+src.ID), so changing the code rebuilds the binaries.
build() {
  local name="$1" module="$2" binaries="$3" ldflags="-s -w ${4:-}" version stamp pair bin var go_name missing=0 given=0 count=0
  version=$(pinned "$name" "$module")
  stamp="$version${6:++src.$6}"
  for pair in $binaries; do
    bin="${pair%%=*}" var="${pair#*=}"
    var="${var%%:*}"
    count=$((count + 1))
    if [ -n "${!var:-}" ]; then
      [ -x "${!var}" ] || { echo "setup: $var=${!var} is not an executable file" >&2; exit 1; }
      given=$((given + 1))
    elif [ ! -x "$BIN/$bin" ] || [ "$(cat "$BIN/.$bin.version" 2>/dev/null)" != "$stamp" ]; then
      missing=1
    fi
  done
  if [ "$given" = "$count" ]; then echo "$name: using the binaries given in the environment"; return; fi
  if [ "$missing" = 0 ]; then echo "$name $version: up to date"; return; fi
  case "$name" in
    kubernetes) check_kubernetes_replaces "$version" ;;
    argo-rollouts | flux-* | cloudnative-pg | plugin-barman-cloud | prometheus-operator | kube-state-metrics | system-upgrade-controller)
      check_upstream_replaces "$name" "$module" "$version" ;;
  esac
  echo "$name $version: building (log: .cache/logs/build-$name.log)${5:+; $5}"
  local start=$SECONDS out="$BIN/.build-$name"
  rm -rf "$out" && mkdir -p "$out"
  if ! (cd "$COMPONENTS/$name" && go build -ldflags "$ldflags" -o "$out/" tool) >"$LOGS/build-$name.log" 2>&1; then
    tail -40 "$LOGS/build-$name.log" >&2
    echo "setup: building $name $version failed (full log: .cache/logs/build-$name.log)" >&2
    exit 1
  fi
  check_licenses "$name"
  for pair in $binaries; do
    bin="${pair%%=*}" var="${pair#*=}" go_name="$bin"
    case "$var" in *:*) go_name="${var#*:}" ;; esac
    mv "$out/$go_name" "$BIN/$bin"
    echo "$stamp" > "$BIN/.$bin.version"
  done
  rm -rf "$out"
  echo "$name $version: built in $((SECONDS - start))s" | tee -a "$LOGS/build-times.log"
}

k8s_version=$(pinned kubernetes k8s.io/kubernetes)
k8s_minor=${k8s_version#v1.}; k8s_minor=${k8s_minor%%.*}
# The same version stamps the official release builds carry (hack/lib/version.sh), so the API
# server reports v1.36.3 to clients and controllers.
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean"
done
build kubernetes k8s.io/kubernetes \
  "kube-apiserver=KUBE_APISERVER_BIN kube-controller-manager=KUBE_CONTROLLER_MANAGER_BIN kube-scheduler=KUBE_SCHEDULER_BIN" \
  "$k8s_ldflags" "the first build takes 20-40 min on 2 cores"

build kine github.com/k3s-io/kine "kine=KINE_BIN" \
  "-X github.com/k3s-io/kine/pkg/version.Version=$(pinned kine github.com/k3s-io/kine)"

build kwok sigs.k8s.io/kwok "kwok=KWOK_BIN"

build pebble github.com/letsencrypt/pebble/v2 "pebble=PEBBLE_BIN"

# Stamped like the release build (Makefile), so the controller reports exactly v1.9.1.
rollouts_version=$(pinned argo-rollouts github.com/argoproj/argo-rollouts)
rollouts_commit=$(go mod download -json "github.com/argoproj/argo-rollouts@$rollouts_version" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).Origin?.Hash ?? "")')
rollouts_ldflags=""
for kv in "version=${rollouts_version#v}" "gitTag=$rollouts_version" "gitCommit=$rollouts_commit" "gitTreeState=clean"; do
  rollouts_ldflags+=" -X github.com/argoproj/argo-rollouts/utils/version.$kv"
done
build argo-rollouts github.com/argoproj/argo-rollouts "rollouts-controller=ROLLOUTS_CONTROLLER_BIN" "$rollouts_ldflags"

prometheus_module=$(pinned prometheus github.com/prometheus/prometheus)
build prometheus github.com/prometheus/prometheus "prometheus=PROMETHEUS_BIN" \
  "-X github.com/prometheus/common/version.Version=$(cat "$(go env GOMODCACHE)/github.com/prometheus/prometheus@$prometheus_module/VERSION" 2>/dev/null || echo "$prometheus_module")"

# cert-manager: upstream's cmd/<name> modules are not on the Go module proxy, so the wrapper holds our
# own main packages for the three binaries, built on the published module (its go.mod says why and
# how). Stamped like the release build (make/00_mod.mk: pkg/util.AppVersion and AppGitCommit), so each
# logs `version="v1.21.1"`; the proxy records no commit for the tag, release.txt does.
cert_manager_version=$(pinned cert-manager github.com/cert-manager/cert-manager)
read -r cert_manager_tag cert_manager_commit < <(grep -v '^#' "$COMPONENTS/cert-manager/release.txt")
if [ "$cert_manager_tag" != "$cert_manager_version" ]; then
  echo "setup: test/cluster/components/cert-manager/release.txt names $cert_manager_tag but go.mod pins $cert_manager_version; put $cert_manager_version and its tag's commit there" >&2
  exit 1
fi
# Our code is part of the stamp, so an edit to these programs rebuilds them.
cert_manager_src=$(cd "$COMPONENTS/cert-manager" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -name release.txt \) |
  LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)
util=github.com/cert-manager/cert-manager/pkg/util
build cert-manager github.com/cert-manager/cert-manager \
  "cert-manager-controller=CERT_MANAGER_CONTROLLER_BIN cert-manager-webhook=CERT_MANAGER_WEBHOOK_BIN cert-manager-cainjector=CERT_MANAGER_CAINJECTOR_BIN" \
  "-X $util.AppVersion=$cert_manager_version -X $util.AppGitCommit=$cert_manager_commit" "" "$cert_manager_src"

# The Flux controllers of flux2 v2.9.4. Their release images are built without version ldflags, so
# they are stamped with nothing; the tests read the module version from the binary's Go build info.
build flux-source-controller github.com/fluxcd/source-controller "source-controller=SOURCE_CONTROLLER_BIN"
build flux-kustomize-controller github.com/fluxcd/kustomize-controller "kustomize-controller=KUSTOMIZE_CONTROLLER_BIN"
build flux-helm-controller github.com/fluxcd/helm-controller "flux-helm-controller=FLUX_HELM_CONTROLLER_BIN:helm-controller"
build flux-notification-controller github.com/fluxcd/notification-controller "notification-controller=NOTIFICATION_CONTROLLER_BIN"

# flux-health: kustomize-controller's health-check evaluator for custom resources (fluxcd/pkg/runtime
# cel.StatusEvaluator) as a command, built from the same wrapper module so it links exactly the
# versions kustomize-controller v1.9.4 links (test/support/flux-health.ts says what the tests ask it).
health_src="$COMPONENTS/flux-kustomize-controller"
health_stamp=$(cat "$health_src/health/main.go" "$health_src/go.mod" "$health_src/go.sum" | sha256sum | cut -c1-16)
if [ -x "$BIN/flux-health" ] && [ "$(cat "$BIN/.flux-health.version" 2>/dev/null)" = "$health_stamp" ]; then
  echo "flux-health: up to date"
else
  (cd "$health_src" && GOFLAGS=-mod=readonly go build -trimpath -o "$BIN/flux-health" ./health) >"$LOGS/build-flux-health.log" 2>&1 \
    || { tail -20 "$LOGS/build-flux-health.log" >&2; echo "setup: building flux-health failed" >&2; exit 1; }
  echo "$health_stamp" > "$BIN/.flux-health.version"
fi
# Smoke test: a Rollout-style string observedGeneration is left to the expressions (Flux checks only
# integer ones), so a stale Healthy is Current unless the expression compares the generation itself.
printf '%s\n' '{"exprs":{"current":"status.phase == \"Healthy\""},"objects":[{"apiVersion":"v1","kind":"X","metadata":{"name":"x","generation":2},"status":{"phase":"Healthy","observedGeneration":"1"}}]}' \
  | "$BIN/flux-health" | grep -q '"status":"Current"' || { echo "setup: flux-health smoke test failed" >&2; exit 1; }

# The commit (Origin.Hash; empty when the module proxy did not record it) and commit date of a
# pinned module, for the version stamps release builds take from git.
module_commit() { download_field "$1@$(pinned "$2" "$1")" Origin.Hash; }
module_date() { (cd "$COMPONENTS/$2" && go list -m -f '{{.Time.Format "2006-01-02"}}' "$1"); }

# Stamped like the release build (.goreleaser.yml: pkg/versions.buildVersion, buildCommit, buildDate),
# so `cnpg-manager version` reports 1.30.0 and the commit.
cnpg=github.com/cloudnative-pg/cloudnative-pg
cnpg_version=$(pinned cloudnative-pg "$cnpg") cnpg_commit=$(module_commit "$cnpg" cloudnative-pg)
build cloudnative-pg "$cnpg" "cnpg-manager=CNPG_MANAGER_BIN:manager" \
  "-X $cnpg/pkg/versions.buildVersion=${cnpg_version#v} -X $cnpg/pkg/versions.buildCommit=${cnpg_commit:0:7} -X $cnpg/pkg/versions.buildDate=$(module_date "$cnpg" cloudnative-pg)"

# The plugin's version is a constant in its source (internal/cnpgi/metadata, set by release-please);
# the release image is built without ldflags.
build plugin-barman-cloud github.com/cloudnative-pg/plugin-barman-cloud "barman-cloud-plugin=BARMAN_CLOUD_PLUGIN_BIN:manager"

# Stamped like the release build (Makefile GO_BUILD_LDFLAGS: prometheus/common/version from VERSION
# and the commit), so `prometheus-operator --version` reports 0.93.1.
promop=github.com/prometheus-operator/prometheus-operator
promop_version=$(pinned prometheus-operator "$promop")
build prometheus-operator "$promop" "prometheus-operator=PROMETHEUS_OPERATOR_BIN:operator" \
  "-X github.com/prometheus/common/version.Version=${promop_version#v} -X github.com/prometheus/common/version.Revision=$(module_commit "$promop" prometheus-operator)"

# Stamped like the release build (Makefile build-local: prometheus/common/version with the tag, and
# pkg/app.ClientGoVersion), so `kube-state-metrics version` reports v2.20.0.
ksm=k8s.io/kube-state-metrics/v2
ksm_commit=$(module_commit "$ksm" kube-state-metrics)
build kube-state-metrics "$ksm" "kube-state-metrics=KUBE_STATE_METRICS_BIN" \
  "-X github.com/prometheus/common/version.Version=$(pinned kube-state-metrics "$ksm") -X github.com/prometheus/common/version.Revision=${ksm_commit:0:7} -X $ksm/pkg/app.ClientGoVersion=$(pinned kube-state-metrics k8s.io/client-go)"

# Stamped like the release image (package/Dockerfile: pkg/version.Version and GitCommit), so
# `system-upgrade-controller --version` reports v0.20.1.
suc=github.com/rancher/system-upgrade-controller
suc_commit=$(module_commit "$suc" system-upgrade-controller)
build system-upgrade-controller "$suc" "system-upgrade-controller=SYSTEM_UPGRADE_CONTROLLER_BIN" \
  "-X $suc/pkg/version.Version=$(pinned system-upgrade-controller "$suc") -X $suc/pkg/version.GitCommit=${suc_commit:0:7}"

# Files the harness reads from the pinned module downloads (checked against go.sum; never committed):
# kwok's default node and pod stages (what kwokctl configures: node initialise + heartbeat with lease,
# pod ready/complete/delete) and the helm.cattle.io CRDs k3s installs.
module_dir() {
  (cd "$COMPONENTS/$1" && go mod download -json "$2") | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).Dir)'
}
assets="$PWD/.cache/cluster"
mkdir -p "$assets/crds"
kwok_stages="$(module_dir kwok sigs.k8s.io/kwok)/kustomize/stage"
for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
  pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
  echo "---"; cat "$kwok_stages/$stage.yaml"
done > "$assets/kwok-stages.yaml"
cp "$(module_dir helm-controller github.com/k3s-io/helm-controller)"/pkg/crds/yaml/generated/helm.cattle.io_*.yaml "$assets/crds/"
echo "cluster test assets: .cache/cluster/ (kwok stages, k3s helm.cattle.io CRDs)"
