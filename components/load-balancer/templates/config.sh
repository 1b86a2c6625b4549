#!/usr/bin/env bash
# quay-mirror LoadBalancer step `config`: haproxy.cfg, checked with `haproxy -c` before it replaces the live
# one (a config HAProxy refuses never becomes live), then a seamless reload: Debian's unit runs HAProxy in
# master-worker mode and `systemctl reload` re-checks the file and signals the master (USR2): new workers take
# the listening sockets over, old ones finish their connections. Then :443 must answer TLS. The step re-runs
# when the config or the certificate (`tls_fingerprint`) changes. Idempotent. Runs as root (sudo -n).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly config_path=@@CONFIG_PATH@@
readonly config=@@CONFIG@@
readonly registry_hostname=@@REGISTRY_HOSTNAME@@
readonly https_port=@@HTTPS_PORT@@
readonly tls_fingerprint=@@TLS_FINGERPRINT@@
# --- end of values ---

candidate=$(mktemp "${config_path}.XXXXXX")
trap 'rm -f "$candidate"' EXIT
printf '%s' "$config" >"$candidate"
chmod 0644 "$candidate"
if ! check=$(haproxy -c -f "$candidate" 2>&1); then
  echo "haproxy -c refused the new configuration; the live one is unchanged:" >&2
  printf '%s\n' "$check" >&2
  exit 1
fi
if [ -f "$config_path" ] && cmp -s "$candidate" "$config_path"; then
  echo "haproxy.cfg unchanged"
else
  mv -f "$candidate" "$config_path"
  echo "haproxy.cfg replaced (checked with haproxy -c)"
fi

systemctl enable haproxy >/dev/null 2>&1 || true
if systemctl is-active --quiet haproxy; then
  systemctl reload haproxy
  echo "haproxy reloaded (certificate $tls_fingerprint)"
else
  systemctl start haproxy
  echo "haproxy started (certificate $tls_fingerprint)"
fi

# :443 answers TLS with the new configuration (any HTTP status: the Quay nodes may not be up yet).
code=000
for _ in $(seq 1 30); do
  code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 --resolve "${registry_hostname}:${https_port}:127.0.0.1" "https://${registry_hostname}:${https_port}/health/instance" || true)
  [ "$code" != 000 ] && break
  sleep 1
done
if [ "$code" = 000 ]; then
  echo "haproxy does not answer TLS on :$https_port" >&2
  systemctl status haproxy --no-pager >&2 || true
  exit 1
fi
echo "https://${registry_hostname}:${https_port}/health/instance answers $code through haproxy"
