#!/usr/bin/env bash
# renovate-config-validator, to check renovate.json. Renovate 39 is the newest major that still runs
# on Node 20 (40+ need Node 22); installed outside the project's dependencies because it is large.
set -euo pipefail
# renovate: datasource=npm depName=renovate
RENOVATE_VERSION=39.264.1
# Under LMS_SHARED_TOOLS when set (.ci/run: reused by every clone), else in this clone.
dir="${LMS_SHARED_TOOLS:-$PWD/.cache}/renovate"
if [ "$(cat "$dir/.version" 2>/dev/null)" != "$RENOVATE_VERSION" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --ignore-scripts --omit=optional "renovate@$RENOVATE_VERSION" >/dev/null
  echo "$RENOVATE_VERSION" > "$dir/.version"
fi
ln -sf "$dir/node_modules/.bin/renovate-config-validator" "$PWD/.cache/bin/renovate-config-validator"
echo "renovate-config-validator $RENOVATE_VERSION"
