#!/usr/bin/env bash
# quay-mirror QuayHost step 7: install quay.service, enable it, and restart Quay when what it runs
# changed: the unit, config.yaml or the image (all three are in the deployment fingerprint).
# Idempotent: the fingerprint of the running deployment is kept on the host; a re-run with the same
# fingerprint and an active service restarts nothing.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly unit_path=@@UNIT_PATH@@
readonly unit_content=@@UNIT_CONTENT@@
readonly fingerprint=@@FINGERPRINT@@
readonly state_file=@@STATE_FILE@@
# --- end of values ---

umask 022
reason=""
printf '%s' "$unit_content" >"$unit_path.quay-mirror.tmp"
if cmp -s "$unit_path.quay-mirror.tmp" "$unit_path"; then
  rm -f "$unit_path.quay-mirror.tmp"
else
  chmod 0644 "$unit_path.quay-mirror.tmp"
  mv -f "$unit_path.quay-mirror.tmp" "$unit_path"
  systemctl daemon-reload
  reason="unit changed"
  echo "installed $unit_path"
fi
systemctl enable quay.service >/dev/null 2>&1

deployed=""
if [ -f "$state_file" ]; then deployed=$(cat "$state_file"); fi
if [ -z "$reason" ] && [ "$deployed" != "$fingerprint" ]; then reason="config or image changed"; fi
if [ -z "$reason" ] && ! systemctl is-active --quiet quay.service; then reason="quay.service was not active"; fi

if [ -n "$reason" ]; then
  echo "restarting quay.service ($reason)"
  systemctl restart quay.service
else
  echo "quay.service up to date (deployment ${fingerprint:0:12}…); not restarted"
fi
install -d -m 0755 "$(dirname "$state_file")"
printf '%s\n' "$fingerprint" >"$state_file.tmp"
mv -f "$state_file.tmp" "$state_file"
