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
bash scripts/install-policy-shim.sh
bash scripts/install-tools.sh >/dev/null
(cd plugins/command && go test ./...)
npx tsc -p .
# jest's own summary ("Tests: N passed, N total") is followed by a plain closing line that any CI reads.
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
status=0
npx jest --json --outputFile="$results" "$@" || status=$?
# shellcheck disable=SC2016 # a JavaScript template literal, not shell
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`)' "$results" || true
exit "$status"
