#!/usr/bin/env bash
# quay-mirror LoadBalancer step `tls`: the registry's certificate chain and private key, one PEM on stdin
# (never on the command line, never printed), written for HAProxy: root-only directory (0700), file 0600,
# replaced atomically and only when it differs. `fingerprint` (a hash of the PEM) makes a new certificate
# re-run this step. Runs as root (sudo -n).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly cert_dir=@@CERT_DIR@@
readonly cert_path=@@CERT_PATH@@
readonly fingerprint=@@FINGERPRINT@@
# --- end of values ---

umask 077
install -d -m 0700 -o root -g root "$cert_dir"
tmp=$(mktemp "${cert_path}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat >"$tmp"
if ! grep -q -- '-----BEGIN CERTIFICATE-----' "$tmp" || ! grep -Eq -- '-----BEGIN ([A-Z]+ )?PRIVATE KEY-----' "$tmp"; then
  echo "the PEM on stdin must hold the certificate chain and the private key" >&2
  exit 1
fi
chmod 0600 "$tmp"
chown root:root "$tmp"
if [ -f "$cert_path" ] && cmp -s "$tmp" "$cert_path"; then
  echo "certificate unchanged ($fingerprint)"
else
  mv -f "$tmp" "$cert_path"
  echo "certificate written to $cert_path ($fingerprint)"
fi
stat -c '%a %U:%G %n' "$cert_path"
