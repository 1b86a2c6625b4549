#!/usr/bin/env bash
# Proves the README's two commands work on a fresh machine: clones the committed HEAD into a temporary
# directory and runs them there as a new user would, with an empty HOME and an empty QUAY_MIRROR_CACHE
# (so Node, npm packages, the Pulumi toolchain, the tools and every build cache start from nothing).
# Only the download caches are reused — Go's module cache (GOMODCACHE) and npm's cache — so this is not a
# test of the network. Prints each command's wall time and exit status; exits non-zero if one failed.
#
#   bash scripts/fresh-machine.sh                  both commands, in the README's order (test.sh with CI=true)
#   bash scripts/fresh-machine.sh --only preview   only the main command (scripts/preview-lab.sh)
#   bash scripts/fresh-machine.sh --only test      only the test command (alone, as CI runs it)
#   bash scripts/fresh-machine.sh --keep …         keep the temporary directory (printed) for a look
#   bash scripts/fresh-machine.sh … -- ARGS        ARGS go to scripts/test.sh (jest), e.g. -- tests/config
#
# Uncommitted changes are not part of the clone: commit first. Debian packages cannot be taken away from this
# machine; the script lists which of those the commands install were already present.
# Run it before resolving any change to scripts/, package*.json, plugins/ or the toolchain pins.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

only="" keep=no test_args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --only) only="${2:?--only needs preview or test}"; shift 2 ;;
    --keep) keep=yes; shift ;;
    --) shift; test_args=("$@"); break ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "fresh-machine: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$only" in "" | preview | test) ;; *) echo "fresh-machine: --only takes preview or test" >&2; exit 2 ;; esac

command -v go >/dev/null || { echo "fresh-machine: go is a prerequisite (README)" >&2; exit 1; }
command -v npm >/dev/null || { echo "fresh-machine: npm is a prerequisite (README)" >&2; exit 1; }
gomodcache="$(go env GOMODCACHE)"
npmcache="$(npm config get cache)"
head="$(git -C "$repo" rev-parse HEAD)"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "fresh-machine: note: uncommitted changes in $repo are NOT tested (the clone is of HEAD $head)" >&2
fi

work="$(mktemp -d /tmp/quay-mirror-fresh.XXXXXX)"
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  if [ "$keep" = yes ]; then echo "fresh-machine: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
git clone -q --no-local "$repo" "$work/quay-mirror"
git -C "$work/quay-mirror" checkout -q --detach "$head"
# CI lays the shared documents beside the clone; so does this.
if [ -d "$repo/../shared" ]; then cp -a "$repo/../shared" "$work/shared"; fi
mkdir -p "$work/home"

# The environment of a new login: nothing of this session's toolchain, only the system PATH (go, npm).
clean_path=""
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  case "$d" in *quay-mirror* | *node_modules* | "$HOME"/*) continue ;; esac
  clean_path="${clean_path:+$clean_path:}$d"
done
run_env=(env -i "PATH=$clean_path" "HOME=$work/home" "LANG=C.UTF-8" "TERM=${TERM:-dumb}"
  "GOMODCACHE=$gomodcache" "npm_config_cache=$npmcache" "GOFLAGS=-modcacherw")
# The machine's network settings are the machine's, not the user's: proxies and CA bundles pass through.
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY GOPROXY GONOSUMDB GOPRIVATE \
  NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR GIT_SSL_CAINFO CURL_CA_BUNDLE; do
  if [ -n "${!v:-}" ]; then run_env+=("$v=${!v}"); fi
done

echo "fresh-machine: HEAD $head cloned into $work/quay-mirror; HOME=$work/home (empty);"
echo "  QUAY_MIRROR_CACHE=$work/home/.cache/quay-mirror (empty); reused: GOMODCACHE=$gomodcache, npm cache=$npmcache"
# shellcheck source=scripts/lib-debian.sh
source "$repo/scripts/lib-debian.sh"
present=()
while IFS= read -r t; do
  if qm_debian_tool_present "${t%%:*}"; then present+=("${t#*:}"); fi
done < <(qm_debian_tools_of "$repo/scripts/test.sh")
echo "  Debian packages the commands would install that this machine already has: ${present[*]:-none}"

results=()
status=0
# run LABEL LOG COMMAND…: runs one README command in the clone, timing it.
run() {
  local label="$1" log="$2" started rc=0
  shift 2
  started=$(date +%s)
  echo "fresh-machine: [$label] $* (log: $log)"
  (cd "$work/quay-mirror" && "${run_env[@]}" "$@" </dev/null >"$log" 2>&1) || rc=$?
  local took=$(($(date +%s) - started))
  results+=("$(printf '%-8s exit %-3s %dm%02ds  %s' "$label" "$rc" $((took / 60)) $((took % 60)) "$*")")
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "fresh-machine: [$label] FAILED (exit $rc); the last lines of its log:"
    tail -n 40 "$log" | sed 's/^/  | /'
  fi
  grep -E '^(Resources:|    [+~-] [0-9]+ to |jest: )' "$log" | sed "s/^/  [$label] /" || true
}

if [ "$only" != test ]; then
  run preview "$work/preview.log" bash scripts/preview-lab.sh
fi
if [ "$only" != preview ]; then
  run test "$work/test.log" env CI=true bash scripts/test.sh "${test_args[@]}"
fi

if [ "$keep" = yes ]; then :; else
  # Keep the logs beside the caller's checkout even when the directory goes.
  mkdir -p "$repo/.fresh-machine"
  cp "$work"/*.log "$repo/.fresh-machine/" 2>/dev/null || true
fi
echo "fresh-machine: results (HEAD ${head:0:12}; load average $(cut -d' ' -f1-3 /proc/loadavg)):"
printf '  %s\n' "${results[@]}"
exit "$status"
