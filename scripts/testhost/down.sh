#!/usr/bin/env bash
# Stops a test host started by up.sh and removes what it left on the host. Idempotent: safe to run
# when the host is already down, half up, or was never started.
#
#   scripts/testhost/down.sh <name> [--purge]
#
# SIGTERM to the supervisor (run-guest.sh → systemd-nspawn) makes the guest power off cleanly (SIGKILL
# after 60 s); an ephemeral host's snapshot is deleted with it. Processes still in the host's cgroups
# (an nspawn whose supervisor was killed, or a guest whose nspawn was) get SIGTERM, then SIGKILL. Then
# the proxy is stopped and the veth, the per-name cgroup directories and a snapshot left by an nspawn
# that was killed are removed. An ephemeral host's state
# dir goes too; a persistent host keeps its disk, keys and subnet (for the next up.sh --persistent)
# unless --purge is given.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/testhost/lib.sh
source "$here/lib.sh"

[ $# -ge 1 ] || th_die "usage: down.sh <name> [--purge]"
name="$1"
purge=false
[ "${2:-}" = "--purge" ] && purge=true
th_check_name "$name"
th_require_root
state="$TESTHOST_STATE_ROOT/$name"
iface="ve-$name"

stop_pid() { # stop_pid PIDFILE WORD GRACE_SECONDS
  local pid
  pid="$(th_live_pid "$1" "$2")" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $(($3 * 20))); do
    th_pid_running "$pid" || return 0
    sleep 0.05
  done
  th_log "PID $pid ($2) ignored SIGTERM for $3 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    th_pid_running "$pid" || return 0
    sleep 0.05
  done
}

if [ -d /run/systemd/system ] && systemctl is-active --quiet "quay-testhost-$name" 2>/dev/null; then
  systemctl stop "quay-testhost-$name" || true
fi
t0=$SECONDS
stop_pid "$state/nspawn.pid" run-guest.sh 60
# Whatever still runs in this host's cgroups (an nspawn whose supervisor was killed, and its guest):
# SIGTERM to nspawn first, then SIGKILL to every process left there, by PID.
cg_pids() {
  local d
  while IFS= read -r d; do
    if [ -d "$d" ]; then find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done < <(th_cgroup_dirs "$name") | sort -un
}
left="$(cg_pids)"
if [ -n "$left" ]; then
  th_log "processes left in the cgroups of '$name' ($(echo "$left" | wc -l)); stopping them"
  signalled=false
  for p in $left; do
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd-nspawn ]; then
      kill -TERM "$p" 2>/dev/null && signalled=true
    fi
  done
  if $signalled; then
    for _ in $(seq 1 75); do
      [ -z "$(cg_pids)" ] && break
      sleep 0.2
    done
  fi
  for p in $(cg_pids); do kill -KILL "$p" 2>/dev/null || true; done
  for _ in $(seq 1 25); do
    [ -z "$(cg_pids)" ] && break
    sleep 0.2
  done
fi
t_off=$((SECONDS - t0))
stop_pid "$state/proxy.pid" apt-proxy.py 5

if ip link show "$iface" >/dev/null 2>&1; then
  ip link delete "$iface" 2>/dev/null || true
fi

# The cgroup subtree up.sh made for this host (deepest first). Only empty directories can go.
while IFS= read -r d; do
  [ -d "$d" ] || continue
  find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  [ -d "$d" ] && th_log "warning: cgroup $d still has processes; left in place"
done < <(th_cgroup_dirs "$name")

# An ephemeral snapshot left behind (nspawn killed before it could clean up): nspawn names it on the
# console's first line, "Spawning container <name> on <path>."
if [ -f "$state/console.log" ]; then
  snap="$(sed -n "s/^Spawning container $name on \(.*\)\.$/\1/p" "$state/console.log" | tail -n 1)"
  case "$snap" in
    */.\#machine.*)
      if [ -d "$snap" ]; then
        th_log "removing the leftover snapshot $snap"
        rm -rf --one-file-system "$snap"
        rm -f "$(dirname "$snap")/.#$(basename "$snap").lck"
      fi
      ;;
  esac
fi
rmdir "/run/systemd/nspawn/propagate/$name" 2>/dev/null || true

if [ -d "$state" ]; then
  # The last console log outlives an ephemeral host's state dir, for post-mortems.
  if [ -f "$state/console.log" ]; then
    cp "$state/console.log" "$TESTHOST_STATE_ROOT/.$name.console.log"
    # Keep the ten newest of those.
    find "$TESTHOST_STATE_ROOT" -maxdepth 1 -name '.*.console.log' -printf '%T@ %p\n' | sort -rn |
      tail -n +11 | cut -d' ' -f2- | while IFS= read -r old; do rm -f "$old"; done
  fi
  if [ -f "$state/persistent" ] && ! $purge; then
    rm -f "$state/nspawn.pid" "$state/proxy.pid" "$state/host.json"
  else
    rm -rf --one-file-system "$state"
  fi
fi
th_log "'$name' is down (powered off in ${t_off} s, all done in $((SECONDS - t0)) s)"
