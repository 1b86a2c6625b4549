#!/usr/bin/env bash
# quay-mirror LoadBalancer step `firewall`: UFW with default deny incoming and exactly these rules: SSH and
# HTTPS (the registry) from anywhere. Missing rules are added before extra ones are deleted, so SSH stays
# allowed throughout. Idempotent: a re-run with the right rules changes nothing. Runs as root (sudo -n).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly ssh_port=@@SSH_PORT@@
readonly https_port=@@HTTPS_PORT@@
# --- end of values ---

desired=("ufw allow ${ssh_port}/tcp" "ufw allow ${https_port}/tcp")

# @include templates-lib/ufw-converge.sh
