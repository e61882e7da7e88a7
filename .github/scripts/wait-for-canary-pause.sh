#!/usr/bin/env bash
# Wait until each Rollout's canary stops at the manual-approval pause (production), at the
# generation Flux just applied. Fails at once when a Rollout is Degraded (an analysis failed and it
# rolled back). A Rollout that is Healthy at that generation had nothing new to roll out.
# Writes the names of the paused Rollouts to $GITHUB_OUTPUT as `paused` (space-separated).
# Usage: wait-for-canary-pause.sh <namespace> <timeout seconds> <rollout>...
set -euo pipefail
ns="${1:?usage: wait-for-canary-pause.sh <namespace> <timeout seconds> <rollout>...}"
timeout="${2:?missing timeout in seconds}"
shift 2
deadline=$((SECONDS + timeout))
paused=()
for r in "$@"; do
  while :; do
    read -r generation observed phase reasons < <(kubectl -n "$ns" get "rollouts.argoproj.io/$r" \
      -o jsonpath='{.metadata.generation} {.status.observedGeneration} {.status.phase} {.status.pauseConditions[*].reason}{"\n"}') || true
    if [ "${generation:-}" = "${observed:-}" ]; then
      case "${phase:-}" in
        Paused)
          if [[ " ${reasons:-} " == *" CanaryPauseStep "* ]]; then
            echo "$ns/$r: canary paused for approval"
            paused+=("$r")
            break
          fi ;;
        Healthy)
          echo "$ns/$r: Healthy at generation $generation (no new revision to approve)"
          break ;;
        Degraded)
          echo "$ns/$r: Degraded: the canary was aborted and rolled back" >&2
          kubectl argo rollouts get rollout "$r" -n "$ns" >&2 || true
          exit 1 ;;
      esac
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$ns/$r: not paused for approval after ${timeout}s (phase ${phase:-unknown})" >&2
      kubectl argo rollouts get rollout "$r" -n "$ns" >&2 || true
      exit 1
    fi
    sleep 10
  done
done
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "paused=${paused[*]}" >> "$GITHUB_OUTPUT"; fi
