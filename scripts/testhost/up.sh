#!/usr/bin/env bash
# Boots a disposable test host: a Debian 12 system container (systemd-nspawn, systemd as PID 1)
# reachable over SSH on a private veth pair, with apt working through an allow-listed proxy.
#
#   scripts/testhost/up.sh <name> [--persistent] [--subnet N] [--timeout SECONDS]
#
#   <name>          1-11 characters [a-z0-9-]; the host side interface is ve-<name>.
#   --persistent    boot a per-name copy of the base (kept by down.sh unless --purge), so the guest's
#                   disk survives a power cycle (down.sh + up.sh --persistent again), and a reboot from
#                   inside the guest (`systemctl reboot`) boots it again. Without it the host boots an
#                   ephemeral snapshot (nspawn -x) that vanishes when it stops or reboots itself.
#   --subnet N      use 10.77.N.0/24 (host side .1, guest .2). Default: the lowest N not used by
#                   another test host or any host interface (a persistent host keeps its own).
#   --timeout S     how long to wait for SSH and `systemctl is-system-running --wait` (default 180).
#
# Prints the connection facts as JSON on stdout (also written to <state>/host.json):
#   {"name","host","port","user","privateKeyPath","publicKey","hostKey","knownHostsPath",
#    "hostAddress","proxy","persistent","stateDir","rootfs","pid","bootSeconds"}
# "pid" is run-guest.sh's, the supervisor of systemd-nspawn (SIGTERM to it powers the guest off).
# Logs go to stderr; the guest's console to <state>/console.log, the proxy's to <state>/proxy.log.
# On failure it tears down what it started (down.sh) and exits non-zero.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/testhost/lib.sh
source "$here/lib.sh"

usage() { th_die "usage: up.sh <name> [--persistent] [--subnet N] [--timeout SECONDS]"; }
[ $# -ge 1 ] || usage
name="$1"
shift
persistent=false subnet="" timeout=180
while [ $# -gt 0 ]; do
  case "$1" in
    --persistent) persistent=true ;;
    --subnet) subnet="${2:-}"; shift ;;
    --timeout) timeout="${2:-}"; shift ;;
    *) usage ;;
  esac
  shift
done
th_check_name "$name"
[[ -z "$subnet" || ( "$subnet" =~ ^[0-9]+$ && "$subnet" -le 254 ) ]] || th_die "--subnet wants 0-254"
[[ "$timeout" =~ ^[0-9]+$ ]] || th_die "--timeout wants seconds"
th_require_root
command -v systemd-nspawn >/dev/null 2>&1 || th_ensure_host_tools

started=$SECONDS
rootfs_base="$("$here/build-base.sh")"
state="$TESTHOST_STATE_ROOT/$name"
iface="ve-$name"
mkdir -p "$TESTHOST_STATE_ROOT"

if pid="$(th_live_pid "$state/nspawn.pid" run-guest.sh)"; then
  th_die "test host '$name' is already up (PID $pid); scripts/testhost/down.sh $name first"
fi
# Leftovers of a run that died without down.sh (cgroups, a snapshot, a proxy): clean them first.
if [ -d "$state" ]; then
  "$here/down.sh" "$name" >/dev/null 2>&1 || true
fi

# --- state dir and subnet, under one lock so concurrent up.sh calls pick different subnets --------
exec 8>"$TESTHOST_STATE_ROOT/.lock"
flock 8
if [ -f "$state/persistent" ] && ! $persistent; then
  th_die "'$name' has a persistent disk in $state; use --persistent, or down.sh $name --purge first"
fi
if ! $persistent; then
  rm -rf "$state"
fi
mkdir -p "$state/guest"
chmod 0700 "$state"
$persistent && touch "$state/persistent"
# Reserves this host's subnet for other up.sh runs until its supervisor's PID is recorded.
echo $$ >"$state/up.pid"

subnet_in_use() {
  local n="$1" other
  ip -o -4 addr show | grep -qF " 10.77.$n." && return 0
  for other in "$TESTHOST_STATE_ROOT"/*/; do
    other="${other%/}"
    [ "$other" = "$state" ] && continue
    [ -f "$other/subnet" ] || continue
    [ "$(cat "$other/subnet")" = "$n" ] || continue
    # Reserved while that host starts or runs, or for good while it keeps a persistent disk.
    if [ -f "$other/persistent" ] || th_live_pid "$other/nspawn.pid" run-guest.sh >/dev/null ||
      th_live_pid "$other/up.pid" up.sh >/dev/null; then
      return 0
    fi
  done
  return 1
}
if [ -z "$subnet" ] && [ -f "$state/subnet" ]; then
  subnet="$(cat "$state/subnet")"
fi
if [ -n "$subnet" ]; then
  subnet_in_use "$subnet" && th_die "subnet 10.77.$subnet.0/24 is in use"
else
  for n in $(seq 0 254); do
    subnet_in_use "$n" || { subnet="$n"; break; }
  done
  [ -n "$subnet" ] || th_die "no free 10.77.N.0/24 subnet"
fi
echo "$subnet" >"$state/subnet"
host_ip="10.77.$subnet.1"
guest_ip="10.77.$subnet.2"

# --- keys: generated here, at run time; a persistent host keeps its own across power cycles ------
if [ ! -s "$state/id_ed25519" ]; then
  ssh-keygen -q -t ed25519 -N '' -C "ci@testhost-$name" -f "$state/id_ed25519" </dev/null
fi
if [ ! -s "$state/ssh_host_ed25519_key" ]; then
  ssh-keygen -q -t ed25519 -N '' -C "root@testhost-$name" -f "$state/ssh_host_ed25519_key" </dev/null
fi
host_key="$(cut -d' ' -f1,2 "$state/ssh_host_ed25519_key.pub")"
printf '%s %s\n' "$guest_ip" "$host_key" >"$state/known_hosts"
flock -u 8

# --- files bound into the guest --------------------------------------------------------------------
cp "$state/id_ed25519.pub" "$state/guest/authorized_keys"
chmod 0644 "$state/guest/authorized_keys"
cat >"$state/guest/host0.network" <<EOF
# Written by scripts/testhost/up.sh. No gateway on purpose: nothing leaves the veth pair; apt goes
# through the proxy at $host_ip:$TESTHOST_PROXY_PORT.
[Match]
Virtualization=container
Name=host0

[Network]
Address=$guest_ip/24
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
printf 'Acquire::http::Proxy "http://%s:%s";\nAcquire::https::Proxy "http://%s:%s";\n' \
  "$host_ip" "$TESTHOST_PROXY_PORT" "$host_ip" "$TESTHOST_PROXY_PORT" >"$state/guest/apt-proxy.conf"
if th_host_has_cgroup2_pids; then
  : >"$state/guest/podman.conf"
else
  # The guest sees the host's cgroup v2 hierarchy, which has no controllers here: podman (crun) cannot
  # create container cgroups, so it runs containers without them.
  printf '# Written by scripts/testhost/up.sh: the host has no cgroup v2 controllers.\n[containers]\ncgroups = "disabled"\n' \
    >"$state/guest/podman.conf"
fi

# --- root file system -----------------------------------------------------------------------------
nspawn_args=(-M "$name" -b --network-veth --capability=all --resolv-conf=off
  "--system-call-filter=add_key keyctl request_key"
  "--bind-ro=$state/ssh_host_ed25519_key:/etc/ssh/ssh_host_ed25519_key"
  "--bind-ro=$state/ssh_host_ed25519_key.pub:/etc/ssh/ssh_host_ed25519_key.pub"
  "--bind-ro=$state/guest/authorized_keys:/etc/ssh/authorized_keys/ci"
  "--bind-ro=$state/guest/host0.network:/etc/systemd/network/80-container-host0.network"
  "--bind-ro=$state/guest/apt-proxy.conf:/etc/apt/apt.conf.d/80testhost-proxy"
  "--bind-ro=$state/guest/podman.conf:/etc/containers/containers.conf.d/50-testhost.conf")
if $persistent; then
  if [ ! -f "$state/rootfs.complete" ]; then
    th_log "copying the base into $state/rootfs"
    rm -rf "$state/rootfs"
    cp -a --reflink=auto "$rootfs_base" "$state/rootfs"
    touch "$state/rootfs.complete"
  fi
  rootfs="$state/rootfs"
  nspawn_args+=(-D "$rootfs")
else
  rootfs="$rootfs_base"
  nspawn_args+=(-D "$rootfs" -x)
fi

# --- boot -----------------------------------------------------------------------------------------
fail() {
  trap - ERR INT TERM
  th_log "error: $*; tearing '$name' down (console: $state/console.log)"
  [ -f "$state/console.log" ] && tail -n 20 "$state/console.log" | sed 's/^/  console| /' >&2
  "$here/down.sh" "$name" >&2 || true
  exit 1
}

: >"$state/console.log"
# From here on, any failure or interruption tears down what was started.
trap 'fail "unexpected failure at line $LINENO"' ERR
trap 'fail "interrupted"' INT TERM
# run-guest.sh runs nspawn, addresses the host side of the veth and, for a persistent host, boots the
# guest again when it reboots itself.
guest_cmd=("$here/run-guest.sh" "$iface" "$host_ip/24" "$persistent" --)
if [ -d /run/systemd/system ]; then
  # Host runs systemd: let it own the container's cgroup (untested on the project's machines).
  unit="quay-testhost-$name"
  systemd-run --quiet --unit="$unit" --property=Delegate=yes --collect \
    --property=StandardOutput="file:$state/console.log" --property=StandardError="file:$state/console.log" \
    "${guest_cmd[@]}" --keep-unit "${nspawn_args[@]}"
  pid=""
  for _ in $(seq 1 50); do
    pid="$(systemctl show --property=MainPID --value "$unit" 2>/dev/null || true)"
    [ -n "$pid" ] && [ "$pid" != 0 ] && break
    sleep 0.1
  done
else
  # No systemd on the host: nspawn manages a cgroup subtree of its own. Start it inside a per-name
  # cgroup of each hierarchy it uses, so two hosts never share "payload"/"supervisor" cgroups and
  # down.sh knows exactly what to remove.
  cgdirs=()
  while IFS= read -r d; do cgdirs+=("$d"); done < <(th_cgroup_dirs "$name")
  for d in "${cgdirs[@]}"; do mkdir -p "$d"; done
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid bash -c 'n=$1; shift; for ((i = 0; i < n; i++)); do echo $$ >"$1/cgroup.procs"; shift; done; exec "$@"' \
    _ "${#cgdirs[@]}" "${cgdirs[@]}" \
    env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 "${guest_cmd[@]}" --register=no --keep-unit "${nspawn_args[@]}" \
    </dev/null >>"$state/console.log" 2>&1 &
  pid=$!
fi
echo "$pid" >"$state/nspawn.pid"
th_log "booting '$name' (PID $pid, $([ "$persistent" = true ] && echo persistent || echo ephemeral), 10.77.$subnet.0/24)"

for _ in $(seq 1 300); do
  ip -o -4 addr show dev "$iface" 2>/dev/null | grep -qF " $host_ip/" && break
  th_pid_running "$pid" || fail "systemd-nspawn exited during start"
  sleep 0.1
done
ip -o -4 addr show dev "$iface" 2>/dev/null | grep -qF " $host_ip/" || fail "no $iface with $host_ip after 30 s"

# --- apt proxy on the host side of the veth --------------------------------------------------------
setsid "$TESTHOST_PYTHON" "$here/apt-proxy.py" --listen "$host_ip:$TESTHOST_PROXY_PORT" \
  --allow "$TESTHOST_PROXY_ALLOW" --watch-pid "$pid" </dev/null >>"$state/proxy.log" 2>&1 &
echo $! >"$state/proxy.pid"

# --- wait for SSH, then for systemd ---------------------------------------------------------------
ssh_opts=(-F /dev/null -i "$state/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes
  -o "UserKnownHostsFile=$state/known_hosts" -o ConnectTimeout=3 -o LogLevel=ERROR)
deadline=$((SECONDS + timeout))
until ssh "${ssh_opts[@]}" "ci@$guest_ip" true 2>/dev/null; do
  th_pid_running "$pid" || fail "the guest stopped while booting"
  [ $SECONDS -lt $deadline ] || fail "no SSH on $guest_ip after $timeout s"
  sleep 0.3
done
left=$((deadline - SECONDS))
[ "$left" -gt 5 ] || left=5
sys_state="$(timeout "$left" ssh "${ssh_opts[@]}" "ci@$guest_ip" systemctl is-system-running --wait 2>/dev/null || true)"
if [ "$sys_state" != running ]; then
  ssh "${ssh_opts[@]}" "ci@$guest_ip" systemctl --failed --no-pager >&2 2>/dev/null || true
  fail "systemd in the guest is '${sys_state:-unknown}', not 'running'"
fi
boot_seconds=$((SECONDS - started))

TH_NAME="$name" TH_HOST="$guest_ip" TH_STATE="$state" TH_HOST_KEY="$host_key" TH_HOST_IP="$host_ip" \
  TH_PROXY="http://$host_ip:$TESTHOST_PROXY_PORT" TH_PERSISTENT="$persistent" TH_ROOTFS="$rootfs" \
  TH_PID="$pid" TH_BOOT_SECONDS="$boot_seconds" "$TESTHOST_PYTHON" - "$state/host.json" <<'EOF'
import json, os, sys
e = os.environ
state = e["TH_STATE"]
facts = {
    "name": e["TH_NAME"],
    "host": e["TH_HOST"],
    "port": 22,
    "user": "ci",
    "privateKeyPath": os.path.join(state, "id_ed25519"),
    "publicKey": open(os.path.join(state, "id_ed25519.pub")).read().strip(),
    "hostKey": e["TH_HOST_KEY"],
    "knownHostsPath": os.path.join(state, "known_hosts"),
    "hostAddress": e["TH_HOST_IP"],
    "proxy": e["TH_PROXY"],
    "persistent": e["TH_PERSISTENT"] == "true",
    "stateDir": state,
    "rootfs": e["TH_ROOTFS"],
    "pid": int(e["TH_PID"]),
    "bootSeconds": int(e["TH_BOOT_SECONDS"]),
}
with open(sys.argv[1], "w") as f:
    json.dump(facts, f, indent=2)
    f.write("\n")
print(json.dumps(facts))
EOF
trap - ERR INT TERM
th_log "'$name' is up: ssh -i $state/id_ed25519 -o UserKnownHostsFile=$state/known_hosts ci@$guest_ip (${boot_seconds} s)"
