#!/usr/bin/env bash
# quay-mirror QuayHost step 9: wait until Quay answers /health/instance with 200, up to a timeout.
# Every try prints what it waits for (the URL), the attempt number, the seconds elapsed of the timeout
# and what is still failing, so a slow first start (image pull, database migrations) never looks hung.
# Read-only; safe to re-run. Runs as the SSH user (no sudo needed).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly url=@@URL@@
readonly timeout_s=@@TIMEOUT@@
readonly interval_s=@@INTERVAL@@
readonly deployment=@@DEPLOYMENT@@
# --- end of values ---

body=$(mktemp)
trap 'rm -f "$body"' EXIT
echo "waiting up to ${timeout_s}s for $url (deployment ${deployment:0:12}…)"
start=$SECONDS
attempt=0
last=""
while :; do
  attempt=$((attempt + 1))
  code=$(curl -s -o "$body" -w '%{http_code}' --max-time 10 "$url" 2>/dev/null || true)
  elapsed=$((SECONDS - start))
  if [ "$code" = 200 ]; then
    echo "attempt $attempt, ${elapsed}s of ${timeout_s}s: $url healthy (HTTP 200)"
    exit 0
  fi
  failing=$(jq -r '.data.services // {} | to_entries | map(select(.value != true) | .key) | join(",")' "$body" 2>/dev/null || true)
  unit=$(systemctl is-active quay.service 2>/dev/null || true)
  last="HTTP ${code:-000}${failing:+, failing: $failing}; quay.service ${unit:-unknown}"
  echo "attempt $attempt, ${elapsed}s of ${timeout_s}s: $url $last"
  if [ "$elapsed" -ge "$timeout_s" ]; then
    echo "Quay did not become healthy within ${timeout_s}s ($attempt attempts at $url; last: $last). Look at: sudo journalctl -u quay.service -n 200; sudo podman logs quay" >&2
    exit 1
  fi
  # Never sleep past the deadline: the last attempt happens at the timeout, not an interval later.
  remaining=$((timeout_s - elapsed))
  sleep "$((interval_s < remaining ? interval_s : remaining))"
done
