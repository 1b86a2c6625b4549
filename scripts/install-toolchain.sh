#!/usr/bin/env bash
# Everything a README command needs besides Node and the npm packages, with independent builds side by side
# (scripts/lib-parallel.sh): the two cores stay busy while one build links or waits on a download.
#
#   bash scripts/install-toolchain.sh preview   the Pulumi toolchain (install-pulumi.sh), the policy pack's
#                                               language host shim, MinIO's client mc (what the preview needs)
#   bash scripts/install-toolchain.sh test      the same, plus MinIO's server and actionlint (for the tests)
#
# A stock Pulumi install on PATH (at least the pinned version, with its language host) is used instead of
# building the CLI, except by the tests (scripts/env.sh, QM_PULUMI). Idempotent and cached in $QUAY_MIRROR_CACHE (each piece is skipped when already built at its pin).
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
# With a stock Pulumi on PATH (scripts/env.sh) only the command plugin is built, and no shim is needed: a
# current language host runs policy packs itself.
built_pulumi=no
[ "$QM_PULUMI_DIR" != "$QUAY_MIRROR_CACHE/pulumi-$PULUMI_VERSION/bin" ] || built_pulumi=yes
# The shim is built after the CLI: it shares the CLI's module versions (policy/langhost-shim/go.mod is aligned
# with them), so it comes almost whole from the build cache.
pulumi_then_shim() {
  bash "$here/install-pulumi.sh"
  if [ "$built_pulumi" = yes ]; then bash "$here/install-policy-shim.sh" --build-only; fi
}
qm_job pulumi pulumi_then_shim
# off the critical path (the CLI's build): a lower priority, so the CLI gets the cores first
qm_job --low tools bash -c '"$@" >/dev/null' _ bash "$here/install-tools.sh" "${tools[@]}"
qm_wait_jobs
# Puts the shim in front of the language host install-pulumi.sh built (the shim is already built).
[ "$built_pulumi" = no ] || bash "$here/install-policy-shim.sh"
printf '[install-toolchain] %s toolchain ready in %ss\n' "$1" "$((SECONDS - started))" >&2
