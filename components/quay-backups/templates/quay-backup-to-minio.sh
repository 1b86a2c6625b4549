#!/usr/bin/env bash
# quay-backup-to-minio (installed by quay-mirror QuayBackups; run by quay-backup.service, daily timer).
#
# One backup: pg_dump -Fc of Quay's database + config.yaml + quay.service + manifest.json (versions, sizes,
# sha256 of each file, and the exact row count of every table), tar -czf, encrypted with
# openssl enc -aes-256-cbc -salt -pbkdf2 (passphrase from a root-only file, never an argument), then
# authenticated: HMAC-SHA256 over the format, the object's name and the ciphertext, with a MAC key derived
# separately from the passphrase (encrypt-then-MAC; format quay-mirror-backup/2), and sha256sum. Uploaded
# with mc to <bucket>/<prefix>/<UTC timestamp>/ as <name>.tar.gz.enc, <name>.tar.gz.enc.hmac and
# <name>.tar.gz.enc.sha256.
#
# The row counts and the dump see the same data: a REPEATABLE READ transaction exports its snapshot, counts
# every table inside it, and stays open while pg_dump --snapshot dumps exactly that snapshot.
# Nothing unencrypted leaves the host: the plaintext lives only in a 0700 directory under the work root and
# is deleted as soon as it is encrypted (and on any exit). Any failure exits non-zero with a line
# "quay-backup-to-minio FAILED: <cause> — fix: …" on stderr (the journal), which leaves the unit failed.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly database=@@DATABASE@@
readonly mc=@@MC@@
readonly mc_config=@@MC_CONFIG@@
readonly bucket=@@BUCKET@@
readonly prefix=@@PREFIX@@
readonly passphrase_file=@@PASSPHRASE_FILE@@
readonly quay_config=@@QUAY_CONFIG@@
readonly quay_unit=@@QUAY_UNIT@@
readonly work_root=@@WORK_ROOT@@
readonly iterations=@@ITERATIONS@@
readonly count_sql=@@COUNT_SQL@@
readonly format=@@FORMAT@@
readonly mac_salt=@@MAC_SALT@@
# --- end of values ---

umask 077
# @include lib/backup-mac.sh
fail() {
  printf 'quay-backup-to-minio FAILED: %s\n' "$*" >&2
  exit 1
}
# Whatever else stops the script still says so in the journal.
trap 'printf "quay-backup-to-minio FAILED: unexpected error (exit %s) in: %s\n" "$?" "$BASH_COMMAND" >&2' ERR
[ "$(id -u)" = 0 ] || fail "must run as root (systemctl start quay-backup.service)"
# The passphrase file: present, not empty, root's, no one else may read it.
[ -f "$passphrase_file" ] || fail "the passphrase file $passphrase_file is missing — fix: pulumi up (QuayBackups writes it)"
[ -s "$passphrase_file" ] || fail "the passphrase file $passphrase_file is empty — fix: pulumi up (QuayBackups writes it)"
[ "$(stat -c '%u %a' "$passphrase_file")" = "0 600" ] || fail "$passphrase_file must be owned by root with mode 0600 (it is $(stat -c '%U %a' "$passphrase_file")) — fix: chown root:root $passphrase_file && chmod 0600 $passphrase_file"
[ -f "$mc_config" ] || fail "the uploader's mc configuration $mc_config is missing — fix: pulumi up (QuayBackups writes it)"
[ -x "$mc" ] || fail "the MinIO client $mc is missing — fix: pulumi up (QuayHost tools.mcBinary installs it)"
for f in "$quay_config" "$quay_unit"; do [ -f "$f" ] || fail "$f is missing: nothing to back up — fix: is this the Quay host?"; done

install -d -m 0700 -o root -g root "$work_root"
work=$(mktemp -d "$work_root/backup.XXXXXXXX")
snapshot_pid=""
cleanup() {
  if [ -n "$snapshot_pid" ]; then kill "$snapshot_pid" 2>/dev/null || true; fi
  rm -rf -- "$work"
}
trap cleanup EXIT
install -d -m 0700 "$work/mc"
cp "$mc_config" "$work/mc/config.json"
# mc gets PATH, a home and its private configuration, nothing else of this script's environment.
mc_run() { env -i PATH="$PATH" HOME="$work" MC_CONFIG_DIR="$work/mc" "$mc" --json --quiet "$@"; }
cd /tmp # psql and pg_dump run as postgres, which cannot read the work directory

ts=$(date -u +%Y%m%dT%H%M%SZ)
name="quay-$ts"
payload="$work/payload"
mkdir "$payload"

# 1. One snapshot: export it, count every table in it, dump it; the transaction stays open until pg_dump is done.
coproc SNAP { exec runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -d "$database" 2>"$work/snapshot.err"; }
snapshot_pid=$SNAP_PID
exec {to_snap}>&"${SNAP[1]}" {from_snap}<&"${SNAP[0]}"
printf '%s\n' "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;" "SELECT pg_export_snapshot();" >&"$to_snap"
snapshot=""
read -r -t 120 -u "$from_snap" snapshot || true
[ -n "$snapshot" ] || fail "could not open a snapshot of database $database ($(head -c 300 "$work/snapshot.err")) — fix: is PostgreSQL running and does the database exist?"
printf '%s\n' "SELECT current_setting('server_version');" "$count_sql" >&"$to_snap"
server_version=""
counts=""
read -r -t 120 -u "$from_snap" server_version || true
read -r -t 3600 -u "$from_snap" counts || true
if ! jq -e 'type == "object"' >/dev/null 2>&1 <<<"$counts"; then
  fail "counting the rows of every table of $database failed ($(head -c 300 "$work/snapshot.err"))"
fi
if ! runuser -u postgres -- pg_dump --snapshot="$snapshot" -Fc -d "$database" >"$payload/quay.dump" 2>"$work/pg_dump.err"; then
  fail "pg_dump of $database failed: $(head -c 500 "$work/pg_dump.err")"
fi
printf '%s\n' "COMMIT;" '\q' >&"$to_snap"
exec {to_snap}>&-
wait "$snapshot_pid" 2>/dev/null || true
snapshot_pid=""

# 2. The files, then the manifest describing them.
cp -- "$quay_config" "$payload/config.yaml"
cp -- "$quay_unit" "$payload/quay.service"
files=$(for f in quay.dump config.yaml quay.service; do
  printf '%s\t%s\t%s\n' "$f" "$(stat -c %s "$payload/$f")" "$(sha256sum "$payload/$f" | cut -d' ' -f1)"
done | jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {name: .[0], size: (.[1] | tonumber), sha256: .[2]})')
quay_image=$(sed -n -E '/^ExecStart=/{s/^ExecStart=.* ([^ ]+)$/\1/p;q}' "$quay_unit")
jq -n \
  --arg format "$format" --arg created "$ts" --arg host "$(hostname)" --arg database "$database" \
  --arg snapshot "$snapshot" --arg server "$server_version" --arg pg_dump "$(pg_dump --version)" \
  --arg openssl "$(openssl version)" --arg image "$quay_image" \
  --argjson files "$files" --argjson counts "$counts" --argjson iterations "$iterations" --arg mac_salt "$mac_salt" \
  '{format: $format, created: $created, host: $host, database: $database,
    encryption: {cipher: "aes-256-cbc", kdf: "pbkdf2-hmac-sha256", iterations: $iterations,
      mac: "hmac-sha256 over format, object name and ciphertext (<object>.hmac)", macKdf: "pbkdf2-hmac-sha512", macSalt: $mac_salt},
    versions: {postgresqlServer: $server, pgDump: $pg_dump, openssl: $openssl, quayImage: $image},
    snapshot: $snapshot, files: $files, rowCounts: $counts}' >"$payload/manifest.json"

# 3. tar, encrypt (the plaintext archive and the payload are deleted at once), checksum.
tar -czf "$work/$name.tar.gz" -C "$payload" manifest.json quay.dump config.yaml quay.service
rm -rf -- "$payload"
if ! openssl enc -aes-256-cbc -salt -pbkdf2 -iter "$iterations" -pass "file:$passphrase_file" -in "$work/$name.tar.gz" -out "$work/$name.tar.gz.enc" 2>"$work/openssl.err"; then
  fail "openssl could not encrypt the backup: $(head -c 300 "$work/openssl.err")"
fi
rm -f -- "$work/$name.tar.gz"
# encrypt-then-MAC: the tag is beside the object, but nobody without the passphrase can make one that matches
key=$(mac_key) || fail "openssl could not derive the MAC key from $passphrase_file"
[ -n "$key" ] || fail "openssl printed no MAC key"
mac_header "$work/mac-header" "$name.tar.gz.enc"
mac_key_check "$work/mac-key-check"
{
  printf 'format %s\n' "$format"
  printf 'object %s\n' "$name.tar.gz.enc"
  printf 'key-check %s\n' "$(hmac_sha256 "$key" "$work/mac-key-check")"
  printf 'hmac-sha256 %s\n' "$(hmac_sha256 "$key" "$work/mac-header" "$work/$name.tar.gz.enc")"
} >"$work/$name.tar.gz.enc.hmac"
key=""
(cd "$work" && sha256sum "$name.tar.gz.enc" >"$name.tar.gz.enc.sha256")

# 4. Upload (the uploader may only put objects: it cannot list, read or delete).
explain_upload() {
  local code msg
  code=$(jq -rs '[.[] | select(.status == "error")][0] | [.. | objects | .Code? | strings] | first // ""' "$work/mc.out" 2>/dev/null || true)
  msg=$(jq -rs '[.[] | select(.status == "error")][0].error | (.cause.message // .message // "")' "$work/mc.out" 2>/dev/null || true)
  [ -n "$msg" ] || msg=$(head -c 300 "$work/mc.err")
  case "$code" in
    NoSuchBucket) fail "uploading $1: bucket $bucket does not exist — fix: create it (the ObjectStorage component)" ;;
    AccessDenied) fail "uploading $1: the backup user may not put objects into $bucket (AccessDenied) — fix: grant it s3:PutObject on arn:aws:s3:::$bucket/*" ;;
    InvalidAccessKeyId | SignatureDoesNotMatch) fail "uploading $1: MinIO rejected the backup user's keys ($code) — fix: pulumi up (QuayBackups rewrites them from the stack)" ;;
    *) fail "uploading $1 failed: ${code:+$code: }${msg:0:300} — fix: check that MinIO is up and reachable from this host" ;;
  esac
}
for f in "$name.tar.gz.enc" "$name.tar.gz.enc.hmac" "$name.tar.gz.enc.sha256"; do
  if ! mc_run cp "$work/$f" "backup/$bucket/$prefix/$ts/$f" >"$work/mc.out" 2>"$work/mc.err"; then
    explain_upload "$bucket/$prefix/$ts/$f"
  fi
done
tables=$(jq 'length' <<<"$counts")
rows=$(jq '[.[]] | add // 0' <<<"$counts")
echo "quay-backup-to-minio: uploaded $bucket/$prefix/$ts/$name.tar.gz.enc ($(stat -c %s "$work/$name.tar.gz.enc") bytes, sha256 $(cut -c1-16 "$work/$name.tar.gz.enc.sha256")…, format $format) with its .hmac and .sha256; database $database: $tables tables, $rows rows (snapshot $snapshot)"
