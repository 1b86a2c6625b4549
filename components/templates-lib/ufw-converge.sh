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
