#!/usr/bin/env bash
# quay-mirror LoadBalancer destroy hook: stop and disable HAProxy, and delete the certificate and key it
# served (the package, UFW and its rules stay). Idempotent. Runs as root (sudo -n).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly cert_dir=@@CERT_DIR@@
# --- end of values ---

if systemctl list-unit-files haproxy.service >/dev/null 2>&1; then
  systemctl disable --now haproxy >/dev/null 2>&1 || true
  echo "haproxy stopped and disabled"
fi
rm -rf -- "$cert_dir"
echo "removed $cert_dir"
