# shellcheck shell=bash
# The project's stack on a local file backend inside the repository, shared by scripts/preview-lab.sh and
# scripts/pulumi.sh. Source it from the repository root after scripts/env.sh, once bin/ is compiled.
#
#   qm_stack_setup <stack> <preview|change>
#
# - state: PULUMI_BACKEND_URL=file://<repo>/.pulumi-state (git-ignored);
# - passphrase: PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE; when neither is set, previews
#   ("preview") use a THROWAWAY passphrase that is printed and is no secret; anything else ("change") refuses;
# - the stack is selected, or created (secrets provider passphrase) from a scratch copy of Pulumi.yaml under
#   .pulumi-state/project, so `pulumi stack init` never writes into the committed Pulumi.<stack>.yaml;
# - config: the engine reads QM_CONFIG_FILE=.pulumi-state/config/Pulumi.<stack>.yaml (`--config-file`), a
#   git-ignored copy regenerated on every run from the committed Pulumi.<stack>.yaml (or $QM_STACK_CONFIG),
#   keeping only what the secrets provider wrote there (salt, secure values). The committed file is never modified.
# Sets QM_STACK, QM_STATE_DIR, QM_CONFIG_FILE, QM_COMMITTED_CONFIG.

QM_THROWAWAY_PASSPHRASE="throwaway-preview-passphrase-NOT-A-SECRET"

qm_note() { printf '%s\n' "$*" >&2; }

qm_stack_setup() {
  QM_STACK="$1"
  local purpose="$2" project
  QM_STATE_DIR="$PWD/.pulumi-state"
  QM_COMMITTED_CONFIG="${QM_STACK_CONFIG:-Pulumi.$QM_STACK.yaml}"
  QM_CONFIG_FILE="$QM_STATE_DIR/config/Pulumi.$QM_STACK.yaml"
  project="$QM_STATE_DIR/project"
  export PULUMI_BACKEND_URL="file://$QM_STATE_DIR"
  mkdir -p "$project" "$QM_STATE_DIR/config"

  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    if [ "$purpose" != preview ]; then
      qm_note "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) must be set: it encrypts the stack's secrets."
      return 1
    fi
    export PULUMI_CONFIG_PASSPHRASE="$QM_THROWAWAY_PASSPHRASE"
    qm_note "*** PULUMI_CONFIG_PASSPHRASE is not set: using the THROWAWAY passphrase \"$QM_THROWAWAY_PASSPHRASE\"."
    qm_note "*** It is no secret and is good for previews only; set your own before scripts/pulumi.sh up."
  fi
  if [ ! -f "$QM_COMMITTED_CONFIG" ]; then
    qm_note "$QM_COMMITTED_CONFIG not found: the stack's settings (quay-mirror:* config) start from that file."
    return 1
  fi

  cp Pulumi.yaml "$project/Pulumi.yaml"
  if pulumi -C "$project" stack select "$QM_STACK" >/dev/null 2>&1; then
    qm_note "stack $QM_STACK selected (backend $PULUMI_BACKEND_URL)"
  else
    pulumi -C "$project" stack init "$QM_STACK" --secrets-provider passphrase >&2
    qm_note "stack $QM_STACK created (backend $PULUMI_BACKEND_URL)"
  fi

  node bin/scripts/lab-stack.js merge-config "$QM_COMMITTED_CONFIG" "$QM_CONFIG_FILE"
  # The copy's salt and secure values only ever come from scripts/pulumi.sh (which needs a real passphrase);
  # previews put their THROWAWAY values into a preview-only copy. So a passphrase that does not open the copy
  # is a mistake: stop rather than drop secrets someone set.
  local out
  if ! out="$(pulumi config --stack "$QM_STACK" --config-file "$QM_CONFIG_FILE" --show-secrets 2>&1 >/dev/null)"; then
    printf '%s\n' "$out" >&2
    if grep -qi passphrase <<<"$out"; then
      qm_note "the secrets in ${QM_CONFIG_FILE#"$PWD/"} were made with another passphrase: set that one" \
        "(PULUMI_CONFIG_PASSPHRASE). To start the stack's local secrets over, delete that file" \
        "(the stack holds $(qm_stack_resource_count) resource(s))."
    fi
    return 1
  fi
}

# Number of resources in the stack's state (0 for a stack never updated).
qm_stack_resource_count() {
  pulumi -C "$QM_STATE_DIR/project" stack export --stack "$QM_STACK" 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let n=0;try{n=(JSON.parse(s).deployment?.resources||[]).length}catch{}console.log(n)})'
}

# Whether the CLI can run the program itself (pulumi-language-nodejs next to pulumi), unless
# QM_ENGINE_VIA=cli|inline says which path to take.
qm_has_language_host() {
  case "${QM_ENGINE_VIA:-}" in
    cli) return 0 ;;
    inline) return 1 ;;
  esac
  [ -x "$(dirname "$(command -v pulumi)")/pulumi-language-nodejs" ]
}

# After a killed run (README, "A run was killed"; bin/scripts/recover.js does the work): before preview/up/refresh/destroy,
#   - a lock left by a `pulumi` that is dead on this host is removed (a live one is never touched; a lock
#     from another host stops here with the one command to run);
#   - pending operations: each pending create is recorded as this stack's own (its id follows from its
#     inputs) or dropped when its kind just runs again (host commands, random values); then those objects
#     are refreshed, so their provider's read says whether they exist and fills their outputs (or drops
#     them, and `up` creates them). A preview changes nothing: it says what `up` will do first.
# The URNs still to refresh stay in .pulumi-state/recover/<stack>.refresh until that refresh succeeded, so a
# recovery that is itself interrupted is finished by the next run.
qm_recover_killed_run() {
  local cmd="$1" dir="$QM_STATE_DIR/recover"
  local targets="$dir/$QM_STACK.refresh" exported="$dir/$QM_STACK.export.json" planned="$dir/$QM_STACK.import.json"
  mkdir -p "$dir"
  if [ "$cmd" != preview ]; then
    node bin/scripts/recover.js locks "$QM_STATE_DIR" "$QM_STACK" || return 1
  fi
  if [ ! -s "$targets" ]; then
    pulumi stack export --stack "$QM_STACK" --file "$exported" >/dev/null 2>&1 || { rm -f "$exported"; return 0; }
    node bin/scripts/recover.js plan "$exported" "$planned" "$targets.new" || return 1
    rm -f "$exported"
    [ -s "$planned" ] || { rm -f "$targets.new"; return 0; }
    if [ "$cmd" = preview ]; then
      rm -f "$planned" "$targets.new"
      qm_note "this preview does not show that yet: bash scripts/pulumi.sh up (or refresh) settles it first."
      return 0
    fi
    pulumi stack import --stack "$QM_STACK" --file "$planned" >&2 || return 1
    rm -f "$planned"
    mv "$targets.new" "$targets"
  fi
  [ "$cmd" != preview ] || return 0
  [ -s "$targets" ] || { rm -f "$targets"; return 0; }
  local urns=() args=()
  mapfile -t urns <"$targets"
  for u in "${urns[@]}"; do args+=(--target "$u"); done
  qm_note "refreshing the ${#urns[@]} object(s) the killed run left unsettled"
  local refresh=(pulumi refresh --stack "$QM_STACK" --config-file "$QM_CONFIG_FILE" --yes --skip-preview --non-interactive "${args[@]}")
  # Without the language host the CLI cannot load the project: a whole refresh through the Automation API.
  qm_has_language_host || refresh=(node bin/scripts/lab-stack.js run refresh --stack "$QM_STACK" --config-file "$QM_CONFIG_FILE" --yes)
  if ! "${refresh[@]}" >&2; then
    qm_note "the refresh of the killed run's objects failed (above): fix its cause, then run the same command again (it retries that refresh first)."
    return 1
  fi
  rm -f "$targets"
}
