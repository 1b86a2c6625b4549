// ObjectStorage's arguments (zod: defaults, every error names the JSON path and the fix, no value echoed)
// and what the component declares under pulumi.runtime.setMocks: the buckets' versioning and lifecycle,
// the three policies (exact documents), each user attached to exactly its own policy, secret keys secret.
import * as pulumi from "@pulumi/pulumi";
import { parseObjectStorageArgs } from "../../config/object-storage";
import { ObjectStorage, backupPolicyDocument, restorePolicyDocument, storagePolicyDocument } from "../../components/object-storage";
import { normalizePolicy } from "../../providers/minio/policy";
import { unwrap } from "../support/outputs";

const declared: { type: string; name: string; inputs: Record<string, any> }[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        declared.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, any> = { ...args.inputs };
        if (args.type === "pulumi-nodejs:dynamic/local:RandomSecret") state.result = `GENERATED-${args.name}-0123456789abcdefghijklm`.slice(0, 40);
        return { id: `${args.name}-id`, state };
      },
      call: () => ({}),
    },
    "quay-mirror",
    "test",
    false,
  );
});

const connection = { endpoint: "http://10.0.0.5:9000", accessKey: "minio-admin", secretKey: "ADMIN-SECRET-never-echoed" };

describe("arguments", () => {
  test("defaults: quay-storage, quay-backups, 90 days, quay-storage / quay-backup / quay-restore", () => {
    expect(parseObjectStorageArgs({ connection })).toMatchObject({
      storageBucket: "quay-storage",
      backupBucket: "quay-backups",
      backupRetentionDays: 90,
      storageUser: "quay-storage",
      backupUser: "quay-backup",
      restoreUser: "quay-restore",
      adopt: false,
    });
  });

  test("every problem at once, each with its JSON path and fix, never the secret", () => {
    let message = "";
    try {
      parseObjectStorageArgs(
        { connection: { ...connection, endpoint: "http://user:pw@host:9000/path" }, storageBucket: "Quay_Storage", backupBucket: "quay-backups", backupRetentionDays: 0, backupUser: "quay-restore", colour: "blue" },
        'ObjectStorage "storage" arguments',
      );
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^\d+ problems in ObjectStorage "storage" arguments:/);
    expect(message).toContain("$.connection.endpoint: must be http(s)://host:port");
    expect(message).toContain("$.storageBucket: storageBucket must be a bucket name — fix:");
    expect(message).toContain("$.backupRetentionDays: backupRetentionDays must be at least 1 — fix:");
    expect(message).toContain("$.restoreUser: restoreUser must differ from backupUser");
    expect(message).toMatch(/\$: .*colour.*fix: remove "colour"/);
    expect(message).not.toContain("ADMIN-SECRET");
    expect(message).not.toContain("pw@");
  });

  test("same bucket twice, or the admin as one of the users, is refused with the fix", () => {
    expect(() => parseObjectStorageArgs({ connection, backupBucket: "quay-storage" })).toThrow(/\$\.backupBucket: backupBucket must differ from storageBucket.*fix: keep backups in their own bucket/);
    expect(() => parseObjectStorageArgs({ connection: { ...connection, accessKey: "quay-storage" } })).toThrow(/\$\.connection\.accessKey: the admin access key must not be one of the users/);
  });

  test("secret key as a pulumi Output is accepted", () => {
    expect(() => parseObjectStorageArgs({ connection: { ...connection, secretKey: pulumi.secret("x") } })).not.toThrow();
  });
});

describe("component", () => {
  let storage: ObjectStorage;
  beforeAll(async () => {
    storage = new ObjectStorage("storage", { connection: { ...connection, secretKey: pulumi.secret(connection.secretKey) } });
    await unwrap(storage.restoreCredentials.secretKey);
  });
  const find = (type: string, name: string) => {
    const r = declared.find((d) => d.type === `pulumi-nodejs:dynamic/${type}` && d.name === name);
    if (!r) throw new Error(`no ${type} ${name} among ${declared.map((d) => `${d.type}::${d.name}`).join(", ")}`);
    return r.inputs;
  };

  test("quay-storage: versioning on and NO lifecycle; quay-backups: versioning on, current and noncurrent versions expire after 90 days", () => {
    expect(find("minio:Bucket", "storage-storage")).toMatchObject({ name: "quay-storage", versioning: true, lifecycleRules: [], forceDestroy: false });
    expect(find("minio:Bucket", "storage-backups")).toMatchObject({
      name: "quay-backups",
      versioning: true,
      lifecycleRules: [{ id: "expire-after-90-days", expireDays: 90, noncurrentExpireDays: 90 }],
    });
  });

  test("policies: storage rw on quay-storage only, backup put-only on quay-backups, restore list+get on quay-backups", () => {
    const doc = (name: string) => normalizePolicy(find("minio:Policy", name).document);
    expect(doc("storage-storage-policy")).toBe(normalizePolicy(storagePolicyDocument("quay-storage")));
    expect(doc("storage-backup-policy")).toBe(normalizePolicy({ Statement: [{ Effect: "Allow", Action: "s3:PutObject", Resource: "arn:aws:s3:::quay-backups/*" }] }));
    expect(doc("storage-restore-policy")).toBe(normalizePolicy(restorePolicyDocument("quay-backups")));
    expect(normalizePolicy(backupPolicyDocument("b"))).not.toMatch(/GetObject|ListBucket|DeleteObject/);
    expect(normalizePolicy(storagePolicyDocument("quay-storage"))).not.toMatch(/quay-backups|PutLifecycleConfiguration|"s3:\*"|:::\*/);
    expect(normalizePolicy(storagePolicyDocument("quay-storage"))).toMatch(/GetLifecycleConfiguration/);
    expect(find("minio:Policy", "storage-storage-policy").name).toBe("quay-storage-readwrite");
    expect(find("minio:Policy", "storage-backup-policy").name).toBe("quay-backup-putonly");
    expect(find("minio:Policy", "storage-restore-policy").name).toBe("quay-restore-readonly");
  });

  test("each user is attached to exactly its own policy; outputs carry the generated keys as secrets", async () => {
    expect(find("minio:User", "storage-storage-user")).toMatchObject({ accessKey: "quay-storage", policies: ["quay-storage-readwrite"], enabled: true });
    expect(find("minio:User", "storage-backup-user")).toMatchObject({ accessKey: "quay-backup", policies: ["quay-backup-putonly"] });
    expect(find("minio:User", "storage-restore-user")).toMatchObject({ accessKey: "quay-restore", policies: ["quay-restore-readonly"] });
    for (const c of [storage.storageCredentials, storage.backupCredentials, storage.restoreCredentials]) {
      expect(await pulumi.isSecret(c.secretKey)).toBe(true);
      expect(await unwrap(c.secretKey)).toMatch(/^GENERATED-/);
    }
    expect(await unwrap(storage.backupCredentials.accessKey)).toBe("quay-backup");
    expect(await unwrap(storage.endpoint)).toBe("http://10.0.0.5:9000");
    expect(await unwrap(storage.storageBucketName)).toBe("quay-storage");
  });

  test("RandomSecret asks for 40 letters and digits (MinIO's maximum secret key length)", () => {
    const secrets = declared.filter((d) => d.type === "pulumi-nodejs:dynamic/local:RandomSecret");
    expect(secrets.map((s) => s.name).sort()).toEqual(["storage-backup-secret-key", "storage-restore-secret-key", "storage-storage-secret-key"]);
    for (const s of secrets) expect(s.inputs.length).toBe(40);
  });
});
