#!/usr/bin/env bash
# The project's main command: `pulumi preview` of the `lab` stack on a local file backend inside the repository
# (.pulumi-state/, git-ignored), with a passphrase, offline. Arguments go to `pulumi preview` (e.g. --diff).
#
#   PULUMI_CONFIG_PASSPHRASE=… bash scripts/preview-lab.sh [--diff]
#
# 1. toolchain: Node, npm packages (scripts/lib-npm.sh; skipped when node_modules matches the lock),
#    the Pulumi engine (scripts/install-pulumi.sh), `npx tsc -p .`;
# 2. the stack (scripts/lib-stack.sh): backend file://<repo>/.pulumi-state, passphrase (a printed THROWAWAY one
#    when none is set), stack `lab` selected or created, config from Pulumi.lab.yaml through a git-ignored copy
#    (the committed file is never modified);
# 3. every secret config key the stack needs (requiredSecretKeys of components/program.ts, plus quay:token in
#    existing mode) that is not set gets a clearly labelled THROWAWAY value, in a preview-only copy of the config;
# 4. the preview: `pulumi preview --stack lab --config-file … --policy-pack policy` (the guardrails of policy/)
#    when the CLI has the Node.js language host, else the
#    same through the Automation API's inline program (bin/scripts/lab-stack.js).
# QM_STACK (default lab) and QM_STACK_CONFIG (default Pulumi.$QM_STACK.yaml) choose another stack or settings file;
# QM_ENGINE_VIA=cli|inline forces one of the two ways to run the program.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/lib-npm.sh
source scripts/lib-npm.sh
# shellcheck source=scripts/lib-stack.sh
source scripts/lib-stack.sh

qm_npm_install_if_changed >&2
bash scripts/install-pulumi.sh
# The policy pack (policy/, docs/policy.md) needs the language host shim; the preview runs with the pack.
bash scripts/install-policy-shim.sh >&2
npx tsc -p . >&2

qm_stack_setup "${QM_STACK:-lab}" preview

# A preview-only copy of the config with THROWAWAY values for the secrets that are not set.
preview_config="$QM_STATE_DIR/config/Pulumi.$QM_STACK.preview.yaml"
cp "$QM_CONFIG_FILE" "$preview_config"
mapfile -t missing < <(node bin/scripts/lab-stack.js missing-secrets "$preview_config")
for key in "${missing[@]}"; do
  value="THROWAWAY-PREVIEW-VALUE-for-$key"
  if [ "$key" = "quay-mirror:sshPrivateKey" ]; then
    # The host's schema wants PEM text: a freshly generated key that opens nothing.
    value=$(node -e 'process.stdout.write(require("crypto").generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }))')
  fi
  # the value on stdin, never on the command line (even a throwaway one: one way for every secret)
  pulumi config set --secret --stack "$QM_STACK" --config-file "$preview_config" -- "$key" < <(printf '%s' "$value")
  qm_note "*** $key is not set: previewing with a THROWAWAY value (${value:0:40}…; preview only; set the real one" \
    "with scripts/pulumi.sh config set --secret $key < value-file)"
done

if qm_has_language_host; then
  qm_note "pulumi preview --stack $QM_STACK --config-file ${preview_config#"$PWD/"} (CLI with pulumi-language-nodejs)"
  exec pulumi preview --stack "$QM_STACK" --config-file "$preview_config" --policy-pack policy "$@"
else
  diff=()
  for a in "$@"; do
    case "$a" in
      --diff) diff=(--diff) ;;
      *) qm_note "preview-lab: without the language host only --diff is passed on; ignoring $a" ;;
    esac
  done
  exec node bin/scripts/lab-stack.js run preview --stack "$QM_STACK" --config-file "$preview_config" "${diff[@]}"
fi
