// The MinIO providers against a real MinIO, driven with the real `mc`: buckets, policies and users are
// created as asked, `read` reports what MinIO really has (so drift shows), `update` repairs it, `delete`
// never loses objects, and each user can do exactly what its policy says. No secret is ever on argv.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BucketProps, BucketProvider } from "../../providers/minio/bucket";
import { MinioConnection, McError, mcInvocation, runMc } from "../../providers/minio/client";
import { PolicyProps, PolicyProvider, normalizePolicy } from "../../providers/minio/policy";
import { SECRET_CHANGED_OUTSIDE, UserProps, UserProvider } from "../../providers/minio/user";
import { backupLifecycleRules, backupPolicyDocument, restorePolicyDocument, storagePolicyDocument } from "../../components/object-storage";
import { argvHits, startLocalArgvSampler } from "../support/argv-sampler";
import { Minio, startMinio } from "../support/minio";

jest.setTimeout(180_000);

let minio: Minio;
let connection: MinioConnection;
const buckets = BucketProvider.instance;
const policies = PolicyProvider.instance;
const users = UserProvider.instance;

beforeAll(async () => {
  minio = await startMinio();
  connection = { endpoint: minio.endpoint, accessKey: minio.root.accessKey, secretKey: minio.root.secretKey, mcPath: minio.mcPath };
});
afterAll(async () => {
  await minio?.stop();
});

/** Runs check like the engine does and returns the checked inputs (failing the test on check failures). */
async function checked<T>(provider: { check?: (o: T, n: T) => Promise<{ inputs?: T; failures?: { property: string; reason: string }[] }> }, inputs: T): Promise<T> {
  const r = await provider.check!({} as T, inputs);
  expect(r.failures ?? []).toEqual([]);
  return r.inputs as T;
}

describe("client", () => {
  test("credentials go only into the private config file; argv and environment hold none", () => {
    const inv = mcInvocation({ ...connection, secretKey: "s3cr3t/with:odd@chars" }, ["ls", "target"], "/tmp/x", { aliases: { u: { accessKey: "someone", secretKey: "other-secret" } } }, { PATH: "/bin", MC_HOST_stale: "http://x:y@z", HOME: "/root", PULUMI_CONFIG_PASSPHRASE: "engine-passphrase" });
    expect(inv.argv.join(" ")).not.toMatch(/s3cr3t|other-secret/);
    expect(JSON.stringify(inv.env)).not.toMatch(/s3cr3t|other-secret/);
    const aliases = (JSON.parse(inv.configJson) as { aliases: Record<string, { url: string; accessKey: string; secretKey: string }> }).aliases;
    expect(aliases.target).toMatchObject({ url: `http://${new URL(minio.endpoint).host}`, accessKey: connection.accessKey, secretKey: "s3cr3t/with:odd@chars" });
    expect(aliases.u.secretKey).toBe("other-secret");
    expect(inv.env.MC_HOST_stale).toBeUndefined();
    expect(inv.env.PULUMI_CONFIG_PASSPHRASE).toBeUndefined(); // an allow-list, not the caller's whole environment
    expect(inv.env.MC_CONFIG_DIR).toBe("/tmp/x");
  });

  test("an admin secret key with URL-special characters works (the config file needs no escaping)", async () => {
    const odd = { accessKey: "qm-odd-admin", secretKey: "p@ss:w/rd%20?#&=+ x" };
    await runMc(connection, ["admin", "user", "add", "target", odd.accessKey], { stdin: `${odd.secretKey}\n`, secrets: [odd.secretKey] });
    await runMc(connection, ["admin", "policy", "attach", "target", "consoleAdmin", "--user", odd.accessKey]);
    try {
      const lines = await runMc({ ...connection, ...odd }, ["ls", "target"]);
      expect(Array.isArray(lines)).toBe(true);
    } finally {
      await runMc(connection, ["admin", "user", "rm", "target", odd.accessKey]);
    }
  });

  test("an error names the mc command and MinIO's message and code, without the secret", async () => {
    const err = (await runMc(connection, ["version", "info", "target/no-such-bucket"]).catch((e) => e)) as McError;
    expect(err.name).toBe("McError");
    expect(err.code).toBe("NoSuchBucket");
    expect(err.message).toContain("mc --json --quiet --no-color --disable-pager version info target/no-such-bucket");
    expect(err.message).toContain("The specified bucket does not exist");
    expect(err.message).not.toContain(connection.secretKey);
  });

  test("a missing mc says how to fix it", async () => {
    const err = (await runMc({ ...connection, mcPath: "/nonexistent/mc" }, ["ls", "target"]).catch((e) => e)) as McError;
    expect(err.message).toMatch(/cannot run \/nonexistent\/mc.*mcPath/);
  });
});

describe("Bucket", () => {
  const storage = (): BucketProps => ({ connection, name: "quay-storage", versioning: true, lifecycleRules: [], forceDestroy: false });

  test("quay-storage: versioned, no lifecycle; a hand-added rule is reported by read and removed by update", async () => {
    const inputs = await checked(buckets, storage());
    const { id, outs } = await buckets.create(inputs);
    expect(id).toBe("quay-storage");
    const fresh = await buckets.read(id, outs);
    expect(fresh.props).toMatchObject({ name: "quay-storage", versioning: true, lifecycleRules: [] });
    expect(await buckets.diff(id, fresh.props as BucketProps, inputs)).toEqual({ changes: false });

    await minio.mc(["ilm", "rule", "add", "--expire-days", "1", "root/quay-storage"]);
    const drifted = await buckets.read(id, outs);
    expect(drifted.props?.lifecycleRules).toEqual([{ id: expect.any(String), expireDays: 1 }]);
    expect(drifted.inputs?.lifecycleRules).toEqual(drifted.props?.lifecycleRules);
    const diff = await buckets.diff(id, drifted.props as BucketProps, inputs);
    expect(diff.changes).not.toBe(false);
    expect(diff.replaces ?? []).toEqual([]);

    await buckets.update(id, drifted.props as BucketProps, inputs);
    const exported = await minio.mc(["ilm", "rule", "export", "root/quay-storage"], { allowFailure: true });
    expect(exported.stdout).toContain("NoSuchLifecycleConfiguration");
    expect((await buckets.read(id, outs)).props?.lifecycleRules).toEqual([]);
  });

  test("versioning suspended by hand is drift; update turns it back on", async () => {
    await minio.mc(["version", "suspend", "root/quay-storage"]);
    const drifted = await buckets.read("quay-storage", storage());
    expect(drifted.props?.versioning).toBe(false);
    await buckets.update("quay-storage", drifted.props as BucketProps, await checked(buckets, storage()));
    const info = await minio.mc(["version", "info", "root/quay-storage"]);
    expect(info.json[0]).toMatchObject({ versioning: { status: "Enabled" } });
  });

  test("quay-backups: the retention rule round-trips without drift; a rule with settings outside the model is drift", async () => {
    const inputs = await checked(buckets, { connection, name: "quay-backups", versioning: true, lifecycleRules: backupLifecycleRules(90), forceDestroy: false } as BucketProps);
    const { id, outs } = await buckets.create(inputs);
    const exported = await minio.mc(["ilm", "rule", "export", "root/quay-backups"]);
    expect(exported.json[0].config).toMatchObject({ Rules: [{ ID: "expire-after-90-days", Status: "Enabled", Expiration: { Days: 90 }, NoncurrentVersionExpiration: { NoncurrentDays: 90 } }] });
    const fresh = await buckets.read(id, outs);
    expect(fresh.props?.lifecycleRules).toEqual([{ id: "expire-after-90-days", expireDays: 90, noncurrentExpireDays: 90 }]);
    expect(await buckets.diff(id, fresh.props as BucketProps, inputs)).toEqual({ changes: false });

    // Same id and days, but narrowed by a tag by hand: must not read as the wanted rule.
    const tagged = { Rules: [{ ID: "expire-after-90-days", Status: "Enabled", Filter: { Tag: { Key: "keep", Value: "no" } }, Expiration: { Days: 90 }, NoncurrentVersionExpiration: { NoncurrentDays: 90 } }] };
    await minio.mc(["ilm", "rule", "import", "root/quay-backups"], { stdin: JSON.stringify(tagged) });
    const drifted = await buckets.read(id, outs);
    expect(drifted.props?.lifecycleRules?.[0].unmodeled).toContain("keep");
    expect((await buckets.diff(id, drifted.props as BucketProps, inputs)).changes).not.toBe(false);
    await buckets.update(id, drifted.props as BucketProps, inputs);
    expect((await buckets.read(id, outs)).props?.lifecycleRules).toEqual([{ id: "expire-after-90-days", expireDays: 90, noncurrentExpireDays: 90 }]);
  });

  test("check names the property and the fix", async () => {
    const r = await buckets.check!({} as BucketProps, { ...storage(), name: "Bad_Name", lifecycleRules: [{ id: "x" }] } as BucketProps);
    expect(r.failures?.map((f) => f.property).sort()).toEqual(["lifecycleRules.0", "name"]);
    expect(r.failures?.find((f) => f.property === "lifecycleRules.0")?.reason).toContain("set expireDays and/or noncurrentExpireDays");
  });

  test("an existing bucket is not taken over silently; adopt converges it", async () => {
    await minio.mc(["mb", "root/pre-existing"]);
    const inputs = await checked(buckets, { connection, name: "pre-existing", versioning: true, lifecycleRules: [], forceDestroy: false } as BucketProps);
    await expect(buckets.create(inputs)).rejects.toThrow(/already exists.*adopt: true/);
    await buckets.create({ ...inputs, adopt: true });
    expect((await minio.mc(["version", "info", "root/pre-existing"])).json[0]).toMatchObject({ versioning: { status: "Enabled" } });
  });

  test("delete refuses a bucket that holds objects (or only old versions); forceDestroy removes it", async () => {
    const inputs = await checked(buckets, { connection, name: "with-blobs", versioning: true, lifecycleRules: [], forceDestroy: false } as BucketProps);
    const { id, outs } = await buckets.create(inputs);
    await minio.mc(["pipe", "root/with-blobs/sha256/blob"], { stdin: "layer" });
    await minio.mc(["rm", "root/with-blobs/sha256/blob"]); // leaves a noncurrent version and a delete marker
    await expect(buckets.delete(id, outs!)).rejects.toThrow(/refusing to delete bucket "with-blobs".*forceDestroy/);
    expect((await minio.mc(["ls", "--versions", "root/with-blobs"])).json.length).toBeGreaterThan(0);

    await buckets.delete(id, { ...outs!, forceDestroy: true });
    expect((await minio.mc(["ls", "root/with-blobs"], { allowFailure: true })).code).not.toBe(0);
    expect(await buckets.read(id, outs)).toEqual({});
    await buckets.delete(id, outs!); // already gone: fine
  });
});

describe("Policy", () => {
  test("normalization: order, single values and duplicates do not matter", () => {
    const a = normalizePolicy({ Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: ["arn:aws:s3:::b/*"] }, { Effect: "Allow", Action: ["s3:ListBucket", "s3:GetBucketLocation"], Resource: "arn:aws:s3:::b" }] });
    const b = normalizePolicy(JSON.stringify({ Version: "2012-10-17", Statement: [{ Resource: "arn:aws:s3:::b", Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucket"] }, { Effect: "Allow", Action: ["s3:GetObject"], Resource: "arn:aws:s3:::b/*" }] }));
    expect(a).toBe(b);
    expect(normalizePolicy({ Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "arn:aws:s3:::b/*" }] })).not.toBe(normalizePolicy({ Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*" }] }));
  });

  test("a policy widened by hand is reported by read and narrowed again by update", async () => {
    const inputs = await checked(policies, { connection, name: "quay-backup-putonly", document: backupPolicyDocument("quay-backups") } as unknown as PolicyProps);
    expect(typeof inputs.document).toBe("string");
    const { id, outs } = await policies.create(inputs);
    const fresh = await policies.read(id, outs);
    expect(fresh.props?.document).toBe(inputs.document);
    expect(await policies.diff(id, fresh.props as PolicyProps, inputs)).toEqual({ changes: false });

    const wide = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:*"], Resource: ["arn:aws:s3:::*"] }] });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "qm-wide-")), "wide.json");
    fs.writeFileSync(file, wide);
    await minio.mc(["admin", "policy", "create", "root", "quay-backup-putonly", file]);
    const drifted = await policies.read(id, outs);
    expect(drifted.props?.document).toContain("s3:*");
    expect(drifted.inputs?.document).toBe(drifted.props?.document);
    expect((await policies.diff(id, drifted.props as PolicyProps, inputs)).changes).not.toBe(false);

    await policies.update(id, drifted.props as PolicyProps, inputs);
    expect((await policies.read(id, outs)).props?.document).toBe(inputs.document);
  });

  test("check rejects bad JSON and a statement without resources", async () => {
    const bad = await policies.check!({} as PolicyProps, { connection, name: "p1", document: "{nope" } as PolicyProps);
    expect(bad.failures?.[0]).toMatchObject({ property: "document" });
    const noResource = await policies.check!({} as PolicyProps, { connection, name: "p1", document: { Statement: [{ Effect: "Allow", Action: "s3:GetObject" }] } } as unknown as PolicyProps);
    expect(noResource.failures?.[0].reason).toContain("needs Resource");
  });
});

describe("User and what each user may do", () => {
  const secrets = { storage: "storage-secret-0123456789abcdef", backup: "backup-secret-0123456789abcdef", restore: "restore-secret-0123456789abcdef" };
  const as = (role: keyof typeof secrets) => ({ accessKey: `quay-${role}`, secretKey: secrets[role] });
  let storageUser: UserProps;

  beforeAll(async () => {
    for (const name of ["quay-storage", "quay-backups"]) {
      await minio.mc(["mb", "--ignore-existing", `root/${name}`]);
    }
    const docs = { storage: storagePolicyDocument("quay-storage"), backup: backupPolicyDocument("quay-backups"), restore: restorePolicyDocument("quay-backups") };
    for (const role of ["storage", "backup", "restore"] as const) {
      const p = await checked(policies, { connection, name: `quay-${role}-policy`, document: docs[role] } as unknown as PolicyProps);
      await policies.create(p);
    }
    // The secret key must never be on a command line, not even for the instant `mc admin user add` runs.
    const sampler = startLocalArgvSampler();
    for (const role of ["storage", "backup", "restore"] as const) {
      const u = await checked(users, { connection, accessKey: `quay-${role}`, secretKey: secrets[role], policies: [`quay-${role}-policy`], enabled: true } as UserProps);
      const { outs } = await users.create(u);
      if (role === "storage") storageUser = outs as UserProps;
    }
    expect(argvHits(await sampler.stop(), Object.values(secrets))).toEqual([]);
  });

  test("control: the same sampler does catch a secret put on mc's argv", async () => {
    // What the providers avoid, done on purpose with a throwaway secret: `mc admin user add ALIAS KEY SECRET`.
    const throwaway = `argv-secret-${Date.now()}`;
    const sampler = startLocalArgvSampler();
    for (let i = 0; i < 3; i++) await minio.mc(["admin", "user", "add", "root", "control-user", throwaway]);
    expect(argvHits(await sampler.stop(), [throwaway]).length).toBeGreaterThan(0);
    await minio.mc(["admin", "user", "remove", "root", "control-user"]);
  });

  test("storage user: read/write/list/delete in quay-storage, read its lifecycle; nothing in quay-backups", async () => {
    const u = { as: as("storage"), allowFailure: true };
    expect((await minio.mc(["pipe", "u/quay-storage/blob1"], { ...u, stdin: "x" })).code).toBe(0);
    expect((await minio.mc(["cat", "u/quay-storage/blob1"], u)).stdout).toBe("x");
    expect((await minio.mc(["ls", "u/quay-storage"], u)).code).toBe(0);
    expect((await minio.mc(["rm", "u/quay-storage/blob1"], u)).code).toBe(0);
    // Reading the lifecycle is allowed (the preflight's "no rule" check): MinIO answers "none", not "denied".
    expect((await minio.mc(["ilm", "rule", "export", "u/quay-storage"], u)).stdout).toContain("NoSuchLifecycleConfiguration");
    // Changing it is not.
    expect((await minio.mc(["ilm", "rule", "add", "--expire-days", "1", "u/quay-storage"], u)).stdout).toMatch(/Access Denied/i);
    for (const args of [["ls", "u/quay-backups"], ["pipe", "u/quay-backups/x"], ["cat", "u/quay-backups/x"]]) {
      const r = await minio.mc(args, { ...u, stdin: "x" });
      expect([args.join(" "), r.code]).not.toEqual([args.join(" "), 0]);
      expect(r.stdout).toMatch(/Access Denied|Insufficient permissions/i);
    }
  });

  test("backup user: can put into quay-backups, cannot list, read, delete, or touch quay-storage", async () => {
    const u = { as: as("backup"), allowFailure: true };
    const put = await minio.mc(["pipe", "u/quay-backups/quay/20260519T020000Z/quay.tar.gz.enc"], { ...u, stdin: "encrypted" });
    expect(put.code).toBe(0);
    const cp = await minio.mc(["cp", __filename, "u/quay-backups/quay/20260519T020000Z/copy.enc"], u);
    expect(cp.code).toBe(0);
    for (const args of [
      ["ls", "u/quay-backups"],
      ["ls", "u/quay-backups/quay/20260519T020000Z/"],
      ["cat", "u/quay-backups/quay/20260519T020000Z/quay.tar.gz.enc"],
      ["rm", "u/quay-backups/quay/20260519T020000Z/quay.tar.gz.enc"],
      ["pipe", "u/quay-storage/x"],
      ["ls", "u/quay-storage"],
    ]) {
      const r = await minio.mc(args, { ...u, stdin: "x" });
      expect([args.join(" "), r.code]).not.toEqual([args.join(" "), 0]);
    }
    // The object it put is still there (its rm was refused).
    expect((await minio.mc(["cat", "root/quay-backups/quay/20260519T020000Z/quay.tar.gz.enc"])).stdout).toBe("encrypted");
  });

  test("restore user: can list and read quay-backups, cannot write, delete, or touch quay-storage", async () => {
    const u = { as: as("restore"), allowFailure: true };
    expect((await minio.mc(["ls", "--recursive", "u/quay-backups/quay/"], u)).stdout).toContain("quay.tar.gz.enc");
    expect((await minio.mc(["cat", "u/quay-backups/quay/20260519T020000Z/quay.tar.gz.enc"], u)).stdout).toBe("encrypted");
    for (const args of [["pipe", "u/quay-backups/evil"], ["rm", "u/quay-backups/quay/20260519T020000Z/quay.tar.gz.enc"], ["ls", "u/quay-storage"], ["pipe", "u/quay-storage/x"]]) {
      const r = await minio.mc(args, { ...u, stdin: "x" });
      expect([args.join(" "), r.code]).not.toEqual([args.join(" "), 0]);
    }
  });

  test("a policy attached by hand, a disabled user and a secret changed by hand are drift; update repairs all three", async () => {
    await minio.mc(["admin", "policy", "attach", "root", "readwrite", "--user", "quay-storage"]);
    const attached = await users.read("quay-storage", storageUser);
    expect(attached.props?.policies).toEqual(["quay-storage-policy", "readwrite"]);
    expect((await users.diff("quay-storage", attached.props as UserProps, storageUser)).changes).not.toBe(false);

    await minio.mc(["admin", "user", "add", "root", "quay-storage"], { stdin: "changed-by-hand-123456\n" });
    const changed = await users.read("quay-storage", storageUser);
    expect(changed.props?.secretKey).toBe(SECRET_CHANGED_OUTSIDE);
    expect(changed.inputs?.secretKey).toBe(SECRET_CHANGED_OUTSIDE);

    await users.update("quay-storage", changed.props as UserProps, storageUser);
    const repaired = await users.read("quay-storage", storageUser);
    expect(repaired.props).toMatchObject({ policies: ["quay-storage-policy"], enabled: true, secretKey: secrets.storage });
    expect((await minio.mc(["ls", "u/quay-storage"], { as: as("storage"), allowFailure: true })).code).toBe(0);

    await minio.mc(["admin", "user", "disable", "root", "quay-storage"]);
    const disabled = await users.read("quay-storage", storageUser);
    expect(disabled.props?.enabled).toBe(false);
    await users.update("quay-storage", disabled.props as UserProps, storageUser);
    expect((await users.read("quay-storage", storageUser)).props?.enabled).toBe(true);
  });

  test("a user created whose policy attachment fails is reported as created-but-failed (the engine records it)", async () => {
    const inputs = await checked(users, { connection, accessKey: "half-made", secretKey: "half-made-secret-123", policies: ["no-such-policy"], enabled: true } as UserProps);
    const err = (await users.create(inputs).catch((e) => e)) as Error & { id?: string; properties?: Record<string, unknown> };
    expect(err.id).toBe("half-made");
    expect(err.message).toMatch(/created half-made, but a follow-up step failed: .*policy attach.*no-such-policy/);
    expect(err.message).not.toContain("half-made-secret-123");
    expect(err.properties).toMatchObject({ accessKey: "half-made", policies: ["no-such-policy"] });
    expect((await users.read("half-made", inputs)).props).toMatchObject({ policies: [], enabled: true });
    await users.delete("half-made", inputs);
  });

  test("an existing user is not taken over silently; delete removes the user and tolerates its absence", async () => {
    await minio.mc(["admin", "user", "add", "root", "someone-else"], { stdin: "someone-else-secret\n" });
    const inputs = await checked(users, { connection, accessKey: "someone-else", secretKey: "new-secret-0123456789", policies: [], enabled: true } as UserProps);
    await expect(users.create(inputs)).rejects.toThrow(/already exists.*adopt: true/);
    await users.delete("someone-else", inputs);
    expect(await users.read("someone-else", inputs)).toEqual({});
    await users.delete("someone-else", inputs);
  });
});
