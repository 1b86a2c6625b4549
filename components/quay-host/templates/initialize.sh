#!/usr/bin/env bash
# quay-mirror QuayHost step 10: the first superuser and a bootstrap token for the rest of the program.
#
# First run: POST /api/v1/user/initialize with access_token: true creates the superuser (already listed in
# SUPER_USERS) and returns a token (scopes: all eight; lifetime 2.5 h).
# Any later run — the previous one died after initialize, the token was lost with it, or a renewal was
# asked for — gets "Cannot initialize user in a non-empty database". Then it signs in instead, the way
# Quay's web UI does (GET /csrf_token, POST /api/v1/signin with X-CSRF-Token, session cookie), makes sure
# the bootstrap organization and its OAuth application exist, and mints a token with the same scopes and
# lifetime through POST /api/v1/organization/{org}/applications/{client_id}/tokens (Quay ≥ 3.18). With a
# session (no bearer token) Quay checks the user's own permissions for every scope, which the superuser
# and organization owner holds.
#
# Credentials arrive on stdin as JSON; request bodies are files in a private temporary directory; the
# CSRF and bearer headers are passed with curl's -H @file. Nothing secret is ever an argument. Only the
# token is written to stdout; diagnostics (never a response body) go to stderr.
set -euo pipefail
# --- values (filled by renderStep, each quoted by shq) ---
readonly base_url=@@BASE_URL@@
readonly organization=@@ORGANIZATION@@
readonly application=@@APPLICATION@@
readonly token_name=@@TOKEN_NAME@@
readonly token_scope=@@TOKEN_SCOPE@@
readonly token_lifetime=@@TOKEN_LIFETIME@@
# --- end of values ---

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/credentials.json"
if ! jq -e 'type == "object" and (.username | type) == "string" and (.password | type) == "string"' "$work/credentials.json" >/dev/null 2>&1; then
  echo "initialize step: stdin must be a JSON object with username and password" >&2
  exit 1
fi
username=$(jq -r '.username' "$work/credentials.json")
: >"$work/cookies"
: >"$work/headers"

fail() {
  printf 'initialize step: %s\n' "$*" >&2
  exit 1
}
# Quay's error message from any of its body shapes; never the whole body.
message() { jq -r '.detail // .error_message // .message // .error // empty' "$work/out" 2>/dev/null | head -c 300 || true; }
# call METHOD PATH [BODY_FILE]: the response body goes to $work/out, the status to $code.
code=000
call() {
  local args=(-sS -o "$work/out" -w '%{http_code}' --max-time 60 -X "$1" -b "$work/cookies" -c "$work/cookies" -H 'Accept: application/json')
  if [ -s "$work/headers" ]; then args+=(-H "@$work/headers"); fi
  if [ -n "${3:-}" ]; then args+=(-H 'Content-Type: application/json' --data-binary "@$3"); fi
  : >"$work/out"
  code=$(curl "${args[@]}" "$base_url$2" 2>"$work/curl.err") || code=000
  if [ "$code" = 000 ]; then fail "$1 $2: no answer from Quay at $base_url ($(head -c 200 "$work/curl.err"))"; fi
}
csrf_header() {
  call GET /csrf_token
  [ "$code" = 200 ] || fail "GET /csrf_token answered HTTP $code"
  jq -r '"X-CSRF-Token: " + .csrf_token' "$work/out" >"$work/headers.new"
  mv -f "$work/headers.new" "$work/headers"
}

sign_in_and_mint() {
  echo "Quay already has users: signing in as $username to mint the bootstrap token" >&2
  csrf_header
  jq '{username, password}' "$work/credentials.json" >"$work/signin.json"
  call POST /api/v1/signin "$work/signin.json"
  case "$code" in
    200) ;;
    403) fail "sign-in as $username refused ($(message)). Quay's database already has users, but $username cannot sign in with the password this stack generated: the registry was initialized by someone else or by another stack, or the password was changed in Quay. Reset $username's password in Quay to the stack's superuserPassword output, or purge the host." ;;
    405) fail "sign-in is disabled (FEATURE_DIRECT_LOGIN: false); the re-run path needs it" ;;
    429) fail "sign-in throttled by Quay (too many failed logins); wait and re-run" ;;
    *) fail "POST /api/v1/signin answered HTTP $code ($(message))" ;;
  esac
  csrf_header # login rotates the session's CSRF token

  call GET "/api/v1/organization/$organization"
  case "$code" in
    200) ;;
    404)
      jq -n --arg name "$organization" '{name: $name}' >"$work/org.json"
      call POST /api/v1/organization/ "$work/org.json"
      case "$code" in 200 | 201) echo "created organization $organization" >&2 ;; *) fail "creating organization $organization answered HTTP $code ($(message))" ;; esac
      ;;
    *) fail "GET organization $organization answered HTTP $code ($(message))" ;;
  esac

  call GET "/api/v1/organization/$organization/applications"
  [ "$code" = 200 ] || fail "listing the applications of $organization answered HTTP $code ($(message)); $username must be an owner of $organization"
  client_id=$(jq -r --arg n "$application" '[.applications[] | select(.name == $n)][0].client_id // empty' "$work/out")
  if [ -z "$client_id" ]; then
    jq -n --arg name "$application" '{name: $name, description: "quay-mirror: mints the bootstrap token when the first one is lost"}' >"$work/app.json"
    call POST "/api/v1/organization/$organization/applications" "$work/app.json"
    [ "$code" = 200 ] || [ "$code" = 201 ] || fail "creating application $application answered HTTP $code ($(message))"
    client_id=$(jq -r '.client_id // empty' "$work/out")
    echo "created application $application in $organization" >&2
  fi
  [[ "$client_id" =~ ^[A-Za-z0-9]+$ ]] || fail "application $application has an unexpected client_id"

  jq -n --arg name "$token_name" --arg scope "$token_scope" --argjson expiration "$token_lifetime" \
    '{name: $name, scope: $scope, expiration: $expiration}' >"$work/mint.json"
  call POST "/api/v1/organization/$organization/applications/$client_id/tokens" "$work/mint.json"
  case "$code" in
    200 | 201) ;;
    404 | 405) fail "this Quay cannot mint tokens through the API (HTTP $code): it needs Quay 3.18 or later" ;;
    *) fail "minting the bootstrap token answered HTTP $code ($(message))" ;;
  esac
  token=$(jq -r '.token // empty' "$work/out")
}

jq '{username, password, access_token: true} + (if (.email // null) != null then {email} else {} end)' "$work/credentials.json" >"$work/initialize.json"
token=""
call POST /api/v1/user/initialize "$work/initialize.json"
case "$code" in
  200)
    token=$(jq -r '.access_token // empty' "$work/out")
    echo "initialized superuser $username" >&2
    ;;
  400)
    msg=$(message)
    case "$msg" in
      *"non-empty database"*) sign_in_and_mint ;;
      *) fail "initialize answered HTTP 400 ($msg)" ;;
    esac
    ;;
  404) fail "initialize is disabled (FEATURE_USER_INITIALIZE is not true in config.yaml)" ;;
  *) fail "initialize answered HTTP $code ($(message))" ;;
esac
[ -n "$token" ] || fail "Quay returned no token"

# Prove the token: it must belong to the superuser and carry superuser rights (SUPER_USERS lists it).
printf 'Authorization: Bearer %s\n' "$token" >"$work/headers"
: >"$work/cookies"
call GET /api/v1/user/
[ "$code" = 200 ] || fail "the new token was refused by GET /api/v1/user/ (HTTP $code)"
[ "$(jq -r '.username' "$work/out")" = "$username" ] || fail "the new token belongs to another user"
[ "$(jq -r '.super_user // false' "$work/out")" = true ] || fail "$username is not a superuser: SUPER_USERS in config.yaml must list it"
printf '%s\n' "$token"
