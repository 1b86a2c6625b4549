# shellcheck shell=bash disable=SC2034 # its variables are used by the scripts that source it
# Shared helpers of the disposable test host scripts (build-base.sh, up.sh, down.sh).
# Sourced, never run. Everything here is about paths, names and host prerequisites; what goes into the
# base image lives in build-base.sh alone (its hash keys the cache).

TESTHOST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TESTHOST_CACHE="${QUAY_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quay-mirror}/testhost"
# One directory per test host: keys, the rendered guest files, PIDs, logs, host.json and, for a
# persistent host, its root file system.
TESTHOST_STATE_ROOT="${QUAY_MIRROR_TESTHOST_STATE:-$TESTHOST_CACHE/hosts}"
# Debian release and the archive the base and the guest's apt use (the host's own apt sources point
# at deb.debian.org for both the main archive and debian-security).
TESTHOST_SUITE="bookworm"
TESTHOST_MIRROR="http://deb.debian.org/debian"
# Hosts the guest's apt may reach through the proxy on the host side of the veth.
TESTHOST_PROXY_ALLOW="deb.debian.org,security.debian.org"
TESTHOST_PROXY_PORT=3142
# The system python3 (the proxy and up.sh use only its standard library).
TESTHOST_PYTHON="$(command -v /usr/bin/python3 || command -v python3 || echo python3)"

th_log() { printf '%s testhost: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
th_die() { th_log "error: $*"; exit 1; }

th_require_root() {
  [ "$(id -u)" -eq 0 ] || th_die "must run as root (systemd-nspawn, veth and debootstrap need it)"
}

# A machine name becomes the host side interface "ve-<name>" (at most 15 characters) and a state dir.
th_check_name() {
  local name="$1"
  [[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,10}$ ]] ||
    th_die "bad test host name '$name': 1-11 characters of a-z, 0-9 and '-', starting with a letter or digit"
}

# Installs the host tools the scripts need with apt when any is missing (scripts/lib-debian.sh).
th_ensure_host_tools() {
  # shellcheck source=scripts/lib-debian.sh
  source "$(dirname "${BASH_SOURCE[0]}")/../lib-debian.sh"
  qm_ensure_debian_tools debootstrap:debootstrap systemd-nspawn:systemd-container ssh:openssh-client \
    ssh-keygen:openssh-client zstd:zstd ip:iproute2 flock:util-linux python3:python3 || th_die "host prerequisites missing (above)"
}

# True while PID runs. A zombie does not: the scripts' processes are re-parented to the machine's
# PID 1 when up.sh exits, and that one may take a while to reap them.
th_pid_running() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat%% *}" != Z ]
}

# Prints the PID recorded in FILE when that process is alive and its command line contains WORD.
th_live_pid() {
  local file="$1" word="$2" pid
  [ -s "$file" ] || return 1
  pid="$(cat "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  th_pid_running "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$word" || return 1
  printf '%s\n' "$pid"
}

# True when the host's cgroup v2 hierarchy delegates the pids controller (what podman in the guest
# needs to manage container cgroups). Hybrid hosts mount it at /sys/fs/cgroup/unified.
th_host_has_cgroup2_pids() {
  local f
  for f in /sys/fs/cgroup/cgroup.controllers /sys/fs/cgroup/unified/cgroup.controllers; do
    [ -r "$f" ] || continue
    grep -qw pids "$f" && return 0
    return 1
  done
  return 1
}

# The cgroup directories a test host's systemd-nspawn is started in on a host without systemd, one per
# hierarchy nspawn manages: the v2 hierarchy (at /sys/fs/cgroup/unified on hybrid hosts) and, on hybrid
# hosts, the name=systemd v1 hierarchy. Never the v1 controller hierarchies (memory, pids, ...).
th_cgroup_dirs() {
  local name="$1" h
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    printf '%s\n' "/sys/fs/cgroup/quay-testhost-$name"
    return 0
  fi
  for h in unified systemd; do
    grep -qs " /sys/fs/cgroup/$h cgroup" /proc/mounts && printf '%s\n' "/sys/fs/cgroup/$h/quay-testhost-$name"
  done
  return 0
}
