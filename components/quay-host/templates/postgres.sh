#!/usr/bin/env bash
# quay-mirror QuayHost step 3: PostgreSQL for Quay — role quay, database quay owned by it, pg_trgm,
# listening on loopback only, password (scram-sha-256) auth for quay from 127.0.0.1 and ::1 only.
# The role's password arrives on stdin and goes to psql on stdin: never an argument, never printed.
# The PostgreSQL major version is discovered (pg_lsclusters), never assumed.
# Idempotent: files are rewritten and PostgreSQL restarted/reloaded only when they change.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly pg_port=@@PG_PORT@@
# --- end of values ---

IFS= read -r -d '' pg_password || true
if [ -z "$pg_password" ]; then
  echo "postgres step: no password on stdin" >&2
  exit 1
fi
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd /tmp # psql as postgres must not start in a directory postgres cannot read

# Discover the cluster: the newest major version that has a "main" cluster; create one if none exists.
major=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" {print $1}' | sort -n | tail -n1 || true)
if [ -z "$major" ]; then
  major=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -n | tail -n1 || true)
  if [ -z "$major" ]; then
    echo "postgres step: no PostgreSQL server installed (packages step missing?)" >&2
    exit 1
  fi
  echo "creating PostgreSQL $major cluster main"
  pg_createcluster "$major" main
fi
cluster_port=$(pg_lsclusters -h | awk -v v="$major" '$1 == v && $2 == "main" {print $3}')
if [ "$cluster_port" != "$pg_port" ]; then
  echo "PostgreSQL $major/main listens on port $cluster_port, but Quay's DB_URI uses $pg_port; set port = $pg_port in /etc/postgresql/$major/main/postgresql.conf" >&2
  exit 1
fi
conf_dir=/etc/postgresql/$major/main
echo "PostgreSQL $major (cluster main, $conf_dir)"

restart=0
reload=0

# Loopback only, scram hashes; through the conf.d directory Debian's postgresql.conf includes.
if ! grep -Eq "^[[:space:]]*include_dir[[:space:]]*=[[:space:]]*'conf\.d'" "$conf_dir/postgresql.conf"; then
  echo "$conf_dir/postgresql.conf has no include_dir = 'conf.d'; cannot add the quay-mirror settings" >&2
  exit 1
fi
install -d -m 0755 -o postgres -g postgres "$conf_dir/conf.d"
printf '%s\n' "# Managed by quay-mirror (Pulumi QuayHost)." "listen_addresses = 'localhost'" "password_encryption = 'scram-sha-256'" >"$work/50-quay-mirror.conf"
if ! cmp -s "$work/50-quay-mirror.conf" "$conf_dir/conf.d/50-quay-mirror.conf"; then
  install -m 0644 -o postgres -g postgres "$work/50-quay-mirror.conf" "$conf_dir/conf.d/50-quay-mirror.conf"
  restart=1
  echo "wrote $conf_dir/conf.d/50-quay-mirror.conf"
fi

# pg_hba.conf: a managed block first (first match wins): quay may log in with a password from loopback
# only, and is rejected from anywhere else. Everything outside the block is kept as it is.
hba=$conf_dir/pg_hba.conf
begin="# BEGIN quay-mirror (managed by Pulumi QuayHost; do not edit)"
end="# END quay-mirror"
{
  printf '%s\n' "$begin" \
    "host    quay    quay    127.0.0.1/32    scram-sha-256" \
    "host    quay    quay    ::1/128         scram-sha-256" \
    "host    all     quay    0.0.0.0/0       reject" \
    "host    all     quay    ::/0            reject" \
    "$end"
  awk -v b="$begin" -v e="$end" '$0 == b {skip = 1; next} $0 == e {skip = 0; next} !skip' "$hba"
} >"$work/pg_hba.conf"
if ! cmp -s "$work/pg_hba.conf" "$hba"; then
  install -m 0640 -o postgres -g postgres "$work/pg_hba.conf" "$hba"
  reload=1
  echo "updated $hba"
fi

systemctl enable postgresql >/dev/null 2>&1 || true
if [ "$restart" = 1 ]; then
  systemctl restart "postgresql@$major-main"
elif ! systemctl is-active --quiet "postgresql@$major-main"; then
  systemctl start "postgresql@$major-main"
elif [ "$reload" = 1 ]; then
  systemctl reload "postgresql@$major-main"
fi
for _ in $(seq 1 60); do
  if pg_isready -q -h 127.0.0.1 -p "$pg_port"; then break; fi
  sleep 1
done
pg_isready -h 127.0.0.1 -p "$pg_port"

# Role, database, extension. The password is an SQL literal ('' doubles a quote) written to psql's stdin.
pw_sql=${pg_password//\'/\'\'}
{
  printf '%s\n' "SET client_min_messages = warning;" "SET log_statement = 'none';" "SET log_min_duration_statement = -1;" "SET password_encryption = 'scram-sha-256';"
  printf '%s\n' "SELECT 'CREATE ROLE quay LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'quay')" '\gexec'
  printf "ALTER ROLE quay WITH LOGIN PASSWORD '%s';\n" "$pw_sql"
  printf '%s\n' "SELECT 'CREATE DATABASE quay OWNER quay' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'quay')" '\gexec'
  printf '%s\n' '\connect quay' "SET client_min_messages = warning;" "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
} | runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null 2>"$work/psql.err" || {
  # psql quotes the failing statement back, and one of them carries the password: show its error only
  # when the password is not in it.
  err=$(head -c 2000 "$work/psql.err")
  if [[ "$err" == *"$pg_password"* || "$err" == *"$pw_sql"* ]]; then
    echo "psql failed while creating the quay role/database (its message quotes the password, so it is withheld); rerun the statements by hand as postgres to see it" >&2
  else
    printf 'psql failed while creating the quay role/database:\n%s\n' "$err" >&2
  fi
  exit 1
}

# Prove it the way Quay connects: TCP on loopback, as quay, with the password (from a private pgpass file).
pw_pgpass=${pg_password//\\/\\\\}
pw_pgpass=${pw_pgpass//:/\\:}
printf '127.0.0.1:%s:quay:quay:%s\n' "$pg_port" "$pw_pgpass" >"$work/pgpass"
ext=$(PGPASSFILE="$work/pgpass" psql -X -w -h 127.0.0.1 -p "$pg_port" -U quay -d quay -Atc "SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
if [ "$ext" != "pg_trgm" ]; then
  echo "database quay has no pg_trgm extension" >&2
  exit 1
fi
echo "PostgreSQL: role quay, database quay, pg_trgm ready; password login from 127.0.0.1 works"
