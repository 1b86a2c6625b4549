#!/usr/bin/env bash
# quay-restore-database (installed by quay-mirror QuayBackups): rebuild from backup. Restores Quay's
# production database from a backup in MinIO — the latest, or one named by its UTC timestamp — on a host
# whose Quay has not started yet (QuayBackups' restore step runs it before QuayHost starts Quay, when the
# stack sets host.restoreFrom), or by hand:
#   quay-restore-database [--overwrite] latest|<yyyymmddTHHMMSSZ>
#
# The backup is fetched with the restore reader's keys, checked, authenticated and decrypted by the same code
# as the weekly restore proof (lib/backup-fetch.sh). Its config.yaml must hold the DATABASE_SECRET_KEY and
# SECRET_KEY of this host's config.yaml (the same stack's secrets; compared by hash, never printed), or
# nothing is restored. The dump is restored as the role that owns Quay's database (never a superuser) into a
# new database, every table's row count is compared with the manifest, and only then does it take the
# production database's name. Safe to re-run: the restore is recorded in a marker file (the backup's name);
# a host that already holds a restore is not restored again (latest then means "the one restored"), and a
# database that already holds tables is never replaced without --overwrite (the replaced database is then
# kept, renamed, until dropped by hand). Its exit code is the verdict; a refusal says why and the fix.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly database=@@DATABASE@@
readonly db_owner=@@DB_OWNER@@
readonly mc=@@MC@@
readonly mc_config=@@MC_CONFIG@@
readonly bucket=@@BUCKET@@
readonly prefix=@@PREFIX@@
readonly passphrase_file=@@PASSPHRASE_FILE@@
readonly work_root=@@WORK_ROOT@@
readonly iterations=@@ITERATIONS@@
readonly count_sql=@@COUNT_SQL@@
readonly format=@@FORMAT@@
readonly mac_salt=@@MAC_SALT@@
readonly quay_config=@@QUAY_CONFIG@@
readonly marker=@@MARKER@@
# --- end of values ---

umask 077
# @include lib/backup-mac.sh
fail() {
  printf 'quay-restore-database FAILED: %s\n' "$*" >&2
  exit 1
}
trap 'printf "quay-restore-database FAILED: unexpected error (exit %s) in: %s\n" "$?" "$BASH_COMMAND" >&2' ERR
usage="usage: quay-restore-database [--overwrite] latest|<backup timestamp yyyymmddTHHMMSSZ>"
overwrite=0
selector=""
for arg in "$@"; do
  case "$arg" in
    --overwrite) overwrite=1 ;;
    latest) selector=latest ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *)
      [[ "$arg" =~ ^[0-9]{8}T[0-9]{6}Z$ ]] || fail "unknown argument '${arg:0:40}' — $usage"
      selector=$arg
      ;;
  esac
done
[ -n "$selector" ] || fail "which backup? — $usage"
[ "$(id -u)" = 0 ] || fail "must run as root (sudo quay-restore-database …)"
[[ "$database" =~ ^[a-z_][a-z0-9_]{0,40}$ && "$db_owner" =~ ^[a-z_][a-z0-9_]{0,40}$ ]] || fail "bad database or owner name"
[ -s "$passphrase_file" ] || fail "the passphrase file $passphrase_file is missing or empty — fix: pulumi up (QuayBackups writes it), or put the custody copy of the backup passphrase there (root, 0600)"
[ -f "$mc_config" ] || fail "the restore reader's mc configuration $mc_config is missing — fix: pulumi up (QuayBackups writes it)"
[ -x "$mc" ] || fail "the MinIO client $mc is missing — fix: pulumi up (QuayHost tools.mcBinary installs it)"
[ -f "$quay_config" ] || fail "$quay_config is missing: the backup's secrets cannot be checked against this host's — fix: pulumi up (QuayHost's config step writes it before the restore)"

cd /tmp # psql runs as postgres, which cannot read the work directory
psql_admin() { runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# 0. Has this host been restored already? Then a rerun restores nothing over the data written since.
if [ -f "$marker" ]; then
  done_stamp=$(jq -r '.stamp // ""' "$marker" 2>/dev/null || true)
  done_at=$(jq -r '.restoredAt // ""' "$marker" 2>/dev/null || true)
  if [ "$selector" = "$done_stamp" ] || { [ "$selector" = latest ] && [ "$overwrite" = 0 ]; }; then
    echo "already restored from backup $done_stamp (at $done_at, $marker): nothing to do — a rerun never restores over what Quay wrote since; to restore another backup over it: quay-restore-database --overwrite <timestamp>"
    exit 0
  fi
  [ "$overwrite" = 1 ] ||
    fail "this host was restored from backup $done_stamp at $done_at ($marker); restoring $selector would replace everything written since — fix: if that is what you want, run it with --overwrite (the stack: host.restoreOverwrite: true), otherwise remove host.restoreFrom or set it to $done_stamp"
fi

# 1. A database that already holds tables is Quay's data: never replaced unless asked.
exists=$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$database'")
tables=0
if [ "$exists" = 1 ]; then
  tables=$(psql_admin -d "$database" -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'")
fi
if [ "$tables" != 0 ] && [ "$overwrite" = 0 ]; then
  fail "database $database already holds $tables tables (Quay's data) and this host has no record of a restore ($marker): restoring would replace them — fix: rebuild onto a fresh host; or, to replace this data with the backup, run with --overwrite (the stack: host.restoreOverwrite: true; the replaced database is kept, renamed)"
fi

install -d -m 0700 -o root -g root "$work_root"
work=$(mktemp -d "$work_root/rebuild.XXXXXXXX")
new_db="${database}_restoring_$(date -u +%Y%m%d%H%M%S)"
created_db=0
created_user=0
quay_was_active=0
cleanup() {
  if [ "$created_db" = 1 ]; then psql_admin -d postgres -c "DROP DATABASE IF EXISTS \"$new_db\" WITH (FORCE)" >/dev/null 2>&1 || true; fi
  if [ "$created_user" = 1 ]; then userdel "$db_owner" >/dev/null 2>&1 || true; fi
  if [ "$quay_was_active" = 1 ]; then systemctl start quay.service >/dev/null 2>&1 || true; fi
  rm -rf -- "$work"
}
trap cleanup EXIT
install -d -m 0700 "$work/mc"
cp "$mc_config" "$work/mc/config.json"
# mc gets PATH, a home and its private configuration, nothing else of this script's environment.
mc_run() { env -i PATH="$PATH" HOME="$work" MC_CONFIG_DIR="$work/mc" "$mc" --json --quiet "$@"; }

# @include lib/backup-fetch.sh

# 2. The backup: listed, fetched, checksum, MAC (before anything reads it), decrypted, checked.
fetch_backup "$selector" quay.dump config.yaml
if [ -f "$marker" ] && [ "$stamp" = "$(jq -r '.stamp // ""' "$marker" 2>/dev/null || true)" ]; then
  echo "already restored from backup $stamp ($marker): nothing to do"
  exit 0
fi

# 3. The same stack's secrets: Quay encrypts robot tokens and other fields with DATABASE_SECRET_KEY, and signs
#    with SECRET_KEY. Compared by hash; neither is printed.
key_hash() { { grep -m1 "^$1:" "$2" || true; } | sha256sum | cut -c1-64; }
empty_hash=$(printf '' | sha256sum | cut -c1-64)
for k in DATABASE_SECRET_KEY SECRET_KEY; do
  want=$(key_hash "$k" "$work/payload/config.yaml")
  have=$(key_hash "$k" "$quay_config")
  [ "$want" != "$empty_hash" ] || fail "the config.yaml in backup $stamp has no $k — fix: restore from another backup"
  if [ "$want" != "$have" ]; then
    fail "backup $stamp was made with another $k than this host's $quay_config: Quay could not read what it encrypted (robot tokens, credentials) — fix: rebuild with the stack that made the backup (its state holds the generated secrets; changing host.connection keeps them), or restore that stack's state; nothing was restored"
  fi
done
rm -f -- "$work/payload/config.yaml"
echo "secrets match: the backup's DATABASE_SECRET_KEY and SECRET_KEY are this host's"

# 4. Restore into a new database owned by $db_owner, as $db_owner (peer authentication on the local socket as
#    an operating-system user of that name, made for the restore if there is none; never a superuser).
if ! id -u "$db_owner" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$db_owner" 2>"$work/useradd.err" ||
    fail "cannot create the system user $db_owner for the restore: $(head -c 300 "$work/useradd.err")"
  created_user=1
fi
[ "$(psql_admin -d postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = '$db_owner'")" = f ] ||
  fail "the role $db_owner is missing or a superuser — fix: pulumi up (QuayHost's postgres step makes it)"
psql_admin -d postgres -c "CREATE DATABASE \"$new_db\" OWNER \"$db_owner\"" >/dev/null 2>"$work/create.err" ||
  fail "cannot create the database $new_db: $(head -c 300 "$work/create.err")"
created_db=1
if ! runuser -u "$db_owner" -- pg_restore --exit-on-error --single-transaction --no-owner --no-privileges -d "$new_db" <"$work/payload/quay.dump" 2>"$work/restore.err"; then
  fail "pg_restore of $object into $new_db (as $db_owner) failed: $(head -c 500 "$work/restore.err") — fix: restore from an earlier backup"
fi
rm -f -- "$work/payload/quay.dump"
psql_admin -d "$new_db" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_trgm" >/dev/null
counts=$(runuser -u "$db_owner" -- psql -X -q -At -v ON_ERROR_STOP=1 -d "$new_db" -c "$count_sql" 2>"$work/count.err") ||
  fail "counting the rows of the restored database failed: $(head -c 300 "$work/count.err")"
diffs=$(jq -r --argjson got "$counts" '.rowCounts as $want | [($want | keys[]), ($got | keys[])] | unique[]
  | select($want[.] != $got[.]) | "\(.): manifest \($want[.] // "no such table"), restored \($got[.] // "no such table")"' "$manifest" | head -n 20 | tr '\n' ';')
[ -z "$diffs" ] || fail "row counts of the restored backup $stamp differ from its manifest: $diffs — nothing was replaced; fix: restore from an earlier backup"

# 5. Swap: Quay is stopped (it has not started on a fresh host); the restored database takes the name.
if systemctl is-active --quiet quay.service; then
  systemctl stop quay.service
  quay_was_active=1
fi
replaced=""
if [ "$exists" = 1 ]; then
  replaced="${database}_replaced_$(date -u +%Y%m%d%H%M%S)"
  psql_admin -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$database' AND pid <> pg_backend_pid()" >/dev/null
  psql_admin -d postgres -c "ALTER DATABASE \"$database\" RENAME TO \"$replaced\"" >/dev/null
fi
psql_admin -d postgres -c "ALTER DATABASE \"$new_db\" RENAME TO \"$database\"" >/dev/null
created_db=0
if [ -n "$replaced" ] && [ "$tables" = 0 ]; then
  psql_admin -d postgres -c "DROP DATABASE \"$replaced\" WITH (FORCE)" >/dev/null
  replaced=""
fi

# 6. The record: which backup, when; written before Quay may start again.
install -d -m 0755 "$(dirname "$marker")"
jq -n --arg stamp "$stamp" --arg object "$object" --arg created "$(jq -r '.created' "$manifest")" --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg replaced "$replaced" --argjson counts "$counts" \
  '{backup: ($object | split("/") | last), stamp: $stamp, object: $object, created: $created, restoredAt: $at,
    replacedDatabase: (if $replaced == "" then null else $replaced end), rowCounts: $counts}' >"$marker.tmp"
chmod 0644 "$marker.tmp"
mv -f "$marker.tmp" "$marker"
n_tables=$(jq 'length' <<<"$counts")
n_rows=$(jq '[.[]] | add // 0' <<<"$counts")
echo "restored backup $stamp ($object) into database $database: $n_tables tables, $n_rows rows, every count as its manifest recorded; recorded in $marker${replaced:+; the database it replaced is kept as $replaced (drop it when no longer needed: sudo -u postgres dropdb $replaced)}"
