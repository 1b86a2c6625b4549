// The storage preflight (templates/preflight.sh) against a real MinIO with the real mc: it passes for a
// bucket the storage user can use, and refuses — naming the cause and the fix — when the bucket is missing,
// the keys are wrong, a lifecycle rule exists on the bucket, the user may not delete, or nothing answers.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderStep, sha256File } from "../../components/quay-host/render";
import { freePort, Minio, startMinio } from "../support/minio";
import { bashAsync } from "./samples";

jest.setTimeout(120_000);

const STORAGE = { accessKey: "quay-storage", secretKey: "storage-secret-'\"$(x)%:@/" };
const NODELETE = { accessKey: "quay-nodelete", secretKey: "nodelete-secret-0123" };

let minio: Minio;
let dir: string;
beforeAll(async () => {
  minio = await startMinio();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-preflight-"));
  await minio.mc(["mb", "root/quay-storage"]);
  await minio.mc(["version", "enable", "root/quay-storage"]);
  const policy = (name: string, objectActions: string[]) => {
    const file = path.join(dir, `${name}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          // the bucket resources also name quay-nothere: its user is allowed there, but the bucket does not exist
          { Effect: "Allow", Action: ["s3:ListBucket", "s3:GetLifecycleConfiguration"], Resource: ["arn:aws:s3:::quay-storage", "arn:aws:s3:::quay-nothere"] },
          { Effect: "Allow", Action: objectActions, Resource: ["arn:aws:s3:::quay-storage/*"] },
        ],
      }),
    );
    return file;
  };
  await minio.mc(["admin", "policy", "create", "root", "qs-rw", policy("rw", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])]);
  await minio.mc(["admin", "policy", "create", "root", "qs-nodelete", policy("nodelete", ["s3:GetObject", "s3:PutObject"])]);
  for (const [u, p] of [
    [STORAGE, "qs-rw"],
    [NODELETE, "qs-nodelete"],
  ] as const) {
    await minio.mc(["admin", "user", "add", "root", u.accessKey], { stdin: `${u.secretKey}\n${u.secretKey}\n` }).catch(async () => {
      // older mc: the secret as an argument is the only form (test fixture only, never on a host)
      await minio.mc(["admin", "user", "add", "root", u.accessKey, u.secretKey]);
    });
    await minio.mc(["admin", "policy", "attach", "root", p, "--user", u.accessKey]);
  }
}, 120_000);
afterAll(async () => {
  await minio?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function preflight(opts: { bucket?: string; endpoint?: string } = {}): string {
  return renderStep("preflight", {
    MC: minio.mcPath,
    ENDPOINT: opts.endpoint ?? minio.endpoint,
    BUCKET: opts.bucket ?? "quay-storage",
    PROBE_PREFIX: ".quay-mirror-preflight",
    DEPLOYMENT: "f".repeat(64),
  });
}
const run = (script: string, credentials: { accessKey: string; secretKey: string }) => bashAsync(script, { input: JSON.stringify(credentials), timeout: 60_000 });

test("passes for the storage user on its bucket, and leaves no probe object behind", async () => {
  const r = await run(preflight(), STORAGE);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/storage preflight passed/);
  const left = await minio.mc(["ls", "--recursive", "root/quay-storage"]);
  expect(left.json.filter((o) => o.status === "success")).toEqual([]);
  expect(r.stdout + r.stderr).not.toContain(STORAGE.secretKey);
});

test("a lifecycle rule on the storage bucket: refused while it exists, passes once removed", async () => {
  await minio.mc(["ilm", "rule", "add", "--expire-days", "30", "root/quay-storage"]);
  const r = await run(preflight(), STORAGE);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/storage preflight FAILED: bucket quay-storage has lifecycle rules: .+ \(Enabled\)/);
  expect(r.stderr).toMatch(/fix: remove them \(mc ilm rule rm --all --force <alias>\/quay-storage\)/);
  await minio.mc(["ilm", "rule", "rm", "--all", "--force", "root/quay-storage"]);
  expect((await run(preflight(), STORAGE)).status).toBe(0);
});

test("a missing bucket, wrong keys, a user that cannot delete, an endpoint that does not answer: each named", async () => {
  const missing = await run(preflight({ bucket: "quay-nothere" }), STORAGE);
  expect(missing.status).toBe(1);
  expect(missing.stderr).toMatch(/bucket quay-nothere does not exist at http:\/\/127\.0\.0\.1:\d+ — fix: create it before Quay starts/);

  const wrong = await run(preflight(), { ...STORAGE, secretKey: "not-the-key" });
  expect(wrong.status).toBe(1);
  expect(wrong.stderr).toMatch(/rejected the storage credentials \(SignatureDoesNotMatch\) — fix: storage.accessKey\/secretKey/);

  const nodelete = await run(preflight(), NODELETE);
  expect(nodelete.status).toBe(1);
  expect(nodelete.stderr).toMatch(/deleting the probe object quay-storage\/\.quay-mirror-preflight\/probe-.+ the storage user is not allowed to do this \(AccessDenied\) — fix: grant it s3:DeleteObject/);

  const port = await freePort();
  const down = await run(preflight({ endpoint: `http://127.0.0.1:${port}` }), STORAGE);
  expect(down.status).toBe(1);
  expect(down.stderr).toMatch(/no usable answer from http:\/\/127\.0\.0\.1:\d+ \(.*connection refused.*\) — fix: check storage.hostname, storage.port and storage.isSecure/);

  for (const input of ["not json", "", "{}"]) {
    const garbage = await bashAsync(preflight(), { input });
    expect(garbage.status).toBe(1);
    expect(garbage.stderr).toMatch(/stdin must be a JSON object with accessKey and secretKey/);
  }
  for (const r of [missing, wrong, nodelete, down]) expect(r.stdout + r.stderr).not.toContain(STORAGE.secretKey);
});

test("the tools step installs the uploaded mc checked against its hash, removes the upload, and is idempotent", async () => {
  const upload = path.join(dir, "mc-upload");
  const target = path.join(dir, "lib", "bin", "mc");
  fs.copyFileSync(minio.mcPath, upload);
  const script = renderStep("tools", { UPLOAD: upload, TARGET: target, SHA256: sha256File(minio.mcPath) });
  const first = await bashAsync(script);
  expect(first.stderr).toBe("");
  expect(first.stdout).toMatch(/^installed mc at .*\nmc version /);
  expect((fs.statSync(target).mode & 0o777).toString(8)).toBe("755");
  expect(fs.existsSync(upload)).toBe(false);
  expect((await bashAsync(script)).stdout).toMatch(/^mc present at /);
  // a different binary under the expected name is refused
  fs.writeFileSync(upload, "not mc");
  fs.rmSync(target);
  const bad = await bashAsync(script);
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/the uploaded mc has sha256 [0-9a-f]{12}…, expected [0-9a-f]{12}…; refusing to install it/);
});
