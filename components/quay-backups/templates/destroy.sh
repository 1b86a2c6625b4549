#!/usr/bin/env bash
# quay-mirror QuayBackups: runs when the component is destroyed. Stops and removes the timers, services and
# scripts, and deletes the secrets (passphrase, MinIO keys) and the work directory from the host. The
# backups in MinIO are kept (the bucket's lifecycle expires them). Tolerant: accepts "already gone".
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly sbin_dir=@@SBIN_DIR@@
readonly unit_dir=@@UNIT_DIR@@
readonly config_dir=@@CONFIG_DIR@@
readonly work_root=@@WORK_ROOT@@
# --- end of values ---

for u in quay-backup.timer quay-restore-validate.timer quay-backup.service quay-restore-validate.service; do
  systemctl disable --now "$u" >/dev/null 2>&1 || true
  rm -f -- "$unit_dir/$u"
done
systemctl daemon-reload || true
rm -f -- "$sbin_dir/quay-backup-to-minio" "$sbin_dir/quay-restore-validate"
rm -rf -- "$config_dir" "$work_root"
echo "removed the backup timers, services, scripts and secrets; the backups in MinIO are kept"
