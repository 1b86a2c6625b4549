#!/usr/bin/env bash
# Upgrading from the per-repository mirror pre-seed (one quay:Repository per mapping destination under
# MirrorPreseed) to one quay:RepositorySet per organization. Run it BEFORE the first `up` with the new
# version: it drops those Repository resources from the stack's state and touches nothing in Quay. The sets
# then take the repositories over (they exist, so nothing is written). Without it, `up` would DELETE them, and
# their images, as resources that left the program.
#
#   PULUMI_CONFIG_PASSPHRASE=… bash scripts/migrate-preseed.sh          # dry run: says what it would drop
#   PULUMI_CONFIG_PASSPHRASE=… bash scripts/migrate-preseed.sh --yes    # drops them (a backup is kept)
#
# It runs `stack export`, removes the Repository resources whose parent is a MirrorPreseed (refusing when
# anything else in the state refers to one, or an operation on one is pending), and `stack import`s the
# result. The export it started from is kept as the backup ($QM_BACKUP_DIR, default .pulumi-state/backups,
# git-ignored; secrets stay encrypted in it); `stack import --file <backup>` undoes the migration.
# QM_PULUMI chooses the pulumi command (default: scripts/pulumi.sh, the project's stack); arguments after
# `--` go to every pulumi call (e.g. `-- --stack organization/quay-mirror/lab`). Needs bin/ compiled.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

yes=no
extra=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --yes | -y) yes=yes ;;
    --) shift; extra=("$@"); break ;;
    *) sed -n '2,17p' "$0" >&2; exit 2 ;;
  esac
  shift
done

[ -f bin/components/mirror-preseed.js ] || { echo "bin/ is not compiled: run npx tsc -p . first" >&2; exit 1; }
read -r -a pulumi_cmd <<<"${QM_PULUMI:-bash scripts/pulumi.sh}"

backup_dir="${QM_BACKUP_DIR:-.pulumi-state/backups}"
mkdir -p "$backup_dir"
backup="$backup_dir/state-before-preseed-migration-$(date -u +%Y%m%dT%H%M%SZ).json"
migrated="$(mktemp)"
trap 'rm -f "$migrated"' EXIT

"${pulumi_cmd[@]}" stack export --file "$backup" "${extra[@]}"
# The pure part lives in components/mirror-preseed.ts (dropLegacyPreseed); it prints the dropped URNs.
mapfile -t removed < <(node -e '
  const fs = require("fs");
  const { dropLegacyPreseed } = require("./bin/components/mirror-preseed.js");
  const [from, to] = process.argv.slice(1);
  const { state, removed } = dropLegacyPreseed(JSON.parse(fs.readFileSync(from, "utf8")));
  fs.writeFileSync(to, JSON.stringify(state, null, 2));
  for (const urn of removed) console.log(urn);
' "$backup" "$migrated")

if [ "${#removed[@]}" -eq 0 ]; then
  echo "nothing to migrate: the state holds no per-repository pre-seed resources"
  rm -f "$backup"
  exit 0
fi
echo "${#removed[@]} per-repository pre-seed resources to drop from the state (the repositories stay in Quay), e.g.:"
printf '  %s\n' "${removed[@]:0:5}"
if [ "$yes" != yes ]; then
  echo "dry run: nothing changed. Run again with --yes to drop them; then preview: the RepositorySets take the repositories over."
  rm -f "$backup"
  exit 0
fi
"${pulumi_cmd[@]}" stack import --file "$migrated" "${extra[@]}"
echo "dropped ${#removed[@]} resources from the state; backup of the state before: $backup (undo: stack import --file it)"
