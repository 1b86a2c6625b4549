#!/usr/bin/env bash
# The project's single test command (README and .ci/run call it). Arguments go to jest.
# Installs what the tests need (Node, npm packages, the Pulumi toolchain: all cached), compiles, tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
# npm ci refuses this lock file while the registry lacks some optional platform packages it names
# (e.g. @unrs/resolver-binding-android-arm-eabi@1.13.0 answers 404); npm install then installs the same
# locked versions, and the lock file must come out unchanged.
if ! npm ci --ignore-scripts --no-audit --no-fund; then
  echo "test.sh: npm ci failed; installing the locked versions with npm install" >&2
  npm install --ignore-scripts --no-audit --no-fund
  if git rev-parse --git-dir >/dev/null 2>&1; then git diff --exit-code --stat -- package-lock.json; fi
fi
bash scripts/install-pulumi.sh
npx tsc -p .
npx jest "$@"
