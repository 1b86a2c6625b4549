#!/usr/bin/env bash
# The project's single test command (README and .ci/run call it). Arguments go to jest.
# Installs what the tests need, compiles, tests: Debian packages (shellcheck for the templates, sshd for the
# command plugin's engine test, curl), Node, npm packages, the Pulumi toolchain and the policy pack's language
# host shim, MinIO's server and client and actionlint (built from Go modules; all cached). The test-host
# suites install their own packages (debootstrap, systemd-container, …: scripts/testhost/lib.sh).
# Under CI=true a suite whose machine prerequisites are missing fails (QM_SKIP_HOST_E2E=1 skips the
# host suites on purpose); the closing line counts passed, failed and skipped tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The tests run the engine this project builds and pins, never a Pulumi that happens to be on PATH.
export QM_PULUMI=build
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/lib-npm.sh
source scripts/lib-npm.sh
# shellcheck source=scripts/lib-debian.sh
source scripts/lib-debian.sh
qm_ensure_debian_tools shellcheck:shellcheck sshd:openssh-server curl:curl skopeo:skopeo
# `haproxy -c` checks the LoadBalancer's rendered config (tests/load-balancer/render.test.ts).
qm_ensure_debian_tools haproxy:haproxy
qm_npm_install
# The throwaway PostgreSQL and Redis of tests/emulator-backends.test.ts (tests/support/pg-redis.ts).
qm_ensure_debian_tools redis-server:redis-server pg_ctlcluster:postgresql
# shellcheck source=scripts/lib-parallel.sh
source scripts/lib-parallel.sh
qm_job toolchain bash scripts/install-toolchain.sh test
qm_job tsc npx tsc -p .
qm_wait_jobs
(cd plugins/command && go test ./...)
# jest's own summary ("Tests: N passed, N total") is followed by a plain closing line that any CI reads.
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
status=0
npx jest --json --outputFile="$results" "$@" || status=$?
# shellcheck disable=SC2016 # a JavaScript template literal, not shell
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`)' "$results" || true
exit "$status"
