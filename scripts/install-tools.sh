#!/usr/bin/env bash
# Builds the non-Pulumi tools the tests and the host need from Go modules, into $QUAY_MIRROR_CACHE/tools/bin:
#   minio       MinIO server: the real S3 endpoint of the storage and backup tests, and the state backend
#               of the pull-request workflow test
#   mc          MinIO client: the storage provider, the host's preflight and backups (uploaded to the host)
#   actionlint  checks .github/workflows
#
#   bash scripts/install-tools.sh            all three (scripts/test.sh)
#   bash scripts/install-tools.sh mc         only the named ones (scripts/preview-lab.sh needs only mc)
#
# Idempotent: a tool already built from the pinned version is skipped (a stamp file records the version).
# Versions: scripts/versions.sh. Prints the bin directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/versions.sh
source "$here/versions.sh"
# shellcheck source=scripts/lib-parallel.sh
source "$here/lib-parallel.sh"

bin="$QUAY_MIRROR_CACHE/tools/bin"
mkdir -p "$bin"
export CGO_ENABLED=0
command -v go >/dev/null || { echo "install-tools: the go toolchain is required" >&2; exit 1; }

# install NAME MODULE_PACKAGE VERSION
install() {
  local name="$1" pkg="$2" version="$3" stamp="$bin/.$1.version"
  if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg@$version" ]; then
    return 0
  fi
  printf '[install-tools] building %s from %s@%s (go install; minutes on two cores)\n' "$name" "$pkg" "$version" >&2
  # A throw-away GOBIN keeps a half-written binary out of $bin.
  local tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "$pkg@$version")
  mv -f "$tmp/$name" "$bin/$name"
  rm -rf "$tmp"
  printf '%s\n' "$pkg@$version" >"$stamp"
}

[ "$#" -gt 0 ] || set -- minio mc actionlint
# Side by side: independent builds (scripts/lib-parallel.sh).
for tool in "$@"; do
  case "$tool" in
    minio) qm_job minio install minio github.com/minio/minio "$MINIO_MODULE_VERSION" ;;
    mc) qm_job mc install mc github.com/minio/mc "$MC_MODULE_VERSION" ;;
    actionlint) qm_job actionlint install actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION" ;;
    *) echo "install-tools: unknown tool '$tool' (minio, mc, actionlint)" >&2; exit 2 ;;
  esac
done
qm_wait_jobs
printf '%s\n' "$bin"
