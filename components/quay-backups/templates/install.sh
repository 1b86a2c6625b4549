#!/usr/bin/env bash
# quay-mirror QuayBackups step: install quay-backup-to-minio, quay-restore-validate and quay-restore-database
# (the rebuild from backup, run by hand or by the restore step), the first two's services and
# timers (backup daily, restore proof weekly; persistent, randomized delay), and enable the timers.
# Checks every schedule with systemd-analyze before installing. Safe to re-run: files are replaced only
# when they change; systemd reloads and timers restart only then.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly sbin_dir=@@SBIN_DIR@@
readonly unit_dir=@@UNIT_DIR@@
readonly backup_script=@@BACKUP_SCRIPT@@
readonly restore_script=@@RESTORE_SCRIPT@@
readonly rebuild_script=@@REBUILD_SCRIPT@@
readonly backup_service=@@BACKUP_SERVICE@@
readonly backup_timer=@@BACKUP_TIMER@@
readonly restore_service=@@RESTORE_SERVICE@@
readonly restore_timer=@@RESTORE_TIMER@@
readonly calendars=(@@CALENDARS@@)
readonly work_root=@@WORK_ROOT@@
# --- end of values ---

umask 022
for cal in "${calendars[@]}"; do
  if ! systemd-analyze calendar "$cal" >/dev/null 2>&1; then
    echo "schedule '$cal' is not a systemd calendar expression — fix: use e.g. daily, weekly or 'Sun *-*-* 03:00:00' (man systemd.time)" >&2
    exit 1
  fi
done

changed_units=0
put() { # put TARGET MODE CONTENT
  local tmp
  tmp=$(mktemp "$(dirname "$1")/.quay-mirror.XXXXXX")
  printf '%s' "$3" >"$tmp"
  if cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
    return 1
  fi
  chmod "$2" "$tmp"
  chown root:root "$tmp"
  mv -f "$tmp" "$1"
  echo "installed $1"
}
install -d -m 0755 "$sbin_dir" "$unit_dir"
install -d -m 0700 -o root -g root "$work_root"
put "$sbin_dir/quay-backup-to-minio" 0755 "$backup_script" || true
put "$sbin_dir/quay-restore-validate" 0755 "$restore_script" || true
put "$sbin_dir/quay-restore-database" 0755 "$rebuild_script" || true
put "$unit_dir/quay-backup.service" 0644 "$backup_service" && changed_units=1
put "$unit_dir/quay-backup.timer" 0644 "$backup_timer" && changed_units=1
put "$unit_dir/quay-restore-validate.service" 0644 "$restore_service" && changed_units=1
put "$unit_dir/quay-restore-validate.timer" 0644 "$restore_timer" && changed_units=1

if [ "$changed_units" = 1 ]; then
  systemctl daemon-reload
fi
systemctl enable quay-backup.timer quay-restore-validate.timer >/dev/null 2>&1
for t in quay-backup.timer quay-restore-validate.timer; do
  if [ "$changed_units" = 1 ]; then systemctl restart "$t"; elif ! systemctl is-active --quiet "$t"; then systemctl start "$t"; fi
done
systemctl list-timers --all --no-pager quay-backup.timer quay-restore-validate.timer
