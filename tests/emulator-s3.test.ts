// The emulator's registry with its blobs in a real MinIO bucket, configured as QuayHost renders config.yaml
// (DISTRIBUTED_STORAGE_CONFIG RadosGWStorage): blobs land under storage_path with Quay's layout, the storage
// check of /health/instance fails naming the cause, and the seed's lifecycle failure: an expiry rule on the
// blob bucket makes a later pull fail with BLOB_UNKNOWN ("unknown blob") — and what stops it in this project
// is the storage preflight (it refuses the bucket while the rule exists) and the policy pack's
// blob-bucket-no-lifecycle rule.
import * as net from "node:net";
import { renderQuayConfig, renderStep } from "../components/quay-host/render";
import { blobBucketLifecycle, TYPES, View } from "../policy/rules";
import { QuayEmulator, startQuayEmulator } from "./emulator";
import { checkStorage, contentPath, S3BlobStore } from "./emulator/storage";
import { bashAsync } from "./quay-host/samples";
import { Minio, startMinio } from "./support/minio";
import { makeImage, OciClient, sha256 } from "./support/oci-client";

jest.setTimeout(180_000);

const BUCKET = "quay-storage";
const STORAGE_PATH = "/datastorage/registry";
let minio: Minio;
let emu: QuayEmulator;
let oci: OciClient;
let robot: { username: string; password: string };
let radosgw: Record<string, unknown>;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  minio = await startMinio();
  await minio.mc(["mb", `root/${BUCKET}`]);
  await minio.mc(["version", "enable", `root/${BUCKET}`]);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  // config.yaml as QuayHost renders it, pointed at this MinIO; the emulator reads it as the stand-in does.
  const config = renderQuayConfig({
    serverHostname: host,
    superuserName: "quayadmin",
    proxyCache: false,
    storage: { hostname: "127.0.0.1", port: minio.port, bucket: BUCKET, accessKey: minio.root.accessKey, secretKey: minio.root.secretKey, isSecure: false, storagePath: STORAGE_PATH, signatureVersion: "s3v4" },
    secrets: { postgresPassword: "p", redisPassword: "r", secretKey: "s", databaseSecretKey: "d" },
    extraConfig: { PREFERRED_URL_SCHEME: "http" },
  } as Parameters<typeof renderQuayConfig>[0]);
  radosgw = (config.DISTRIBUTED_STORAGE_CONFIG as Record<string, [string, Record<string, unknown>]>).default[1];
  emu = await startQuayEmulator({ port, config: { ...config, PREFERRED_URL_SCHEME: "http" } });
  const { token } = await emu.initialize();
  const api = (method: string, p: string, body?: unknown) =>
    fetch(emu.url + p, { method, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  expect((await api("POST", "/api/v1/organization/", { name: "mirror", email: "mirror@example.com" })).status).toBe(201);
  const r = await api("PUT", "/api/v1/organization/mirror/robots/push", {});
  robot = { username: "mirror+push", password: ((await r.json()) as { token: string }).token };
  expect((await api("PUT", "/api/v1/organization/mirror/team/pushers", { role: "creator" })).status).toBe(200);
  expect((await api("PUT", "/api/v1/organization/mirror/team/pushers/members/mirror+push")).status).toBe(200);
  oci = new OciClient(emu.url, host);
}, 180_000);
afterAll(async () => {
  await emu?.close();
  await minio?.stop();
});

async function objectKeys(): Promise<string[]> {
  const r = await minio.mc(["ls", "--recursive", `root/${BUCKET}`]);
  return r.json.filter((o) => o.status === "success").map((o) => String(o.key)).sort();
}

test("pushed blobs are objects in the bucket under storage_path with Quay's sha256/<2>/<hex> layout; a pull reads them back", async () => {
  const repo = "mirror/openshift/release";
  const token = await oci.token(robot, repo, "push,pull");
  const img = makeImage([40_000, 5]);
  expect((await oci.push(token, repo, img, "v1", 16_384)).status).toBe(201);
  const expected = [img.config, ...img.layers].map((b) => `datastorage/registry/${contentPath(sha256(b))}`);
  expect(expected[0]).toMatch(/^datastorage\/registry\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
  expect((await objectKeys()).filter((k) => k.includes("/sha256/"))).toEqual(expected.sort());
  const got = await oci.pull(token, repo, "v1");
  expect(got.failure).toBeUndefined();
  expect([...got.blobs.keys()]).toEqual([img.config, ...img.layers].map(sha256));
  expect(got.blobs.get(sha256(img.layers[0]))!.equals(img.layers[0])).toBe(true);
});

test("checkStorage: ok with the rendered keys (it writes _verify as Quay does); a wrong key or a missing bucket is named", async () => {
  const args = radosgw as unknown as ConstructorParameters<typeof S3BlobStore>[0];
  expect(await checkStorage(new S3BlobStore(args))).toEqual({ ok: true });
  expect(await objectKeys()).toContain("datastorage/registry/_verify");
  const wrong = await checkStorage(new S3BlobStore({ ...args, secret_key: "not-the-key" }));
  expect(wrong).toEqual({ ok: false, error: expect.stringMatching(/^storage s3:\/\/127\.0\.0\.1:\d+\/quay-storage\/datastorage\/registry: SignatureDoesNotMatch/) });
  expect(JSON.stringify(wrong)).not.toContain(minio.root.secretKey);
  const missing = await checkStorage(new S3BlobStore({ ...args, bucket_name: "quay-nothere" }));
  expect(missing).toEqual({ ok: false, error: expect.stringContaining("NoSuchBucket") });
});

test("the seed's failure: a lifecycle rule that expires blobs in quay-storage makes a later pull fail with BLOB_UNKNOWN; the preflight refuses the bucket and the policy refuses the rule", async () => {
  const repo = "mirror/expiring";
  const token = await oci.token(robot, repo, "push,pull");
  const img = makeImage([2000]);
  expect((await oci.push(token, repo, img, "v1")).status).toBe(201);
  expect((await oci.pull(token, repo, "v1")).failure).toBeUndefined();

  // An expiry rule (a date in the past: MinIO treats every object as expired from now on).
  const rule = { Rules: [{ ID: "expire-blobs", Status: "Enabled", Filter: { Prefix: "" }, Expiration: { Date: "2020-01-01T00:00:00Z" } }] };
  await minio.mc(["ilm", "import", `root/${BUCKET}`], { stdin: JSON.stringify(rule) });
  try {
    const later = await oci.pull(token, repo, "v1");
    expect(later.manifest.status).toBe(200); // the manifest is in the database
    expect(later.failure?.status).toBe(404);
    expect(later.failure?.json).toEqual({ errors: [{ code: "BLOB_UNKNOWN", detail: {}, message: "blob unknown to registry" }] });

    // The storage preflight QuayHost runs before Quay starts refuses this bucket, naming the rule and the fix.
    const script = renderStep("preflight", { MC: minio.mcPath, ENDPOINT: minio.endpoint, BUCKET, PROBE_PREFIX: ".quay-mirror-preflight", DEPLOYMENT: "f".repeat(64) });
    const pf = await bashAsync(script, { input: JSON.stringify(minio.root), timeout: 60_000 });
    expect(pf.status).toBe(1);
    expect(pf.stderr).toMatch(/storage preflight FAILED: bucket quay-storage has lifecycle rules: expire-blobs \(Enabled\)\. A lifecycle rule on Quay's blob bucket expires blobs that manifests still reference \(Quay then answers 'unknown blob'\)/);
  } finally {
    await minio.mc(["ilm", "rule", "rm", "--all", "--force", `root/${BUCKET}`]);
  }
  // The policy pack refuses a declared bucket with such a rule before anything is deployed.
  const declared = new View(TYPES.bucket, "urn:pulumi:lab::quay-mirror::minio:Bucket::storage", { name: BUCKET, lifecycleRules: [{ id: "expire-blobs", expireDays: 30 }] });
  const settings = { mirrorNamespaces: [], mirrorRobots: [], clusterPullUser: "pull", blobBucket: BUCKET, allowTrustOnFirstUse: false };
  expect(blobBucketLifecycle(declared, settings).map((f) => f.message)).toEqual([expect.stringMatching(/^bucket "quay-storage" holds Quay's blobs and has 1 lifecycle rule\(s\)/)]);
  expect(blobBucketLifecycle(new View(TYPES.bucket, "urn:x", { name: BUCKET, lifecycleRules: [] }), settings)).toEqual([]);
});
