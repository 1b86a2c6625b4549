#!/usr/bin/env bash
# Checks the cached toolchain (~/.cache/quay-mirror: the Pulumi CLI and plugins, Node, minio, mc, actionlint,
# the policy shim) against sha256 sums committed in the repository, before a job runs any of it.
#
#   scripts/verify-toolchain.sh check [--allow-missing]
#       Every file under the toolchain's folders must be listed in the manifest with the same sha256, and
#       nothing else may be there (a planted pulumi-resource-*, a replaced node). Exit 0 when it all
#       matches; exit 1 naming each difference. A folder that is not there at all (Node taken from the
#       system: no node-<version>/) runs nothing and is skipped. With --allow-missing any listed file that is
#       absent is not an error (a fresh runner: the install scripts build it; a second `check` follows).
#   scripts/verify-toolchain.sh record
#       Writes the manifest from the current cache. Run it on a trusted machine right after building into
#       an EMPTY cache (QUAY_MIRROR_CACHE=$(mktemp -d) bash scripts/install-pulumi.sh && …), and commit the
#       result: the pull request that changes it shows every new hash to its reviewers.
#
# Why hashes in the repository: the self-hosted runner keeps the cache between jobs, and the version stamps
# the install scripts read say which version was built, not what the file is. Any job that runs on the
# runner as its user can rewrite the cache, so the expected hashes must come from somewhere that job cannot
# write: the reviewed commit the gated job checked out. The builds are reproducible for the same Go version,
# GOOS/GOARCH and flags (go build -trimpath; Node is the npm registry's binary), which the manifest records;
# a runner with another Go fails this check on every file, and the message says so.
#
# Environment: QUAY_MIRROR_CACHE (scripts/versions.sh's default), QM_TOOLCHAIN_MANIFEST (default
# scripts/toolchain.sha256).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/versions.sh
source scripts/versions.sh

manifest="${QM_TOOLCHAIN_MANIFEST:-$PWD/scripts/toolchain.sha256}"
cache="$QUAY_MIRROR_CACHE"

usage() { sed -n '2,25p' "$0" >&2; exit 2; }
note() { printf 'verify-toolchain: %s\n' "$*" >&2; }

# The folders whose files a job executes or loads, relative to the cache: the CLI, its language hosts, the
# policy shim and the command plugin (pulumi-<version>/), Node, the tools, and the plugins registered in
# PULUMI_HOME. Build workspaces (build/: module and build caches, sources) are not run by any job, and the
# rest of PULUMI_HOME is what the CLI writes at run time (workspaces, credentials): both are left out.
roots() {
  local r
  for r in "pulumi-$PULUMI_VERSION" "node-$NODE_VERSION" tools pulumi-home/plugins; do
    [ -e "$cache/$r" ] && printf '%s\n' "$r"
  done
  return 0
}

# "<sha256>  <path>" for every file and symlink under the roots, sorted by path. A symlink is recorded by
# its target (sha256 of "symlink:<target>"), so redirecting one is a difference too. Left out, as nothing
# runs or loads them, or their bytes depend on the machine: the shim's build folder (pulumi-*/build/),
# Node's C headers and documentation (include/, share/ inside node-<version>/: 2,600 files no job reads),
# npm's `.package-lock.json` records (they name the registry the package came from) and the CLI's plugin
# `.lock` files.
inventory() {
  local rel
  while IFS= read -r -d '' rel; do
    rel="${rel#./}"
    if [ -L "$cache/$rel" ]; then
      printf '%s  %s\n' "$(printf 'symlink:%s' "$(readlink "$cache/$rel")" | sha256sum | cut -d' ' -f1)" "$rel"
    else
      printf '%s  %s\n' "$(sha256sum <"$cache/$rel" | cut -d' ' -f1)" "$rel"
    fi
  done < <(cd "$cache" && roots | xargs -r -I{} find {} \( -path 'pulumi-*/build' -o -path 'node-*/include' -o -path 'node-*/share' \) -prune -o \( -type f -o -type l \) \
    ! -name .package-lock.json ! -name '*.lock' -print0 | LC_ALL=C sort -z)
}

# The root (of roots()) a manifest path lies in, whether or not it exists here.
root_of() {
  local r
  for r in "pulumi-$PULUMI_VERSION" "node-$NODE_VERSION" tools pulumi-home/plugins; do
    if [[ "$1" == "$r/"* ]]; then printf '%s\n' "$r"; return 0; fi
  done
  return 0
}

build_env() {
  printf '# go: %s\n' "$(go version 2>/dev/null | cut -d' ' -f3-4 || echo none)"
  printf '# pulumi %s, node %s\n' "$PULUMI_VERSION" "$NODE_VERSION"
}

record() {
  [ -d "$cache" ] || { note "no toolchain cache at $cache: build it first"; exit 1; }
  local tmp
  tmp="$(mktemp)"
  {
    printf '# sha256 of every file of the cached toolchain, relative to the cache (QUAY_MIRROR_CACHE).\n'
    printf '# Written by scripts/verify-toolchain.sh record; checked before the gated up runs anything.\n'
    build_env
    inventory
  } >"$tmp"
  mv "$tmp" "$manifest"
  note "recorded $(grep -vc '^#' "$manifest") files into $manifest"
}

check() {
  local allow_missing=no
  if [ "${1:-}" = --allow-missing ]; then allow_missing=yes; shift; fi
  [ "$#" -eq 0 ] || usage
  [ -f "$manifest" ] || { note "no manifest $manifest: record one on a trusted machine (scripts/verify-toolchain.sh record)"; exit 1; }
  local expected actual bad=0 sum path
  expected="$(grep -v '^#' "$manifest" | sed '/^$/d')"
  if [ -d "$cache" ]; then actual="$(inventory)"; else actual=""; fi
  declare -A want=() have=()
  while read -r sum path; do [ -n "$path" ] && want["$path"]="$sum"; done <<<"$expected"
  while read -r sum path; do [ -n "$path" ] && have["$path"]="$sum"; done <<<"$actual"
  local root skipped=" "
  for path in "${!want[@]}"; do
    if [ -z "${have[$path]:-}" ]; then
      [ "$allow_missing" = yes ] && continue
      # A whole folder this machine does not use (Node from the system: no node-<version>/) runs nothing.
      root="$(root_of "$path")"
      if [ -n "$root" ] && [ ! -e "$cache/$root" ]; then
        [[ "$skipped" == *" $root "* ]] || { note "not installed here, nothing of it runs: $root"; skipped+="$root "; }
        continue
      fi
      note "missing: $path"
      bad=1
    elif [ "${have[$path]}" != "${want[$path]}" ]; then
      note "DIFFERENT: $path (sha256 ${have[$path]}, expected ${want[$path]})"
      bad=1
    fi
  done
  for path in "${!have[@]}"; do
    if [ -z "${want[$path]:-}" ]; then
      note "NOT IN THE MANIFEST: $path (sha256 ${have[$path]})"
      bad=1
    fi
  done
  if [ "$bad" -ne 0 ]; then
    note "the toolchain in $cache is not the one recorded in $manifest ($(grep '^# go:' "$manifest" || echo 'no go version recorded'); this machine: $(go version 2>/dev/null | cut -d' ' -f3-4 || echo 'no go'))."
    note "Do not run it. Rebuild into an empty cache (rm -rf $cache, then the install scripts) and check again; if the difference stays, either this runner builds differently (another Go: record on a machine like it and commit the manifest through a reviewed pull request) or someone changed the cache."
    exit 1
  fi
  note "toolchain in $cache matches $manifest ($(grep -vc '^#' "$manifest") files)"
}

[ "$#" -ge 1 ] || usage
cmd="$1"
shift
case "$cmd" in
  check) check "$@" ;;
  record) [ "$#" -eq 0 ] || usage; record ;;
  *) usage ;;
esac
