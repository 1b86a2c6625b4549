#!/usr/bin/env bash
# quay-mirror verify (scripts/verify/host.ts): read-only facts of the Quay host, one "<kind> <name> <value>"
# per line on stdout. It starts, stops and writes nothing: systemctl is-active/show, two GETs on Quay's port.
set -uo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly units=(@@UNITS@@)
readonly job_units=(@@JOB_UNITS@@)
readonly port=@@PORT@@
# --- end of values ---

for unit in "${units[@]}"; do
  printf 'active %s %s\n' "$unit" "$(systemctl is-active "$unit" 2>/dev/null)"
done
http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$1" 2>/dev/null || true
}
printf 'http health %s\n' "$(http_code "http://127.0.0.1:$port/health/instance")"
printf 'http discovery %s\n' "$(http_code "http://127.0.0.1:$port/api/v1/discovery")"
for unit in "${job_units[@]}"; do
  systemctl show "$unit" --timestamp=unix -p LoadState -p Result -p ExecMainStatus -p ExecMainExitTimestamp 2>/dev/null |
    sed "s|^|show $unit |"
done
printf 'now - %s\n' "$(date +%s)"
