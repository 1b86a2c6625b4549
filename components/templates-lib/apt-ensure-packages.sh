missing=()
for p in "${packages[@]}"; do
  # shellcheck disable=SC2016 # ${Status} is dpkg-query's format, not a shell expansion
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [ "$status" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 -q update
  apt-get -o DPkg::Lock::Timeout=600 -q -y install "${missing[@]}"
else
  echo "packages: all ${#packages[@]} present"
fi
