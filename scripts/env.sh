# shellcheck shell=bash
# Source this file to get the project's toolchain on PATH and an engine that never reaches the internet:
#   source scripts/env.sh
# It does not install anything: scripts/ensure-node.sh, scripts/install-pulumi.sh and scripts/install-tools.sh do.
_qm_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/versions.sh
source "$_qm_here/versions.sh"
_qm_node_dir="$("$_qm_here/ensure-node.sh")"
export PATH="$QUAY_MIRROR_CACHE/pulumi-$PULUMI_VERSION/bin:$QUAY_MIRROR_CACHE/tools/bin:$_qm_node_dir:$PATH"
export PULUMI_HOME="${PULUMI_HOME:-$QUAY_MIRROR_CACHE/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK="${PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK:-false}"
unset _qm_here _qm_node_dir
