# shellcheck shell=bash
# One place for every pinned toolchain version. Sourced by the other scripts.
# Node: @pulumi/pulumi >= 3.249 requires Node >= 22; Node 20 is end-of-life.
NODE_VERSION="22.23.3"
NODE_MIN_MAJOR=22
# Pulumi engine built from Go modules. 3.260.0 is the newest pkg/v3 release the module proxy serves;
# package.json pins @pulumi/pulumi to the same release.
PULUMI_VERSION="3.260.0"
# Resource plugins: exactly the versions the npm packages ask for (package.json "pulumi.version").
PULUMI_COMMAND_VERSION="1.2.1"
PULUMI_RANDOM_VERSION="4.21.2"
# Where toolchains are cached, outside the repository.
QUAY_MIRROR_CACHE="${QUAY_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quay-mirror}"
