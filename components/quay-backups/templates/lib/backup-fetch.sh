# --- fetch, check, authenticate, decrypt one backup (templates/lib/backup-fetch.sh: written into
# quay-restore-validate and quay-restore-database at render time) ---
# Needs: fail, mc_run (mc with the restore reader's private configuration), $work (a 0700 directory),
# $bucket, $prefix, $passphrase_file, $iterations, $format, and lib/backup-mac.sh.
# fetch_backup SELECTOR FILE...: SELECTOR is "latest" (the newest backup under the prefix) or a backup's
# UTC timestamp (yyyymmddTHHMMSSZ). Lists, fetches with its .sha256 and .hmac, verifies the checksum,
# authenticates (refused before anything reads the ciphertext), decrypts and extracts manifest.json and the
# FILEs (quay.dump, config.yaml…) into $work/payload, each checked against the sha256 its manifest recorded.
# Sets: object (bucket/prefix/key), name, stamp, manifest ($work/payload/manifest.json).
mc_error() { # mc_error OUT WHAT: a failed mc call, with the fix
  local code msg
  code=$(jq -rs '[.[] | select(.status == "error")][0] | [.. | objects | .Code? | strings] | first // ""' "$work/$1" 2>/dev/null || true)
  msg=$(jq -rs '[.[] | select(.status == "error")][0].error | (.cause.message // .message // "")' "$work/$1" 2>/dev/null || true)
  [ -n "$msg" ] || msg=$(head -c 300 "$work/$1.err")
  case "$code" in
    NoSuchBucket) fail "$2: bucket $bucket does not exist — fix: create it (the ObjectStorage component)" ;;
    NoSuchKey) fail "$2: the object is gone (expired or deleted) — fix: run a new backup (systemctl start quay-backup.service)" ;;
    AccessDenied) fail "$2: the restore reader may not do this (AccessDenied) — fix: grant it s3:ListBucket on arn:aws:s3:::$bucket and s3:GetObject on arn:aws:s3:::$bucket/*" ;;
    InvalidAccessKeyId | SignatureDoesNotMatch) fail "$2: MinIO rejected the restore reader's keys ($code) — fix: pulumi up (QuayBackups rewrites them from the stack)" ;;
    *) fail "$2 failed: ${code:+$code: }${msg:0:300} — fix: check that MinIO is up and reachable from this host" ;;
  esac
}

fetch_backup() {
  local selector=$1
  shift
  # 1. The backup: the newest <timestamp>/quay-<timestamp>.tar.gz.enc under the prefix, or the one named.
  mc_run ls --recursive "restore/$bucket/$prefix/" >"$work/list" 2>"$work/list.err" || mc_error list "listing $bucket/$prefix/"
  local key
  if [ "$selector" = latest ]; then
    key=$(jq -rs '[.[] | select(.status == "success" and .type == "file") | .key
      | select(test("^(?<t>[0-9]{8}T[0-9]{6}Z)/quay-(?<u>[0-9]{8}T[0-9]{6}Z)\\.tar\\.gz\\.enc$"))] | sort | last // ""' "$work/list")
    [ -n "$key" ] || fail "no backup under $bucket/$prefix/ — fix: run one (systemctl start quay-backup.service) and look at its journal (journalctl -u quay-backup.service)"
  else
    [[ "$selector" =~ ^[0-9]{8}T[0-9]{6}Z$ ]] || fail "backup '${selector:0:40}' is neither latest nor a backup's UTC timestamp (yyyymmddTHHMMSSZ) — fix: name one listed under $bucket/$prefix/"
    key="$selector/quay-$selector.tar.gz.enc"
    jq -e --arg k "$key" -s 'any(.[]; .status == "success" and .key == $k)' "$work/list" >/dev/null ||
      fail "no backup $selector under $bucket/$prefix/ (expected $key) — fix: name one that exists (the newest: $(jq -rs '[.[] | select(.status == "success" and .type == "file") | .key | select(test("^[0-9]{8}T[0-9]{6}Z/quay-[0-9]{8}T[0-9]{6}Z\\.tar\\.gz\\.enc$")) | split("/")[0]] | sort | .[-3:] | join(", ")' "$work/list")), or latest"
  fi
  object="$bucket/$prefix/$key"
  name=${key##*/}
  stamp=${key%%/*}
  jq -e --arg k "$key.sha256" -s 'any(.[]; .status == "success" and .key == $k)' "$work/list" >/dev/null ||
    fail "$object has no $name.sha256 beside it: the backup is incomplete (the upload stopped half way) — fix: run a new backup (systemctl start quay-backup.service)"
  jq -e --arg k "$key.hmac" -s 'any(.[]; .status == "success" and .key == $k)' "$work/list" >/dev/null ||
    fail "$object has no $name.hmac beside it: it cannot be authenticated, so it is not restored (a backup made before format $format, an upload that stopped half way, or a removed tag) — fix: run a new backup (systemctl start quay-backup.service); an older format-1 backup can be restored by hand (docs/backups.md)"
  if [ "$selector" = latest ]; then echo "latest backup: $object"; else echo "backup: $object"; fi
  mc_run cp "restore/$object" "$work/$name" >"$work/get" 2>"$work/get.err" || mc_error get "fetching $object"
  mc_run cp "restore/$object.sha256" "$work/$name.sha256" >"$work/get" 2>"$work/get.err" || mc_error get "fetching $object.sha256"
  mc_run cp "restore/$object.hmac" "$work/$name.hmac" >"$work/get" 2>"$work/get.err" || mc_error get "fetching $object.hmac"

  # 2. The checksum.
  local expected actual
  expected=$(awk 'NR == 1 {print $1}' "$work/$name.sha256")
  actual=$(sha256sum "$work/$name" | cut -d' ' -f1)
  [[ "$expected" =~ ^[0-9a-f]{64}$ ]] || fail "$object.sha256 does not hold a sha256 — the checksum object is corrupted; fix: restore from an earlier backup, run a new one"
  if [ "$actual" != "$expected" ]; then
    fail "checksum mismatch: $object has sha256 ${actual:0:16}…, its .sha256 says ${expected:0:16}… — the backup object is corrupted (or was replaced); fix: do not use it; restore from an earlier backup and run a new one (systemctl start quay-backup.service)"
  fi
  echo "checksum ok (sha256 ${actual:0:16}…)"

  # 3. Authenticate, before anything reads the ciphertext: the sha256 beside the object only catches accidents
  #    (whoever can replace the object can replace it too); the HMAC needs the passphrase.
  local wrong_passphrase="cannot decrypt $object with the passphrase in $passphrase_file: wrong passphrase — fix: put the passphrase this backup was made with (the stack's backupPassphrase output, or its custody copy) into $passphrase_file (root, 0600), or pulumi up to rewrite it"
  tag_field() { sed -n "s/^$1 \([^ ]*\)\$/\1/p" "$work/$name.hmac" | head -n 1; }
  [ "$(tag_field format)" = "$format" ] ||
    fail "$object.hmac is not a $format tag (format: $(tag_field format | head -c 40)) — fix: run a new backup; an older format-1 backup can be restored by hand (docs/backups.md)"
  [ "$(tag_field object)" = "$name" ] ||
    fail "authentication failed: $object.hmac is the tag of another object ($(tag_field object | head -c 80)) — a backup was renamed or its tag replaced; fix: do not use it; restore from an earlier backup and run a new one"
  local want_check want_mac mac_secret got_mac
  want_check=$(tag_field key-check)
  want_mac=$(tag_field hmac-sha256)
  [[ "$want_check" =~ ^[0-9a-f]{64}$ && "$want_mac" =~ ^[0-9a-f]{64}$ ]] || fail "$object.hmac does not hold a key check and an hmac-sha256 — the tag is corrupted; fix: restore from an earlier backup, run a new one"
  mac_secret=$(mac_key) || fail "openssl could not derive the MAC key from $passphrase_file"
  [ -n "$mac_secret" ] || fail "openssl printed no MAC key"
  mac_key_check "$work/mac-key-check"
  [ "$(hmac_sha256 "$mac_secret" "$work/mac-key-check")" = "$want_check" ] ||
    fail "$wrong_passphrase (its key check in $name.hmac does not match this passphrase)"
  mac_header "$work/mac-header" "$name"
  got_mac=$(hmac_sha256 "$mac_secret" "$work/mac-header" "$work/$name")
  mac_secret=""
  if [ "$got_mac" != "$want_mac" ]; then
    fail "authentication failed: $object does not match its HMAC (hmac-sha256 ${got_mac:0:16}…, $name.hmac says ${want_mac:0:16}…) under the right passphrase (its key check matches) — the object was modified after it was made (a .sha256 recomputed beside it does not hide that); nothing was decrypted or restored; fix: do not use it; restore from an earlier backup and run a new one (systemctl start quay-backup.service)"
  fi
  echo "authenticated (hmac-sha256 ${got_mac:0:16}…, $format)"

  # 4. Decrypt. The key check above already caught a wrong passphrase; openssl's own failure is kept as a guard.
  openssl enc -d -aes-256-cbc -salt -pbkdf2 -iter "$iterations" -pass "file:$passphrase_file" -in "$work/$name" -out "$work/backup.tar.gz" 2>"$work/openssl.err" ||
    fail "$wrong_passphrase (openssl: $(head -c 200 "$work/openssl.err" | tr '\n' ' '))"
  rm -f -- "$work/$name"
  gzip -t "$work/backup.tar.gz" 2>/dev/null || fail "$wrong_passphrase (the decrypted data is not a gzip archive)"
  mkdir "$work/payload"
  tar -xzf "$work/backup.tar.gz" -C "$work/payload" --no-same-owner manifest.json "$@" 2>"$work/tar.err" ||
    fail "the decrypted archive of $object lacks manifest.json or one of $* ($(head -c 200 "$work/tar.err")) — fix: restore from an earlier backup"
  rm -f -- "$work/backup.tar.gz"
  manifest="$work/payload/manifest.json"
  jq -e '(.rowCounts | type) == "object" and (.files | type) == "array"' "$manifest" >/dev/null 2>&1 ||
    fail "the manifest of $object has no rowCounts/files — fix: restore from an earlier backup"
  [ "$(jq -r '.format' "$manifest")" = "$format" ] ||
    fail "the manifest of $object says format $(jq -r '.format' "$manifest" | head -c 40), its tag $format — fix: restore from an earlier backup"
  local f want_sha
  for f in "$@"; do
    want_sha=$(jq -r --arg f "$f" '.files[] | select(.name == $f) | .sha256' "$manifest")
    [ "$(sha256sum "$work/payload/$f" | cut -d' ' -f1)" = "$want_sha" ] ||
      fail "$f in $object does not match the sha256 its manifest recorded — fix: restore from an earlier backup"
  done
  echo "decrypted; manifest $(jq -r '.format' "$manifest") from $(jq -r '.created' "$manifest"), $(jq '.rowCounts | length' "$manifest") tables"
}
# --- end of fetch ---
