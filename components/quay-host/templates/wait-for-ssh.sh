#!/usr/bin/env bash
# quay-mirror QuayHost step 1: wait until the host has booted (cloud-init, systemd), check that it is a
# host this component supports, and create the private upload directory for CopyToRemote.
# Idempotent: every action checks before it acts. Runs as root (sudo -n).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly boot_timeout=@@BOOT_TIMEOUT@@
readonly upload_dir=@@UPLOAD_DIR@@
# --- end of values ---

if command -v cloud-init >/dev/null 2>&1; then
  echo "waiting for cloud-init (up to ${boot_timeout}s)"
  rc=0
  timeout "$boot_timeout" cloud-init status --wait >/dev/null || rc=$?
  case "$rc" in
    0) echo "cloud-init: done" ;;
    2) echo "cloud-init: done with recoverable errors; continuing" ;;
    *) echo "cloud-init status --wait failed (exit $rc); see: sudo cloud-init status --long" >&2; exit 1 ;;
  esac
fi

if command -v systemctl >/dev/null 2>&1; then
  echo "waiting for systemd to finish booting (up to ${boot_timeout}s)"
  state=$(timeout "$boot_timeout" systemctl is-system-running --wait 2>/dev/null || true)
  case "$state" in
    running) echo "systemd: running" ;;
    degraded)
      failed=$(systemctl --failed --no-legend --plain 2>/dev/null | awk '{print $1}' | paste -sd' ' || true)
      echo "warning: systemd is degraded (failed units: ${failed:-unknown}); continuing" >&2
      ;;
    *) echo "systemd did not finish booting within ${boot_timeout}s (state: ${state:-unknown})" >&2; exit 1 ;;
  esac
else
  echo "this host has no systemd; QuayHost runs Quay as a systemd unit" >&2
  exit 1
fi

# shellcheck source=/dev/null # the host's os-release
os_id=$(. /etc/os-release && echo "${ID:-unknown}")
# shellcheck source=/dev/null # the host's os-release
os_version=$(. /etc/os-release && echo "${VERSION_ID:-unknown}")
case "$os_id:$os_version" in
  ubuntu:24.04 | debian:12) echo "os: $os_id $os_version" ;;
  *)
    if command -v apt-get >/dev/null 2>&1; then
      echo "warning: $os_id $os_version is not a tested host (Ubuntu 24.04, Debian 12); continuing with apt" >&2
    else
      echo "unsupported host $os_id $os_version: QuayHost needs apt (Ubuntu 24.04 or Debian 12)" >&2
      exit 1
    fi
    ;;
esac

# The upload directory belongs to the SSH user (CopyToRemote writes over SFTP as that user) and nobody else
# may read it.
owner_uid=${SUDO_UID:-$(id -u)}
owner_gid=${SUDO_GID:-$(id -g)}
if [ -L "$upload_dir" ]; then
  echo "$upload_dir is a symbolic link; refusing to use it" >&2
  exit 1
fi
install -d -m 0700 -o "$owner_uid" -g "$owner_gid" "$upload_dir"
echo "upload directory: $upload_dir (mode 0700, uid $owner_uid)"
