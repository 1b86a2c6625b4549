#!/usr/bin/env bash
# Runs pulumi on the project's stack the way scripts/preview-lab.sh previews it: file backend
# .pulumi-state/ in the repository, passphrase secrets, config from a git-ignored copy of Pulumi.<stack>.yaml.
#
#   PULUMI_CONFIG_PASSPHRASE=… bash scripts/pulumi.sh up [--yes]
#   bash scripts/pulumi.sh refresh | destroy | preview [args…]
#   bash scripts/pulumi.sh config set --secret quay:token < token.txt   # secrets go into the git-ignored copy
#   bash scripts/pulumi.sh config set --secret quay:token              # (on a terminal: prompts, input hidden)
#   bash scripts/pulumi.sh config                                      # shows the stack's config
#   bash scripts/pulumi.sh stack export | stack history | …           # any other pulumi command, same backend
#
# preview/up/refresh/destroy/import/config/stack/cancel/state/about/logs/watch/console commands get `--stack <stack>` (and, where pulumi takes it,
# `--config-file <copy>`) appended. Without the Node.js language host, preview/up/refresh/destroy run through
# the Automation API (bin/scripts/lab-stack.js; then only --yes and --diff are passed on). Plain config values
# belong in the committed Pulumi.<stack>.yaml: `config set` without --secret is refused, and so is a secret's
# value on the command line (every process on the machine can read it there): it comes from stdin or the
# prompt only. Every command but preview needs PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE.
# QM_STACK (default lab), QM_STACK_CONFIG and QM_ENGINE_VIA as in scripts/preview-lab.sh. Nothing is
# installed or compiled: run scripts/preview-lab.sh (or npx tsc -p .) first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/lib-stack.sh
source scripts/lib-stack.sh

[ "$#" -gt 0 ] || { sed -n '2,19p' "$0" >&2; exit 2; }

cmd="$1"
purpose=change
[ "$cmd" = preview ] && purpose=preview
if [ "$cmd" = config ] && [ "${2:-}" = set ]; then
  # Checked before anything runs: `config set --secret KEY [VALUE]`, flags anywhere, `--` ends them.
  secret=no
  positional=()
  flags_done=no
  skip_next=no
  for a in "${@:3}"; do
    if [ "$skip_next" = yes ]; then skip_next=no; continue; fi
    if [ "$flags_done" = no ]; then
      case "$a" in
        --) flags_done=yes; continue ;;
        --secret) secret=yes; continue ;;
        -s | --stack | --config-file | -C | --cwd) skip_next=yes; continue ;;
        -*) continue ;;
      esac
    fi
    positional+=("$a")
  done
  if [ "$secret" = no ]; then
    echo "plain config values belong in the committed ${QM_STACK_CONFIG:-Pulumi.${QM_STACK:-lab}.yaml}; use config set --secret for secrets" >&2
    exit 2
  fi
  if [ "${#positional[@]}" -gt 1 ]; then
    # Never echo the value back: it is a secret.
    echo "refusing a secret value on the command line (any process on this machine can read its arguments, and" \
      "it stays in the shell's history) — fix: give only the key and pass the value on stdin" \
      "(bash scripts/pulumi.sh config set --secret ${positional[0]} < value-file), or let it prompt (input hidden)" >&2
    exit 2
  fi
  if [ "${#positional[@]}" -eq 0 ]; then
    echo "config set --secret needs the key — fix: bash scripts/pulumi.sh config set --secret <key> < value-file" >&2
    exit 2
  fi
fi
[ -f bin/scripts/lab-stack.js ] || { echo "bin/ is not compiled: run scripts/preview-lab.sh or npx tsc -p . first" >&2; exit 1; }
command -v pulumi >/dev/null || { echo "pulumi not built: run scripts/install-pulumi.sh" >&2; exit 1; }
qm_stack_setup "${QM_STACK:-lab}" "$purpose"

case "$cmd" in
  preview | up | refresh | destroy)
    qm_recover_killed_run "$cmd" || exit 1
    if qm_has_language_host; then
      exec pulumi "$@" --stack "$QM_STACK" --config-file "$QM_CONFIG_FILE"
    fi
    pass=()
    for a in "${@:2}"; do
      case "$a" in
        --yes | -y | --diff) pass+=("$a") ;;
        *) qm_note "pulumi.sh: without the language host only --yes and --diff are passed on; ignoring $a" ;;
      esac
    done
    exec node bin/scripts/lab-stack.js run "$cmd" --stack "$QM_STACK" --config-file "$QM_CONFIG_FILE" "${pass[@]}"
    ;;
  config | import)
    exec pulumi "$@" --stack "$QM_STACK" --config-file "$QM_CONFIG_FILE"
    ;;
  state)
    # `state move` names its stacks with --source/--dest, `state upgrade` works on the whole backend.
    case "${2:-}" in
      move) [[ " $* " == *" --source"* ]] && exec pulumi "$@"; exec pulumi "$@" --source "$QM_STACK" ;;
      upgrade) exec pulumi "$@" ;;
      *) exec pulumi "$@" --stack "$QM_STACK" ;;
    esac
    ;;
  stack | cancel | about | logs | watch | console)
    # every command that works on a stack gets this one (`cancel` alone would answer "no stack selected")
    exec pulumi "$@" --stack "$QM_STACK"
    ;;
  *)
    exec pulumi "$@"
    ;;
esac
