#!/usr/bin/env bash
# Internal to up.sh: runs systemd-nspawn for one test host, gives the host side of its veth its
# address whenever the veth appears and, when asked to, boots the guest again after it reboots itself
# (`systemctl reboot` in the guest makes nspawn exit with 133, as systemd-nspawn@.service knows).
# SIGTERM/SIGINT are passed on to nspawn, which powers the guest off.
#
#   run-guest.sh <iface> <address/prefix> <restart-on-reboot: true|false> -- <systemd-nspawn args...>
set -uo pipefail
if [ $# -lt 4 ] || [ "$4" != "--" ]; then
  echo "usage: run-guest.sh IFACE ADDR/PREFIX true|false -- NSPAWN-ARGS..." >&2
  exit 2
fi
iface="$1" addr="$2" restart="$3"
shift 4

child=0 stopping=false
on_signal() {
  stopping=true
  [ "$child" -gt 0 ] && kill -TERM "$child" 2>/dev/null
}
trap on_signal TERM INT

while :; do
  $stopping && exit 0
  systemd-nspawn "$@" &
  child=$!
  for _ in $(seq 1 300); do
    ip link show "$iface" >/dev/null 2>&1 && break
    kill -0 "$child" 2>/dev/null || break
    sleep 0.1
  done
  if ip link show "$iface" >/dev/null 2>&1; then
    ip addr replace "$addr" dev "$iface" && ip link set "$iface" up
  fi
  # `wait` returns early when a trapped signal arrives: keep waiting until nspawn is gone.
  rc=0
  while :; do
    wait "$child"
    rc=$?
    kill -0 "$child" 2>/dev/null || break
  done
  if [ "$rc" -eq 133 ] && [ "$restart" = true ] && ! $stopping; then
    echo "run-guest: the guest rebooted; booting it again" >&2
    continue
  fi
  exit "$rc"
done
