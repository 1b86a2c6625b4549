// The OCI distribution endpoints a client needs to push and pull (endpoints/v2/blob.py, manifest.py, tag.py),
// behind the bearer tokens GET /v2/auth issues (auth/registry_jwt_auth.py: the token's `access` grants are
// the only permissions; pull -> read, push -> write, * -> admin; write and admin imply read).
// Manifests, tags and blob metadata are plain rows in QuayState; blob bytes go to the BlobStore (storage.ts).
// Upload sessions (the bytes received so far) are kept in this process.
import { parseRepoPath } from "../common";
import { Reply, Router, Rq } from "../context";
import { HttpReply, v2Error } from "../errors";
import type { ManifestRecord, QuayState, Repo } from "../state";
import { DIGEST_RE, sha256Digest } from "../storage";
import { randomUUID } from "node:crypto";

export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
const MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
/** data/model/oci/tag.py TAG_REGEX (image/docker/__init__.py). */
const TAG_RE = /^[\w][\w.-]{0,127}$/;

interface Upload {
  repoId: number;
  chunks: Buffer[];
  size: number;
}
const uploadsByState = new WeakMap<QuayState, Map<string, Upload>>();
function uploads(rq: Rq): Map<string, Upload> {
  let m = uploadsByState.get(rq.st);
  if (!m) uploadsByState.set(rq.st, (m = new Map()));
  return m;
}

// ---- errors (endpoints/v2/errors.py)
const appUrl = (rq: Rq) => `${rq.cfg.get<string>("PREFERRED_URL_SCHEME")}://${rq.cfg.get<string>("SERVER_HOSTNAME")}`;

/** get_auth_headers(repository, scopes). */
function authHeaders(rq: Rq, repository?: string, scopes?: string[]): Record<string, string> {
  const host = rq.cfg.get<string>("SERVER_HOSTNAME");
  let v = `Bearer realm="${appUrl(rq)}/v2/auth",service="${host}"`;
  if (repository) v += `,scope="repository:${repository}${scopes?.length ? ":" + scopes.join(",") : ""}"`;
  return { "WWW-Authenticate": v };
}
const unauthorized = (rq: Rq, repository?: string, scopes?: string[]) => v2Error(401, "UNAUTHORIZED", "access to the requested resource is not authorized", {}, authHeaders(rq, repository, scopes));
const blobUnknown = () => v2Error(404, "BLOB_UNKNOWN", "blob unknown to registry");
const blobUploadUnknown = () => v2Error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
const blobUploadInvalid = (detail: unknown = {}) => v2Error(400, "BLOB_UPLOAD_INVALID", "blob upload invalid", detail);
const manifestInvalid = (detail: unknown = {}) => v2Error(400, "MANIFEST_INVALID", "manifest invalid", detail);
const manifestUnknown = () => v2Error(404, "MANIFEST_UNKNOWN", "manifest unknown");
const nameUnknown = () => v2Error(404, "NAME_UNKNOWN", "repository not found");
const unsupported = () => v2Error(405, "UNSUPPORTED", "The operation is unsupported.");
const readOnly = () =>
  new HttpReply(405, { errors: [{ code: "DENIED", detail: {}, is_readonly: true, message: "System is currently read-only. Pulls will succeed but all write operations are currently suspended." }] }, "jsonify");

// ---- auth (process_registry_jwt_auth + require_repo_read/write + anon_protect)
type Level = 0 | 1 | 2 | 3;
interface Target {
  namespace: string;
  reponame: string;
  /** "namespace/reponame" as Quay writes it in errors and the tags list. */
  full: string;
  repo: Repo | undefined;
}

/** parse_namespace_repository of a grant name: the first path segment is the namespace. */
function grantTarget(rq: Rq, name: string): [string, string] {
  const parts = name.replace(/\/+$/, "").split("/");
  return parts.length < 2 ? [rq.cfg.get<string>("LIBRARY_NAMESPACE"), parts[0]] : parseRepoPath(name);
}

/** The caller's level on the repository from the bearer token; throws 401 for a token Quay would refuse. */
function tokenLevel(rq: Rq, t: Target, scopes: string[]): { level: Level } {
  const header = (rq.header("authorization") ?? "").trim();
  if (!header) return { level: 0 };
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  const verified = m ? rq.core.jwtVerify(m[1]) : { error: "Invalid bearer token format" };
  if ("error" in verified) throw new HttpReply(401, { error: verified.error }, "abort", authHeaders(rq, t.full, scopes));
  let level: Level = 0;
  const access = verified.payload.access;
  if (Array.isArray(access)) {
    for (const g of access as Array<{ type?: string; name?: string; actions?: string[] }>) {
      if (g?.type !== "repository" || typeof g.name !== "string" || !Array.isArray(g.actions)) continue;
      const [ns, repo] = grantTarget(rq, g.name);
      if (ns !== t.namespace || repo !== t.reponame) continue;
      const l: Level = g.actions.includes("*") ? 3 : g.actions.includes("push") ? 2 : g.actions.includes("pull") ? 1 : 0;
      if (l > level) level = l;
    }
  }
  return { level };
}

function target(rq: Rq): Target {
  const [namespace, reponame] = parseRepoPath(rq.params.repository);
  return { namespace, reponame, full: `${namespace}/${reponame}`, repo: rq.st.repo(namespace, reponame) };
}

/** require_repo_read (allow_public) then anon_protect. */
function requireRead(rq: Rq): Target {
  const t = target(rq);
  if (tokenLevel(rq, t, ["pull"]).level >= 1) return t;
  if (!t.repo || t.repo.visibility !== "public" || !rq.cfg.feature("ANONYMOUS_ACCESS")) throw unauthorized(rq, t.full, ["pull"]);
  return t;
}

/** require_repo_write, anon_protect, check_readonly; then the repository must exist (NameUnknown). */
function requireWrite(rq: Rq): Target & { repo: Repo } {
  const t = target(rq);
  const { level } = tokenLevel(rq, t, ["pull", "push"]);
  if (level < 2) throw unauthorized(rq, t.full, ["pull", "push"]);
  if (rq.cfg.get("REGISTRY_STATE") === "readonly") throw readOnly();
  if (!t.repo) throw nameUnknown();
  return t as Target & { repo: Repo };
}

const raw = (status: number, body: Buffer | string, headers: Record<string, string>): Reply => ({ status, body, style: "raw", headers });

// ---- blobs
function linkBlob(rq: Rq, repoId: number, digest: string, size: number): void {
  const st = rq.st;
  const existing = st.blobs.find((b) => b.digest === digest);
  if (!existing) st.blobs.push({ digest, size, created: rq.core.now() });
  if (!st.repoBlobs.some((b) => b.repoId === repoId && b.digest === digest)) st.repoBlobs.push({ repoId, digest });
}
function repoBlob(rq: Rq, repoId: number, digest: string) {
  if (!rq.st.repoBlobs.some((b) => b.repoId === repoId && b.digest === digest)) return undefined;
  return rq.st.blobs.find((b) => b.digest === digest);
}

async function checkBlob(rq: Rq): Promise<Reply> {
  const t = requireRead(rq);
  const digest = rq.params.digest;
  const blob = t.repo && DIGEST_RE.test(digest) ? repoBlob(rq, t.repo.id, digest) : undefined;
  if (!blob) throw blobUnknown();
  const headers = { "Docker-Content-Digest": digest, "Content-Type": "application/octet-stream", "Cache-Control": "max-age=31536000" };
  if (rq.method === "HEAD") return raw(200, "", { ...headers, "Content-Length": String(blob.size) });
  // Quay streams from storage what its database lists; a blob the store lost (a lifecycle rule expired it)
  // cannot be served: the client sees BLOB_UNKNOWN.
  const bytes = await rq.core.blobStore().get(digest);
  if (!bytes) throw blobUnknown();
  return raw(200, bytes, headers);
}

function blobLocation(rq: Rq, t: Target, digest: string): string {
  return `${appUrl(rq)}/v2/${t.full}/blobs/${digest}`;
}

async function commit(rq: Rq, t: Target & { repo: Repo }, data: Buffer, digest: string): Promise<Reply> {
  if (!DIGEST_RE.test(digest) || sha256Digest(data) !== digest) throw blobUploadInvalid();
  await rq.core.blobStore().put(digest, data);
  linkBlob(rq, t.repo.id, digest, data.length);
  return raw(201, "", { "Docker-Content-Digest": digest, Location: blobLocation(rq, t, digest) });
}

/** _start_offset_and_length of Content-Range ("start-end", inclusive); null when it does not parse. */
function contentRange(rq: Rq): { start: number; length: number } | null {
  const h = rq.header("content-range");
  if (h === undefined) return { start: 0, length: -1 };
  const m = /^([0-9]+)-([0-9]+)$/.exec(h);
  if (!m) return null;
  const start = Number(m[1]);
  const length = Number(m[2]) - start + 1;
  return length < 0 ? null : { start, length };
}

function appendChunk(rq: Rq, uuid: string, up: Upload): void {
  const range = contentRange(rq);
  if (!range) throw v2Error(400, "INVALID_REQUEST", "Invalid range header");
  if (range.start > 0 && range.start !== up.size) {
    throw new HttpReply(416, "", "raw", { Location: `${appUrl(rq)}${rq.path}`, Range: `0-${up.size - 1}`, "Docker-Upload-UUID": uuid });
  }
  if (rq.body.length) {
    up.chunks.push(Buffer.from(rq.body));
    up.size += rq.body.length;
  }
}

async function startUpload(rq: Rq): Promise<Reply> {
  const t = requireWrite(rq);
  const mount = rq.query.get("mount");
  const from = rq.query.get("from");
  if (mount && from && DIGEST_RE.test(mount)) {
    // _try_to_mount_blob: the blob must be in the source repository and the token must allow reading it.
    const [fns, frepo] = grantTarget(rq, from);
    const source = rq.st.repo(fns, frepo);
    const fromTarget: Target = { namespace: fns, reponame: frepo, full: `${fns}/${frepo}`, repo: source };
    const readable = source && (tokenLevel(rq, fromTarget, ["pull"]).level >= 1 || source.visibility === "public");
    const blob = readable ? repoBlob(rq, source.id, mount) : undefined;
    if (blob) {
      linkBlob(rq, t.repo.id, mount, blob.size);
      return raw(201, "", { "Docker-Content-Digest": mount, Location: blobLocation(rq, t, mount) });
    }
  }
  const digest = rq.query.get("digest");
  if (digest !== null) return commit(rq, t, rq.body, digest);
  // Without a digest the request's body is not read: the data comes in later requests.
  const uuid = randomUUID();
  uploads(rq).set(uuid, { repoId: t.repo.id, chunks: [], size: 0 });
  return raw(202, "", { "Docker-Upload-UUID": uuid, Range: "bytes=0--1", Location: `${appUrl(rq)}/v2/${t.full}/blobs/uploads/${uuid}` });
}

function findUpload(rq: Rq, t: Target & { repo: Repo }): [string, Upload] {
  const uuid = rq.params.uuid;
  const up = uploads(rq).get(uuid);
  if (!up || up.repoId !== t.repo.id) throw blobUploadUnknown();
  return [uuid, up];
}

function uploadStatus(rq: Rq): Reply {
  const t = requireWrite(rq);
  const [uuid, up] = findUpload(rq, t);
  // _render_range(byte_count + 1): Quay's "byte ranges are exclusive".
  return raw(204, "", { "Docker-Upload-UUID": uuid, Range: `bytes=0-${up.size}` });
}

function uploadChunk(rq: Rq): Reply {
  const t = requireWrite(rq);
  const [uuid, up] = findUpload(rq, t);
  appendChunk(rq, uuid, up);
  return raw(202, "", { Location: `${appUrl(rq)}${rq.path}`, Range: `0-${up.size - 1}`, "Docker-Upload-UUID": uuid });
}

async function finishUpload(rq: Rq): Promise<Reply> {
  const digest = rq.query.get("digest");
  if (digest === null) {
    requireWrite(rq);
    throw blobUploadInvalid({ reason: "Missing digest arg on monolithic upload" });
  }
  const t = requireWrite(rq);
  const [uuid, up] = findUpload(rq, t);
  appendChunk(rq, uuid, up);
  const data = Buffer.concat(up.chunks);
  uploads(rq).delete(uuid);
  return commit(rq, t, data, digest);
}

function cancelUpload(rq: Rq): Reply {
  const t = requireWrite(rq);
  const [uuid] = findUpload(rq, t);
  uploads(rq).delete(uuid);
  return raw(204, "", {});
}

function deleteBlob(rq: Rq): Reply {
  requireWrite(rq);
  throw unsupported();
}

// ---- manifests
function findManifest(rq: Rq, repo: Repo, ref: string): ManifestRecord | undefined {
  if (DIGEST_RE.test(ref)) return rq.st.manifests.find((m) => m.repoId === repo.id && m.digest === ref);
  const tag = rq.st.tags.find((x) => x.repoId === repo.id && x.name === ref);
  return tag ? rq.st.manifests.find((m) => m.repoId === repo.id && m.digest === tag.manifestDigest) : undefined;
}

function getManifest(rq: Rq): Reply {
  const t = requireRead(rq);
  if (!t.repo) throw nameUnknown();
  const m = findManifest(rq, t.repo, rq.params.reference);
  if (!m) throw manifestUnknown();
  const headers = { "Content-Type": m.mediaType, "Docker-Content-Digest": m.digest };
  return raw(200, Buffer.from(m.content, "utf8"), headers);
}

/** parse_manifest_from_bytes for the four schema-2 / OCI media types; the referenced digests. */
function parseManifest(contentType: string, body: Buffer): { mediaType: string; references: string[] } {
  const mediaType = contentType.split(";")[0].trim().toLowerCase();
  if (!MANIFEST_TYPES.has(mediaType) && !INDEX_TYPES.has(mediaType)) {
    throw manifestInvalid({ message: `failed to parse manifest: unsupported manifest media type ${mediaType || "(none)"}` });
  }
  const text = body.toString("utf8");
  let doc: Record<string, unknown>;
  try {
    if (!Buffer.from(text, "utf8").equals(body)) throw new Error("manifest is not UTF-8");
    doc = JSON.parse(text) as Record<string, unknown>;
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Error("manifest is not a JSON object");
  } catch (e) {
    throw manifestInvalid({ message: `failed to parse manifest: ${(e as Error).message}` });
  }
  const fail = (why: string) => manifestInvalid({ message: `failed to parse manifest: ${why}` });
  if (doc.schemaVersion !== 2) throw fail("schemaVersion must be 2");
  if (doc.mediaType !== undefined && doc.mediaType !== mediaType) throw fail(`mediaType ${String(doc.mediaType)} does not match the Content-Type ${mediaType}`);
  const descriptor = (d: unknown, where: string): string => {
    const digest = (d as { digest?: unknown } | null)?.digest;
    if (typeof digest !== "string" || !DIGEST_RE.test(digest)) throw fail(`${where} has no valid sha256 digest`);
    return digest;
  };
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw fail("an index needs a manifests array");
    return { mediaType, references: doc.manifests.map((d, i) => descriptor(d, `manifests[${i}]`)) };
  }
  if (!Array.isArray(doc.layers)) throw fail("a manifest needs a layers array");
  const layers = (doc.layers as Array<{ urls?: unknown }>).filter((l) => !Array.isArray(l?.urls) || l.urls.length === 0);
  return { mediaType, references: [descriptor(doc.config, "config"), ...layers.map((l, i) => descriptor(l, `layers[${i}]`))] };
}

function putManifest(rq: Rq): Reply {
  const t = requireWrite(rq);
  const ref = rq.params.reference;
  const byDigest = DIGEST_RE.test(ref);
  if (byDigest) {
    if (sha256Digest(rq.body) !== ref) throw manifestInvalid({ message: "manifest digest mismatch" });
  } else if (!TAG_RE.test(ref)) {
    throw v2Error(400, "TAG_INVALID", "manifest tag did not match URI");
  }
  const { mediaType, references } = parseManifest(rq.header("content-type") ?? "", rq.body);
  const index = INDEX_TYPES.has(mediaType);
  for (const d of references) {
    if (index) {
      if (!rq.st.manifests.some((m) => m.repoId === t.repo.id && m.digest === d)) throw manifestInvalid({ message: "Unable to retrieve child manifest" });
    } else if (!repoBlob(rq, t.repo.id, d)) {
      throw manifestInvalid({ message: `Unknown blob \`${d}\`` });
    }
  }
  const digest = sha256Digest(rq.body);
  const now = rq.core.now();
  const st = rq.st;
  if (!st.manifests.some((m) => m.repoId === t.repo.id && m.digest === digest)) {
    st.manifests.push({ id: st.id(), repoId: t.repo.id, digest, mediaType, content: rq.body.toString("utf8"), references, created: now });
  }
  if (!byDigest) {
    const tag = st.tags.find((x) => x.repoId === t.repo.id && x.name === ref);
    if (tag) {
      tag.manifestDigest = digest;
      tag.lastModified = now;
    } else st.tags.push({ id: st.id(), repoId: t.repo.id, name: ref, manifestDigest: digest, lastModified: now });
  }
  return raw(201, "OK", { "Docker-Content-Digest": digest, Location: `/v2/${t.full}/manifests/${digest}` });
}

function deleteManifest(rq: Rq): Reply {
  const t = requireWrite(rq);
  const ref = rq.params.reference;
  const st = rq.st;
  if (DIGEST_RE.test(ref)) {
    if (!st.manifests.some((m) => m.repoId === t.repo.id && m.digest === ref)) throw manifestUnknown();
    st.tags = st.tags.filter((x) => !(x.repoId === t.repo.id && x.manifestDigest === ref));
    st.manifests = st.manifests.filter((m) => !(m.repoId === t.repo.id && m.digest === ref));
  } else {
    if (!st.tags.some((x) => x.repoId === t.repo.id && x.name === ref)) throw manifestUnknown();
    st.tags = st.tags.filter((x) => !(x.repoId === t.repo.id && x.name === ref));
  }
  return raw(202, "", {});
}

// ---- tags (oci_tag_paginate)
function listTags(rq: Rq): Reply {
  const t = requireRead(rq);
  if (!t.repo) throw nameUnknown();
  const max = Math.max(Number(rq.cfg.get("V2_PAGINATION_SIZE") ?? 100) || 100, 100);
  const nRaw = rq.query.get("n");
  let limit = nRaw === null ? max : /^-?\d+$/.test(nRaw.trim()) ? Number(nRaw) : max;
  limit = Math.max(Math.min(limit, max), 0);
  const last = rq.query.get("last")?.trim() ?? null;
  const repoId = t.repo.id;
  const names = rq.st.tags.filter((x) => x.repoId === repoId).map((x) => x.name).sort();
  const after = last === null ? names : names.filter((n) => n > last);
  const page = limit > 0 ? after.slice(0, limit) : [];
  const headers: Record<string, string> = {};
  if (limit > 0 && after.length > limit) {
    headers.Link = `<${appUrl(rq)}/v2/${t.full}/tags/list?n=${limit}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`;
  }
  return { status: 200, body: { name: t.full, tags: page }, style: "jsonify", headers };
}

/**
 * The `tags` of GET /api/v1/repository/{repo} (repository_models_pre_oci.get_repo: the active tags, newest
 * first, at most maxTags; Tag.to_dict): name, size (the manifest's layers; null for an index),
 * last_modified, manifest_digest.
 */
export function repositoryTagsView(rq: Rq, repoId: number, maxTags: number, fmt: (d: Date | null) => string | null): Record<string, unknown> {
  const tags = rq.st.tags.filter((t) => t.repoId === repoId).sort((a, b) => b.lastModified - a.lastModified || b.id - a.id).slice(0, maxTags);
  const out: Record<string, unknown> = {};
  for (const t of tags) {
    const m = rq.st.manifests.find((x) => x.repoId === repoId && x.digest === t.manifestDigest);
    let size: number | null = null;
    if (m && MANIFEST_TYPES.has(m.mediaType)) {
      const layers = (JSON.parse(m.content) as { layers?: { size?: number }[] }).layers ?? [];
      size = layers.reduce((n, l) => n + (typeof l.size === "number" ? l.size : 0), 0);
    }
    const v: Record<string, unknown> = { name: t.name, size };
    if (t.lastModified > 0) v.last_modified = fmt(new Date(Math.floor(t.lastModified / 1000) * 1000));
    v.manifest_digest = t.manifestDigest;
    out[t.name] = v;
  }
  return out;
}

export function register(r: Router): void {
  r.add("POST", "/v2/{repository:path}/blobs/uploads/", startUpload, { api: false });
  r.add("GET", "/v2/{repository:path}/blobs/uploads/{uuid}", uploadStatus, { api: false });
  r.add("PATCH", "/v2/{repository:path}/blobs/uploads/{uuid}", uploadChunk, { api: false });
  r.add("PUT", "/v2/{repository:path}/blobs/uploads/{uuid}", finishUpload, { api: false });
  r.add("DELETE", "/v2/{repository:path}/blobs/uploads/{uuid}", cancelUpload, { api: false });
  r.add("GET", "/v2/{repository:path}/blobs/{digest}", checkBlob, { api: false });
  r.add("DELETE", "/v2/{repository:path}/blobs/{digest}", deleteBlob, { api: false });
  r.add("GET", "/v2/{repository:path}/manifests/{reference}", getManifest, { api: false });
  r.add("PUT", "/v2/{repository:path}/manifests/{reference}", putManifest, { api: false });
  r.add("DELETE", "/v2/{repository:path}/manifests/{reference}", deleteManifest, { api: false });
  r.add("GET", "/v2/{repository:path}/tags/list", listTags, { api: false });
}
