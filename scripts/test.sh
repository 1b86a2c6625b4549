#!/usr/bin/env bash
# The project's single test command (README and .ci/run call it). Arguments go to jest.
# Installs what the tests need (Node, npm packages, the Pulumi toolchain: all cached), compiles, tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/lib-npm.sh
source scripts/lib-npm.sh
qm_npm_install
bash scripts/install-pulumi.sh
(cd plugins/command && go test ./...)
npx tsc -p .
npx jest "$@"
