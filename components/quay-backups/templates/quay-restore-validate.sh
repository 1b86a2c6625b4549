#!/usr/bin/env bash
# quay-restore-validate (installed by quay-mirror QuayBackups; run by quay-restore-validate.service: weekly
# timer, or on demand with `systemctl start quay-restore-validate.service`).
#
# The restore proof: fetch the latest backup with the restore reader's keys (the uploader cannot read),
# verify its sha256, authenticate it (HMAC-SHA256 under a key derived from the passphrase: a modified object
# is refused here, before anything reads it), decrypt it, check every file against the manifest, restore the
# dump as the unprivileged role $restore_role (never a superuser) into a temporary database it owns, compare
# every table's row count with the counts the manifest recorded at backup time, and drop the temporary
# database and the role. It never touches the production database. Its exit code is the verdict: 0 only
# when everything matched; otherwise a line "quay-restore-validate FAILED: <cause> — fix: …" on stderr.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly production_database=@@DATABASE@@
readonly mc=@@MC@@
readonly mc_config=@@MC_CONFIG@@
readonly bucket=@@BUCKET@@
readonly prefix=@@PREFIX@@
readonly passphrase_file=@@PASSPHRASE_FILE@@
readonly work_root=@@WORK_ROOT@@
readonly iterations=@@ITERATIONS@@
readonly count_sql=@@COUNT_SQL@@
readonly temp_prefix=@@TEMP_PREFIX@@
readonly format=@@FORMAT@@
readonly mac_salt=@@MAC_SALT@@
readonly restore_role=@@RESTORE_ROLE@@
# --- end of values ---

umask 077
# @include lib/backup-mac.sh
fail() {
  printf 'quay-restore-validate FAILED: %s\n' "$*" >&2
  exit 1
}
# Whatever else stops the script still says so in the journal.
trap 'printf "quay-restore-validate FAILED: unexpected error (exit %s) in: %s\n" "$?" "$BASH_COMMAND" >&2' ERR
[ "$(id -u)" = 0 ] || fail "must run as root (systemctl start quay-restore-validate.service)"
[ -s "$passphrase_file" ] || fail "the passphrase file $passphrase_file is missing or empty — fix: pulumi up (QuayBackups writes it)"
[ -f "$mc_config" ] || fail "the restore reader's mc configuration $mc_config is missing — fix: pulumi up (QuayBackups writes it)"
[ -x "$mc" ] || fail "the MinIO client $mc is missing — fix: pulumi up (QuayHost tools.mcBinary installs it)"
[[ "$temp_prefix" =~ ^[a-z][a-z0-9_]{0,30}$ ]] || fail "bad temporary database prefix"
[[ "$restore_role" =~ ^[a-z][a-z0-9_]{0,30}$ ]] || fail "bad restore role name"

install -d -m 0700 -o root -g root "$work_root"
work=$(mktemp -d "$work_root/restore.XXXXXXXX")
# The temporary database: our prefix, this run's time and PID; never the production database's name.
temp_db="${temp_prefix}_$(date -u +%Y%m%d%H%M%S)_$$"
[ "$temp_db" != "$production_database" ] || fail "the temporary database name equals the production database's; refusing"
cd /tmp # psql and pg_restore run as postgres, which cannot read the work directory
psql_admin() { runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
drop_temp() {
  psql_admin -c "DROP DATABASE IF EXISTS \"$temp_db\" WITH (FORCE)" >/dev/null 2>&1 || true
}
drop_role() {
  psql_admin -c "DROP ROLE IF EXISTS \"$restore_role\"" >/dev/null 2>&1 || true
}
created=0
role_created=0
cleanup() {
  if [ "$created" = 1 ]; then drop_temp; fi
  if [ "$role_created" = 1 ]; then drop_role; fi
  rm -rf -- "$work"
}
trap cleanup EXIT
install -d -m 0700 "$work/mc"
cp "$mc_config" "$work/mc/config.json"
# mc gets PATH, a home and its private configuration, nothing else of this script's environment.
mc_run() { env -i PATH="$PATH" HOME="$work" MC_CONFIG_DIR="$work/mc" "$mc" --json --quiet "$@"; }

# Temporary databases a killed run left behind (only ours: the prefix and the shape of the name).
while read -r stale; do
  [ -n "$stale" ] || continue
  psql_admin -c "DROP DATABASE IF EXISTS \"$stale\" WITH (FORCE)" >/dev/null && echo "dropped $stale, left behind by an earlier run"
done < <(psql_admin -c "SELECT datname FROM pg_database WHERE datname ~ '^${temp_prefix}_[0-9]{14}_[0-9]+\$'")
drop_role # a killed run's role (it owns nothing once its databases are gone)

mc_error() { # mc_error OUT WHAT: a failed mc call, with the fix
  local code msg
  code=$(jq -rs '[.[] | select(.status == "error")][0] | [.. | objects | .Code? | strings] | first // ""' "$work/$1" 2>/dev/null || true)
  msg=$(jq -rs '[.[] | select(.status == "error")][0].error | (.cause.message // .message // "")' "$work/$1" 2>/dev/null || true)
  [ -n "$msg" ] || msg=$(head -c 300 "$work/$1.err")
  case "$code" in
    NoSuchBucket) fail "$2: bucket $bucket does not exist — fix: create it (the ObjectStorage component)" ;;
    NoSuchKey) fail "$2: the object is gone (expired or deleted) — fix: run a new backup (systemctl start quay-backup.service)" ;;
    AccessDenied) fail "$2: the restore reader may not do this (AccessDenied) — fix: grant it s3:ListBucket on arn:aws:s3:::$bucket and s3:GetObject on arn:aws:s3:::$bucket/*" ;;
    InvalidAccessKeyId | SignatureDoesNotMatch) fail "$2: MinIO rejected the restore reader's keys ($code) — fix: pulumi up (QuayBackups rewrites them from the stack)" ;;
    *) fail "$2 failed: ${code:+$code: }${msg:0:300} — fix: check that MinIO is up and reachable from this host" ;;
  esac
}

# 1. The latest backup: the newest <timestamp>/quay-<timestamp>.tar.gz.enc under the prefix.
mc_run ls --recursive "restore/$bucket/$prefix/" >"$work/list" 2>"$work/list.err" || mc_error list "listing $bucket/$prefix/"
key=$(jq -rs '[.[] | select(.status == "success" and .type == "file") | .key
  | select(test("^(?<t>[0-9]{8}T[0-9]{6}Z)/quay-(?<u>[0-9]{8}T[0-9]{6}Z)\\.tar\\.gz\\.enc$"))] | sort | last // ""' "$work/list")
[ -n "$key" ] || fail "no backup under $bucket/$prefix/ — fix: run one (systemctl start quay-backup.service) and look at its journal (journalctl -u quay-backup.service)"
object="$bucket/$prefix/$key"
name=${key##*/}
stamp=${key%%/*}
jq -e --arg k "$key.sha256" -s 'any(.[]; .status == "success" and .key == $k)' "$work/list" >/dev/null ||
  fail "$object has no $name.sha256 beside it: the backup is incomplete (the upload stopped half way) — fix: run a new backup (systemctl start quay-backup.service)"
jq -e --arg k "$key.hmac" -s 'any(.[]; .status == "success" and .key == $k)' "$work/list" >/dev/null ||
  fail "$object has no $name.hmac beside it: it cannot be authenticated, so it is not restored (a backup made before format $format, an upload that stopped half way, or a removed tag) — fix: run a new backup (systemctl start quay-backup.service); an older format-1 backup can be restored by hand (docs/backups.md)"
echo "latest backup: $object"
mc_run cp "restore/$object" "$work/$name" >"$work/get" 2>"$work/get.err" || mc_error get "fetching $object"
mc_run cp "restore/$object.sha256" "$work/$name.sha256" >"$work/get" 2>"$work/get.err" || mc_error get "fetching $object.sha256"
mc_run cp "restore/$object.hmac" "$work/$name.hmac" >"$work/get" 2>"$work/get.err" || mc_error get "fetching $object.hmac"

# 2. The checksum.
expected=$(awk 'NR == 1 {print $1}' "$work/$name.sha256")
actual=$(sha256sum "$work/$name" | cut -d' ' -f1)
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || fail "$object.sha256 does not hold a sha256 — the checksum object is corrupted; fix: restore from an earlier backup, run a new one"
if [ "$actual" != "$expected" ]; then
  fail "checksum mismatch: $object has sha256 ${actual:0:16}…, its .sha256 says ${expected:0:16}… — the backup object is corrupted (or was replaced); fix: do not use it; restore from an earlier backup and run a new one (systemctl start quay-backup.service)"
fi
echo "checksum ok (sha256 ${actual:0:16}…)"

# 3. Authenticate, before anything reads the ciphertext: the sha256 beside the object only catches accidents
#    (whoever can replace the object can replace it too); the HMAC needs the passphrase.
wrong_passphrase="cannot decrypt $object with the passphrase in $passphrase_file: wrong passphrase — fix: put the passphrase this backup was made with (the stack's backupPassphrase output, or its custody copy) into $passphrase_file (root, 0600), or pulumi up to rewrite it"
tag_field() { sed -n "s/^$1 \([^ ]*\)\$/\1/p" "$work/$name.hmac" | head -n 1; }
[ "$(tag_field format)" = "$format" ] ||
  fail "$object.hmac is not a $format tag (format: $(tag_field format | head -c 40)) — fix: run a new backup; an older format-1 backup can be restored by hand (docs/backups.md)"
[ "$(tag_field object)" = "$name" ] ||
  fail "authentication failed: $object.hmac is the tag of another object ($(tag_field object | head -c 80)) — a backup was renamed or its tag replaced; fix: do not use it; restore from an earlier backup and run a new one"
want_check=$(tag_field key-check)
want_mac=$(tag_field hmac-sha256)
[[ "$want_check" =~ ^[0-9a-f]{64}$ && "$want_mac" =~ ^[0-9a-f]{64}$ ]] || fail "$object.hmac does not hold a key check and an hmac-sha256 — the tag is corrupted; fix: restore from an earlier backup, run a new one"
mac_secret=$(mac_key) || fail "openssl could not derive the MAC key from $passphrase_file"
[ -n "$mac_secret" ] || fail "openssl printed no MAC key"
mac_key_check "$work/mac-key-check"
[ "$(hmac_sha256 "$mac_secret" "$work/mac-key-check")" = "$want_check" ] ||
  fail "$wrong_passphrase (its key check in $name.hmac does not match this passphrase)"
mac_header "$work/mac-header" "$name"
got_mac=$(hmac_sha256 "$mac_secret" "$work/mac-header" "$work/$name")
mac_secret=""
if [ "$got_mac" != "$want_mac" ]; then
  fail "authentication failed: $object does not match its HMAC (hmac-sha256 ${got_mac:0:16}…, $name.hmac says ${want_mac:0:16}…) under the right passphrase (its key check matches) — the object was modified after it was made (a .sha256 recomputed beside it does not hide that); nothing was decrypted or restored; fix: do not use it; restore from an earlier backup and run a new one (systemctl start quay-backup.service)"
fi
echo "authenticated (hmac-sha256 ${got_mac:0:16}…, $format)"

# 4. Decrypt. The key check above already caught a wrong passphrase; openssl's own failure is kept as a guard.
openssl enc -d -aes-256-cbc -salt -pbkdf2 -iter "$iterations" -pass "file:$passphrase_file" -in "$work/$name" -out "$work/backup.tar.gz" 2>"$work/openssl.err" ||
  fail "$wrong_passphrase (openssl: $(head -c 200 "$work/openssl.err" | tr '\n' ' '))"
rm -f -- "$work/$name"
gzip -t "$work/backup.tar.gz" 2>/dev/null || fail "$wrong_passphrase (the decrypted data is not a gzip archive)"
mkdir "$work/payload"
tar -xzf "$work/backup.tar.gz" -C "$work/payload" --no-same-owner manifest.json quay.dump 2>"$work/tar.err" ||
  fail "the decrypted archive of $object lacks manifest.json or quay.dump ($(head -c 200 "$work/tar.err")) — fix: restore from an earlier backup"
rm -f -- "$work/backup.tar.gz"
manifest="$work/payload/manifest.json"
jq -e '(.rowCounts | type) == "object" and (.files | type) == "array"' "$manifest" >/dev/null 2>&1 ||
  fail "the manifest of $object has no rowCounts/files — fix: restore from an earlier backup"
[ "$(jq -r '.format' "$manifest")" = "$format" ] ||
  fail "the manifest of $object says format $(jq -r '.format' "$manifest" | head -c 40), its tag $format — fix: restore from an earlier backup"
dump_sha=$(jq -r '.files[] | select(.name == "quay.dump") | .sha256' "$manifest")
[ "$(sha256sum "$work/payload/quay.dump" | cut -d' ' -f1)" = "$dump_sha" ] ||
  fail "quay.dump in $object does not match the sha256 its manifest recorded — fix: restore from an earlier backup"
echo "decrypted; manifest $(jq -r '.format' "$manifest") from $(jq -r '.created' "$manifest"), $(jq '.rowCounts | length' "$manifest") tables"

# 5. Restore into the temporary database (never the production one), as $restore_role: an operating-system
#    user and a PostgreSQL role of that name (peer authentication on the local socket), not a superuser,
#    owning only the temporary database. Whatever the dump holds runs with that role's rights.
if ! id -u "$restore_role" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$restore_role" 2>"$work/useradd.err" ||
    fail "cannot create the system user $restore_role: $(head -c 300 "$work/useradd.err")"
fi
# (INHERIT: as the database's owner it uses pg_database_owner's rights on schema public; it is a member of nothing else)
psql_admin -c "CREATE ROLE \"$restore_role\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT" >/dev/null 2>"$work/role.err" ||
  fail "cannot create the role $restore_role: $(head -c 300 "$work/role.err")"
role_created=1
[ "$(psql_admin -c "SELECT rolsuper OR rolcreaterole OR rolbypassrls FROM pg_roles WHERE rolname = '$restore_role'")" = f ] ||
  fail "the role $restore_role has superuser, createrole or bypassrls rights; refusing to restore as it"
psql_admin -c "CREATE DATABASE \"$temp_db\" OWNER \"$restore_role\"" >/dev/null 2>"$work/create.err" ||
  fail "cannot create the temporary database $temp_db: $(head -c 300 "$work/create.err")"
created=1
if ! runuser -u "$restore_role" -- pg_restore --exit-on-error --no-owner --no-privileges -d "$temp_db" <"$work/payload/quay.dump" 2>"$work/restore.err"; then
  fail "pg_restore of $object into $temp_db (as $restore_role) failed: $(head -c 500 "$work/restore.err") — fix: the dump is not restorable; restore from an earlier backup"
fi
rm -f -- "$work/payload/quay.dump"
counts=$(runuser -u "$restore_role" -- psql -X -q -At -v ON_ERROR_STOP=1 -d "$temp_db" -c "$count_sql" 2>"$work/count.err") ||
  fail "counting the rows of the restored database failed: $(head -c 300 "$work/count.err")"

# 6. Every table, both ways: same tables, same counts.
diffs=$(jq -r --argjson got "$counts" '.rowCounts as $want
  | [($want | keys[]), ($got | keys[])] | unique[]
  | select($want[.] != $got[.])
  | "\(.): manifest \($want[.] // "no such table"), restored \($got[.] // "no such table")"' "$manifest")
diffs=$(jq -Rrs 'split("\n") | map(select(length > 0)) | (.[:20] | join("; ")) + (if length > 20 then "; … \(length - 20) more" else "" end)' <<<"$diffs")
if [ -n "$diffs" ]; then
  fail "row counts of the restored backup $stamp differ from its manifest: $diffs — the backup does not hold what was in the database when it was taken; fix: do not rely on it; run a new backup and look at its journal"
fi
tables=$(jq 'length' <<<"$counts")
rows=$(jq '[.[]] | add // 0' <<<"$counts")
key_tables=$(jq -r 'to_entries | map(select(.key | test("^public\\.(user|repository|tag|manifest|image)$"))) | map("\(.key)=\(.value)") | join(" ")' <<<"$counts")

drop_temp
created=0
if [ -n "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$temp_db'")" ]; then
  fail "could not drop the temporary database $temp_db — fix: drop it by hand (sudo -u postgres dropdb $temp_db)"
fi
drop_role
role_created=0
echo "restore proof PASSED: $object — checksum ok, authenticated, decrypted, restored as $restore_role (no superuser) into a temporary database; all $tables tables have the row counts the manifest recorded ($rows rows${key_tables:+; $key_tables}); temporary database $temp_db dropped"
