#!/usr/bin/env bash
# quay-mirror LoadBalancer step `packages`: HAProxy and UFW from the distribution's packages.
# Idempotent: apt runs only when a package is missing. Runs as root (sudo -n).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly packages=(@@PACKAGES@@)
# --- end of values ---

export DEBIAN_FRONTEND=noninteractive
# @include templates-lib/apt-ensure-packages.sh
# The first line only, without a pipe into head: under pipefail, head exiting first fails the step (SIGPIPE, 141).
version=$(haproxy -v)
echo "${version%%$'\n'*}"
