#!/usr/bin/env bash
# Builds (or finds in the cache) the root file system every disposable test host boots from:
# Debian 12 minbase with systemd as init, sshd (keys only), systemd-networkd and a `ci` user with
# passwordless sudo. Prints the directory of the unpacked root file system on stdout.
#
#   scripts/testhost/build-base.sh            # build when missing, else reuse (seconds)
#   scripts/testhost/build-base.sh --rebuild  # throw the cached base away first
#
# Cache: $QUAY_MIRROR_CACHE/testhost/base-<hash>.tar.zst plus its unpacked copy base-<hash>/rootfs,
# keyed by the hash of this file, so any change here builds a new base and older ones are pruned.
# Nothing per host is baked in: no SSH key (client or host), no address, no proxy. up.sh binds those
# in at boot time.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/testhost/lib.sh
source "$here/lib.sh"

rebuild=false
case "${1:-}" in
  --rebuild) rebuild=true ;;
  "") ;;
  *) th_die "usage: build-base.sh [--rebuild]" ;;
esac

th_require_root
th_ensure_host_tools

key="$(sha256sum "$here/build-base.sh" | cut -c1-16)"
base="$TESTHOST_CACHE/base-$key"
archive="$TESTHOST_CACHE/base-$key.tar.zst"
mkdir -p "$TESTHOST_CACHE"

# One builder at a time; concurrent callers wait and then find the finished base.
exec 9>"$TESTHOST_CACHE/.build.lock"
flock 9

if $rebuild; then
  rm -rf "$base" "$archive"
fi

if [ -f "$base/complete" ]; then
  printf '%s\n' "$base/rootfs"
  exit 0
fi

# Guest packages. python3 makes the guest look like a real server (and is handy in tests).
packages="systemd,systemd-sysv,dbus,libpam-systemd,openssh-server,iproute2,ca-certificates,sudo,curl,gnupg,python3,procps,less"

configure_rootfs() {
  local root="$1"
  echo "quay-testhost" >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tquay-testhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    >"$root/etc/hosts"
  # No DNS: the guest reaches nothing but its veth peer (up.sh boots it with --resolv-conf=off).
  printf '# No name servers: a test host reaches only its veth peer; apt goes through a proxy there.\n' \
    >"$root/etc/resolv.conf"
  # Empty machine-id: systemd generates one on first boot (and commits it on a persistent host).
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"

  # apt: the archive over plain HTTP (the proxy on the host side forwards it); the host's relaxed
  # validity checks copied in, since the archive it reaches may be a snapshot.
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $TESTHOST_MIRROR
Suites: $TESTHOST_SUITE $TESTHOST_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${TESTHOST_MIRROR}-security
Suites: $TESTHOST_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  { apt-config dump 2>/dev/null | grep -E '^Acquire::Check-(Valid-Until|Date) ' || true; } \
    >"$root/etc/apt/apt.conf.d/99testhost-validity"
  # Placeholder for the per-host proxy setting up.sh binds in.
  : >"$root/etc/apt/apt.conf.d/80testhost-proxy"

  # Network: systemd-networkd owns host0; up.sh binds in the file with the host's own subnet.
  mkdir -p "$root/etc/systemd/network"
  cat >"$root/etc/systemd/network/80-container-host0.network" <<'EOF'
# Replaced at boot by up.sh (bind mount) with this host's address.
[Match]
Virtualization=container
Name=host0

[Network]
Address=10.77.0.2/24
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
  chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1
  # Not waiting for "online" at boot: there is no default route on purpose.
  chroot "$root" systemctl disable systemd-networkd-wait-online.service >/dev/null 2>&1 || true

  # sshd: keys only; the host key and the ci user's authorized keys are bound in per host.
  rm -f "$root"/etc/ssh/ssh_host_*
  cat >"$root/etc/ssh/sshd_config.d/50-testhost.conf" <<'EOF'
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys/%u
UseDNS no
EOF
  install -m 0600 /dev/null "$root/etc/ssh/ssh_host_ed25519_key"
  install -m 0644 /dev/null "$root/etc/ssh/ssh_host_ed25519_key.pub"
  install -d -m 0755 "$root/etc/ssh/authorized_keys"
  install -m 0644 /dev/null "$root/etc/ssh/authorized_keys/ci"

  # The ci user: no password (key only), passwordless sudo.
  chroot "$root" useradd --create-home --shell /bin/bash ci
  chroot "$root" usermod --password '*' ci
  printf 'ci ALL=(ALL) NOPASSWD:ALL\n' >"$root/etc/sudoers.d/ci"
  chmod 0440 "$root/etc/sudoers.d/ci"

  # Placeholder for podman's drop-in, bound in by up.sh (cgroups="disabled" on hosts whose cgroup v2
  # hierarchy has no controllers; empty otherwise).
  install -d -m 0755 "$root/etc/containers/containers.conf.d"
  install -m 0644 /dev/null "$root/etc/containers/containers.conf.d/50-testhost.conf"

  # Units that have nothing to do in a container and would only make the boot "degraded".
  chroot "$root" systemctl mask systemd-timesyncd.service >/dev/null 2>&1 || true

  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log \
    "$root"/tmp/* "$root"/var/tmp/*
}

if [ ! -f "$archive" ]; then
  th_log "building the base root file system (debootstrap $TESTHOST_SUITE minbase; about a minute)"
  started=$SECONDS
  work="$(mktemp -d "$TESTHOST_CACHE/.build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase --include="$packages" "$TESTHOST_SUITE" "$work/rootfs" "$TESTHOST_MIRROR" \
    >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    th_die "debootstrap failed (log above)"
  }
  configure_rootfs "$work/rootfs"
  tar --numeric-owner --xattrs --acls -C "$work/rootfs" -cf - . | zstd -q -T0 -10 -o "$work/base.tar.zst"
  mv "$work/base.tar.zst" "$archive"
  th_log "base built in $((SECONDS - started)) s: $archive ($(du -h "$archive" | cut -f1))"
  rm -rf "$work"
  trap - EXIT
fi

# Unpack the archive into the directory hosts boot from.
rm -rf "$base"
mkdir -p "$base/rootfs"
zstd -q -d -c "$archive" | tar --numeric-owner --xattrs --xattrs-include='*' --acls -C "$base/rootfs" -xf -
touch "$base/complete"

# Prune bases of older versions of this script (never the one just made).
for old in "$TESTHOST_CACHE"/base-*; do
  [ -e "$old" ] || continue
  case "$old" in "$base" | "$archive") continue ;; esac
  # A running ephemeral host keeps its snapshot (.#machine.*) beside the rootfs: leave that base be.
  if compgen -G "$old/.#*" >/dev/null; then continue; fi
  rm -rf "$old"
done

printf '%s\n' "$base/rootfs"
