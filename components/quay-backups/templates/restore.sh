#!/usr/bin/env bash
# quay-mirror QuayBackups step "restore" (only when the stack sets host.restoreFrom): rebuild from backup.
# Runs quay-restore-database (installed by the install step) before QuayHost starts Quay: the latest backup,
# or the one named, restored into Quay's database. Safe to re-run: the script records the restore in its
# marker file and restores nothing on a host that already holds one (or whose database holds tables) unless
# overwrite is set.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly script=@@SCRIPT@@
readonly from=@@FROM@@
readonly overwrite=@@OVERWRITE@@
# --- end of values ---

args=()
if [ "$overwrite" = true ]; then args+=(--overwrite); fi
exec "$script" "${args[@]}" "$from"
