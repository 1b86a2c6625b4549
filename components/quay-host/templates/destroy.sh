#!/usr/bin/env bash
# quay-mirror QuayHost: runs when the component is destroyed. Stops and disables Quay. Data and
# configuration (config.yaml, the database, local storage, the image) are kept unless purge is true.
# Tolerant: every action accepts "already gone".
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly purge=@@PURGE@@
readonly unit_path=@@UNIT_PATH@@
readonly config_dir=@@CONFIG_DIR@@
readonly quay_var_dir=@@QUAY_VAR_DIR@@
readonly upload_dir=@@UPLOAD_DIR@@
readonly local_repository=@@LOCAL_REPOSITORY@@
# --- end of values ---

systemctl stop quay.service 2>/dev/null || true
systemctl disable quay.service 2>/dev/null || true
podman rm -f quay >/dev/null 2>&1 || true
echo "quay.service stopped and disabled"

if [ "$purge" != true ]; then
  echo "purgeOnDestroy is false: kept $config_dir, $quay_var_dir, the quay database and the image"
  exit 0
fi

rm -f "$unit_path"
systemctl daemon-reload || true
rm -rf -- "$config_dir" "$quay_var_dir" "$upload_dir"
rmdir -- "$(dirname "$upload_dir")" 2>/dev/null || true
rmdir -- "$(dirname "$config_dir")" 2>/dev/null || true
if command -v psql >/dev/null 2>&1; then
  (cd /tmp && printf '%s\n' 'SET client_min_messages = warning;' 'DROP DATABASE IF EXISTS quay;' 'DROP ROLE IF EXISTS quay;' | runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres) ||
    echo "warning: could not drop the quay database and role" >&2
fi
if command -v podman >/dev/null 2>&1; then
  { podman images --format '{{.Repository}}:{{.Tag}}' | grep -F "$local_repository:" || true; } | while read -r ref; do
    podman rmi -f "$ref" >/dev/null 2>&1 || true
  done
fi
echo "purged: $config_dir, $quay_var_dir, the quay database and role, the unit and the local images"
