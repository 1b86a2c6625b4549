# shellcheck shell=bash
# Source this file to get the project's toolchain on PATH and an engine that never reaches the internet:
#   source scripts/env.sh
# It does not install anything: scripts/ensure-node.sh, scripts/install-pulumi.sh and scripts/install-tools.sh do.
_qm_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/versions.sh
source "$_qm_here/versions.sh"
_qm_node_dir="$("$_qm_here/ensure-node.sh")"

# Prints the directory of a stock Pulumi install on PATH that can run this project: a `pulumi` at least the
# pinned version, with its Node.js language host and dynamic-provider launcher beside it.
_qm_system_pulumi_dir() {
  local cli dir version
  cli="$(command -v pulumi 2>/dev/null)" || return 1
  dir="$(dirname "$cli")"
  [ "$dir" != "$QUAY_MIRROR_CACHE/pulumi-$PULUMI_VERSION/bin" ] || return 1
  [ -x "$dir/pulumi-language-nodejs" ] && [ -x "$dir/pulumi-resource-pulumi-nodejs" ] || return 1
  version="$(PULUMI_SKIP_UPDATE_CHECK=true "$cli" version 2>/dev/null)" || return 1
  version="${version#v}"
  [ "$(printf '%s\n%s\n' "$PULUMI_VERSION" "$version" | sort -V | head -n1)" = "$PULUMI_VERSION" ] || return 1
  printf '%s\n' "$dir"
}

# Which Pulumi: the one scripts/install-pulumi.sh builds from Go modules into the cache (always for the tests:
# scripts/test.sh sets QM_PULUMI=build), or, while that is not built and QM_PULUMI is not "build", a stock
# install already on PATH (_qm_system_pulumi_dir): a user with Pulumi installed does not build the CLI.
QM_PULUMI_DIR="$QUAY_MIRROR_CACHE/pulumi-$PULUMI_VERSION/bin"
if [ "${QM_PULUMI:-auto}" != build ] && [ ! -x "$QM_PULUMI_DIR/pulumi" ] && _qm_system="$(_qm_system_pulumi_dir)"; then
  QM_PULUMI_DIR="$_qm_system"
fi
export QM_PULUMI_DIR
export PATH="$QM_PULUMI_DIR:$QUAY_MIRROR_CACHE/tools/bin:$_qm_node_dir:$PATH"
export PULUMI_HOME="${PULUMI_HOME:-$QUAY_MIRROR_CACHE/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK="${PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK:-false}"
unset _qm_here _qm_node_dir _qm_system
unset -f _qm_system_pulumi_dir
