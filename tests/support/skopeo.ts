// A real registry client (Debian's skopeo) against a registry reached by its registryHostname, as clients
// reach Quay in the lab: through a TLS front (the lab's TLS proxy; here a self-signed one in this process that
// forwards to Quay's plain-HTTP 8080 with X-Forwarded-Proto https). skopeo runs in a private mount namespace
// whose /etc/hosts maps the registry hostname to the front, so the token realm Quay announces
// (https://<SERVER_HOSTNAME>/v2/auth) resolves too. Credentials reach skopeo only in auth files (0600), never
// on its command line.
import { execFile, execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import * as zlib from "zlib";

export interface TlsFront {
  /** The loopback address the front listens on (port 443). */
  address: string;
  stop(): Promise<void>;
}

/** A loopback address of its own (127.64.0.0/10), so that fronts of parallel tests do not share port 443. */
function randomLoopback(): string {
  const b = crypto.randomBytes(3);
  return `127.${64 + (b[0] % 64)}.${b[1]}.${1 + (b[2] % 254)}`;
}

/** A TLS front for `hostname` on `address`:443 forwarding to `upstream` (http://host:port). */
export async function startTlsFront(dir: string, hostname: string, upstream: string, address = randomLoopback()): Promise<TlsFront> {
  const key = path.join(dir, "front.key");
  const cert = path.join(dir, "front.crt");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", `/CN=${hostname}`, "-addext", `subjectAltName=DNS:${hostname}`], { stdio: "ignore" });
  const target = new URL(upstream);
  const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
    const headers = { ...req.headers, "x-forwarded-proto": "https", "x-forwarded-for": req.socket.remoteAddress ?? "" };
    const up = http.request({ host: target.hostname, port: Number(target.port || 80), method: req.method, path: req.url, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", (e) => {
      if (!res.headersSent) res.writeHead(502, { "Content-Type": "text/plain" });
      res.end(`tls front: ${e.message}`);
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(443, address, () => resolve());
  });
  return { address, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export interface SkopeoResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs skopeo with `args` where `hostname` resolves to `address` (its own /etc/hosts in a private mount namespace). */
export function skopeo(dir: string, hostname: string, address: string, args: string[], timeoutMs = 180_000): Promise<SkopeoResult> {
  const hosts = path.join(dir, "hosts");
  fs.writeFileSync(hosts, `127.0.0.1 localhost\n${address} ${hostname}\n`);
  const script = 'mount --bind "$1" /etc/hosts && shift && exec skopeo --insecure-policy "$@"';
  return new Promise((resolve) => {
    execFile("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", hosts, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Writes a docker auth file (what skopeo's --authfile reads), mode 0600. */
export function writeAuthFile(file: string, dockerConfigJson: string): string {
  fs.writeFileSync(file, dockerConfigJson, { mode: 0o600 });
  return file;
}

const sha256 = (b: Buffer) => "sha256:" + crypto.createHash("sha256").update(b).digest("hex");

export interface OciLayoutImage {
  /** `oci:<dir>:<tag>` for skopeo. */
  ref: string;
  manifestDigest: string;
  /** Digests of the config and the layer. */
  blobs: string[];
}

/**
 * A tiny single-layer image as an OCI layout directory (no network, no build tool): one file with random
 * content, packed by tar and gzip here, its config and manifest.
 */
export function buildOciLayout(dir: string, tag: string): OciLayoutImage {
  const rootfs = path.join(dir, "rootfs");
  fs.mkdirSync(path.join(rootfs, "etc"), { recursive: true });
  fs.writeFileSync(path.join(rootfs, "etc", "quay-mirror-e2e"), `e2e ${crypto.randomUUID()}\n`);
  const tar = execFileSync("tar", ["-C", rootfs, "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "--sort=name", "-cf", "-", "."]);
  const layer = zlib.gzipSync(tar);
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: { Cmd: ["/bin/true"] }, rootfs: { type: "layers", diff_ids: [sha256(tar)] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(layer), size: layer.length }],
    }),
  );
  const layout = path.join(dir, "layout");
  fs.mkdirSync(path.join(layout, "blobs", "sha256"), { recursive: true });
  for (const b of [layer, config, manifest]) fs.writeFileSync(path.join(layout, "blobs", "sha256", sha256(b).slice(7)), b);
  fs.writeFileSync(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  fs.writeFileSync(
    path.join(layout, "index.json"),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: manifest.length, annotations: { "org.opencontainers.image.ref.name": tag } }] }),
  );
  return { ref: `oci:${layout}:${tag}`, manifestDigest: sha256(manifest), blobs: [sha256(config), sha256(layer)] };
}
