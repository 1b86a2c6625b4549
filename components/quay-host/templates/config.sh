#!/usr/bin/env bash
# quay-mirror QuayHost step 5: install /etc/quay/config/config.yaml, which arrives on stdin (it holds
# secrets: never an argument, never printed). Readable by root and by Quay's container user (UID 1001)
# only: mode 0600 root:root plus an ACL entry for UID 1001 (fallback where ACLs are unsupported: 0640
# root:root, the container's group being GID 0).
# Safe to re-run: the file is replaced atomically and only when its content changes. Refuses to replace a
# config whose DATABASE_SECRET_KEY differs (that would make Quay's encrypted data unreadable).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly config_dir=@@CONFIG_DIR@@
readonly storage_dir=@@STORAGE_DIR@@
readonly container_uid=@@CONTAINER_UID@@
readonly expected_sha256=@@CONFIG_SHA256@@
# --- end of values ---

umask 077
install -d -m 0755 -o root -g root "$(dirname "$config_dir")"
install -d -m 0750 -o root -g root "$config_dir"
install -d -m 0770 -o "$container_uid" -g 0 "$storage_dir"
target=$config_dir/config.yaml

tmp=$(mktemp "$config_dir/.config.yaml.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat >"$tmp"
actual=$(sha256sum "$tmp" | cut -d' ' -f1)
if [ "$actual" != "$expected_sha256" ]; then
  echo "config.yaml on stdin has sha256 ${actual:0:12}…, expected ${expected_sha256:0:12}…; refusing to install it" >&2
  exit 1
fi

key_line() { grep -m1 '^DATABASE_SECRET_KEY:' "$1" 2>/dev/null || true; }
if [ -f "$target" ]; then
  old_key=$(key_line "$target")
  new_key=$(key_line "$tmp")
  if [ -n "$old_key" ] && [ "$old_key" != "$new_key" ]; then
    echo "refusing to replace $target: its DATABASE_SECRET_KEY differs from this stack's. Quay encrypts robot tokens and other fields with it, so the existing data would become unreadable. This happens when the Pulumi state was lost or another stack owns this host. Restore the old key into the stack, or purge the host first (purgeOnDestroy: true, then pulumi destroy), or move $target away if its data is disposable." >&2
    exit 1
  fi
fi

# Permissions on the directory (the container lists /conf/stack) and on the file.
acl=0
if command -v setfacl >/dev/null 2>&1 && setfacl -m "u:${container_uid}:rx" "$config_dir" 2>/dev/null; then
  chmod 0750 "$config_dir"
  chown root:root "$tmp"
  chmod 0600 "$tmp"
  if setfacl -m "u:${container_uid}:r" "$tmp" 2>/dev/null; then acl=1; fi
fi
if [ "$acl" = 0 ]; then
  chown root:root "$config_dir" "$tmp"
  chmod 0750 "$config_dir"
  chmod 0640 "$tmp"
fi

if [ -f "$target" ] && [ "$(sha256sum "$target" | cut -d' ' -f1)" = "$expected_sha256" ]; then
  # Same content: keep the file, but make sure its permissions are the ones above.
  if [ "$acl" = 1 ]; then
    chown root:root "$target" && chmod 0600 "$target" && setfacl -m "u:${container_uid}:r" "$target"
  else
    chown root:root "$target" && chmod 0640 "$target"
  fi
  echo "config.yaml unchanged (sha256 ${expected_sha256:0:12}…)"
else
  mv -f "$tmp" "$target"
  echo "config.yaml installed (sha256 ${expected_sha256:0:12}…)"
fi
if [ "$acl" = 1 ]; then
  echo "readable by root and UID $container_uid (ACL)"
else
  echo "readable by root and GID 0 (no ACL support on this filesystem)"
fi
