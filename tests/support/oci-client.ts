// A minimal OCI distribution client over fetch, doing what skopeo/podman do: a token from the registry's
// realm (/v2/auth with Basic credentials and the repository scope), then blob uploads (monolithic, or POST +
// PATCH chunks + PUT ?digest=), manifest PUT/GET, blob GET. Used by the emulator's registry tests.
import * as crypto from "node:crypto";

export interface Credential {
  username: string;
  password: string;
}

export interface Res {
  status: number;
  headers: Headers;
  bytes: Buffer;
  text: string;
  /** Parsed JSON body, or undefined. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export const sha256 = (b: Buffer) => "sha256:" + crypto.createHash("sha256").update(b).digest("hex");

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

export interface TestImage {
  config: Buffer;
  layers: Buffer[];
  manifest: Buffer;
  digest: string;
  mediaType: string;
}

/** An image of random layer bytes (the registry does not look inside layers). */
export function makeImage(layerSizes: number[] = [1500], mediaType = OCI_MANIFEST): TestImage {
  const layers = layerSizes.map((n) => crypto.randomBytes(n));
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layers.map(sha256) } }));
  const docker = mediaType === DOCKER_MANIFEST;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(l), size: l.length })),
    }),
  );
  return { config, layers, manifest, digest: sha256(manifest), mediaType };
}

export class OciClient {
  constructor(
    readonly base: string,
    readonly service: string,
  ) {}

  async req(method: string, url: string, opts: { token?: string; body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Res> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    const r = await fetch(url.startsWith("http") ? url : this.base + url, { method, headers, body: opts.body, redirect: "manual" });
    const bytes = Buffer.from(await r.arrayBuffer());
    const text = bytes.toString("utf8");
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: r.status, headers: r.headers, bytes, text, json };
  }

  /** The realm's token for `repository:<repo>:<actions>` (what a client asks after a 401). */
  async token(cred: Credential | undefined, repo: string, actions: string): Promise<string> {
    const headers: Record<string, string> = {};
    if (cred) headers.Authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString("base64")}`;
    const r = await this.req("GET", `/v2/auth?service=${encodeURIComponent(this.service)}&scope=${encodeURIComponent(`repository:${repo}:${actions}`)}`, { headers });
    if (r.status !== 200) throw new Error(`/v2/auth for ${repo}: ${r.status} ${r.text}`);
    return r.json.token as string;
  }

  /** Uploads one blob: monolithic (POST ?digest=) or chunked (POST, PATCH each chunk, PUT ?digest=). */
  async uploadBlob(token: string, repo: string, data: Buffer, chunkSize?: number): Promise<Res> {
    const digest = sha256(data);
    if (!chunkSize) {
      return this.req("POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, { token, body: data, headers: { "Content-Type": "application/octet-stream" } });
    }
    const start = await this.req("POST", `/v2/${repo}/blobs/uploads/`, { token });
    if (start.status !== 202) return start;
    let location = start.headers.get("location")!;
    for (let off = 0; off < data.length; off += chunkSize) {
      const chunk = data.subarray(off, off + chunkSize);
      const r = await this.req("PATCH", location, { token, body: chunk, headers: { "Content-Type": "application/octet-stream", "Content-Range": `${off}-${off + chunk.length - 1}` } });
      if (r.status !== 202) return r;
      location = r.headers.get("location")!;
    }
    return this.req("PUT", `${location}${location.includes("?") ? "&" : "?"}digest=${digest}`, { token });
  }

  /** Pushes an image: its blobs (chunked when chunkSize), then the manifest under `ref`. */
  async push(token: string, repo: string, img: TestImage, ref: string, chunkSize?: number): Promise<Res> {
    for (const blob of [img.config, ...img.layers]) {
      const head = await this.req("HEAD", `/v2/${repo}/blobs/${sha256(blob)}`, { token });
      if (head.status === 200) continue;
      const r = await this.uploadBlob(token, repo, blob, chunkSize);
      if (r.status !== 201) return r;
    }
    return this.req("PUT", `/v2/${repo}/manifests/${ref}`, { token, body: img.manifest, headers: { "Content-Type": img.mediaType } });
  }

  /** Pulls `ref`: the manifest, then every blob it names; the blobs' bytes by digest. */
  async pull(token: string | undefined, repo: string, ref: string): Promise<{ manifest: Res; blobs: Map<string, Buffer>; failure?: Res }> {
    const manifest = await this.req("GET", `/v2/${repo}/manifests/${ref}`, { token, headers: { Accept: [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST].join(", ") } });
    const blobs = new Map<string, Buffer>();
    if (manifest.status !== 200) return { manifest, blobs, failure: manifest };
    const doc = manifest.json as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
      const b = await this.req("GET", `/v2/${repo}/blobs/${d}`, { token });
      if (b.status !== 200) return { manifest, blobs, failure: b };
      blobs.set(d, b.bytes);
    }
    return { manifest, blobs };
  }
}
