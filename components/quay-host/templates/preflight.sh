#!/usr/bin/env bash
# quay-mirror QuayHost step: the storage preflight, run before every (re)start of Quay. Quay's own boot
# validation fails obscurely when its bucket is missing; this says what is wrong and what to fix:
#   1. the endpoint answers and accepts the storage credentials, and the bucket exists;
#   2. the bucket has no lifecycle rule (a rule on Quay's blob bucket expires blobs that manifests still
#      reference: "unknown blob" later; lifecycle belongs on the backup bucket, never here);
#   3. the storage credentials can write, read back and delete a probe object.
# The credentials arrive on stdin as JSON {accessKey, secretKey} and reach mc only through a private
# config file in a 0700 temporary directory (never an argument, never the environment). Read-only apart from the probe object; safe to re-run.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly mc=@@MC@@
readonly endpoint=@@ENDPOINT@@
readonly bucket=@@BUCKET@@
readonly probe_prefix=@@PROBE_PREFIX@@
readonly deployment=@@DEPLOYMENT@@
# --- end of values ---

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  printf 'storage preflight FAILED: %s\n' "$*" >&2
  exit 1
}
cat >"$work/credentials.json"
if [ ! -s "$work/credentials.json" ] || ! jq -e 'type == "object" and (.accessKey | type) == "string" and (.secretKey | type) == "string" and .accessKey != "" and .secretKey != ""' "$work/credentials.json" >/dev/null 2>&1; then
  fail "stdin must be a JSON object with accessKey and secretKey"
fi
[ -x "$mc" ] || fail "the MinIO client $mc is missing (the tools step installs it)"
# mc reads the keys from a private config file (any character works there; MC_HOST_* URLs cannot carry
# every character a key may hold).
install -d -m 0700 "$work/mc"
jq --arg url "$endpoint" '{version: "10", aliases: {storage: {url: $url, accessKey, secretKey, api: "s3v4", path: "auto"}}}' \
  "$work/credentials.json" >"$work/mc/config.json"
echo "storage preflight for bucket $bucket at $endpoint (deployment ${deployment:0:12}…)"

# mc gets PATH, a home and its private configuration, nothing else of this script's environment.
mc_run() { env -i PATH="$PATH" HOME="$work" MC_CONFIG_DIR="$work/mc" "$mc" --json --quiet "$@"; }
# run OUT ARGS...: mc --json ARGS, its stdout in $work/OUT; returns mc's status.
run() {
  local out=$1
  shift
  mc_run "$@" >"$work/$out" 2>"$work/$out.err"
}
# The S3 error code and message of a failed mc call (never a credential: mc prints neither).
code_of() {
  local c
  c=$(jq -rs '[.[] | select(.status == "error")][0] | [.. | objects | .Code? | strings] | first // ""' "$work/$1" 2>/dev/null || true)
  if [ -z "$c" ] && grep -q 'Access Denied' "$work/$1" "$work/$1.err" 2>/dev/null; then c=AccessDenied; fi
  printf '%s' "$c"
}
message_of() {
  local m
  m=$(jq -rs '[.[] | select(.status == "error")][0].error | (.cause.message // .message // "")' "$work/$1" 2>/dev/null || true)
  if [ -z "$m" ]; then m=$(head -c 300 "$work/$1.err"); fi
  printf '%s' "${m:0:300}"
}
explain() { # explain OUT WHAT PERMISSION: the failure of an mc call, with the fix
  local code msg
  code=$(code_of "$1")
  msg=$(message_of "$1")
  case "$code" in
    InvalidAccessKeyId | SignatureDoesNotMatch | InvalidToken | ExpiredToken)
      fail "$2: $endpoint rejected the storage credentials ($code) — fix: storage.accessKey/secretKey must be the keys of the quay-storage user" ;;
    NoSuchBucket)
      fail "$2: bucket $bucket does not exist at $endpoint — fix: create it before Quay starts (the ObjectStorage component, or: mc mb <alias>/$bucket)" ;;
    AccessDenied)
      fail "$2: the storage user is not allowed to do this ($code) — fix: grant it $3 on bucket $bucket" ;;
    "")
      case "$msg" in
        *"does not exist"*) fail "$2: bucket $bucket does not exist at $endpoint — fix: create it before Quay starts (the ObjectStorage component, or: mc mb <alias>/$bucket)" ;;
        *) fail "$2: no usable answer from $endpoint ($msg) — fix: check storage.hostname, storage.port and storage.isSecure, and that MinIO is up and reachable from this host" ;;
      esac ;;
    *) fail "$2: $endpoint answered $code ($msg) — fix: grant the storage user $3 on bucket $bucket" ;;
  esac
}

# 1. reachable, credentials accepted, bucket present.
run ls ls "storage/$bucket/$probe_prefix/" || explain ls "listing bucket $bucket" "s3:ListBucket (or create the bucket: to a user without rights on it, a missing bucket looks the same)"
echo "bucket $bucket exists and the storage user can list it"

# 2. no lifecycle rule on Quay's blob bucket.
if run ilm ilm rule ls "storage/$bucket"; then
  rules=$(jq -rs '[.[] | select(.status == "success") | .config.Rules // [] | .[]] | map((.ID // "?") + " (" + (.Status // "?") + ")") | join(", ")' "$work/ilm")
  if [ -n "$rules" ]; then
    fail "bucket $bucket has lifecycle rules: $rules. A lifecycle rule on Quay's blob bucket expires blobs that manifests still reference (Quay then answers 'unknown blob'); lifecycle belongs on the backup bucket, never on $bucket — fix: remove them (mc ilm rule rm --all --force <alias>/$bucket) and run again"
  fi
else
  case "$(code_of ilm)" in
    NoSuchLifecycleConfiguration) ;;
    *) explain ilm "reading the lifecycle configuration of $bucket" "s3:GetLifecycleConfiguration (the preflight must see that there is no lifecycle rule)" ;;
  esac
fi
echo "bucket $bucket has no lifecycle rule"

# 3. write, read back and delete a probe object.
probe="$probe_prefix/probe-$(hostname)"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/probe"
run put pipe "storage/$bucket/$probe" <"$work/probe" || explain put "writing the probe object $bucket/$probe" "s3:PutObject"
run get cat "storage/$bucket/$probe" || explain get "reading the probe object $bucket/$probe" "s3:GetObject"
# mc cat prints the object itself (not JSON) on success
if ! cmp -s "$work/probe" "$work/get"; then
  fail "the probe object $bucket/$probe read back different content — fix: check that $endpoint is the MinIO Quay should use (a proxy or cache in between?)"
fi
run rm rm "storage/$bucket/$probe" || explain rm "deleting the probe object $bucket/$probe" "s3:DeleteObject"
if run stat stat "storage/$bucket/$probe"; then
  fail "the probe object $bucket/$probe is still there after deleting it — fix: check the bucket's object-lock/retention settings"
fi
echo "the storage user can write, read and delete objects in $bucket"
echo "storage preflight passed"
