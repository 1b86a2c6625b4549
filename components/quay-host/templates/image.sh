#!/usr/bin/env bash
# quay-mirror QuayHost step 6: make the Quay image available under the local tag the unit runs —
# pulled from a registry, or loaded from an archive CopyToRemote uploaded (air-gapped hosts).
# An archive is loaded only when it is a regular file whose sha256 is the local archive's (the value below).
# Idempotent: nothing happens when the local tag exists. The uploaded archive is removed once loaded
# (CopyToRemote has no delete).
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly mode=@@MODE@@
readonly source_ref=@@SOURCE@@
readonly local_ref=@@LOCAL_REF@@
readonly expected_sha256=@@SHA256@@
# --- end of values ---

if podman image exists "$local_ref"; then
  echo "image $local_ref present ($(podman image inspect --format '{{.Id}}' "$local_ref" | cut -c1-19))"
  if [ "$mode" = archive ] && [ -f "$source_ref" ]; then rm -f -- "$source_ref"; fi
  exit 0
fi

case "$mode" in
  pull)
    for attempt in 1 2 3; do
      if podman pull -q -- "$source_ref" >/dev/null; then break; fi
      if [ "$attempt" = 3 ]; then
        echo "podman pull $source_ref failed 3 times" >&2
        exit 1
      fi
      echo "podman pull failed (attempt $attempt); retrying in 10s" >&2
      sleep 10
    done
    podman tag "$source_ref" "$local_ref"
    ;;
  archive)
    if [ ! -f "$source_ref" ]; then
      echo "image archive $source_ref is not on the host and $local_ref does not exist: the upload was removed by an earlier run. Re-upload it: pulumi up --replace <urn of the ...-image-archive CopyToRemote>" >&2
      exit 1
    fi
    if [ -L "$source_ref" ] || [ ! -f "$source_ref" ]; then
      echo "image archive $source_ref is not a regular file; refusing to load it — fix: remove it and re-upload: pulumi up --replace <urn of the ...-image-archive CopyToRemote>" >&2
      exit 1
    fi
    actual=$(sha256sum -- "$source_ref" | cut -d' ' -f1)
    if [ "$actual" != "$expected_sha256" ]; then
      echo "image archive $source_ref has sha256 ${actual:0:12}…, expected ${expected_sha256:0:12}…; refusing to load it — fix: re-upload it: pulumi up --replace <urn of the ...-image-archive CopyToRemote>" >&2
      exit 1
    fi
    echo "image archive sha256 ${actual:0:12}… matches the local archive"
    # podman prints "Loaded image: <name or id>" (older releases: "Loaded image(s): a,b")
    loaded=$(podman load -i "$source_ref" | sed -n -E 's/^Loaded image(\(s\))?: //p' | head -n1 | cut -d, -f1)
    if [ -z "$loaded" ]; then
      echo "podman load of $source_ref reported no image" >&2
      exit 1
    fi
    podman tag "$loaded" "$local_ref"
    rm -f -- "$source_ref"
    echo "loaded $loaded"
    ;;
  *)
    echo "unknown image mode $mode" >&2
    exit 1
    ;;
esac
echo "image $local_ref ready ($(podman image inspect --format '{{.Id}}' "$local_ref" | cut -c1-19))"
