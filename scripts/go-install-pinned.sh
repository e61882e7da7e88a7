# shellcheck shell=bash
# Sourced by scripts/setup.d/*.sh (needs GOBIN).
# go_install_pinned <binary> <package> <module version>: `go install <package>@<version>` into $GOBIN
# unless $GOBIN/<binary> is there with that version's stamp ($GOBIN/.<binary>.version), so a re-run,
# or a CI machine sharing the cache, skips the build and a version bump rebuilds.
go_install_pinned() {
  local binary="$1" package="$2" version="$3"
  if [ -x "$GOBIN/$binary" ] && [ "$(cat "$GOBIN/.$binary.version" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  go install "$package@$version"
  echo "$version" > "$GOBIN/.$binary.version"
}
