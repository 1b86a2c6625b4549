#!/usr/bin/env bash
# quay-mirror QuayBackups step: the backup secrets, which arrive on stdin as JSON
# {passphrase, backup: {accessKey, secretKey}, restore: {accessKey, secretKey}} and are written only to
# root-only files (0600 in a 0700 directory): the passphrase file (openssl reads it with -pass file:) and one
# mc configuration per MinIO user (the uploader's and the restore reader's, each alone in its file).
# Never an argument, never printed. Safe to re-run: files are replaced atomically, only when they change.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly config_dir=@@CONFIG_DIR@@
readonly endpoint=@@ENDPOINT@@
# --- end of values ---

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/in.json"
if [ ! -s "$work/in.json" ] || ! jq -e 'type == "object" and (.passphrase | type) == "string" and (.passphrase | length) >= 20
    and (.passphrase | test("[\n\r\u0000]") | not)
    and ([.backup, .restore] | all(type == "object" and (.accessKey | type) == "string" and (.secretKey | type) == "string" and .accessKey != "" and .secretKey != ""))' \
  "$work/in.json" >/dev/null 2>&1; then
  echo "secrets step: stdin must be {passphrase (20+ characters, one line), backup: {accessKey, secretKey}, restore: {accessKey, secretKey}}" >&2
  exit 1
fi
jq -j '.passphrase + "\n"' "$work/in.json" >"$work/passphrase"
for role in backup restore; do
  jq --arg url "$endpoint" --arg role "$role" '.[$role] as $c | {version: "10", aliases: {($role): {url: $url, accessKey: $c.accessKey, secretKey: $c.secretKey, api: "s3v4", path: "auto"}}}' \
    "$work/in.json" >"$work/mc-$role.json"
done

install -d -m 0700 -o root -g root "$config_dir" "$config_dir/mc-backup" "$config_dir/mc-restore"
put() { # put SOURCE TARGET: root 0600, replaced atomically when different
  if cmp -s "$1" "$2" && [ "$(stat -c '%u %a' "$2")" = "0 600" ]; then
    echo "$2 unchanged"
  else
    install -m 0600 -o root -g root "$1" "$2.tmp"
    mv -f "$2.tmp" "$2"
    echo "wrote $2 (root, 0600)"
  fi
}
put "$work/passphrase" "$config_dir/passphrase"
put "$work/mc-backup.json" "$config_dir/mc-backup/config.json"
put "$work/mc-restore.json" "$config_dir/mc-restore/config.json"
