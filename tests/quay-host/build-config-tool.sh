#!/usr/bin/env bash
# Builds Quay's config validator (config-tool, the Go module Quay's container runs at boot) from the Go
# module proxy into the cache, for tests/quay-host/config-tool.test.ts. Prints the binary's path.
#
# On this project's machines the proxy refuses the module (403 "This module version is not available"
# for github.com/quay/quay/config-tool at Quay's commits and @latest), so the script fails there and the
# suite is skipped, saying so. Elsewhere: QUAY_CONFIG_TOOL_REF picks the commit or version.
set -euo pipefail
ref=${QUAY_CONFIG_TOOL_REF:-ffba0c70e2d8d522290a4fbbaa704dbf2fc37f34}
cache=${QUAY_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quay-mirror}/config-tool
mkdir -p "$cache"
GOBIN="$cache" go install "github.com/quay/quay/config-tool/cmd/config-tool@$ref"
echo "$cache/config-tool"
