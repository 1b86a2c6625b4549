#!/usr/bin/env bash
# Builds Quay's config-tool (a Go module inside quay/quay) for tests/quay-host/config-tool.test.ts.
#   tests/quay-host/build-config-tool.sh            → $QUAY_MIRROR_CACHE/config-tool/config-tool
# From a local mirror of quay/quay when one exists (QUAY_GIT_DIR, default /work/.mirror/quay+quay/repo),
# otherwise through the Go module proxy at the pinned commit. Set QUAY_CONFIG_TOOL to use another binary.
set -euo pipefail
ref=${QUAY_CONFIG_TOOL_REF:-ffba0c70e2d8d522290a4fbbaa704dbf2fc37f34}
cache=${QUAY_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quay-mirror}/config-tool
git_dir=${QUAY_GIT_DIR:-/work/.mirror/quay+quay/repo}
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if git --git-dir="$git_dir" cat-file -e "$ref^{commit}" 2>/dev/null; then
  git --git-dir="$git_dir" archive "$ref" config-tool | tar -x -C "$work"
  (cd "$work/config-tool" && GOFLAGS=-mod=mod go build -o "$cache/config-tool" ./cmd/config-tool)
else
  GOBIN="$cache" go install "github.com/quay/quay/config-tool/cmd/config-tool@$ref"
fi
echo "$cache/config-tool"
