#!/usr/bin/env bash
# quay-mirror QuayHost steps `firewall` (before Quay first starts) and `expose` (after the first superuser
# exists). UFW with default deny incoming and exactly these rules: SSH from anywhere, and Quay's 8080 from
# the proxy — the latter only once Quay's first superuser exists. Until then /api/v1/user/initialize (no
# authentication, first caller wins) is reachable from this host only.
#   open=false (firewall step): admits the proxy only if the marker says initialize succeeded before
#     (a re-run on an initialized host keeps 8080 open; a host where initialize never succeeded stays closed).
#   open=true (expose step, after initialize): records the marker and admits the proxy.
# Missing rules are added before extra ones are deleted, so SSH stays allowed throughout. Idempotent: a re-run
# with the right rules changes nothing.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly ssh_port=@@SSH_PORT@@
readonly quay_port=@@QUAY_PORT@@
readonly proxy_address=@@PROXY_ADDRESS@@
readonly marker=@@MARKER@@
readonly open=@@OPEN@@
# --- end of values ---

proxy_rule="ufw allow from ${proxy_address} to any port ${quay_port} proto tcp"
desired=("ufw allow ${ssh_port}/tcp")
if [ "$open" = true ]; then
  install -d -m 0755 "$(dirname "$marker")"
  printf '%s\n' "initialize succeeded; the proxy may reach port $quay_port" >"$marker.tmp"
  mv -f "$marker.tmp" "$marker"
  desired+=("$proxy_rule")
  echo "Quay's first superuser exists: admitting $proxy_address to port $quay_port"
elif [ -f "$marker" ]; then
  desired+=("$proxy_rule")
  echo "Quay's first superuser exists ($marker): $proxy_address may reach port $quay_port"
else
  echo "Quay's first superuser does not exist yet: port $quay_port stays closed to everyone but this host until the expose step (after initialize)"
fi

# @include templates-lib/ufw-converge.sh
