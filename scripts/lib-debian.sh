# shellcheck shell=bash
# Debian packages a script needs, installed the same way everywhere (scripts/test.sh, scripts/testhost/).
# Source it, then:
#   qm_ensure_debian_tools CMD:PACKAGE …   installs each PACKAGE whose CMD is missing (apt-get update once first)
# As root it installs; otherwise it fails naming the packages and the command to run. A machine without
# apt-get fails the same way: the caller's README lists the packages.
# Nothing it installs starts listening: services are kept from starting during the install (policy-rc.d)
# and left disabled (openssh-server is installed for its sshd binary only; tests start their own on 127.0.0.1).
qm_ensure_debian_tools() {
  local missing=() pair cmd pkg
  for pair in "$@"; do
    cmd="${pair%%:*}" pkg="${pair#*:}"
    # sshd and friends live in /usr/sbin, which a non-root PATH often lacks.
    qm_debian_tool_present "$cmd" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    printf 'missing Debian packages: %s — fix: apt-get install -y --no-install-recommends %s (as root)\n' \
      "${missing[*]}" "${missing[*]}" >&2
    return 1
  fi
  printf '[debian] installing %s (apt-get; no service is started)\n' "${missing[*]}" >&2
  local policy=/usr/sbin/policy-rc.d ours=no status=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# quay-mirror: no service starts while tools are installed\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    ours=yes
  fi
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  } || status=$?
  [ "$ours" = no ] || rm -f "$policy"
  # Installed for their binaries: the tests start their own instances on 127.0.0.1. Left disabled, so nothing
  # of theirs starts listening at the next boot either.
  if [ "$status" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
    for pkg in "${missing[@]}"; do
      case "$pkg" in
        openssh-server) systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true ;;
        redis-server) systemctl disable redis-server.service >/dev/null 2>&1 || true ;;
        postgresql) systemctl disable postgresql.service >/dev/null 2>&1 || true ;;
        haproxy) systemctl disable haproxy.service >/dev/null 2>&1 || true ;;
      esac
    done
  fi
  return "$status"
}

# The CMD:PACKAGE pairs a script ensures (its `qm_ensure_debian_tools` lines), one per line: how
# scripts/fresh-machine.sh learns what scripts/test.sh installs without a second list.
qm_debian_tools_of() {
  sed -n 's/^qm_ensure_debian_tools //p' "$1" | tr ' ' '\n' | sed '/^$/d'
}

# Whether CMD (of a CMD:PACKAGE pair) is present, as qm_ensure_debian_tools decides it.
qm_debian_tool_present() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}
