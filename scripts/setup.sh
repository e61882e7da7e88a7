#!/usr/bin/env bash
# Installs every tool the tests need (Debian packages, PyPI packages, Go-built binaries into .cache/bin).
# Idempotent: each step checks what is already there. Run by `npm run setup` and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export APT_OPTS="-y -q -o DPkg::Lock::Timeout=600"
if [ -z "${APT_UPDATED:-}" ] && [ "$(id -u)" = 0 ]; then
  apt-get update -q >/dev/null
  export APT_UPDATED=1
fi
mkdir -p .cache/bin
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "== setup: $step"
  started=$SECONDS
  bash "$step"
  echo "== setup: $step took $((SECONDS - started)) s"
done
echo "== setup: done"
