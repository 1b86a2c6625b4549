# shellcheck shell=bash
# npm dependencies of the project, installed the same way by every script that needs them
# (scripts/test.sh, scripts/preview-lab.sh, scripts/pulumi.sh). Source it from the repository root
# after scripts/env.sh, then call:
#   qm_npm_install             npm ci (what test.sh and CI do: always a clean install)
#   qm_npm_install_if_changed  the same, but nothing when node_modules already holds what the lock file names
#
# npm ci refuses this lock file while the registry lacks some optional platform packages it names
# (e.g. @unrs/resolver-binding-android-arm-eabi@1.13.0 answers 404); npm install then installs the same
# locked versions, and the lock file must come out unchanged (docs/toolchain.md).
qm_npm_install_if_changed() {
  if qm_npm_current; then
    echo "node_modules matches package-lock.json; npm install skipped" >&2
  else
    qm_npm_install
  fi
}

qm_npm_install() {
  if ! npm ci --ignore-scripts --no-audit --no-fund; then
    echo "npm ci failed; installing the locked versions with npm install" >&2
    npm install --ignore-scripts --no-audit --no-fund
    if git rev-parse --git-dir >/dev/null 2>&1; then git diff --exit-code --stat -- package-lock.json; fi
  fi
}

# Succeeds when node_modules/.package-lock.json (what npm last installed) has every package of
# package-lock.json at its locked version (optional ones may be absent) and nothing else.
qm_npm_current() {
  [ -f node_modules/.package-lock.json ] || return 1
  node -e '
    const fs = require("fs");
    const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages || {};
    const have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages || {};
    delete lock[""];
    for (const [p, e] of Object.entries(lock)) {
      if (have[p] ? have[p].version !== e.version : !e.optional) process.exit(1);
    }
    for (const p of Object.keys(have)) if (!lock[p]) process.exit(1);
  '
}
