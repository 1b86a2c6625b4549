// Blob storage of the emulated registry (Quay's storage/ drivers). Blob bytes never live in QuayState (its
// collections are plain serializable data); they go through a BlobStore:
//   - MemoryBlobStore: the default, in the emulator's process;
//   - S3BlobStore: when config.yaml's DISTRIBUTED_STORAGE_CONFIG uses RadosGWStorage (as QuayHost renders it:
//     hostname, port, is_secure, bucket_name, storage_path, access_key, secret_key, region_name?), blobs go to
//     that bucket over S3 (the `minio` client library) under storage_path with Quay's layout
//     (digest/digest_tools.py content_path: sha256/<first 2 hex>/<hex>; storage/cloud.py _init_path strips the
//     leading "/" of storage_path).
// checkStorage() is the storage check of /health/instance (storage/basestorage.py validate: write
// "_verify" and see that it exists).
import * as crypto from "node:crypto";
import type { QuayConfig } from "./config";

export interface BlobStore {
  /** "memory" or "s3://host:port/bucket/storage_path" (no secret). */
  readonly description: string;
  put(digest: string, data: Buffer): Promise<void>;
  /** The blob's bytes, or null when the store does not have it. */
  get(digest: string): Promise<Buffer | null>;
  /** The blob's size, or null when the store does not have it. */
  size(digest: string): Promise<number | null>;
  /** storage.validate: write `_verify` and see that it is there. Throws naming the cause. */
  validate(): Promise<void>;
}

export const DIGEST_RE = /^(sha256):([a-f0-9]{64})$/;

/** sha256 digest of bytes in registry form. */
export function sha256Digest(data: Buffer): string {
  return "sha256:" + crypto.createHash("sha256").update(data).digest("hex");
}

/** digest_tools.content_path: "sha256/ab/abcdef…". */
export function contentPath(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new Error(`not a sha256 digest: ${digest}`);
  return `${m[1]}/${m[2].slice(0, 2).padStart(2, "0")}/${m[2]}`;
}

export class MemoryBlobStore implements BlobStore {
  readonly description = "memory";
  private blobs = new Map<string, Buffer>();
  async put(digest: string, data: Buffer): Promise<void> {
    this.blobs.set(digest, Buffer.from(data));
  }
  async get(digest: string): Promise<Buffer | null> {
    return this.blobs.get(digest) ?? null;
  }
  async size(digest: string): Promise<number | null> {
    return this.blobs.get(digest)?.length ?? null;
  }
  async validate(): Promise<void> {
    this.blobs.set("_verify", Buffer.from("testing 123"));
  }
}

/** The RadosGWStorage arguments the emulator reads (components/quay-host/render.ts renders them). */
export interface RadosGWArgs {
  hostname: string;
  port?: number;
  is_secure?: boolean;
  bucket_name: string;
  storage_path: string;
  access_key: string;
  secret_key: string;
  region_name?: string;
}

type MinioClient = import("minio").Client;

function isNotFound(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === "NoSuchKey" || code === "NotFound" || code === "NoSuchVersion";
}

export class S3BlobStore implements BlobStore {
  readonly description: string;
  private client: MinioClient;
  private readonly bucket: string;
  private readonly root: string;

  constructor(args: RadosGWArgs) {
    // Loaded here, not at the top: only an emulator configured with RadosGWStorage needs the library.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Minio = require("minio") as typeof import("minio");
    const secure = args.is_secure === true;
    const port = args.port ?? (secure ? 443 : 80);
    this.client = new Minio.Client({
      endPoint: args.hostname,
      port,
      useSSL: secure,
      accessKey: args.access_key,
      secretKey: args.secret_key,
      // boto3 signs for us-east-1 when no region is configured; naming it also spares a GetBucketLocation.
      region: args.region_name ?? "us-east-1",
      pathStyle: true,
    });
    this.bucket = args.bucket_name;
    this.root = (args.storage_path ?? "").replace(/^\/+/, "").replace(/\/+$/, "");
    this.description = `s3://${args.hostname}:${port}/${this.bucket}/${this.root}`;
  }

  /** _init_path: storage_path joined with the relative path, without a leading "/". */
  key(rel: string): string {
    return this.root ? `${this.root}/${rel}` : rel;
  }

  async put(digest: string, data: Buffer): Promise<void> {
    await this.client.putObject(this.bucket, this.key(contentPath(digest)), data, data.length, { "Content-Type": "application/octet-stream" });
  }
  async get(digest: string): Promise<Buffer | null> {
    try {
      const stream = await this.client.getObject(this.bucket, this.key(contentPath(digest)));
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }
  async size(digest: string): Promise<number | null> {
    try {
      return (await this.client.statObject(this.bucket, this.key(contentPath(digest)))).size;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }
  async validate(): Promise<void> {
    const key = this.key("_verify");
    await this.client.putObject(this.bucket, key, Buffer.from("testing 123"), 11);
    await this.client.statObject(this.bucket, key);
  }
}

/** The store config.yaml asks for: RadosGWStorage (the preferred location) -> S3, otherwise memory. */
export function blobStoreFromConfig(cfg: QuayConfig): BlobStore {
  const locations = cfg.get<Record<string, unknown> | undefined>("DISTRIBUTED_STORAGE_CONFIG");
  const preference = cfg.get<string[] | undefined>("DISTRIBUTED_STORAGE_PREFERENCE") ?? [];
  if (locations && typeof locations === "object") {
    const id = preference.find((p) => p in locations) ?? Object.keys(locations)[0];
    const entry = id !== undefined ? locations[id] : undefined;
    if (Array.isArray(entry) && entry[0] === "RadosGWStorage") {
      const a = (entry[1] ?? {}) as Partial<RadosGWArgs>;
      for (const k of ["hostname", "bucket_name", "access_key", "secret_key"] as const) {
        if (typeof a[k] !== "string" || a[k] === "") throw new Error(`DISTRIBUTED_STORAGE_CONFIG.${id}: RadosGWStorage needs ${k}`);
      }
      return new S3BlobStore({ ...(a as RadosGWArgs), port: a.port === undefined ? undefined : Number(a.port), storage_path: a.storage_path ?? "" });
    }
  }
  return new MemoryBlobStore();
}

/**
 * The storage part of /health/instance: ok, or the error that made the store unusable (the message names
 * the store, never a key).
 */
export async function checkStorage(store: BlobStore): Promise<{ ok: true } | { ok: false; error: string }> {
  try {
    await store.validate();
    return { ok: true };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return { ok: false, error: `storage ${store.description}: ${err.code ? `${err.code}: ` : ""}${err.message ?? String(e)}` };
  }
}
