// ObjectStorage through the REAL engine against a real MinIO (tests/programs/object-storage):
// up creates buckets, policies and users; a second up does nothing; a lifecycle rule added to quay-storage
// by hand shows in `preview --refresh` as an update of that bucket whose changed property is
// `lifecycleRules`, and refresh + up removes it; a policy widened by hand shows the same way and
// `up --refresh` narrows it again; with `options.refresh: always` in the project a plain preview shows drift
// and a plain up repairs it; destroy refuses a bucket that still holds blobs; the exported state holds
// no secret key in plain text.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineStack, findPlaintext, stepsFor, toolchain, withEngineStack } from "../support/engine";
import { Minio, MinioCredentials, startMinio } from "../support/minio";

jest.setTimeout(600_000);

const BUCKET = "pulumi-nodejs:dynamic/minio:Bucket";
const POLICY = "pulumi-nodejs:dynamic/minio:Policy";
const USER = "pulumi-nodejs:dynamic/minio:User";

let minio: Minio;
beforeAll(async () => {
  toolchain();
  minio = await startMinio();
});
afterAll(async () => {
  await minio?.stop();
});

/** `preview --refresh` straight through the Automation API: the changed properties of each planned change. */
async function previewDiffs(stack: EngineStack): Promise<Record<string, { diffs?: string[]; detailedDiff: Record<string, string> }>> {
  const planned: Record<string, { diffs?: string[]; detailedDiff: Record<string, string> }> = {};
  await stack.stack.preview({
    refresh: true,
    color: "never",
    onEvent: (ev) => {
      const m = ev.resourcePreEvent?.metadata;
      if (!m || ["same", "refresh", "read"].includes(m.op)) return;
      const name = m.urn.slice(m.urn.lastIndexOf("::") + 2);
      planned[name] = { diffs: m.diffs, detailedDiff: Object.fromEntries(Object.entries(m.detailedDiff ?? {}).map(([k, d]) => [k, d.diffKind])) };
    },
  });
  return planned;
}

const changedSteps = (report: { steps: { op: string; name: string; type: string; keys?: string[] }[] }) =>
  report.steps.filter((s) => !["same", "refresh", "read"].includes(s.op));

test("up, no-op up, lifecycle and policy drift shown by preview --refresh and repaired by up, safe destroy, no plaintext secrets", async () => {
  const config = { endpoint: minio.endpoint, adminAccessKey: minio.root.accessKey, mcPath: minio.mcPath };
  await withEngineStack({ program: "object-storage", config, secrets: { adminSecretKey: minio.root.secretKey } }, async (stack) => {
    // 0. preview of an empty stack plans every resource (values not known yet in preview pass check).
    const plan = await stack.preview();
    expect(plan.steps.filter((s) => [BUCKET, POLICY, USER].includes(s.type)).map((s) => s.op)).toEqual(Array(8).fill("create"));
    expect(plan.diagnostics.filter((d) => d.severity === "error")).toEqual([]);

    // 1. up creates everything.
    const up1 = await stack.up();
    expect(stepsFor(up1, "storage-storage", BUCKET).map((s) => s.op)).toEqual(["create"]);
    expect(stepsFor(up1, "storage-backups", BUCKET).map((s) => s.op)).toEqual(["create"]);
    expect(up1.steps.filter((s) => s.type === POLICY && s.op === "create")).toHaveLength(3);
    expect(up1.steps.filter((s) => s.type === USER && s.op === "create")).toHaveLength(3);
    expect(up1.outputs.storageBucket.value).toBe("quay-storage");
    expect(up1.outputs.backupBucket.value).toBe("quay-backups");

    const creds = (key: string) => up1.outputs[key].value as MinioCredentials;
    expect(creds("storageCredentials").accessKey).toBe("quay-storage");
    expect(creds("backupCredentials").accessKey).toBe("quay-backup");
    expect(creds("restoreCredentials").accessKey).toBe("quay-restore");

    // MinIO has what the program says, and the generated credentials work as their policies say.
    expect((await minio.mc(["version", "info", "root/quay-storage"])).json[0]).toMatchObject({ versioning: { status: "Enabled" } });
    expect((await minio.mc(["ilm", "rule", "export", "root/quay-storage"], { allowFailure: true })).stdout).toContain("NoSuchLifecycleConfiguration");
    expect((await minio.mc(["ilm", "rule", "export", "root/quay-backups"])).json[0].config).toMatchObject({
      Rules: [{ Expiration: { Days: 90 }, NoncurrentVersionExpiration: { NoncurrentDays: 90 }, Status: "Enabled" }],
    });
    expect((await minio.mc(["pipe", "u/quay-storage/blob"], { as: creds("storageCredentials"), stdin: "layer" })).code).toBe(0);
    expect((await minio.mc(["pipe", "u/quay-backups/quay/t/backup.enc"], { as: creds("backupCredentials"), stdin: "enc" })).code).toBe(0);
    expect((await minio.mc(["ls", "u/quay-backups"], { as: creds("backupCredentials"), allowFailure: true })).code).not.toBe(0);
    expect((await minio.mc(["cat", "u/quay-backups/quay/t/backup.enc"], { as: creds("restoreCredentials") })).stdout).toBe("enc");

    // 2. A second up changes nothing.
    const up2 = await stack.up();
    expect(changedSteps(up2)).toEqual([]);

    // 3. A lifecycle rule added to quay-storage by hand...
    await minio.mc(["ilm", "rule", "add", "--expire-days", "1", "root/quay-storage"]);
    // ...is invisible to a preview that does not read MinIO (why docs/storage.md says: preview --refresh)...
    expect(changedSteps(await stack.preview())).toEqual([]);
    // ...and shown by preview --refresh as an update of the quay-storage bucket, its diff `lifecycleRules`.
    const pre = await stack.preview({ refresh: true });
    const planned = changedSteps(pre);
    expect(planned.map((s) => [s.op, s.name, s.type])).toEqual([["update", "storage-storage", BUCKET]]);
    expect(pre.stdout).toMatch(/~ lifecycleRules: \[\s*- \[0\]: \{\s*- expireDays: 1/);
    expect(await previewDiffs(stack)).toEqual({ "storage-storage": { diffs: ["lifecycleRules"], detailedDiff: { "lifecycleRules[0]": "delete" } } });
    // preview changed nothing in MinIO.
    expect((await minio.mc(["ilm", "rule", "export", "root/quay-storage"])).json[0].config).toMatchObject({ Rules: [{ Expiration: { Days: 1 } }] });

    // 4. refresh records the drift, up removes it: no lifecycle configuration at all again.
    await stack.refresh();
    const repair = await stack.up();
    expect(changedSteps(repair).map((s) => [s.op, s.name])).toEqual([["update", "storage-storage"]]);
    expect((await minio.mc(["ilm", "rule", "export", "root/quay-storage"], { allowFailure: true })).stdout).toContain("NoSuchLifecycleConfiguration");
    expect(changedSteps(await stack.preview({ refresh: true }))).toEqual([]);

    // 5. The backup user's policy widened by hand: preview --refresh shows it, up --refresh narrows it again.
    const wide = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "qm-wide-")), "wide.json");
    fs.writeFileSync(wide, JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:*"], Resource: ["arn:aws:s3:::quay-backups", "arn:aws:s3:::quay-backups/*"] }] }));
    await minio.mc(["admin", "policy", "create", "root", "quay-backup-putonly", wide]);
    expect((await minio.mc(["ls", "u/quay-backups"], { as: creds("backupCredentials"), allowFailure: true })).code).toBe(0); // the widening is real
    const prePolicy = changedSteps(await stack.preview({ refresh: true }));
    expect(prePolicy.map((s) => [s.op, s.name, s.type])).toEqual([["update", "storage-backup-policy", POLICY]]);
    expect(await previewDiffs(stack)).toEqual({ "storage-backup-policy": { diffs: ["document"], detailedDiff: { document: "update" } } });
    const repairPolicy = await stack.stack.up({ refresh: true, color: "never" });
    expect(repairPolicy.summary.resourceChanges?.update).toBe(1);
    expect((await minio.mc(["ls", "u/quay-backups"], { as: creds("backupCredentials"), allowFailure: true })).code).not.toBe(0);

    // 6. No secret key in plain text in the state: the three users' and the admin's.
    const state = await stack.exportState();
    for (const key of ["storageCredentials", "backupCredentials", "restoreCredentials"]) {
      expect(creds(key).secretKey.length).toBe(40);
      expect(findPlaintext(state, creds(key).secretKey)).toEqual([]);
    }
    expect(findPlaintext(state, minio.root.secretKey)).toEqual([]);

    // 7. With `options: { refresh: always }` in Pulumi.yaml (docs/storage.md recommends it), a plain
    //    preview shows a hand-added rule and a plain up removes it.
    const ws = stack.stack.workspace;
    await ws.saveProjectSettings({ ...(await ws.projectSettings()), options: { refresh: "always" } } as Parameters<typeof ws.saveProjectSettings>[0]);
    await minio.mc(["ilm", "rule", "add", "--expire-days", "7", "root/quay-storage"]);
    expect(changedSteps(await stack.preview()).map((s) => [s.op, s.name])).toEqual([["update", "storage-storage"]]);
    expect(changedSteps(await stack.up()).map((s) => [s.op, s.name])).toEqual([["update", "storage-storage"]]);
    expect((await minio.mc(["ilm", "rule", "export", "root/quay-storage"], { allowFailure: true })).stdout).toContain("NoSuchLifecycleConfiguration");

    // 8. destroy never loses blobs: it refuses while quay-storage holds one...
    const refused = await stack.destroy().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(String(refused)).toMatch(/refusing to delete bucket "quay-storage"/);
    expect((await minio.mc(["cat", "root/quay-storage/blob"])).stdout).toBe("layer");
    // ...and completes once the buckets are emptied by hand (withEngineStack's cleanup destroys the rest).
    await minio.mc(["rm", "--recursive", "--force", "--versions", "root/quay-storage"]);
    await minio.mc(["rm", "--recursive", "--force", "--versions", "root/quay-backups"]);
  });
  expect((await minio.mc(["ls", "root"])).json.map((l) => l.key)).toEqual([]);
  expect((await minio.mc(["admin", "user", "list", "root"])).json).toEqual([]);
});
