#!/usr/bin/env bash
# Everything a README command needs besides Node and the npm packages, with independent builds side by side
# (scripts/lib-parallel.sh): the two cores stay busy while one build links or waits on a download.
#
#   bash scripts/install-toolchain.sh preview   the Pulumi toolchain (install-pulumi.sh), the policy pack's
#                                               language host shim, MinIO's client mc (what the preview needs)
#   bash scripts/install-toolchain.sh test      the same, plus MinIO's server and actionlint (for the tests)
#
# Idempotent and cached in $QUAY_MIRROR_CACHE (each piece is skipped when already built at its pin).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
# shellcheck source=scripts/lib-parallel.sh
source "$here/lib-parallel.sh"

case "${1:-}" in
  preview) tools=(mc) ;;
  test) tools=(minio mc actionlint) ;;
  *) echo "usage: $0 preview|test" >&2; exit 2 ;;
esac

started=$SECONDS
qm_job pulumi bash "$here/install-pulumi.sh"
qm_job shim-build bash "$here/install-policy-shim.sh" --build-only
qm_job tools bash -c '"$@" >/dev/null' _ bash "$here/install-tools.sh" "${tools[@]}"
qm_wait_jobs
# Puts the shim in front of the language host install-pulumi.sh built (the shim is already built).
bash "$here/install-policy-shim.sh"
printf '[install-toolchain] %s toolchain ready in %ss\n' "$1" "$((SECONDS - started))" >&2
