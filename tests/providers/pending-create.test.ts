// providers/pending-create.ts against the providers themselves (issue 15): for every Quay kind, the id the
// table computes from the stored inputs is the id the provider's create returned, and the provider's read,
// given that id and the outputs the table records, finds the object and returns what the next `up` compares
// against — no change (so no write), except a password, which the next `up` sets again because a create that
// stopped half-way may not have set it. An object the killed run never reached reads as gone (the refresh
// drops it and `up` creates it).
import * as pulumi from "@pulumi/pulumi";
import { LOOKUP_ID_PREFIX, PENDING_CREATE_IDENTITY, RERUN_KINDS, pendingCreateIdentity } from "../../providers/pending-create";
import { DefaultPermissionProvider } from "../../providers/quay/default-permission";
import { NamespaceReadGrantProvider } from "../../providers/quay/namespace-grant";
import { OrganizationProvider } from "../../providers/quay/organization";
import { ProxyCacheProvider } from "../../providers/quay/proxy-cache";
import { RepositoryProvider } from "../../providers/quay/repository";
import { RepositoryPermissionProvider } from "../../providers/quay/repository-permission";
import { RepositorySetProvider, repositoryMap } from "../../providers/quay/repository-set";
import { RobotAccountProvider } from "../../providers/quay/robot";
import { TeamProvider } from "../../providers/quay/team";
import { UserProvider } from "../../providers/quay/user";
import { BucketProvider } from "../../providers/minio/bucket";
import { PolicyProvider } from "../../providers/minio/policy";
import { UserProvider as MinioUserProvider } from "../../providers/minio/user";
import { storagePolicyDocument } from "../../components/object-storage";
import { startMinio } from "../support/minio";
import { QuayFixture, startQuay, uniqueName } from "../support/quay";

type AnyProvider = Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "create" | "read" | "diff">>;
const T = (kind: string) => `pulumi-nodejs:dynamic/quay:${kind}`;

describe("ids of pending creates, against the providers and the emulator", () => {
  let quay: QuayFixture;
  let org: string;
  beforeAll(async () => {
    quay = await startQuay();
    org = uniqueName("pend");
  });
  afterAll(async () => quay.close());

  /** What the engine stores for a create (the checked inputs), then create, then what recovery would do. */
  async function roundTrip(kind: string, provider: AnyProvider, raw: Record<string, unknown>, passwordSetAgain = false) {
    const checked = (await provider.check({}, raw)).inputs ?? raw;
    const created = await provider.create(checked);
    const identity = pendingCreateIdentity(kind.includes(":") ? `pulumi-nodejs:dynamic/${kind}` : T(kind), checked)!;
    expect(identity).toBeDefined();
    if (kind === "DefaultPermission") expect(identity.id.startsWith(LOOKUP_ID_PREFIX)).toBe(true);
    else expect(identity.id).toBe(created.id);
    // The recorded outputs never hold a password.
    expect(Object.keys(identity.outputs)).not.toEqual(expect.arrayContaining(["password"]));
    expect(Object.keys(identity.outputs)).not.toEqual(expect.arrayContaining(["upstreamPassword"]));
    const read = await provider.read(identity.id, identity.outputs);
    expect(read.id).toBe(created.id);
    // The next up, as the engine runs it: check against the refreshed inputs, then diff against the read's outputs.
    const next = (await provider.check(read.inputs ?? checked, raw)).inputs ?? raw;
    const diff = await provider.diff(created.id, read.props, next);
    expect(!!diff.changes).toBe(passwordSetAgain);
    if (!passwordSetAgain) {
      // The outputs the read recorded are the ones create would have recorded.
      for (const [k, v] of Object.entries(created.outs ?? {})) expect([k, read.props?.[k]]).toEqual([k, v]);
    }
    return { checked, created, read };
  }

  test("each Quay kind: the table's id is create's id, and read fills what create returns", async () => {
    const c = quay.connection;
    await roundTrip("Organization", OrganizationProvider.instance as AnyProvider, { connection: c, name: org });
    await roundTrip("Repository", RepositoryProvider.instance as AnyProvider, { connection: c, namespace: org, name: "nested/repo", description: "d", visibility: "private" });
    const robot = await roundTrip("RobotAccount", RobotAccountProvider.instance as AnyProvider, { connection: c, namespace: org, name: "ci", description: "pushes" });
    // The robot's token: Quay answers a robot's GET with it.
    expect(robot.read.props?.token).toBe(robot.created.outs?.token);
    expect(robot.read.props?.fullName).toBe(`${org}+ci`);
    await roundTrip("Team", TeamProvider.instance as AnyProvider, { connection: c, organization: org, name: "creators", role: "creator", description: "", members: [`${org}+ci`] });
    const username = uniqueName("pull");
    await roundTrip("User", UserProvider.instance as AnyProvider, { connection: c, username, password: "first-Password-1", enabled: true }, true);
    await roundTrip("RepositorySet", RepositorySetProvider.instance as AnyProvider, {
      connection: c,
      namespace: org,
      repositories: repositoryMap(["set/a", "set/b"]),
      deleteRemoved: false,
      deleteOnDestroy: false,
    });
    await roundTrip("RepositoryPermission", RepositoryPermissionProvider.instance as AnyProvider, { connection: c, namespace: org, repository: "nested/repo", kind: "robot", name: `${org}+ci`, role: "write" });
    await roundTrip("NamespaceReadGrant", NamespaceReadGrantProvider.instance as AnyProvider, { connection: c, granteeKind: "user", grantee: username, namespaces: [org], role: "read" });
    await roundTrip("DefaultPermission", DefaultPermissionProvider.instance as AnyProvider, { connection: c, organization: org, delegateKind: "robot", delegateName: `${org}+ci`, role: "read" });
    const cacheOrg = uniqueName("cache");
    await quay.admin.post("/api/v1/organization/", { name: cacheOrg });
    await roundTrip("ProxyCache", ProxyCacheProvider.instance as AnyProvider, { connection: c, organization: cacheOrg, upstreamRegistry: "quay.io", expirationSeconds: 86400, insecure: false }, false);
  });

  test("each MinIO kind: the same, against a real MinIO", async () => {
    const minio = await startMinio();
    try {
      const connection = { endpoint: minio.endpoint, accessKey: minio.root.accessKey, secretKey: minio.root.secretKey, mcPath: minio.mcPath };
      await roundTrip("minio:Bucket", BucketProvider.instance as AnyProvider, { connection, name: "pending-bucket", versioning: true, lifecycleRules: [], forceDestroy: false });
      await roundTrip("minio:Policy", PolicyProvider.instance as AnyProvider, { connection, name: "pending-policy", document: storagePolicyDocument("pending-bucket") });
      await roundTrip("minio:User", MinioUserProvider.instance as AnyProvider, { connection, accessKey: "pending-user", secretKey: "pending-user-secret-123", policies: ["pending-policy"], enabled: true });
    } finally {
      await minio.stop();
    }
  });

  test("an object the killed run never reached reads as gone", async () => {
    const c = quay.connection;
    const cases: [string, pulumi.dynamic.ResourceProvider, Record<string, unknown>][] = [
      ["Organization", OrganizationProvider.instance, { connection: c, name: uniqueName("never") }],
      ["Repository", RepositoryProvider.instance, { connection: c, namespace: org, name: "never/created", description: "", visibility: "private" }],
      ["RobotAccount", RobotAccountProvider.instance, { connection: c, namespace: org, name: "never", description: "" }],
      ["DefaultPermission", DefaultPermissionProvider.instance, { connection: c, organization: org, delegateKind: "robot", delegateName: `${org}+never`, role: "read" }],
    ];
    for (const [kind, provider, inputs] of cases) {
      const identity = pendingCreateIdentity(T(kind), inputs)!;
      expect([kind, await provider.read!(identity.id, identity.outputs)]).toEqual([kind, {}]);
    }
  });

  test("the table covers every kind of the program except the re-runnable ones, and refuses unusable inputs", () => {
    const known = ["Organization", "Repository", "RobotAccount", "Team", "User", "RepositorySet", "RepositoryPermission", "NamespaceReadGrant", "ProxyCache", "DefaultPermission"].map(T);
    expect(Object.keys(PENDING_CREATE_IDENTITY)).toEqual(expect.arrayContaining([...known, "pulumi-nodejs:dynamic/minio:Bucket", "pulumi-nodejs:dynamic/minio:Policy", "pulumi-nodejs:dynamic/minio:User"]));
    expect(Object.keys(RERUN_KINDS).sort()).toEqual(["command:remote:Command", "pulumi-nodejs:dynamic/local:RandomSecret", T("ApiToken")].sort());
    expect(pendingCreateIdentity("command:remote:Command", {})).toBeUndefined();
    expect(pendingCreateIdentity("pulumi-nodejs:dynamic/minio:Bucket", { name: "quay-storage" })?.id).toBe("quay-storage");
    expect(pendingCreateIdentity("pulumi-nodejs:dynamic/minio:User", { accessKey: "quay" })?.id).toBe("quay");
    expect(pendingCreateIdentity("pulumi-nodejs:dynamic/minio:Policy", { name: "quay-rw" })?.id).toBe("quay-rw");
    // A secret (an encrypted object in the exported state) is never an id.
    expect(() => pendingCreateIdentity(T("Repository"), { namespace: { ciphertext: "v1:…" }, name: "x" })).toThrow(/"namespace" is not a plain string/);
  });
});
