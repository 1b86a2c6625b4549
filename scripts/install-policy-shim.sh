#!/usr/bin/env bash
# Lets the Pulumi CLI start Node.js policy packs (`pulumi preview --policy-pack policy`, docs/policy.md).
#
# CLI v3.259.0 starts a policy pack whose PulumiPolicy.yaml says `runtime: nodejs` by asking the Node.js
# language host to RunPlugin it. The host scripts/install-pulumi.sh can build (sdk/v3@v3.68.0) predates
# RunPlugin and answers "not supported", so every policy pack fails to start:
#   error: policy pack "…/policy" failed to start: could not read plugin […/policy]: not supported
# This script builds quay-mirror's shim (policy/langhost-shim, Go, on github.com/pulumi/pulumi/sdk/v3@v3.259.0
# from the module proxy) and puts it in front of that host:
#   $QUAY_MIRROR_CACHE/pulumi-$PULUMI_VERSION/bin/pulumi-language-nodejs      the shim (what the CLI starts)
#   $QUAY_MIRROR_CACHE/pulumi-$PULUMI_VERSION/libexec/pulumi-language-nodejs  the real host (the shim starts it
#                                                                             and forwards every call to it)
# The shim runs policy packs itself and changes nothing else: programs still run in the real host.
#
#   bash scripts/install-policy-shim.sh              after scripts/install-pulumi.sh; idempotent
#   bash scripts/install-policy-shim.sh --build-only only builds the shim (cached by the hash of its sources),
#                                                    so it can run side by side with install-pulumi.sh
#   bash scripts/install-policy-shim.sh --remove     puts the real host back in bin/
#
# Safe with install-pulumi.sh: that script keeps bin/pulumi-language-nodejs while its own stamp matches, and
# if it ever rebuilds the host, the next run of this script finds the real host in bin/ again (not the shim:
# the stamp records the shim's hash) and moves it aside before reinstalling the shim.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

prefix="$QUAY_MIRROR_CACHE/pulumi-$PULUMI_VERSION"
bin="$prefix/bin"
libexec="$prefix/libexec"
host="$bin/pulumi-language-nodejs"
real="$libexec/pulumi-language-nodejs"
# Two lines: the hash of the shim's sources, the hash of the installed shim binary.
stamp="$bin/.pulumi-language-nodejs.shim"
src="$here/../policy/langhost-shim"
started=$SECONDS

log() { printf '[install-policy-shim +%ss] %s\n' "$((SECONDS - started))" "$*" >&2; }
file_hash() { sha256sum <"$1" | cut -d' ' -f1; }
# True when bin/pulumi-language-nodejs is the shim this script installed (not a host put there since).
shim_installed() { [ -f "$stamp" ] && [ -f "$host" ] && [ "$(file_hash "$host")" = "$(sed -n 2p "$stamp")" ]; }
# Replaces $2 by $1 in one rename, so a CLI starting meanwhile finds either the old or the new binary.
put() { install -m 0755 "$1" "$2.new" && mv -f "$2.new" "$2"; }

if [ "${1:-}" = "--remove" ]; then
  if shim_installed && [ -x "$real" ]; then
    put "$real" "$host"
    rm -f "$stamp"
    log "real language host back at $host (policy packs cannot start again)"
  else
    log "the shim is not installed; nothing to do"
  fi
  exit 0
fi
build_only=no
case "${1:-}" in
  "") ;;
  --build-only) build_only=yes ;;
  *) echo "usage: $0 [--build-only | --remove]" >&2; exit 2 ;;
esac

command -v go >/dev/null || { echo "install-policy-shim: the go toolchain is required" >&2; exit 1; }
src_hash="$(cd "$src" && { find . -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) \
  | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -d' ' -f1)"
# The shim built from these sources (kept until they change).
built="$prefix/build/pulumi-language-nodejs-shim-$src_hash"

if ! [ -x "$built" ]; then
  log "building the language host shim from policy/langhost-shim (go build; ~15 s with warm caches)"
  mkdir -p "$prefix/build"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -tags osusergo,grpcnotrace -ldflags "-s -w" -o "$built.new" .)
  mv -f "$built.new" "$built"
fi
[ "$build_only" = no ] || exit 0

[ -x "$host" ] || { echo "install-policy-shim: $host is missing; run scripts/install-pulumi.sh first" >&2; exit 1; }
if shim_installed && [ "$(sed -n 1p "$stamp")" = "$src_hash" ] && [ -x "$real" ]; then
  log "language host shim already installed ($host -> $real)"
  exit 0
fi

if ! shim_installed; then
  # What is in bin/ is the real host (first install, or install-pulumi.sh rebuilt it): keep it in libexec/.
  mkdir -p "$libexec"
  put "$host" "$real"
  log "real language host kept at $real"
fi
[ -x "$real" ] || { echo "install-policy-shim: no real language host at $real; run scripts/install-pulumi.sh, then this script" >&2; exit 1; }

printf '%s\n%s\n' "$src_hash" "$(file_hash "$built")" >"$stamp.new"
put "$built" "$host"
mv -f "$stamp.new" "$stamp"
log "installed: $host (shim) -> $real"
