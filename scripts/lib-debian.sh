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
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
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
  if [ "$status" -eq 0 ] && [[ " ${missing[*]} " == *" openssh-server "* ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
  fi
  return "$status"
}
