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

current_rules() { ufw show added | tail -n +2 | grep -v '^(None)$' || true; }

# Default policies, set only when they differ (each `ufw default` reloads the firewall).
policy() { sed -n "s/^$1=\"\\(.*\\)\"$/\\1/p" /etc/default/ufw 2>/dev/null || true; }
if [ "$(policy DEFAULT_INPUT_POLICY)" != DROP ]; then ufw default deny incoming; fi
if [ "$(policy DEFAULT_OUTPUT_POLICY)" != ACCEPT ]; then ufw default allow outgoing; fi
if [ "$(policy DEFAULT_FORWARD_POLICY)" != DROP ]; then ufw default deny routed; fi

changed=0
mapfile -t have < <(current_rules)
for rule in "${desired[@]}"; do
  found=0
  for h in "${have[@]}"; do [ "$h" = "$rule" ] && found=1; done
  if [ "$found" = 0 ]; then
    read -ra words <<<"$rule"
    ufw "${words[@]:1}" >/dev/null
    echo "added: $rule"
    changed=1
  fi
done
for h in "${have[@]}"; do
  keep=0
  for rule in "${desired[@]}"; do [ "$h" = "$rule" ] && keep=1; done
  if [ "$keep" = 0 ]; then
    read -ra words <<<"$h"
    if ! ufw --force delete "${words[@]:1}" >/dev/null; then
      echo "could not delete the extra UFW rule '$h'; delete it by hand (ufw status numbered, then ufw delete <n>)" >&2
      exit 1
    fi
    echo "deleted: $h"
    changed=1
  fi
done

mapfile -t now < <(current_rules)
if [ "$(printf '%s\n' "${now[@]}" | sort)" != "$(printf '%s\n' "${desired[@]}" | sort)" ]; then
  echo "UFW rules after the update are not exactly the desired ones:" >&2
  printf '  %s\n' "${now[@]}" >&2
  echo "wanted:" >&2
  printf '  %s\n' "${desired[@]}" >&2
  exit 1
fi

if ufw status | grep -q '^Status: active'; then
  if [ "$changed" = 1 ]; then echo "UFW active; rules updated"; else echo "UFW active; rules unchanged"; fi
else
  ufw --force enable >/dev/null
  echo "UFW enabled"
fi
systemctl enable ufw >/dev/null 2>&1 || true
ufw status verbose
