# --- HMAC-SHA256, encrypt-then-MAC (templates/lib/backup-mac.sh: written into both scripts at render time) ---
# The MAC key is PBKDF2-HMAC-SHA512 of the passphrase file with the fixed label salt $mac_salt: a key apart
# from the encryption key (PBKDF2-HMAC-SHA256 with the ciphertext's own random salt). openssl prints it on
# its stdout (a pipe) and bash matches it; the key is never an argument of any process.
mac_key() {
  local out
  out=$(openssl enc -aes-256-cbc -pbkdf2 -md sha512 -iter "$iterations" -S "$mac_salt" -pass "file:$passphrase_file" -P) || return 1
  [[ "$out" =~ key=([0-9A-F]{64}) ]] && printf '%s' "${BASH_REMATCH[1]}"
}
# hmac_sha256 KEYHEX FILE...: HMAC-SHA256 (RFC 2104) of the files' concatenation, in hex. Bash builtins build
# the padded keys; sha256sum and cat only read pipes and files.
hmac_sha256() {
  local key=$1 ipad="" opad="" inner inner_fmt="" i b
  shift
  while [ "${#key}" -lt 128 ]; do key+=0; done
  for ((i = 0; i < 128; i += 2)); do
    b=$((16#${key:i:2}))
    printf -v ipad '%s\\x%02x' "$ipad" $((b ^ 0x36))
    printf -v opad '%s\\x%02x' "$opad" $((b ^ 0x5c))
  done
  # shellcheck disable=SC2059 # the pads are printf formats of \xHH escapes, built above
  inner=$({ printf "$ipad"; cat -- "$@"; } | sha256sum | cut -c1-64)
  for ((i = 0; i < 64; i += 2)); do inner_fmt+="\\x${inner:i:2}"; done
  # shellcheck disable=SC2059
  { printf "$opad"; printf "$inner_fmt"; } | sha256sum | cut -c1-64
}
# mac_header FILE NAME: what the MAC covers before the ciphertext (the format and the object's name, so a
# genuine backup renamed to look newer does not authenticate); mac_key_check FILE: a fixed text whose MAC
# tells a wrong passphrase from a modified object.
mac_header() { printf '%s\n%s\n' "$format" "$2" >"$1"; }
mac_key_check() { printf '%s key check\n' "$format" >"$1"; }
# --- end of HMAC-SHA256 ---
