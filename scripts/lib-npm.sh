# shellcheck shell=bash
# npm dependencies of the project, installed the same way by every script that needs them
# (scripts/test.sh, scripts/preview-lab.sh, scripts/pulumi.sh). Source it from the repository root
# after scripts/env.sh, then call:
#   qm_npm_install             npm ci (what test.sh and CI do: always a clean install)
#   qm_npm_install_if_changed  the same, but nothing when node_modules already holds what the lock file names
#
# A lock file that `npm ci` refuses is an error, never repaired here: rewriting it in place would install
# something other than what was reviewed (and leave the checkout dirty).
qm_npm_install_if_changed() {
  if qm_npm_current; then
    echo "node_modules matches package-lock.json; npm install skipped" >&2
  else
    qm_npm_install
  fi
}

qm_npm_install() {
  if ! npm ci --ignore-scripts --no-audit --no-fund; then
    {
      echo "npm ci refused package-lock.json (above: what it misses). The lock file no longer matches package.json"
      echo "or what the registry serves. Fix: run 'npm install --package-lock-only --ignore-scripts' in $PWD,"
      echo "review the diff of package-lock.json and commit it."
    } >&2
    return 1
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
