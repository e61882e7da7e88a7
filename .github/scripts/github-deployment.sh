#!/usr/bin/env bash
# GitHub deployment records for the production canary (REST API, https://docs.github.com/rest/deployments):
# the lead time of a change is the `success` status time minus the merge (payload.mergedAt).
# $PLAN (`npm run release -- plan`: the namespace and the Rollouts whose pod template changed, with
# their template hashes) goes into the payload: canary-events.yml finds the release of a canary event
# by it, and `npm run release -- wait --deployment` waits for exactly those canaries.
#   github-deployment.sh create <environment> <clusters commit>   -> prints the deployment id
#   github-deployment.sh status <deployment id> <state> <description>
# Needs GH_TOKEN with deployments: write.
set -euo pipefail
api="repos/$GITHUB_REPOSITORY/deployments"
case "${1:-}" in
  create)
    env="${2:?environment}"; clusters="${3:?clusters commit}"
    plan="${PLAN:-}"
    [ -n "$plan" ] || plan='{"canaries":{}}'
    jq -n --arg ref "$GITHUB_SHA" --arg env "$env" --arg clusters "$clusters" --arg merged "${MERGED_AT:-}" --arg run "$GITHUB_RUN_ID" --argjson plan "$plan" '{
        ref: $ref, environment: $env, task: "deploy:canary", auto_merge: false, required_contexts: [],
        production_environment: ($env == "production"),
        description: "canary to the manual-approval pause",
        payload: ({clustersCommit: $clusters, mergedAt: $merged, runId: $run} + $plan)
      }' | gh api -X POST "$api" --input - --jq .id ;;
  status)
    id="${2:?deployment id}"; state="${3:?state}"; description="${4:-}"
    gh api -X POST "$api/$id/statuses" \
      -f state="$state" -f description="$description" \
      -f log_url="$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID" \
      -f environment_url="${ENVIRONMENT_URL:-}" --silent ;;
  *) echo "usage: github-deployment.sh create <environment> <clusters commit> | status <id> <state> <description>" >&2; exit 2 ;;
esac
