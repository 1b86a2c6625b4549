#!/usr/bin/env bash
# quay-mirror QuayHost step `account`: reserve Quay's container UID (1001) on the host for a system account
# of our own, with no login. The container runs rootful without a user namespace, so its UID is a host UID:
# whoever holds UID 1001 on the host can read config.yaml (its ACL admits UID 1001: the database password,
# the Redis password, SECRET_KEY, DATABASE_SECRET_KEY, the storage keys) and write Quay's storage. Left free,
# UID 1001 goes to the next login user `adduser` creates on a fresh VM.
# Refuses (and changes nothing) when any other account already holds the UID, or our account has another
# UID. Idempotent: an existing account of ours is only locked down again (nologin, locked password).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly container_uid=@@CONTAINER_UID@@
readonly container_user=@@CONTAINER_USER@@
# --- end of values ---

readonly nologin=/usr/sbin/nologin
field() { cut -d: -f"$2" <<<"$1"; }

by_uid=$(getent passwd "$container_uid" || true)
by_name=$(getent passwd "$container_user" || true)

if [ -n "$by_uid" ] && [ "$(field "$by_uid" 1)" != "$container_user" ]; then
  holder=$(field "$by_uid" 1)
  echo "UID $container_uid belongs to the account $holder (shell $(field "$by_uid" 7)). Quay's container runs as UID $container_uid without a user namespace, so $holder could read config.yaml (database and Redis passwords, SECRET_KEY, DATABASE_SECRET_KEY, storage keys) and write Quay's storage — fix: give $holder another UID (usermod -u <new uid> $holder, then chown -R --from=$container_uid <new uid> its files: find / -xdev -uid $container_uid), or remove the account; then run again. QuayHost reserves UID $container_uid for the no-login account $container_user." >&2
  exit 1
fi
if [ -n "$by_name" ] && [ "$(field "$by_name" 3)" != "$container_uid" ]; then
  echo "the account $container_user exists with UID $(field "$by_name" 3), not $container_uid — fix: remove it (userdel $container_user) or give it UID $container_uid (usermod -u $container_uid $container_user), then run again" >&2
  exit 1
fi

if [ -z "$by_uid" ]; then
  useradd --system --uid "$container_uid" --no-create-home --home-dir /nonexistent --shell "$nologin" \
    --comment "Quay container (quay-mirror); no login" "$container_user"
  echo "UID $container_uid reserved for Quay's container ($container_user, no login)"
else
  if [ "$(field "$by_uid" 7)" != "$nologin" ]; then
    usermod --shell "$nologin" --lock "$container_user"
    echo "$container_user had the shell $(field "$by_uid" 7); set back to $nologin and locked"
  fi
  echo "UID $container_uid reserved for Quay's container ($container_user, no login)"
fi
