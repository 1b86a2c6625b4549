import { UNKNOWN } from "../../providers/quay/common";
import { RepositoryPermissionProvider } from "../../providers/quay/repository-permission";
import { FAULT_KINDS, QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";

describe("quay:RepositoryPermission provider against the emulator", () => {
  let quay: QuayFixture;
  let org: string;
  const repo = "openshift/release-images";
  const provider = RepositoryPermissionProvider.instance;
  const robot = (short: string) => `${org}+${short}`;

  beforeAll(async () => {
    quay = await startQuay();
    org = uniqueName("perms");
    await quay.admin.post("/api/v1/organization/", { name: org });
    for (const short of ["ci", "ro", "mirror"]) await quay.admin.put(`/api/v1/organization/${org}/robots/${short}`, { description: "" });
    await quay.admin.put(`/api/v1/organization/${org}/team/readers`, { role: "member" });
    await quay.admin.post("/api/v1/superuser/users/", { username: "alice", email: "alice@example.com" });
    for (const name of [repo, "flat", "seeded"]) {
      await quay.admin.post("/api/v1/repository", { namespace: org, repository: name, visibility: "private", description: "" });
    }
  });
  afterAll(async () => quay.close());
  afterEach(() => quay.emulator.faults.clear());

  const props = (kind: string, name: string, extra: Record<string, unknown> = {}) =>
    ({ connection: quay.connection, namespace: org, repository: repo, kind, name, role: "read", ...extra }) as never;
  const userRoles = async (repository = repo) =>
    (await quay.admin.get<{ permissions: Record<string, { role: string }> }>(`/api/v1/repository/${org}/${repository}/permissions/user/`)).body.permissions;
  const teamRoles = async (repository = repo) =>
    (await quay.admin.get<{ permissions: Record<string, { role: string }> }>(`/api/v1/repository/${org}/${repository}/permissions/team/`)).body.permissions;

  it("check names the property, applies Quay's rules per kind, and lets unknown values through", async () => {
    const failure = async (p: never) => (await provider.check(props("user", "alice"), p)).failures?.[0];
    expect(await failure(props("group", "alice"))).toMatchObject({ property: "kind", reason: expect.stringMatching(/user, robot, team/) });
    expect(await failure(props("user", "alice", { role: "owner" }))).toMatchObject({ property: "role", reason: expect.stringMatching(/read, write, admin/) });
    expect(await failure(props("user", "alice", { namespace: "Bad Org" }))).toMatchObject({ property: "namespace" });
    expect(await failure(props("user", "alice", { repository: "Bad//Repo" }))).toMatchObject({ property: "repository" });
    expect(await failure(props("robot", "noplus"))).toMatchObject({ property: "name", reason: expect.stringMatching(/<namespace>\+<shortname>/) });
    expect(await failure(props("robot", "otherorg+ci"))).toMatchObject({ property: "name", reason: expect.stringMatching(/Cannot add robot otherorg\+ci under namespace/) });
    expect(await failure(props("user", robot("ci")))).toMatchObject({ property: "name", reason: expect.stringMatching(/use kind: robot/) });
    expect(await failure(props("team", "Readers!"))).toMatchObject({ property: "name" });

    expect((await provider.check(props("x", "y"), props("robot", robot("ci"), { role: "write" }))).failures).toBeUndefined();
    for (const p of [props("robot", UNKNOWN), props("robot", robot("ci"), { namespace: UNKNOWN }), props(UNKNOWN, "alice"), props("user", "alice", { role: UNKNOWN, repository: UNKNOWN })]) {
      expect((await provider.check(props("user", "alice"), p)).failures).toBeUndefined();
    }
  });

  it.each([
    ["user", "alice"],
    ["robot", "ci"],
    ["team", "readers"],
  ])("%s: creates, reads back, diffs to nothing, changes the role with one call, and deletes", async (kind, short) => {
    const name = kind === "robot" ? robot(short) : short;
    const roles = kind === "team" ? teamRoles : userRoles;
    const inputs = props(kind, name);
    quay.emulator.counter.reset();
    const created = await provider.create(inputs);
    expect(quay.emulator.counter.writes()).toBe(1);
    expect(created.id).toBe(`${org}/${repo}:${kind}/${name}`);
    expect((await roles())[name]?.role).toBe("read");

    const read = await provider.read(created.id, created.outs!);
    expect(read).toMatchObject({ id: created.id, props: { role: "read" } });
    expect((await provider.diff(created.id, read.props!, inputs)).changes).toBe(false);

    const changed = props(kind, name, { role: "write" });
    expect(await provider.diff(created.id, read.props!, changed)).toMatchObject({ changes: true, replaces: undefined });
    quay.emulator.counter.reset();
    const updated = await provider.update(created.id, read.props!, changed);
    expect(quay.emulator.counter.total()).toBe(1);
    expect(quay.emulator.counter.writes()).toBe(1);
    expect((await roles())[name]?.role).toBe("write");

    await provider.delete(created.id, updated.outs!);
    expect((await roles())[name]).toBeUndefined();
    expect(await provider.read(created.id, updated.outs!)).toEqual({});
    // 400 "… does not have permission for repo." means it is gone already.
    await expect(provider.delete(created.id, updated.outs!)).resolves.toBeUndefined();
  });

  it("replaces on every identity field", async () => {
    const olds = props("robot", robot("ci"));
    expect((await provider.diff("id", olds, props("robot", robot("ci"), { namespace: "other" }))).replaces).toEqual(["namespace"]);
    expect((await provider.diff("id", olds, props("robot", robot("ci"), { repository: "flat" }))).replaces).toEqual(["repository"]);
    expect((await provider.diff("id", olds, props("user", "alice"))).replaces).toEqual(["kind", "name"]);
    expect((await provider.diff("id", olds, props("robot", robot("ro")))).replaces).toEqual(["name"]);
  });

  it("reports a role changed or removed behind Pulumi's back", async () => {
    const created = await provider.create(props("robot", robot("ro"), { repository: "flat" }));
    await quay.admin.put(`/api/v1/repository/${org}/flat/permissions/user/${robot("ro")}`, { role: "admin" });
    const read = await provider.read(created.id, created.outs!);
    expect(read.props?.role).toBe("admin");
    expect((await provider.diff(created.id, read.props!, props("robot", robot("ro"), { repository: "flat" }))).changes).toBe(true);
    await quay.admin.delete(`/api/v1/repository/${org}/flat/permissions/user/${robot("ro")}`);
    expect(await provider.read(created.id, created.outs!)).toEqual({});

    const team = await provider.create(props("team", "readers", { repository: "flat" }));
    await quay.admin.delete(`/api/v1/repository/${org}/flat/permissions/team/readers`);
    expect(await provider.read(team.id, team.outs!)).toEqual({});
  });

  it("a permission whose organization was deleted is gone for read and delete (Quay answers 403 there, not 404)", async () => {
    const doomed = uniqueName("doomed");
    await quay.admin.post("/api/v1/organization/", { name: doomed });
    await quay.admin.post("/api/v1/repository", { namespace: doomed, repository: "r", visibility: "private", description: "" });
    const inputs = { ...(props("user", "alice") as object), namespace: doomed, repository: "r" } as never;
    const created = await provider.create(inputs);
    await quay.admin.delete(`/api/v1/organization/${doomed}`);
    expect(await provider.read(created.id, created.outs!)).toEqual({});
    await expect(provider.delete(created.id, created.outs!)).resolves.toBeUndefined();
  });

  it("changes an existing grant's role only when asked to adopt it; one with the declared role is taken as is", async () => {
    await quay.admin.put(`/api/v1/repository/${org}/seeded/permissions/user/${robot("mirror")}`, { role: "admin" });
    const desired = props("robot", robot("mirror"), { repository: "seeded", role: "write" });
    quay.emulator.counter.reset();
    await expect(provider.create(desired)).rejects.toThrow(/already exists in Quay with role "admin" \(declared: "write"\).*adopt: true/s);
    expect(quay.emulator.counter.writes()).toBe(0);
    expect((await userRoles("seeded"))[robot("mirror")].role).toBe("admin");

    await provider.create({ ...(desired as object), adopt: true } as never);
    expect((await userRoles("seeded"))[robot("mirror")].role).toBe("write");

    // Same role already there (e.g. applied by a default permission when the repository was created): nothing to write.
    await quay.admin.put(`/api/v1/repository/${org}/seeded/permissions/team/readers`, { role: "read" });
    quay.emulator.counter.reset();
    const same = await provider.create(props("team", "readers", { repository: "seeded" }));
    expect(same.id).toBe(`${org}/seeded:team/readers`);
    expect(quay.emulator.counter.writes()).toBe(0);
  });

  it("sets the declared role on a grant Quay applied from the namespace's default permission, without adopt", async () => {
    const other = uniqueName("proto");
    await quay.admin.post("/api/v1/organization/", { name: other });
    await quay.admin.put(`/api/v1/organization/${other}/team/pullers`, { role: "member" });
    await quay.admin.post(`/api/v1/organization/${other}/prototypes`, { role: "read", delegate: { kind: "team", name: "pullers" } });
    // Created by a user who is not the namespace: Quay applies the default permission (team pullers: read).
    await quay.admin.post("/api/v1/repository", { namespace: other, repository: "made/by/program", visibility: "private", description: "" });
    const inputs = { ...(props("team", "pullers", { role: "write" }) as object), namespace: other, repository: "made/by/program" } as never;
    const before = await quay.admin.get<{ permissions: Record<string, { role: string }> }>(`/api/v1/repository/${other}/made/by/program/permissions/team/`);
    expect(before.body.permissions.pullers?.role).toBe("read");
    await provider.create(inputs);
    const after = await quay.admin.get<{ permissions: Record<string, { role: string }> }>(`/api/v1/repository/${other}/made/by/program/permissions/team/`);
    expect(after.body.permissions.pullers.role).toBe("write");
  });

  it("says so when the repository does not exist", async () => {
    process.env.QUAY_RETRIES = "1";
    try {
      await expect(provider.create(props("user", "alice", { repository: "missing" }))).rejects.toThrow(/repository .*\/missing does not exist/);
    } finally {
      delete process.env.QUAY_RETRIES;
    }
  });

  it("a token change is an in-place update that calls nothing", async () => {
    const created = await provider.create(props("user", "alice", { repository: "flat" }));
    const rotated = { ...(props("user", "alice", { repository: "flat" }) as object), connection: { ...quay.connection, token: "a-new-token" } } as never;
    expect(await provider.diff(created.id, created.outs!, rotated)).toMatchObject({ changes: true, replaces: undefined });
    quay.emulator.counter.reset();
    await provider.update(created.id, created.outs!, rotated);
    expect(quay.emulator.counter.total()).toBe(0);
  });

  it("survives serialization without capturing a secret and still works", async () => {
    const { provider: loaded, containsSecrets, text } = await roundTripProvider(provider);
    expect(containsSecrets).toBe(false);
    expect(text).not.toContain(quay.connection.token);
    const created = await loaded.create(props("robot", robot("mirror"), { role: "write" }));
    expect((await loaded.read(created.id, created.outs!)).props?.role).toBe("write");
    await loaded.delete(created.id, created.outs!);
    expect(await loaded.read(created.id, created.outs!)).toEqual({});
  });

  it.each(FAULT_KINDS)("converges under 10 %% injected %s faults", async (label, fault) => {
    const repos = Array.from({ length: 8 }, (_, i) => `faulty/${label}/r${i}`);
    for (const r of repos) await quay.admin.post("/api/v1/repository", { namespace: org, repository: r, visibility: "private", description: "" });
    const grants = repos.flatMap((r) => [props("robot", robot("ci"), { repository: r }), props("team", "readers", { repository: r })]);
    const converge = async (inputs: never) => {
      for (let attempt = 0; ; attempt++) {
        try {
          const created = await provider.create(inputs);
          await provider.update(created.id, created.outs!, { ...(inputs as object), role: "write" } as never);
          return;
        } catch (e) {
          if (attempt > 10) throw e;
        }
      }
    };
    quay.emulator.faults.add({ fraction: 0.1, path: /\/permissions\//, ...fault });
    await Promise.all(grants.map(converge));
    quay.emulator.faults.clear();
    for (const r of repos) {
      expect((await userRoles(r))[robot("ci")]?.role).toBe("write");
      expect((await teamRoles(r)).readers?.role).toBe("write");
    }
  });
});
