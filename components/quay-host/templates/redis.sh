#!/usr/bin/env bash
# quay-mirror QuayHost step 4: Redis bound to loopback with requirepass and protected-mode.
# The settings live in their own file, included at the very end of redis.conf (last directive wins), so
# redis.conf itself — with its commented examples — is never rewritten except for that one include line.
# The password arrives on stdin; it is written only to the root:redis 0640 include file.
# Idempotent: Redis restarts only when the include file or the include line changes.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly main_conf=@@MAIN_CONF@@
readonly include_conf=@@INCLUDE_CONF@@
readonly redis_port=@@REDIS_PORT@@
# --- end of values ---

IFS= read -r -d '' redis_password || true
if [ -z "$redis_password" ]; then
  echo "redis step: no password on stdin" >&2
  exit 1
fi
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# redis.conf quoting: a double-quoted string with backslash and double quote escaped.
quoted=${redis_password//\\/\\\\}
quoted=${quoted//\"/\\\"}
{
  printf '%s\n' "# Managed by quay-mirror (Pulumi QuayHost)." "bind 127.0.0.1 -::1" "protected-mode yes" "port $redis_port"
  printf 'requirepass "%s"\n' "$quoted"
} >"$work/include.conf"

restart=0
if ! cmp -s "$work/include.conf" "$include_conf"; then
  install -m 0640 -o root -g redis "$work/include.conf" "$include_conf"
  restart=1
  echo "wrote $include_conf"
fi

line="include $include_conf"
last=$(grep -v '^[[:space:]]*$' "$main_conf" | tail -n1 || true)
if [ "$last" != "$line" ]; then
  grep -vxF "$line" "$main_conf" >"$work/redis.conf" || true
  printf '\n%s\n' "$line" >>"$work/redis.conf"
  chown --reference="$main_conf" "$work/redis.conf"
  chmod --reference="$main_conf" "$work/redis.conf"
  mv -f "$work/redis.conf" "$main_conf"
  restart=1
  echo "added '$line' at the end of $main_conf"
fi

systemctl enable redis-server >/dev/null 2>&1 || true
if [ "$restart" = 1 ]; then
  systemctl restart redis-server
elif ! systemctl is-active --quiet redis-server; then
  systemctl start redis-server
fi

# Prove it: without the password Redis answers NOAUTH; with it, PONG. The password goes to redis-cli on
# stdin (an AUTH command), never as an argument.
reply=""
for _ in $(seq 1 30); do
  reply=$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>&1 || true)
  case "$reply" in *NOAUTH*) break ;; esac
  sleep 1
done
case "$reply" in
  *NOAUTH*) ;;
  *) echo "Redis did not demand a password (ping answered: $reply)" >&2; exit 1 ;;
esac
pong=$(printf 'AUTH "%s"\nPING\n' "$quoted" | redis-cli -h 127.0.0.1 -p "$redis_port" 2>&1 | tail -n1 || true)
if [ "$pong" != "PONG" ]; then
  echo "Redis refused the configured password" >&2
  exit 1
fi
echo "Redis: loopback only, NOAUTH without the password, PONG with it"
