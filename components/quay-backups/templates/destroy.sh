#!/usr/bin/env bash
# quay-mirror QuayBackups: runs when the component is destroyed. Stops and removes the timers, services and
# scripts, deletes the secrets (passphrase, MinIO keys) and the work directory from the host, and removes
# the restore proof's role and system user. The
# backups in MinIO are kept (the bucket's lifecycle expires them). Tolerant: accepts "already gone".
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly sbin_dir=@@SBIN_DIR@@
readonly unit_dir=@@UNIT_DIR@@
readonly config_dir=@@CONFIG_DIR@@
readonly work_root=@@WORK_ROOT@@
readonly restore_role=@@RESTORE_ROLE@@
# --- end of values ---

for u in quay-backup.timer quay-restore-validate.timer quay-backup.service quay-restore-validate.service; do
  systemctl disable --now "$u" >/dev/null 2>&1 || true
  rm -f -- "$unit_dir/$u"
done
systemctl daemon-reload || true
rm -f -- "$sbin_dir/quay-backup-to-minio" "$sbin_dir/quay-restore-validate" "$sbin_dir/quay-restore-database"
rm -rf -- "$config_dir" "$work_root"
# the restore proof's role (each run drops it; a killed run may leave it) and its system user
if command -v psql >/dev/null 2>&1; then
  (cd /tmp && runuser -u postgres -- psql -X -q -d postgres -c "DROP ROLE IF EXISTS \"$restore_role\"" >/dev/null 2>&1) || true
fi
if id -u "$restore_role" >/dev/null 2>&1; then userdel "$restore_role" >/dev/null 2>&1 || true; fi
echo "removed the backup timers, services, scripts and secrets; the backups in MinIO are kept"
