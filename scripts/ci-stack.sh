#!/usr/bin/env bash
# The commands of the pull-request workflows (.github/workflows/pulumi-preview.yml and pulumi-up.yml), in one
# script that the workflows run and tests/ecosystem/shared-state.test.ts runs too, so the test proves them.
#
#   scripts/ci-stack.sh changed-stacks <base-commit> [<head-commit>]
#       Prints a JSON array of the stacks a change touches: a stack whose Pulumi.<stack>.yaml changed, or
#       every stack when the program changed (see program_paths). Without a usable base commit: every stack.
#   scripts/ci-stack.sh prepare <stack>
#       Toolchain (as scripts/preview-lab.sh installs it: npm packages, the Pulumi engine, `npx tsc`), then the
#       stack on the shared backend, and a project directory .pulumi-state/ci/<stack>/ (git-ignored) that runs
#       bin/index.js with the stack's settings. Prints that directory: pulumi/actions' `work-dir`.
#   scripts/ci-stack.sh preview <stack> [pulumi preview flags…]      e.g. --expect-no-changes, --json
#   scripts/ci-stack.sh up <stack> [pulumi up flags…]
#       prepare, then what pulumi/actions runs in that directory: `pulumi preview --diff`, or
#       `pulumi up --yes --skip-preview` (the Automation API's up, which the action uses, never previews),
#       both with --refresh (drift made by hand shows and is repaired) and the guardrails policy pack
#       (policy/, docs/policy.md).
#   scripts/ci-stack.sh start-agent <stack>
#       The gated up only: an ssh-agent at the stack's quay-mirror:host.connection.agentSocketPath (a directory
#       of this user, mode 0700), holding the key in $QM_SSH_PRIVATE_KEY (given to `ssh-add -` on stdin, never
#       on a command line or in a file). Previews start none: they never dial the host.
#   scripts/ci-stack.sh stop-agent <stack>
#       Kills the agent start-agent started (the workflow runs it even when the up fails).
#
# Environment:
#   PULUMI_BACKEND_URL      required: the shared state, e.g. Pulumi's S3 backend on the lab's MinIO
#                           (docs/pull-request-previews.md has the URL and why each parameter is there)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the state bucket's MinIO user (s3:// backends)
#   PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE   required: shared state gets no throwaway one
#   QUAY_TOKEN, QM_STORAGE_SECRET_KEY, QM_MINIO_ADMIN_SECRET_KEY, QM_BACKUP_PASSPHRASE
#                           the stack's secret config quay:token, quay-mirror:storageSecretKey,
#                           quay-mirror:minioAdminSecretKey, quay-mirror:backupPassphrase (optional); set into
#                           the generated settings on stdin
#   QM_SSH_PRIVATE_KEY      start-agent: the host's SSH key, for the agent. prepare: a stack without
#                           agentSocketPath takes it as quay-mirror:sshPrivateKey (the key then lands in the
#                           state; the workflows never do this: docs/pull-request-previews.md)
#   QM_STACK_CONFIG         the stack's settings file (default Pulumi.<stack>.yaml)
#   QM_CI_STACKS            the stacks CI manages, space-separated (default: every committed Pulumi.<stack>.yaml)
#   QM_CI_STATE_READ_ONLY   "true": the state key may only read (previews): a stack missing from the state is
#                           an error instead of being created
#   GITHUB_PATH, GITHUB_ENV, GITHUB_OUTPUT   in a workflow, prepare hands the toolchain, its environment and
#                           the outputs work-dir and pulumi-version to the next steps
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '2,39p' "$0" >&2; exit 2; }

# Paths whose change can change every stack's plan: the program, its inputs and its toolchain.
program_paths='^(Pulumi\.yaml|index\.ts|package\.json|package-lock\.json|tsconfig\.json|components/|providers/|config/|data/|plugins/|scripts/(ci-stack\.sh|lab-stack\.ts|env\.sh|versions\.sh|lib-stack\.sh|lib-npm\.sh|install-pulumi\.sh|ensure-node\.sh))'

# Environment variable → secret config key (the value goes to `pulumi config set --secret` on stdin).
secret_vars=(QUAY_TOKEN QM_SSH_PRIVATE_KEY QM_STORAGE_SECRET_KEY QM_MINIO_ADMIN_SECRET_KEY QM_BACKUP_PASSPHRASE)
secret_key() {
  case "$1" in
    QUAY_TOKEN) echo quay:token ;;
    QM_SSH_PRIVATE_KEY) echo quay-mirror:sshPrivateKey ;;
    QM_STORAGE_SECRET_KEY) echo quay-mirror:storageSecretKey ;;
    QM_MINIO_ADMIN_SECRET_KEY) echo quay-mirror:minioAdminSecretKey ;;
    QM_BACKUP_PASSPHRASE) echo quay-mirror:backupPassphrase ;;
  esac
}

note() { printf 'ci-stack: %s\n' "$*" >&2; }
die() { note "$*"; exit 1; }

valid_stack() { [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "not a stack name: \"$1\""; }

# The stacks CI manages: $QM_CI_STACKS, else every Pulumi.<stack>.yaml committed at <commit>.
candidate_stacks() {
  if [ -n "${QM_CI_STACKS:-}" ]; then
    tr -s ' \t\n' '\n' <<<"$QM_CI_STACKS" | sed '/^$/d'
  else
    git ls-tree --name-only "$1" | sed -n 's/^Pulumi\.\(.*\)\.yaml$/\1/p'
  fi
}

changed_stacks() {
  local base="${1:-}" head="${2:-HEAD}" all=no files stacks=() s
  git rev-parse --verify --quiet "$head^{commit}" >/dev/null || die "changed-stacks: $head is not a commit here"
  if [[ -z "$base" || "$base" =~ ^0+$ ]] || ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
    note "changed-stacks: no base commit (\"$base\"; a new branch or a shallow clone?): every stack"
    all=yes
  else
    files="$(git diff --name-only "$base" "$head")"
    if grep -Eq "$program_paths" <<<"$files"; then
      note "changed-stacks: the program changed ($(grep -E "$program_paths" <<<"$files" | head -n 3 | paste -sd ' ' -)…): every stack"
      all=yes
    fi
  fi
  while IFS= read -r s; do
    valid_stack "$s"
    if ! git cat-file -e "$head:Pulumi.$s.yaml" 2>/dev/null; then
      note "changed-stacks: $s has no Pulumi.$s.yaml at $head: skipped"
    elif [ "$all" = yes ] || grep -Fxq "Pulumi.$s.yaml" <<<"$files"; then
      stacks+=("$s")
    fi
  done < <(candidate_stacks "$head")
  # Stack names are checked above (letters, digits, . _ -): nothing to escape.
  local json=""
  for s in "${stacks[@]}"; do json+="${json:+,}\"$s\""; done
  printf '[%s]\n' "$json"
}

# The salt of the stack's passphrase secrets provider, as the state holds it (empty for a stack never
# updated): every checkout then encrypts with the same salt, and a wrong passphrase fails at once.
state_salt() {
  pulumi -C "$1" stack export --stack "$2" 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v="";try{const p=JSON.parse(s).deployment?.secrets_providers;if(p?.type==="passphrase")v=p.state?.salt??""}catch{}process.stdout.write(v)})'
}

prepare() {
  local stack="$1" work committed salt var key missing agent
  valid_stack "$stack"
  # shellcheck source=scripts/env.sh
  source scripts/env.sh
  # shellcheck source=scripts/lib-npm.sh
  source scripts/lib-npm.sh
  # shellcheck source=scripts/lib-stack.sh
  source scripts/lib-stack.sh

  [ -n "${PULUMI_BACKEND_URL:-}" ] || die "PULUMI_BACKEND_URL must name the shared state (docs/pull-request-previews.md)"
  [ -n "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] ||
    die "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) must be set: it encrypts the shared stack's secrets"
  committed="${QM_STACK_CONFIG:-Pulumi.$stack.yaml}"
  [ -f "$committed" ] || die "$committed not found: the stack's settings start from that file"

  # npm ci through a linked node_modules (tests link the repository's) would empty the link's target.
  if [ -L node_modules ] && ! qm_npm_current; then
    die "node_modules links to $(readlink node_modules), which does not match package-lock.json: install there, not through the link"
  fi
  qm_npm_install_if_changed >&2
  bash scripts/install-pulumi.sh >&2
  # The guardrails (policy/) need the language host shim; ObjectStorage and the host's tools need mc.
  bash scripts/install-policy-shim.sh >&2
  bash scripts/install-tools.sh >/dev/null
  npx tsc -p . >&2
  # pulumi/actions runs the program through the CLI, so the CLI must have the Node.js language host.
  QM_ENGINE_VIA="" qm_has_language_host || die "pulumi-language-nodejs is missing beside $(command -v pulumi): run scripts/install-pulumi.sh"

  # The project directory: Pulumi.yaml with `main` pointing back at the compiled program, which finds the
  # repository (model, mappings) from its own location and node_modules by walking up.
  work="$PWD/.pulumi-state/ci/$stack"
  rm -rf "$work"
  mkdir -p "$work"
  node -e '
    const fs = require("fs"), path = require("path"), YAML = require("yaml");
    const [work] = process.argv.slice(1);
    const project = YAML.parse(fs.readFileSync("Pulumi.yaml", "utf8"));
    project.main = path.relative(work, path.resolve(project.main ?? "."));
    fs.writeFileSync(path.join(work, "Pulumi.yaml"),
      "# GENERATED by scripts/ci-stack.sh from Pulumi.yaml (main points back at the compiled program)\n" + YAML.stringify(project));
  ' "$work"

  local err
  if ! err="$(pulumi -C "$work" stack ls --json 2>&1 >/dev/null)"; then
    printf '%s\n' "$err" >&2
    die "cannot read the state backend $(redacted_backend): check the URL, the network path to it and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
  fi
  if pulumi -C "$work" stack select "$stack" >/dev/null 2>&1; then
    note "stack $stack selected on $(redacted_backend)"
  elif [ "${QM_CI_STATE_READ_ONLY:-}" = true ]; then
    die "stack $stack is not in the shared state $(redacted_backend) yet, and this job's state key may only read (QM_CI_STATE_READ_ONLY): the gated up creates it after the merge (or an operator: pulumi stack init $stack --secrets-provider passphrase, with the state's read-write key)"
  else
    pulumi -C "$work" stack init "$stack" --secrets-provider passphrase >&2
    note "stack $stack created on $(redacted_backend)"
  fi
  salt="$(state_salt "$work" "$stack")"
  if [ -z "$salt" ] && [ -f "$work/Pulumi.$stack.yaml" ]; then
    salt="$(sed -n 's/^encryptionsalt: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$work/Pulumi.$stack.yaml")"
  fi

  # The stack's settings: the committed file, the state's salt, the secrets from the environment.
  rm -f "$work/Pulumi.$stack.yaml"
  node bin/scripts/lab-stack.js merge-config "$committed" "$work/Pulumi.$stack.yaml"
  if [ -n "$salt" ] && ! grep -q '^encryptionsalt:' "$work/Pulumi.$stack.yaml"; then
    printf 'encryptionsalt: "%s"\n' "$salt" >>"$work/Pulumi.$stack.yaml"
  fi
  agent="$(agent_socket "$committed")"
  for var in "${secret_vars[@]}"; do
    [ -n "${!var:-}" ] || continue
    if [ "$var" = QM_SSH_PRIVATE_KEY ] && [ -n "$agent" ] && [ "$agent" != - ]; then
      note "\$$var is not made a setting: the stack takes the SSH key from the agent at $agent (scripts/ci-stack.sh start-agent)"
      continue
    fi
    key="$(secret_key "$var")"
    pulumi -C "$work" config set --secret --stack "$stack" -- "$key" < <(printf '%s' "${!var}") ||
      die "could not set $key (from $var): is PULUMI_CONFIG_PASSPHRASE the stack's passphrase?"
    note "$key set from \$$var (encrypted)"
  done
  # What the mode needs: existing mode reads only quay:token (the host's secrets belong to full mode).
  mapfile -t missing < <(node bin/scripts/lab-stack.js missing-secrets "$work/Pulumi.$stack.yaml")
  if [ "$(pulumi -C "$work" config get quay-mirror:mode --stack "$stack" 2>/dev/null || echo full)" = existing ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | grep -v -e '^quay-mirror:' -e '^$' || true)
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    for key in "${missing[@]}"; do
      if [ "$key" = quay-mirror:sshPrivateKey ]; then
        note "the program needs $key: $committed sets no quay-mirror:host.connection.agentSocketPath. In CI, set it (e.g. /run/quay-mirror/ssh-agent.sock): the key then stays out of the program and the state, previews need none, and the gated up loads it into an agent (scripts/ci-stack.sh start-agent; docs/pull-request-previews.md)"
        continue
      fi
      for var in "${secret_vars[@]}"; do
        [ "$(secret_key "$var")" = "$key" ] && note "the program needs $key: set \$$var (a GitHub secret of the same name)"
      done
    done
    exit 1
  fi
  # The passphrase must open what is set (a wrong one fails here rather than halfway through the engine).
  pulumi -C "$work" config --stack "$stack" --show-secrets >/dev/null

  if [ -n "${GITHUB_PATH:-}" ]; then
    dirname "$(command -v pulumi)" >>"$GITHUB_PATH"
    dirname "$(command -v node)" >>"$GITHUB_PATH"
  fi
  if [ -n "${GITHUB_ENV:-}" ]; then
    for var in PULUMI_HOME PULUMI_SKIP_UPDATE_CHECK PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION \
      PULUMI_DISABLE_REGISTRY_RESOLVE PULUMI_DIY_BACKEND_NO_LEGACY_WARNING; do
      printf '%s=%s\n' "$var" "${!var}" >>"$GITHUB_ENV"
    done
  fi
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf 'work-dir=%s\npulumi-version=%s\npolicy-pack=%s\n' "$work" "$PULUMI_VERSION" "$PWD/policy" >>"$GITHUB_OUTPUT"
  fi
  PREPARED_WORK_DIR="$work"
}

# The stack's quay-mirror:host.connection.agentSocketPath in its committed settings, or nothing; "-" for a
# stack without a host (existing mode: nothing to dial).
agent_socket() {
  node -e '
    const fs = require("fs"), YAML = require("yaml");
    const host = (YAML.parse(fs.readFileSync(process.argv[1], "utf8")) ?? {}).config?.["quay-mirror:host"];
    const sock = host?.connection?.agentSocketPath;
    if (host === undefined) process.stdout.write("-");
    else if (typeof sock === "string") process.stdout.write(sock);
  ' "$1"
}

# The agent's socket for start-agent/stop-agent: checked, in a directory only this user can enter.
agent_paths() {
  local stack="$1" committed mode
  valid_stack "$stack"
  committed="${QM_STACK_CONFIG:-Pulumi.$stack.yaml}"
  [ -f "$committed" ] || die "$committed not found: the agent's socket is its quay-mirror:host.connection.agentSocketPath"
  AGENT_SOCK="$(agent_socket "$committed")"
  if [ "$AGENT_SOCK" = - ]; then
    note "$committed has no quay-mirror:host (existing mode): no host to dial, no agent"
    return 1
  fi
  [ -n "$AGENT_SOCK" ] || die "$committed sets no quay-mirror:host.connection.agentSocketPath: the program would read the key from quay-mirror:sshPrivateKey instead — fix: set it (e.g. /run/quay-mirror/ssh-agent.sock; docs/pull-request-previews.md)"
  [[ "$AGENT_SOCK" = /* ]] || die "agentSocketPath $AGENT_SOCK in $committed is not an absolute path"
  AGENT_DIR="$(dirname "$AGENT_SOCK")"
  AGENT_PIDFILE="$AGENT_SOCK.pid"
  local me fix
  me="$(id -un)"
  fix="create it once for this user: sudo install -d -o $me -m 0700 $AGENT_DIR (and, for after a reboot, the tmpfiles.d line \"d $AGENT_DIR 0700 $me - -\")"
  { [ -d "$AGENT_DIR" ] && [ ! -L "$AGENT_DIR" ]; } || die "$AGENT_DIR (the directory of agentSocketPath) does not exist — fix: $fix"
  [ -O "$AGENT_DIR" ] || die "$AGENT_DIR belongs to $(stat -c %U "$AGENT_DIR"), not to $me: another user could reach the agent — fix: $fix"
  mode="$(stat -c %a "$AGENT_DIR")"
  (((8#$mode & 8#077) == 0)) || die "$AGENT_DIR has mode $mode: other users could reach the agent — fix: chmod 0700 $AGENT_DIR"
}

start_agent() {
  local out pid rc=0 key="${QM_SSH_PRIVATE_KEY:-}"
  # From here on the key is a variable of this function only: in no child's environment (not ssh-agent's,
  # which outlives this step, nor ssh-add's) and on no command line.
  unset QM_SSH_PRIVATE_KEY
  agent_paths "$1" || return 0
  { command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null; } || die "ssh-agent and ssh-add are not installed — fix: apt-get install openssh-client"
  [ -n "$key" ] || die "QM_SSH_PRIVATE_KEY is empty: the agent needs the host's SSH key (the quay-lab environment's secret of that name)"
  if [ -e "$AGENT_SOCK" ] || [ -L "$AGENT_SOCK" ]; then
    SSH_AUTH_SOCK="$AGENT_SOCK" ssh-add -l >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || die "an SSH agent already listens at $AGENT_SOCK (another job's?): refusing to share it — fix: scripts/ci-stack.sh stop-agent $1"
    rm -f "$AGENT_SOCK" "$AGENT_PIDFILE" # left by an agent that is gone
  fi
  out="$(ssh-agent -s -a "$AGENT_SOCK")" || die "ssh-agent could not listen at $AGENT_SOCK"
  pid="$(sed -n 's/^SSH_AGENT_PID=\([0-9][0-9]*\);.*/\1/p' <<<"$out")"
  [ -n "$pid" ] || die "ssh-agent printed no pid"
  printf '%s\n' "$pid" >"$AGENT_PIDFILE"
  # The key on ssh-add's stdin (printf is a shell builtin: no command line holds it), for at most the job's 6 hours.
  if ! printf '%s\n' "$key" | SSH_AUTH_SOCK="$AGENT_SOCK" ssh-add -q -t 21600 - >/dev/null 2>&1; then
    kill "$pid" 2>/dev/null || true
    rm -f "$AGENT_PIDFILE"
    die "ssh-add refused QM_SSH_PRIVATE_KEY: it must be the PEM text of an unencrypted SSH private key"
  fi
  key=""
  note "ssh-agent $pid at $AGENT_SOCK holds $(SSH_AUTH_SOCK="$AGENT_SOCK" ssh-add -l | awk '{print $2}' | paste -sd ' ' -)"
}

stop_agent() {
  local pid
  agent_paths "$1" || return 0
  if [ -f "$AGENT_PIDFILE" ]; then
    pid="$(cat "$AGENT_PIDFILE")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = ssh-agent ]; then
      kill "$pid"
      note "ssh-agent $pid at $AGENT_SOCK stopped"
    fi
    rm -f "$AGENT_PIDFILE"
  fi
  rm -f "$AGENT_SOCK"
}

# The backend URL without any user:password@ part, for messages.
redacted_backend() { sed -E 's#^([a-z0-9]+://)[^/@]*@#\1#' <<<"$PULUMI_BACKEND_URL"; }

[ "$#" -ge 1 ] || usage
cmd="$1"
shift
case "$cmd" in
  changed-stacks)
    if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then usage; fi
    changed_stacks "$@"
    ;;
  prepare)
    [ "$#" -eq 1 ] || usage
    prepare "$1"
    printf '%s\n' "$PREPARED_WORK_DIR"
    ;;
  preview | up)
    [ "$#" -ge 1 ] || usage
    stack="$1"
    shift
    prepare "$stack"
    # The secrets are in the encrypted settings now; the engine and the program need none of them.
    unset "${secret_vars[@]}"
    if [ "$cmd" = preview ]; then
      exec pulumi -C "$PREPARED_WORK_DIR" preview --stack "$stack" --non-interactive --diff --refresh --policy-pack "$PWD/policy" "$@"
    fi
    exec pulumi -C "$PREPARED_WORK_DIR" up --stack "$stack" --non-interactive --yes --skip-preview --refresh --policy-pack "$PWD/policy" "$@"
    ;;
  start-agent | stop-agent)
    [ "$#" -eq 1 ] || usage
    "${cmd/-/_}" "$1"
    ;;
  *) usage ;;
esac
