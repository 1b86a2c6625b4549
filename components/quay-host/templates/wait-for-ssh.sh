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

# The upload directory, where CopyToRemote writes over SFTP as the SSH user (following symbolic links),
# lives under a root-owned parent nobody else can write (not /var/tmp), so no other local user can create
# it, plant files or links in it, or swap it. It belongs to the SSH user, mode 0700. One that exists and is
# not exactly ours (a link, another owner, group/other access) is refused, never taken over.
owner_uid=${SUDO_UID:-$(id -u)}
owner_gid=${SUDO_GID:-$(id -g)}
parent=$(dirname "$upload_dir")
if [ -L "$parent" ] || { [ -e "$parent" ] && [ ! -d "$parent" ]; }; then
  echo "$parent is not a directory (a symbolic link or a file); refusing to use it — fix: remove it, then run again" >&2
  exit 1
fi
if [ ! -e "$parent" ]; then install -d -m 0755 -o root -g root "$parent"; fi
if [ "$(stat -c %u "$parent")" != 0 ] || [ $((8#$(stat -c %a "$parent") & 8#022)) != 0 ]; then
  echo "$parent can be written by users other than root (owner UID $(stat -c %u "$parent"), mode $(stat -c %a "$parent")); refusing to put the upload directory there — fix: chown root:root $parent && chmod 0755 $parent, after checking what is in it" >&2
  exit 1
fi
if [ -L "$upload_dir" ]; then
  echo "$upload_dir is a symbolic link; refusing to use it — fix: remove it, then run again" >&2
  exit 1
fi
if [ -e "$upload_dir" ]; then
  if [ ! -d "$upload_dir" ]; then
    echo "$upload_dir is not a directory; refusing to use it — fix: remove it, then run again" >&2
    exit 1
  fi
  have_uid=$(stat -c %u "$upload_dir")
  have_mode=$(stat -c %a "$upload_dir")
  if [ "$have_uid" != "$owner_uid" ]; then
    echo "$upload_dir belongs to UID $have_uid, not to the SSH user (UID $owner_uid); refusing to take it over (it may hold files and links someone else put there) — fix: remove it (rm -rf -- $upload_dir), then run again" >&2
    exit 1
  fi
  if [ "$have_mode" != 700 ]; then
    echo "$upload_dir has mode $have_mode (expected 700): others could have put files or links in it — fix: remove it (rm -rf -- $upload_dir), then run again" >&2
    exit 1
  fi
else
  install -d -m 0700 -o "$owner_uid" -g "$owner_gid" "$upload_dir"
fi
echo "upload directory: $upload_dir (mode 0700, uid $owner_uid; parent $parent root-owned)"
