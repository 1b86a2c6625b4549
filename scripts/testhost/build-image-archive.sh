#!/usr/bin/env bash
# Builds a container image archive (docker-archive format, what `podman load` reads) without Docker,
# without a registry and without podman on the host: one layer holding a Node binary, the shared
# libraries it links (copied from this machine) and an application directory.
#
#   scripts/testhost/build-image-archive.sh --out FILE [--tag REF] [--app DIR] [--node PATH]
#                                           [--user UID] [--port N] [-- CMD...]
#
#   --out FILE   the archive to write (a plain tar; gzip it if you like, podman load reads both)
#   --tag REF    image reference recorded in the archive (default localhost/quay-standin:test)
#   --app DIR    copied to /app in the image (default: a tiny demo server answering GET
#                /health/instance on --port)
#   --node PATH  the node binary (default: the one on PATH; `source scripts/env.sh` gives Node 22)
#   --user UID   user the image runs as (default 1001, like Quay's image); it gets a passwd entry
#   --port N     recorded as exposed and passed as PORT (default 8080)
#   -- CMD...    the command (default: node /app/server.js)
#
# Load it on a host with `podman load -i FILE`, then `podman run --network host REF`. Podman 4.3
# (Debian 12) does not read a compressed docker-archive: copy the plain tar (or decompress first).
# The command runs as PID 1 of the container: it must handle SIGTERM itself (the demo does).
# The archive is reproducible for the same inputs (fixed mtimes and owners, sorted entries).
set -euo pipefail

out="" tag="localhost/quay-standin:test" app="" node="" user=1001 port=8080
cmd=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --tag) tag="$2"; shift ;;
    --app) app="$2"; shift ;;
    --node) node="$2"; shift ;;
    --user) user="$2"; shift ;;
    --port) port="$2"; shift ;;
    --) shift; cmd=("$@"); break ;;
    *) echo "usage: build-image-archive.sh --out FILE [--tag REF] [--app DIR] [--node PATH] [--user UID] [--port N] [-- CMD...]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$out" ] || { echo "build-image-archive: --out is required" >&2; exit 2; }
[[ "$user" =~ ^[0-9]+$ && "$port" =~ ^[0-9]+$ ]] || { echo "build-image-archive: --user and --port are numbers" >&2; exit 2; }
node="${node:-$(command -v node || true)}"
[ -x "$node" ] || { echo "build-image-archive: no node binary (use --node or source scripts/env.sh)" >&2; exit 1; }
[ ${#cmd[@]} -gt 0 ] || cmd=(/usr/local/bin/node /app/server.js)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{usr/local/bin,etc,tmp,app,home/app} "$work/archive"
chmod 1777 "$root/tmp"

# Node and every shared object it links, at the same paths as here (plus the dynamic loader).
cp -L "$node" "$root/usr/local/bin/node"
ldd "$node" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$root/etc/ssl/certs"
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi

printf 'root:x:0:0:root:/root:/sbin/nologin\napp:x:%s:0:app:/home/app:/sbin/nologin\n' "$user" >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"

if [ -n "$app" ]; then
  cp -a "$app/." "$root/app/"
else
  cat >"$root/app/server.js" <<'EOF'
// Demo server of build-image-archive.sh: proves the image runs (GET /health/instance).
const http = require("http");
const port = Number(process.env.PORT || 8080);
http
  .createServer((req, res) => {
    const ok = req.url === "/health/instance";
    res.writeHead(ok ? 200 : 404, { "Content-Type": "application/json" });
    res.end(JSON.stringify(ok ? { data: { services: { demo: true } }, status_code: 200 } : { error: "not found" }));
  })
  .listen(port, () => console.log(`listening on ${port} as uid ${process.getuid()}`));
// PID 1 in a container gets no default signal handling: without this, `podman stop` waits 10 s.
process.on("SIGTERM", () => process.exit(0));
EOF
fi

# Owners: root everywhere but the user's home (needs root; elsewhere the home stays world-writable).
if [ "$(id -u)" -eq 0 ]; then
  chown -R 0:0 "$root"
  chown "$user:0" "$root/home/app"
else
  chmod 1777 "$root/home/app"
fi
# The layer: a deterministic tar of the root file system.
mapfile -t top < <(cd "$root" && ls -A)
tar --sort=name --mtime=@0 --numeric-owner --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$root" -cf "$work/layer.tar" "${top[@]}"
layer_sha="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
mkdir -p "$work/archive/$layer_sha"
mv "$work/layer.tar" "$work/archive/$layer_sha/layer.tar"

# Image config and manifest (docker-archive: manifest.json + <config>.json + <layer>/layer.tar).
config_sha="$(python3 - "$work/archive" "$layer_sha" "$tag" "$user" "$port" "${cmd[@]}" <<'EOF'
import hashlib, json, os, sys
archive, layer_sha, tag, user, port, *cmd = sys.argv[1:]
config = {
    "architecture": "amd64",
    "os": "linux",
    "created": "1970-01-01T00:00:00Z",
    "config": {
        "User": user,
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "PORT=" + port, "HOME=/home/app"],
        "Cmd": cmd,
        "WorkingDir": "/app",
        "ExposedPorts": {port + "/tcp": {}},
    },
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_sha]},
    "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "scripts/testhost/build-image-archive.sh"}],
}
data = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
config_sha = hashlib.sha256(data).hexdigest()
with open(os.path.join(archive, config_sha + ".json"), "wb") as f:
    f.write(data)
manifest = [{"Config": config_sha + ".json", "RepoTags": [tag], "Layers": [layer_sha + "/layer.tar"]}]
with open(os.path.join(archive, "manifest.json"), "w") as f:
    json.dump(manifest, f)
name, _, version = tag.rpartition(":")
with open(os.path.join(archive, "repositories"), "w") as f:
    json.dump({name: {version: layer_sha}}, f)
print(config_sha)
EOF
)"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/archive" -cf "$out.tmp" \
  manifest.json repositories "$config_sha.json" "$layer_sha"
mv "$out.tmp" "$out"
echo "build-image-archive: wrote $out ($(du -h "$out" | cut -f1)) as $tag" >&2
