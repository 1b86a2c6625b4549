#!/usr/bin/env bash
# quay-mirror QuayHost step: install the MinIO client (mc) that CopyToRemote uploaded, for the storage
# preflight and the backups (air-gapped hosts get it the way they get the image archive; Debian has no
# package for it). Installed root-owned and checked against the sha256 of the local binary.
# Idempotent: nothing happens when the installed binary already has that hash. The upload is removed once
# installed (CopyToRemote has no delete).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly upload=@@UPLOAD@@
readonly target=@@TARGET@@
readonly expected_sha256=@@SHA256@@
# --- end of values ---

umask 022
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
if [ -f "$target" ] && [ "$(sha_of "$target")" = "$expected_sha256" ]; then
  echo "mc present at $target (sha256 ${expected_sha256:0:12}…)"
  rm -f -- "$upload"
else
  if [ ! -f "$upload" ]; then
    echo "the mc upload $upload is not on the host and $target is missing or different: the upload was removed by an earlier run. Re-upload it: pulumi up --replace <urn of the ...-mc-binary CopyToRemote>" >&2
    exit 1
  fi
  if [ -L "$upload" ] || [ ! -f "$upload" ]; then
    echo "the mc upload $upload is not a regular file; refusing to install it — fix: remove it and re-upload: pulumi up --replace <urn of the ...-mc-binary CopyToRemote>" >&2
    exit 1
  fi
  actual=$(sha_of "$upload")
  if [ "$actual" != "$expected_sha256" ]; then
    echo "the uploaded mc has sha256 ${actual:0:12}…, expected ${expected_sha256:0:12}…; refusing to install it" >&2
    exit 1
  fi
  install -d -m 0755 -o root -g root "$(dirname "$target")"
  install -m 0755 -o root -g root "$upload" "$target.tmp"
  mv -f "$target.tmp" "$target"
  rm -f -- "$upload"
  echo "installed mc at $target (sha256 ${expected_sha256:0:12}…)"
fi
config_dir=$(mktemp -d)
trap 'rm -rf "$config_dir"' EXIT
if ! version=$(MC_CONFIG_DIR="$config_dir" "$target" --version 2>&1); then
  echo "$target does not run on this host: ${version:0:300}" >&2
  exit 1
fi
echo "${version%%$'\n'*}"
