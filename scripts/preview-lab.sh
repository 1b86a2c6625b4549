#!/usr/bin/env bash
# The project's main command: `pulumi preview` of the `lab` stack on a local file backend inside the repository
# (.pulumi-state/, git-ignored), with a passphrase, offline. Arguments go to `pulumi preview` (e.g. --diff).
#
#   PULUMI_CONFIG_PASSPHRASE=… bash scripts/preview-lab.sh [--diff]
#
# 1. toolchain: Node, npm packages (scripts/lib-npm.sh; skipped when node_modules matches the lock),
#    the Pulumi engine, the policy pack's shim and MinIO's client mc (scripts/install-toolchain.sh preview,
#    built side by side), `npx tsc -p .`;
# 2. the stack (scripts/lib-stack.sh): backend file://<repo>/.pulumi-state, passphrase (a printed THROWAWAY one
#    when none is set), stack `lab` selected or created, config from Pulumi.lab.yaml through a git-ignored copy
#    (the committed file is never modified);
# 3. every secret config key the stack needs (requiredSecretKeys of components/program.ts, plus quay:token in
#    existing mode) that is not set gets a clearly labelled THROWAWAY value, in a preview-only copy of the config,
#    and so does a REPLACE-ME placeholder host key (quay-mirror:host.connection.hostKey);
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
# The Pulumi toolchain; the policy pack's language host shim (the preview runs with policy/, docs/policy.md);
# MinIO's client, which the lab uploads to the host (the program needs `mc` on PATH). Only what the preview
# needs: MinIO's server and actionlint are for the tests.
# shellcheck source=scripts/lib-parallel.sh
source scripts/lib-parallel.sh
qm_job toolchain bash scripts/install-toolchain.sh preview
qm_job tsc npx tsc -p .
qm_wait_jobs

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

# The committed stack file may hold a REPLACE-ME placeholder as the host's key (README: "SSH host key"): the
# preview copy gets a THROWAWAY key, which pins nothing that exists (`up` refuses the placeholder itself).
mapfile -t placeholders < <(node bin/scripts/lab-stack.js fill-host-key-placeholders "$preview_config")
for p in "${placeholders[@]}"; do
  qm_note "*** $p is the REPLACE-ME placeholder: previewing with a THROWAWAY host key (preview only; pin the host's" \
    "real key in $QM_COMMITTED_CONFIG, see README \"SSH host key\")"
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
