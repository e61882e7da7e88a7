#!/usr/bin/env bash
# Create or update this workflow's comment on a pull request: the comment that starts with the
# marker on the first line of the body file is edited in place, so each push refreshes one comment.
# Usage: pr-comment.sh <pull request number> <body file>   (GH_TOKEN with pull-requests: write)
set -euo pipefail
pr="${1:?usage: pr-comment.sh <pull request number> <body file>}"
body="${2:?missing body file}"
marker="$(head -n1 "$body")"
id="$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$pr/comments" \
  --jq ".[] | select(.user.login == \"github-actions[bot]\" and (.body | startswith(\"$marker\"))) | .id" | head -n1)"
if [ -n "$id" ]; then
  gh api -X PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -F body=@"$body" --silent
else
  gh api -X POST "repos/$GITHUB_REPOSITORY/issues/$pr/comments" -F body=@"$body" --silent
fi
