#!/usr/bin/env bash
# Opens a shell on (or runs a command in) a running test host, with its own key and pinned host key.
#
#   scripts/testhost/ssh.sh <name> [command...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/testhost/lib.sh
source "$here/lib.sh"
[ $# -ge 1 ] || th_die "usage: ssh.sh <name> [command...]"
name="$1"
shift
th_check_name "$name"
state="$TESTHOST_STATE_ROOT/$name"
{ [ -s "$state/subnet" ] && [ -s "$state/id_ed25519" ]; } || th_die "no test host '$name' (scripts/testhost/up.sh $name)"
exec ssh -F /dev/null -i "$state/id_ed25519" -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes \
  -o "UserKnownHostsFile=$state/known_hosts" -o LogLevel=ERROR "ci@10.77.$(cat "$state/subnet").2" "$@"
