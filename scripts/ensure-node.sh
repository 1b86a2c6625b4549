#!/usr/bin/env bash
# Makes a supported Node (>= NODE_MIN_MAJOR) available and prints the directory that holds its `node`.
# When the node on PATH is too old, installs the pinned release from the npm registry's `node` package
# (it ships the official binaries) into the cache, outside the repository. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/versions.sh
source "$here/versions.sh"

current_major() {
  command -v node >/dev/null 2>&1 || { echo 0; return; }
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

if [ "$(current_major)" -ge "$NODE_MIN_MAJOR" ]; then
  dirname "$(command -v node)"
  exit 0
fi

prefix="$QUAY_MIRROR_CACHE/node-$NODE_VERSION"
if [ ! -x "$prefix/node_modules/node/bin/node" ]; then
  echo "ensure-node: node on PATH is $(node --version 2>/dev/null || echo missing); installing node $NODE_VERSION into $prefix" >&2
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "node@$NODE_VERSION" >&2
fi
"$prefix/node_modules/node/bin/node" --version >/dev/null
echo "$prefix/node_modules/node/bin"
