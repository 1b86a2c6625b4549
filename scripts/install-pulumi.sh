#!/usr/bin/env bash
# Builds the Pulumi toolchain from Go modules (the ordinary `go` client and the module proxy, nothing else)
# and installs it outside the repository, into $QUAY_MIRROR_CACHE/pulumi-$PULUMI_VERSION/bin:
#   pulumi                          the CLI, github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
#   pulumi-language-nodejs          the Node.js language host: of this release if the proxy serves its module,
#                                   else the one of sdk/v3@v3.68.0 (the last release that has it; section 2)
#   pulumi-resource-pulumi-nodejs   the sh script that starts dynamic providers, from the sdk module zip
#   pulumi-resource-command         the command plugin (only if the proxy serves its module)
# then installs the resource plugins into $PULUMI_HOME so the engine never downloads anything.
# Pieces the proxy does not serve are skipped with a message; docs/toolchain.md has the evidence.
# Idempotent: each piece already built at the pinned version is skipped. Versions: scripts/versions.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
# shellcheck source=scripts/lib-parallel.sh
source "$here/lib-parallel.sh"

prefix="$QUAY_MIRROR_CACHE/pulumi-$PULUMI_VERSION"
bin="$prefix/bin"
work="$QUAY_MIRROR_CACHE/build/pulumi-$PULUMI_VERSION"
mkdir -p "$bin" "$work"
export CGO_ENABLED=0
started=$SECONDS

log() { printf '[install-pulumi +%ss] %s\n' "$((SECONDS - started))" "$*" >&2; }
skip() { log "SKIPPED: $*"; skipped+=("$1"); }
skipped=()

command -v go >/dev/null || { echo "install-pulumi: the go toolchain is required" >&2; exit 1; }
log "Pulumi v$PULUMI_VERSION toolchain into $bin ($(go version | cut -d' ' -f3), GOMODCACHE=$(go env GOMODCACHE))"

# Prints the module's directory in the module cache, downloading it if needed. Fails like `go` does.
module_dir() {
  local json
  json="$(cd "$work" && go mod download -json "$1")" || { printf '%s\n' "$json" >&2; return 1; }
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json"
}

# Prints the commit a tagged module version was made from (its Origin hash), or nothing.
origin_hash() {
  (cd "$work" && go mod download -json "$1" 2>/dev/null) | sed -n 's/^[[:space:]]*"Hash": "\([0-9a-f]*\)",*$/\1/p' | head -n1 || true
}

# Writes a throw-away wrapper module in $1 that requires the given modules (path@version), with the replace
# directives of pulumi/pulumi's own go.mod files that a dependency's go.mod cannot pass on.
wrapper() {
  local dir="$1"; shift
  mkdir -p "$dir"
  rm -f "$dir/go.mod" "$dir/go.sum"
  (cd "$dir" && go mod init local/quay-mirror-pulumi-build >/dev/null 2>&1)
  local args=(-replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
              -replace golang.org/x/text=golang.org/x/text@v0.39.0)
  local m
  for m in "$@"; do args+=(-require "$m"); done
  (cd "$dir" && go mod edit "${args[@]}")
}

# Writes tools.go importing the given main packages, resolves the graph and builds each into $bin.
build_mains() {
  local dir="$1" ldflags="$2"; shift 2
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    printf '\t_ "%s"\n' "$@"
    printf ')\n'
  } >"$dir/tools.go"
  log "resolving dependencies in $dir (go mod tidy)"
  (cd "$dir" && go mod tidy)
  local pkg
  for pkg in "$@"; do
    log "building ${pkg##*/} (go build -trimpath, CGO_ENABLED=0; minutes on two cores)"
    (cd "$dir" && go build -trimpath -tags "$go_tags" -ldflags "$ldflags" -o "$bin/${pkg##*/}.new" "$pkg")
    mv -f "$bin/${pkg##*/}.new" "$bin/${pkg##*/}"
  done
}

# One set of build tags for every Go build of the toolchain, so `go build` reuses the packages (the Pulumi
# SDK, gRPC, protobuf) that an earlier build compiled at the same versions (GOCACHE).
go_tags=osusergo,grpcnotrace
pulumi_ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
cli_pkg=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
host_mod=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3

# 1. The CLI.
build_cli() {
  if [ "$("$bin/pulumi" version 2>/dev/null || true)" = "v$PULUMI_VERSION" ]; then
    log "pulumi v$PULUMI_VERSION already built"
  else
    wrapper "$work/cli" "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
    build_mains "$work/cli" "$pulumi_ldflags" "$cli_pkg"
  fi
}

# 2. The Node.js language host.
# The host of this release lives in its own module (sdk/nodejs/cmd/pulumi-language-nodejs/v3), which has no
# tags and which the proxy refuses (403) at every commit tried. The script still probes for it at the
# release commit and builds it if that changes. Otherwise it builds the host from the module that IS
# served: github.com/pulumi/pulumi/sdk/v3@v3.68.0, the LAST release in which the host is an ordinary
# package of the sdk module (sdk/v3/nodejs/cmd/pulumi-language-nodejs; v3.69.0 moved it out). That host
# talks the same LanguageRuntime gRPC service. Verified with CLI v3.259.0 and @pulumi/pulumi 3.260.0
# (docs/toolchain.md): stack init, preview, up, no-op up, refresh, destroy of a program with a dynamic
# resource, `main: <file>.js` with `runtime.options.typescript: false`. The CLI falls back from
# GetRequiredPackages to GetRequiredPlugins, and SDK 3.260's @pulumi/pulumi/cmd/run accepts the old
# host's arguments. Limits: its monitor proxy forwards only the RPCs of 2023 (no transforms, resource
# hooks, parameterized packages); it ignores `runtime.options` (the new CLI passes none as flags).
# It builds with Go 1.26 from the module graph of sdk/v3@v3.68.0 as it is: nothing pinned or replaced.
legacy_host_sdk=v3.68.0
legacy_host_pkg=github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
host_stamp="$bin/.pulumi-language-nodejs.version"
host_built="$(cat "$host_stamp" 2>/dev/null || true)"
build_host() {
  if [ -x "$bin/pulumi-language-nodejs" ] && { [ "$host_built" = "v$PULUMI_VERSION" ] || [ "$host_built" = "sdk/v3@$legacy_host_sdk" ]; }; then
    log "pulumi-language-nodejs already built ($host_built)"
  else
    commit="$(origin_hash "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION")"
    log "looking for $host_mod at the v$PULUMI_VERSION commit ${commit:-<unknown>}"
    if [ -n "$commit" ] && host_err="$(cd "$work" && go mod download -json "$host_mod@$commit" 2>&1)"; then
      wrapper "$work/host" "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
        "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" "$host_mod@$commit"
      build_mains "$work/host" "$pulumi_ldflags" "$host_mod"
      echo "v$PULUMI_VERSION" >"$host_stamp"
    else
      printf '%s\n' "${host_err:-no commit for v$PULUMI_VERSION}" | grep -m1 -E 'Error|403|404|invalid|no commit' >&2 || true
      log "$host_mod is not to be had (403); building the host of sdk/v3@$legacy_host_sdk instead"
      # A wrapper module of its own, without the CLI's replace directives: the old host's graph as it is.
      host_dir="$work/host-sdk-$legacy_host_sdk"
      mkdir -p "$host_dir"
      rm -f "$host_dir/go.mod" "$host_dir/go.sum"
      (cd "$host_dir" && go mod init local/quay-mirror-langhost-build >/dev/null 2>&1 &&
        go mod edit -require "github.com/pulumi/pulumi/sdk/v3@$legacy_host_sdk")
      build_mains "$host_dir" \
        "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$legacy_host_sdk" "$legacy_host_pkg"
      echo "sdk/v3@$legacy_host_sdk" >"$host_stamp"
    fi
  fi
}

# 4. The command resource plugin, at the v$PULUMI_COMMAND_VERSION release commit (the provider module has no tags),
# or 4b: quay-mirror's own command plugin (plugins/command), the `remote` resources of pulumi-command's
# contract, when the real one cannot be had. The own plugin is rebuilt only when its sources change (a hash
# stamp) and installed into $PULUMI_HOME as `command` $PULUMI_COMMAND_VERSION once the CLI is there (step 6;
# docs/toolchain.md, "Our own command plugin").
command_mod=github.com/pulumi/pulumi-command/provider
command_stamp="$bin/.pulumi-resource-command.version"
own_stamp="$bin/.pulumi-resource-command.own"
build_command_plugin() {
  if [ -x "$bin/pulumi-resource-command" ] && [ "$(cat "$command_stamp" 2>/dev/null)" = "v$PULUMI_COMMAND_VERSION" ]; then
    log "pulumi-resource-command v$PULUMI_COMMAND_VERSION already built"
    return 0
  fi
  if command_err="$(cd "$work" && go mod download -json "$command_mod@$PULUMI_COMMAND_COMMIT" 2>&1)"; then
    log "building pulumi-resource-command v$PULUMI_COMMAND_VERSION ($command_mod@$PULUMI_COMMAND_COMMIT)"
    (cd "$work" && GOBIN="$work/gobin" go install -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=v$PULUMI_COMMAND_VERSION" \
      "$command_mod/cmd/pulumi-resource-command@$PULUMI_COMMAND_COMMIT")
    mv -f "$work/gobin/pulumi-resource-command" "$bin/pulumi-resource-command"
    echo "v$PULUMI_COMMAND_VERSION" >"$command_stamp"
    return 0
  fi
  printf '%s\n' "$command_err" | grep -m1 -E 'Error|403|404|invalid' >&2 || true
  log "$command_mod@$PULUMI_COMMAND_COMMIT is not to be had (the proxy answers 403; docs/toolchain.md): using plugins/command"
  local src="$here/../plugins/command" hash
  hash="$(own_command_plugin_hash)"
  if [ -x "$bin/pulumi-resource-command" ] && [ "$(cat "$own_stamp" 2>/dev/null)" = "$hash" ]; then
    log "own pulumi-resource-command $PULUMI_COMMAND_VERSION (plugins/command) already built"
  else
    log "building own pulumi-resource-command $PULUMI_COMMAND_VERSION from plugins/command"
    (cd "$src" && go build -trimpath -buildvcs=false -tags "$go_tags" -ldflags "-s -w -X main.Version=$PULUMI_COMMAND_VERSION" -o "$bin/pulumi-resource-command.new" .)
    mv -f "$bin/pulumi-resource-command.new" "$bin/pulumi-resource-command"
    rm -f "$own_stamp" # installed into $PULUMI_HOME (and stamped) in step 6
  fi
}
own_command_plugin_hash() {
  (cd "$here/../plugins/command" && { echo "v$PULUMI_COMMAND_VERSION"; find . -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) \
    | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -d' ' -f1)
}

# Two lines of builds side by side, so both cores stay busy while one links or downloads: the CLI, then the
# command plugin (it shares the CLI's module versions: plugins/command/go.mod is aligned with them, so its
# Pulumi SDK, gRPC and protobuf packages come from the build cache — built concurrently they would be compiled
# twice); and the language host of sdk/v3@v3.68.0, whose 2023 module graph shares nothing with them.
if [ "$QM_PULUMI_DIR" != "$bin" ]; then
  # A stock Pulumi install on PATH (scripts/env.sh): it brings the CLI, the language host and the launcher;
  # only the command plugin is ours to provide.
  log "using the Pulumi install at $QM_PULUMI_DIR ($("$QM_PULUMI_DIR/pulumi" version)); building only the command plugin"
  bin_cli="$QM_PULUMI_DIR/pulumi"
  build_command_plugin
else
  bin_cli="$bin/pulumi"
  # (a plain sequence, not `&&`: errexit stays on inside the functions)
  cli_then_command_plugin() {
    build_cli
    build_command_plugin
  }
  qm_job cli-then-command-plugin cli_then_command_plugin
  # the CLI is the longest build: the host yields the cores to it and fills its idle moments
  qm_job --low language-host build_host
  qm_wait_jobs
fi
log "$("$bin_cli" version) at $bin_cli"

# 3. The dynamic provider launcher: a small sh script shipped in the sdk module (nodejs/dist).
install_launcher() {
  sdk_dir="$(module_dir "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION")"
  launcher="$sdk_dir/nodejs/dist/pulumi-resource-pulumi-nodejs"
  if cmp -s "$launcher" "$bin/pulumi-resource-pulumi-nodejs"; then
    log "pulumi-resource-pulumi-nodejs already installed"
  else
    install -m 0755 "$launcher" "$bin/pulumi-resource-pulumi-nodejs"
    log "installed pulumi-resource-pulumi-nodejs from $launcher"
  fi
}

[ "$QM_PULUMI_DIR" != "$bin" ] || install_launcher

# 5. The random resource plugin: its provider module (github.com/pulumi/pulumi-random/provider/v4) is not
# served by the module proxy at any release commit, and it also needs a nested shim module and a generated
# schema that no registry package carries (docs/toolchain.md).
skip "pulumi-resource-random: v$PULUMI_RANDOM_VERSION is not buildable from registry packages"

# 6. Resource plugins into $PULUMI_HOME, at exactly the versions the npm packages ask for.
install_plugin() {
  local name="$1" version="$2" file="$bin/pulumi-resource-$1"
  [ -x "$file" ] || return 0
  if "$bin_cli" plugin ls 2>/dev/null | awk -v n="$name" -v v="$version" '$1 == n && $2 == "resource" && $3 == v { f = 1 } END { exit !f }'; then
    log "plugin resource $name $version already in $PULUMI_HOME"
  else
    log "pulumi plugin install resource $name $version --file $file"
    "$bin_cli" plugin install resource "$name" "$version" --file "$file" --reinstall
  fi
}
if [ "$(cat "$command_stamp" 2>/dev/null)" != "v$PULUMI_COMMAND_VERSION" ] && [ ! -f "$own_stamp" ]; then
  # the own plugin was just (re)built: replace whatever $PULUMI_HOME holds under the same version
  "$bin_cli" plugin install resource command "$PULUMI_COMMAND_VERSION" --file "$bin/pulumi-resource-command" --reinstall
  own_command_plugin_hash >"$own_stamp"
fi
install_plugin command "$PULUMI_COMMAND_VERSION"

log "done in $((SECONDS - started))s; $bin holds: $(find "$bin" -maxdepth 1 -type f ! -name '.*' -printf '%f ')"
if [ "${#skipped[@]}" -gt 0 ]; then
  log "not installed (${#skipped[@]}): ${skipped[*]%%:*}"
fi
