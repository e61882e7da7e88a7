#!/usr/bin/env bash
# The pull request's effect on the cluster, as Markdown: what merging would change on the `clusters`
# branch (Flux's input) for every path dist/ publishes. Per-object summary from `npm run diff --
# --markdown`, then the raw `git diff --stat` and a truncated unified diff.
# Usage: dist-diff-comment.sh <output file>
set -euo pipefail
out="${1:?usage: dist-diff-comment.sh <output file>}"
branch="${CLUSTERS_BRANCH:-clusters}"
limit="${DIFF_LIMIT:-50000}"
marker='<!-- lms:dist-diff -->'
{
  echo "$marker"
  if ! git fetch --no-tags --quiet --depth=1 origin "+refs/heads/$branch:refs/remotes/origin/$branch" 2>/dev/null; then
    echo "### Cluster diff"
    echo
    echo "The \`$branch\` branch does not exist yet: everything in \`dist/\` is new."
    exit 0
  fi
  echo "_What merging changes on the \`$branch\` branch, which Flux applies:_"
  echo
  npm run --silent diff -- --base "origin/$branch" --markdown
  echo
  mapfile -t tops < <(git ls-tree -d --name-only HEAD:dist)
  stat="$(git diff --stat=120 "origin/$branch" HEAD:dist -- "${tops[@]}")"
  if [ -z "$stat" ]; then
    echo "No file under \`dist/\` differs from \`$branch\`."
    exit 0
  fi
  echo '<details><summary>Files</summary>'
  echo
  echo '```'
  echo "$stat"
  echo '```'
  echo '</details>'
  echo
  patch="$(git diff "origin/$branch" HEAD:dist -- "${tops[@]}")"
  echo '<details><summary>Unified diff</summary>'
  echo
  echo '```diff'
  if [ "${#patch}" -gt "$limit" ]; then
    echo "${patch:0:$limit}"
    echo '```'
    echo
    echo "_Truncated at $limit characters: run \`npm run diff\` locally for the rest._"
  else
    echo "$patch"
    echo '```'
  fi
  echo '</details>'
} > "$out"
