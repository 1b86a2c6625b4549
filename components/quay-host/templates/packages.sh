#!/usr/bin/env bash
# quay-mirror QuayHost step 2: install the packages the lab's install script installs, and the podman
# cgroups drop-in only on hosts whose cgroup v2 hierarchy lacks the pids controller.
# Idempotent: apt runs only when a package is missing. Runs as root (sudo -n).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly packages=(@@PACKAGES@@)
readonly dropin_path=@@DROPIN_PATH@@
readonly dropin_content=@@DROPIN_CONTENT@@
# --- end of values ---

export DEBIAN_FRONTEND=noninteractive
# @include templates-lib/apt-ensure-packages.sh

# podman on a host without cgroup v2 controllers (e.g. an nspawn guest on a hybrid host) needs cgroups off.
controllers=/sys/fs/cgroup/cgroup.controllers
if [ -r "$controllers" ] && grep -qw pids "$controllers"; then
  if [ -e "$dropin_path" ]; then
    rm -f "$dropin_path"
    echo "podman: cgroup v2 pids controller present; removed $dropin_path"
  fi
else
  current=""
  if [ -f "$dropin_path" ]; then current=$(cat "$dropin_path"); fi
  if [ "$current" != "${dropin_content%$'\n'}" ]; then
    install -d -m 0755 "$(dirname "$dropin_path")"
    printf '%s' "$dropin_content" >"$dropin_path.tmp"
    chmod 0644 "$dropin_path.tmp"
    mv -f "$dropin_path.tmp" "$dropin_path"
    echo "podman: no cgroup v2 pids controller; wrote $dropin_path"
  fi
fi

pg_versions=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -n | paste -sd' ' || true)
echo "podman: $(podman --version 2>/dev/null || echo missing); postgresql majors: ${pg_versions:-none}; $(redis-server --version 2>/dev/null | awk '{print $1, $2, $3}' || echo 'redis missing')"
