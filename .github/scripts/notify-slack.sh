#!/usr/bin/env bash
# Tell the team a production canary waits for approval, with the exact commands to continue or
# stop it (docs/runbooks/deploy.md). SLACK_WEBHOOK_URL is an incoming-webhook URL (repository secret).
# Usage: notify-slack.sh <namespace> <rollout>...
set -euo pipefail
ns="${1:?usage: notify-slack.sh <namespace> <rollout>...}"
shift
: "${SLACK_WEBHOOK_URL:?set SLACK_WEBHOOK_URL (repository secret)}"
run_url="$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"
commit_url="$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/commit/$GITHUB_SHA"
if [ "$#" -eq 0 ]; then
  text=":white_check_mark: Production: nothing new to approve for <$commit_url|${GITHUB_SHA:0:12}> (<$run_url|run>)."
else
  promote=""; abort=""
  for r in "$@"; do
    promote+="kubectl argo rollouts promote $r -n $ns"$'\n'
    abort+="kubectl argo rollouts abort $r -n $ns"$'\n'
  done
  text=":rocket: Production canary paused for approval: <$commit_url|${GITHUB_SHA:0:12}> passed staging and the first production analysis (<$run_url|run>)."
  text+=$'\n'"Check the canary dashboard, then promote:"$'\n''```'$'\n'"$promote"'```'
  text+=$'\n'"Or stop it (traffic returns to the stable version):"$'\n''```'$'\n'"$abort"'```'
fi
jq -n --arg text "$text" '{text: $text}' \
  | curl -fsS --retry 3 --max-time 30 -X POST -H 'Content-Type: application/json' --data @- "$SLACK_WEBHOOK_URL" >/dev/null
echo "$text"
