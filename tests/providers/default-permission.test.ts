import { UNKNOWN } from "../../providers/quay/common";
import { DefaultPermissionProvider } from "../../providers/quay/default-permission";
import { lossyProxy } from "../support/lossy-proxy";
import { FAULT_KINDS, QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";

interface Proto {
  id: string;
  role: string;
  activating_user: { name: string } | null;
  delegate: { name: string; kind: string; is_robot?: boolean };
}

describe("quay:DefaultPermission provider against the emulator", () => {
  let quay: QuayFixture;
  let org: string;
  const provider = DefaultPermissionProvider.instance;
  const robot = (short: string) => `${org}+${short}`;

  const newOrg = async (prefix: string) => {
    const name = uniqueName(prefix);
    await quay.admin.post("/api/v1/organization/", { name });
    for (const short of ["mirror", "ci"]) await quay.admin.put(`/api/v1/organization/${name}/robots/${short}`, { description: "" });
    await quay.admin.put(`/api/v1/organization/${name}/team/readers`, { role: "member" });
    return name;
  };

  beforeAll(async () => {
    quay = await startQuay();
    for (const username of ["alice", "ocp_cluster_pull"]) await quay.admin.post("/api/v1/superuser/users/", { username, email: `${username}@example.com` });
    org = await newOrg("protos");
  });
  afterAll(async () => quay.close());
  afterEach(() => quay.emulator.faults.clear());

  const props = (delegateKind: string, delegateName: string, extra: Record<string, unknown> = {}) =>
    ({ connection: quay.connection, organization: org, delegateKind, delegateName, role: "read", ...extra }) as never;
  const protos = async (organization = org) =>
    (await quay.admin.get<{ prototypes: Proto[] }>(`/api/v1/organization/${organization}/prototypes`)).body.prototypes;

  it("check names the property, applies Quay's rules per kind, and lets unknown values through", async () => {
    const failure = async (p: never) => (await provider.check(props("user", "alice"), p)).failures?.[0];
    expect(await failure(props("group", "alice"))).toMatchObject({ property: "delegateKind", reason: expect.stringMatching(/user, robot, team/) });
    expect(await failure(props("user", "alice", { role: "owner" }))).toMatchObject({ property: "role", reason: expect.stringMatching(/read, write, admin/) });
    expect(await failure(props("user", "alice", { organization: "Bad Org" }))).toMatchObject({ property: "organization" });
    expect(await failure(props("user", "Alice Smith"))).toMatchObject({ property: "delegateName" });
    expect(await failure(props("user", robot("ci")))).toMatchObject({ property: "delegateName", reason: expect.stringMatching(/use delegateKind: robot/) });
    expect(await failure(props("robot", "noplus"))).toMatchObject({ property: "delegateName", reason: expect.stringMatching(/<namespace>\+<shortname>/) });
    expect(await failure(props("robot", "otherorg+ci"))).toMatchObject({ property: "delegateName", reason: expect.stringMatching(/belongs to namespace otherorg/) });
    expect(await failure(props("team", "Readers!"))).toMatchObject({ property: "delegateName" });
    expect(await failure(props("user", "alice", { activatingUser: "Not Valid" }))).toMatchObject({ property: "activatingUser" });

    expect((await provider.check(props("x", "y"), props("robot", robot("mirror"), { role: "write", activatingUser: robot("ci") }))).failures).toBeUndefined();
    for (const p of [props("user", UNKNOWN), props("robot", robot("ci"), { organization: UNKNOWN }), props(UNKNOWN, "alice"), props("team", "readers", { role: UNKNOWN, activatingUser: UNKNOWN })]) {
      expect((await provider.check(props("user", "alice"), p)).failures).toBeUndefined();
    }
  });

  it.each([
    ["user", "ocp_cluster_pull", undefined],
    ["robot", "mirror", undefined],
    ["team", "readers", undefined],
    ["user", "ocp_cluster_pull", "alice"],
  ])("%s %s (activating user %s): creates one prototype, reads back, changes the role with one call, and deletes", async (kind, short, activatingUser) => {
    const name = kind === "robot" ? robot(short) : short;
    const inputs = props(kind, name, { activatingUser });
    const before = (await protos()).length;
    const created = await provider.create(inputs);
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    const listed = await protos();
    expect(listed).toHaveLength(before + 1);
    const mine = listed.find((p) => p.id === created.id)!;
    // Robots are delegates of kind "user" in Quay.
    expect(mine).toMatchObject({ role: "read", delegate: { name, kind: kind === "team" ? "team" : "user" } });
    expect(mine.activating_user?.name).toBe(activatingUser);

    const read = await provider.read(created.id, created.outs!);
    expect(read).toMatchObject({ id: created.id, props: { role: "read" } });
    expect((await provider.diff(created.id, read.props!, inputs)).changes).toBe(false);

    const changed = props(kind, name, { activatingUser, role: "write" });
    expect(await provider.diff(created.id, read.props!, changed)).toMatchObject({ changes: true, replaces: undefined });
    quay.emulator.counter.reset();
    const updated = await provider.update(created.id, read.props!, changed);
    expect(quay.emulator.counter.snapshot()).toEqual({ "PUT /api/v1/organization/{org}/prototypes/{prototypeid}": 1 });
    expect((await protos()).find((p) => p.id === created.id)?.role).toBe("write");

    await provider.delete(created.id, updated.outs!);
    expect((await protos()).find((p) => p.id === created.id)).toBeUndefined();
    expect(await provider.read(created.id, updated.outs!)).toEqual({});
    await expect(provider.delete(created.id, updated.outs!)).resolves.toBeUndefined();
  });

  it("replaces on every identity field", async () => {
    const olds = props("robot", robot("mirror"));
    expect((await provider.diff("id", olds, props("robot", robot("mirror"), { organization: "other" }))).replaces).toEqual(["organization"]);
    expect((await provider.diff("id", olds, props("user", "alice"))).replaces).toEqual(["delegateKind", "delegateName"]);
    expect((await provider.diff("id", olds, props("robot", robot("ci")))).replaces).toEqual(["delegateName"]);
    expect((await provider.diff("id", olds, props("robot", robot("mirror"), { activatingUser: "alice" }))).replaces).toEqual(["activatingUser"]);
    expect((await provider.diff("id", olds, props("robot", robot("mirror"), { activatingUser: "" }))).changes).toBe(false);
  });

  it("reports a role changed or a prototype deleted behind Pulumi's back, and an organization that is gone", async () => {
    const created = await provider.create(props("robot", robot("ci"), { role: "write" }));
    await quay.admin.put(`/api/v1/organization/${org}/prototypes/${created.id}`, { role: "admin" });
    const read = await provider.read(created.id, created.outs!);
    expect(read.props?.role).toBe("admin");
    expect((await provider.diff(created.id, read.props!, props("robot", robot("ci"), { role: "write" }))).changes).toBe(true);
    await quay.admin.delete(`/api/v1/organization/${org}/prototypes/${created.id}`);
    expect(await provider.read(created.id, created.outs!)).toEqual({});
    await expect(provider.update(created.id, read.props!, props("robot", robot("ci"), { role: "write" }))).rejects.toThrow(/no longer exists.*pulumi refresh/);

    const doomed = await newOrg("doomed");
    const inDoomed = { ...(props("team", "readers") as object), organization: doomed } as never;
    const proto = await provider.create(inDoomed);
    await quay.admin.delete(`/api/v1/organization/${doomed}`);
    expect(await provider.read(proto.id, inDoomed)).toEqual({});
    await expect(provider.delete(proto.id, inDoomed)).resolves.toBeUndefined();
  });

  it("adopts an existing prototype only when asked, and never posts a duplicate", async () => {
    const other = await newOrg("adopt");
    const seeded = await quay.admin.post<Proto>(`/api/v1/organization/${other}/prototypes`, { role: "read", delegate: { kind: "user", name: "alice" } });
    const desired = { ...(props("user", "alice", { role: "write" }) as object), organization: other } as never;

    quay.emulator.counter.reset();
    await expect(provider.create(desired)).rejects.toThrow(/default permission ".*user alice" already exists.*adopt: true/s);
    expect(quay.emulator.counter.writes()).toBe(0);

    const adopted = await provider.create({ ...(desired as object), adopt: true } as never);
    expect(adopted.id).toBe(seeded.body.id);
    expect(await protos(other)).toEqual([expect.objectContaining({ id: seeded.body.id, role: "write" })]);

    // Quay itself allows identical prototypes: with duplicates present, adopt takes the first and leaves the rest.
    const dup = await quay.admin.post<Proto>(`/api/v1/organization/${other}/prototypes`, { role: "read", delegate: { kind: "team", name: "readers" } });
    await quay.admin.post<Proto>(`/api/v1/organization/${other}/prototypes`, { role: "read", delegate: { kind: "team", name: "readers" } });
    const fromDup = await provider.create({ ...(props("team", "readers") as object), organization: other, adopt: true } as never);
    expect(fromDup.id).toBe(dup.body.id);
    expect(await protos(other)).toHaveLength(3);

    // A user-wide prototype is not the one for an activating user, and vice versa.
    const scoped = await provider.create({ ...(props("user", "alice", { activatingUser: robot("mirror") }) as object), organization: other } as never);
    expect(scoped.id).not.toBe(seeded.body.id);
  });

  it("a POST whose answer was lost is looked up, not posted again", async () => {
    const proxy = await lossyProxy(quay.emulator.url, (method, path) => method === "POST" && path.endsWith("/prototypes"), 1);
    try {
      const other = await newOrg("lossy");
      const inputs = { ...(props("robot", robot("mirror")) as object), organization: other, delegateName: `${other}+mirror`, connection: { ...quay.connection, endpoint: proxy.url } } as never;
      quay.emulator.counter.reset();
      const created = await provider.create(inputs);
      expect(quay.emulator.counter.snapshot()["POST /api/v1/organization/{org}/prototypes"]).toBe(1);
      expect(await protos(other)).toEqual([expect.objectContaining({ id: created.id, delegate: expect.objectContaining({ name: `${other}+mirror` }) })]);
    } finally {
      await proxy.close();
    }
  });

  it("a POST refused with 500 before Quay acted is posted again once, after a look", async () => {
    const other = await newOrg("refused");
    quay.emulator.faults.add({ method: "POST", path: /\/prototypes$/, status: 500, count: 1 });
    quay.emulator.counter.reset();
    const created = await provider.create({ ...(props("team", "readers") as object), organization: other } as never);
    expect(quay.emulator.counter.snapshot()["POST /api/v1/organization/{org}/prototypes"]).toBe(2);
    expect(await protos(other)).toEqual([expect.objectContaining({ id: created.id })]);
  });

  it("a token change is an in-place update that calls nothing", async () => {
    const created = await provider.create(props("user", "alice"));
    const rotated = { ...(props("user", "alice") as object), connection: { ...quay.connection, token: "a-new-token" } } as never;
    expect(await provider.diff(created.id, created.outs!, rotated)).toMatchObject({ changes: true, replaces: undefined });
    quay.emulator.counter.reset();
    await provider.update(created.id, created.outs!, rotated);
    expect(quay.emulator.counter.total()).toBe(0);
    await provider.delete(created.id, created.outs!);
  });

  it("survives serialization without capturing a secret and still works", async () => {
    const { provider: loaded, containsSecrets, text } = await roundTripProvider(provider);
    expect(containsSecrets).toBe(false);
    expect(text).not.toContain(quay.connection.token);
    const created = await loaded.create(props("user", "ocp_cluster_pull"));
    expect((await loaded.read(created.id, created.outs!)).props?.role).toBe("read");
    await loaded.delete(created.id, created.outs!);
    expect(await loaded.read(created.id, created.outs!)).toEqual({});
  });

  it.each(FAULT_KINDS)("converges under 10 %% injected %s faults with no duplicate prototypes", async (label, fault) => {
    const other = await newOrg(`f${label}`);
    const wanted = [
      { delegateKind: "user", delegateName: "alice" },
      { delegateKind: "user", delegateName: "ocp_cluster_pull" },
      { delegateKind: "robot", delegateName: `${other}+mirror` },
      { delegateKind: "robot", delegateName: `${other}+ci` },
      { delegateKind: "team", delegateName: "readers" },
      { delegateKind: "user", delegateName: "ocp_cluster_pull", activatingUser: `${other}+mirror` },
      { delegateKind: "team", delegateName: "readers", activatingUser: "alice" },
    ].map((w) => ({ connection: quay.connection, organization: other, role: "read", ...w }) as never);
    const converge = async (inputs: never) => {
      for (let attempt = 0; ; attempt++) {
        try {
          let created;
          try {
            created = await provider.create(inputs);
          } catch (e) {
            // A run that failed after its create left the prototype behind: the next run adopts it.
            if (!/already exists/.test(String(e))) throw e;
            created = await provider.create({ ...(inputs as object), adopt: true } as never);
          }
          await provider.update(created.id, created.outs!, { ...(inputs as object), role: "write" } as never);
          return;
        } catch (e) {
          if (attempt > 10) throw e;
        }
      }
    };
    quay.emulator.faults.add({ fraction: 0.1, path: /\/prototypes/, ...fault });
    await Promise.all(wanted.map(converge));
    quay.emulator.faults.clear();
    const listed = await protos(other);
    expect(listed).toHaveLength(wanted.length);
    expect(listed.every((p) => p.role === "write")).toBe(true);
  });
});
