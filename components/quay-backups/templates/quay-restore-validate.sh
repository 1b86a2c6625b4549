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

# @include lib/backup-fetch.sh

# 1-4. The latest backup: listed, fetched, checksum, MAC (before anything reads it), decrypted, checked.
fetch_backup latest quay.dump

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
