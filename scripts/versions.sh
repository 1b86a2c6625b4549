# shellcheck shell=bash
# shellcheck disable=SC2034 # sourced: the scripts that source this file read these variables
# One place for every pinned toolchain version. Sourced by the other scripts.
# Node: @pulumi/pulumi >= 3.249 requires Node >= 22; Node 20 is end-of-life.
NODE_VERSION="22.23.3"
NODE_MIN_MAJOR=22
# Pulumi engine built from Go modules. 3.259.0 is the newest pkg/v3 release whose module zip the proxy
# serves (3.260.0 has its .info and .mod but the zip answers 403: docs/toolchain.md). package.json pins the
# Node SDK @pulumi/pulumi to 3.260.0; the engine talks to it over gRPC and accepts any CLI >= 3.2.
PULUMI_VERSION="3.259.0"
# Resource plugins: exactly the versions the npm packages ask for (package.json "pulumi.version").
PULUMI_COMMAND_VERSION="1.2.1"
# Its provider module has no tags: the commit of the v1.2.1 release.
PULUMI_COMMAND_COMMIT="7f3eb6f3b77cd0fa3895ba437a695dd393f7dd25"
PULUMI_RANDOM_VERSION="4.21.2"
# Where toolchains are cached, outside the repository.
QUAY_MIRROR_CACHE="${QUAY_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quay-mirror}"
# Object storage and workflow tools, built from Go modules by scripts/install-tools.sh. MinIO and mc publish
# no semver tags the proxy resolves (their RELEASE.* tags are not module versions): these are the proxy's
# `@latest` pseudo-versions on 2026-11-22 (MinIO's last commit on 2026-02-12, mc's on 2025-03-13).
MINIO_MODULE_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
MC_MODULE_VERSION="v0.0.0-20250313080218-cf909e1063a9"
ACTIONLINT_VERSION="v1.7.12"
