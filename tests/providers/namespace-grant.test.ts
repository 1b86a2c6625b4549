import { NamespaceReadGrantProps, NamespaceReadGrantProvider, permissionPath, planStillStands, refreshResult } from "../../providers/quay/namespace-grant";
import { forgetNamespaceListings } from "../../providers/quay/listing";
import { UNKNOWN } from "../../providers/quay/common";
import { QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";
import { grantedActions } from "../support/registry";

describe("quay:NamespaceReadGrant provider against the emulator", () => {
  let quay: QuayFixture;
  let rel: string;
  let ops: string;
  const pullUser = "ocp_cluster_pull";
  const provider = NamespaceReadGrantProvider.instance;

  const createRepo = (namespace: string, repository: string) =>
    quay.admin.post("/api/v1/repository", { namespace, repository, visibility: "private", description: "" });

  beforeAll(async () => {
    quay = await startQuay();
    rel = uniqueName("rel");
    ops = uniqueName("ops");
    for (const org of [rel, ops]) await quay.admin.post("/api/v1/organization/", { name: org });
    await quay.admin.post("/api/v1/superuser/users/", { username: pullUser, email: "pull@example.com" });
    for (let i = 0; i < 130; i++) await createRepo(ops, `redhat/op${String(i).padStart(3, "0")}`);
    await createRepo(rel, "release-images");
    await createRepo(rel, "openshift/release-images");
  });
  afterAll(async () => quay.close());

  const props = (extra: Record<string, unknown> = {}) =>
    ({ connection: quay.connection, granteeKind: "user", grantee: pullUser, namespaces: [rel, ops], role: "read", ...extra }) as never;

  it("check validates the grantee and plans with one listing per page and one reachability call per namespace", async () => {
    expect((await provider.check(props(), props({ grantee: "Bad User" }))).failures?.[0].property).toBe("grantee");
    expect((await provider.check(props(), props({ granteeKind: "robot", grantee: `${rel}+m`, namespaces: [rel, ops] }))).failures?.[0].property).toBe("namespaces");
    expect((await provider.check(props(), props({ namespaces: [UNKNOWN] }))).failures).toBeUndefined();

    forgetNamespaceListings();
    quay.emulator.counter.reset();
    const checked = await provider.check(props(), props());
    const calls = quay.emulator.counter.snapshot();
    expect(quay.emulator.counter.writes()).toBe(0);
    // ops has 130 repositories (2 pages), rel has 2 (1 page); plus one collaborators call each.
    expect(quay.emulator.counter.total()).toBe(5);
    expect(Object.keys(calls).some((k) => k.includes("collaborators"))).toBe(true);
    expect(checked.inputs?.missingGrants).toHaveLength(132);
  });

  it("grants read on every repository, converges to no diff, and a refresh picks up repositories created later without the role", async () => {
    const planned = (await provider.check(props(), props())).inputs!;
    const created = await provider.create(planned);
    expect(created.outs?.missingGrants).toEqual([]);
    const { body } = await quay.admin.get<{ permissions: Record<string, { role: string }> }>(`/api/v1/repository/${rel}/openshift/release-images/permissions/user/`);
    expect(body.permissions[pullUser].role).toBe("read");

    // Nothing to do: the plan is empty and diff says so.
    const again = (await provider.check(created.outs!, props())).inputs!;
    expect(again.missingGrants).toEqual([]);
    expect((await provider.diff(created.id, created.outs!, again)).changes).toBe(false);

    // Repositories created later without the role (no default permission in this namespace): a plain check
    // does not look (no API call), a refresh names exactly those, and the next check plans them.
    await createRepo(ops, "appcafe/open-liberty/new1");
    await createRepo(rel, "release-metadata");
    forgetNamespaceListings(); // what a new engine operation (a new provider process) starts with
    expect((await provider.check(created.outs!, props())).inputs!.missingGrants).toEqual([]);
    const refreshed = (await provider.read(created.id, created.outs!)).inputs as never;
    forgetNamespaceListings();
    const after = (await provider.check(refreshed, props())).inputs!;
    expect(after.missingGrants).toEqual([`${ops}/appcafe/open-liberty/new1`, `${rel}/release-metadata`].sort());
    expect((await provider.diff(created.id, refreshed, after)).changes).toBe(true);
    quay.emulator.counter.reset();
    const updated = await provider.update(created.id, refreshed, after);
    expect(quay.emulator.counter.writes()).toBe(2);
    expect(updated.outs?.missingGrants).toEqual([]);
  });

  it("plans nothing for a namespace that does not exist yet (a first preview), for users and robots alike", async () => {
    const fresh = uniqueName("notyet");
    for (const grantee of [{ granteeKind: "user", grantee: pullUser }, { granteeKind: "robot", grantee: `${fresh}+ocp_mirror` }]) {
      forgetNamespaceListings();
      const checked = await provider.check(props(), props({ ...grantee, namespaces: [fresh] }));
      expect(checked.failures).toBeUndefined();
      expect(checked.inputs).toMatchObject({ missingGrants: [], wrongRoles: {} });
      expect(checked.inputs).not.toHaveProperty("repositories");
    }
    // A token that is refused on a namespace that does exist still fails: only a missing organization is "nothing".
    forgetNamespaceListings();
    const stranger = { ...quay.connection, token: "not-a-valid-token-0000000000000000000000" };
    await expect(provider.check(props(), props({ connection: stranger }))).rejects.toThrow(/40[13]/);
    // The listings are cached per endpoint for one engine operation (one token): let the stranger's other
    // in-flight listing fail and be forgotten before the next test reads with the real token.
    await new Promise((r) => setTimeout(r, 300));
    forgetNamespaceListings();
  });

  it("with nothing changed, check makes no API call; a grant removed by hand shows after a refresh and the next up grants it again", async () => {
    const created = await provider.create((await provider.check(props(), props())).inputs!);
    forgetNamespaceListings();
    quay.emulator.counter.reset();
    const again = await provider.check(created.outs!, props());
    expect(quay.emulator.counter.total()).toBe(0);
    expect((await provider.diff(created.id, created.outs!, again.inputs!)).changes).toBe(false);
    // Stored inputs keep the plan the last up carried out; that alone is no reason to look again.
    await provider.check({ ...(created.outs as object), missingGrants: [`${rel}/release-images`] } as never, props());
    expect(quay.emulator.counter.total()).toBe(0);

    await quay.admin.delete(`/api/v1/repository/${rel}/release-images/permissions/user/${pullUser}`);
    // A plain preview reads nothing, so it cannot know; a refresh does.
    const refreshed = await provider.read(created.id, created.outs!);
    expect(refreshed.props?.missingGrants).toEqual([`${rel}/release-images`]);
    forgetNamespaceListings();
    const replanned = await provider.check(refreshed.inputs as never, props());
    expect(replanned.inputs).toMatchObject({ missingGrants: [`${rel}/release-images`] });
    expect((await provider.diff(created.id, refreshed.props as never, replanned.inputs!)).changes).toBe(true);
    const repaired = await provider.update(created.id, refreshed.props as never, replanned.inputs!);
    expect(repaired.outs).toMatchObject({ missingGrants: [] });
    forgetNamespaceListings();
    expect((await provider.read(created.id, repaired.outs as never)).props?.missingGrants).toEqual([]);
  });

  it("refresh reports a grant removed behind Pulumi's back", async () => {
    const planned = (await provider.check(props(), props())).inputs!;
    const created = await provider.create(planned);
    await quay.admin.delete(`/api/v1/repository/${rel}/release-images/permissions/user/${pullUser}`);
    forgetNamespaceListings();
    const read = await provider.read(created.id, created.outs!);
    expect(read.props?.missingGrants).toEqual([`${rel}/release-images`]);
  });

  it("delete revokes the grants", async () => {
    const planned = (await provider.check(props(), props())).inputs!;
    const created = await provider.create(planned);
    await provider.delete(created.id, created.outs!);
    const { body } = await quay.admin.get<{ collaborators: Array<{ name: string }> }>(`/api/v1/organization/${rel}/collaborators`);
    expect(body.collaborators.find((c) => c.name === pullUser)).toBeUndefined();
  });

  it("survives serialization without capturing a secret", async () => {
    const { containsSecrets, text } = await roundTripProvider(provider);
    expect(containsSecrets).toBe(false);
    expect(text).not.toContain(quay.connection.token);
  });
});

describe("quay:NamespaceReadGrant check in preview", () => {
  it("does not cross-check a robot grantee that is not known yet", async () => {
    const res = await NamespaceReadGrantProvider.instance.check({} as never, {
      connection: { endpoint: "http://127.0.0.1:1", token: "t" },
      granteeKind: "robot",
      grantee: UNKNOWN,
      namespaces: ["openshift-release"],
      role: "write",
    } as never);
    expect(res.failures).toBeUndefined();
  });
});

describe("quay:NamespaceReadGrant for a mirror robot: the admin Quay gives a repository's creator", () => {
  let quay: QuayFixture;
  let org: string;
  let robot: string;
  let robotToken: string;
  const provider = NamespaceReadGrantProvider.instance;
  const props = () => ({ connection: quay.connection, granteeKind: "robot", grantee: robot, namespaces: [org], role: "write" }) as never;
  const roleOf = async (repo: string) =>
    (await quay.admin.get<{ permissions: Record<string, { role: string }> }>(`/api/v1/repository/${org}/${repo}/permissions/user/`)).body.permissions[robot]?.role;

  beforeAll(async () => {
    quay = await startQuay();
    org = uniqueName("mirror");
    robot = `${org}+ocp_mirror`;
    await quay.admin.post("/api/v1/organization/", { name: org });
    robotToken = (await quay.admin.put<{ token: string }>(`/api/v1/organization/${org}/robots/ocp_mirror`, { description: "" })).body.token;
    // What the model declares for a mirror namespace: a creator team holding the robot, and write by default.
    await quay.admin.put(`/api/v1/organization/${org}/team/mirror-creators`, { role: "creator" });
    await quay.admin.put(`/api/v1/organization/${org}/team/mirror-creators/members/${robot}`);
    await quay.admin.post(`/api/v1/organization/${org}/prototypes`, { role: "write", delegate: { kind: "user", name: robot } });
    await quay.admin.post("/api/v1/repository", { namespace: org, repository: "seeded", visibility: "private", description: "" });
  });
  afterAll(async () => quay.close());

  it("a refresh names the repositories the robot created by pushing (admin), up sets them to write, and converges", async () => {
    const created = await provider.create((await provider.check({} as never, props())).inputs!);
    expect(await roleOf("seeded")).toBe("write");

    // oc-mirror pushes as the robot: the push-scope token request creates the repository and, as Quay does
    // (data/model/repository.py:create_repository), makes its creator admin; the write prototype is not applied
    // to the creator.
    const credential = { username: robot, password: robotToken };
    for (const repo of ["openshift/release", "openshift/release-images"]) {
      expect(await grantedActions(quay.emulator.url, "quay.v7.comptech-lab.com", credential, `${org}/${repo}`)).toEqual(["pull", "push"]);
      expect(await roleOf(repo)).toBe("admin");
    }

    // A plain preview reads nothing; a refresh sees the two admin permissions with the listing it reads anyway.
    forgetNamespaceListings();
    quay.emulator.counter.reset();
    expect((await provider.check(created.outs!, props())).inputs).toMatchObject({ missingGrants: [], wrongRoles: {} });
    expect(quay.emulator.counter.total()).toBe(0);
    const refreshed = await provider.read(created.id, created.outs!);
    const calls = quay.emulator.counter.snapshot();
    expect(Object.keys(calls).sort()).toEqual(["GET /api/v1/organization/{org}/robots/{robot}/permissions", "GET /api/v1/repository"]);
    const drift = { [`${org}/openshift/release`]: "admin", [`${org}/openshift/release-images`]: "admin" };
    expect(refreshed.props).toMatchObject({ missingGrants: [], wrongRoles: drift });

    // The next check plans live, diff shows a change, and the update takes admin back: write, as declared.
    forgetNamespaceListings();
    const replanned = (await provider.check(refreshed.inputs as never, props())).inputs!;
    expect(replanned).toMatchObject({ wrongRoles: drift });
    expect((await provider.diff(created.id, refreshed.props as never, replanned)).changes).toBe(true);
    quay.emulator.counter.reset();
    const repaired = await provider.update(created.id, refreshed.props as never, replanned);
    expect(quay.emulator.counter.writes()).toBe(2);
    expect(repaired.outs).toMatchObject({ missingGrants: [], wrongRoles: {} });
    for (const repo of ["openshift/release", "openshift/release-images", "seeded"]) expect(await roleOf(repo)).toBe("write");
    // The robot can still push where it now holds write.
    expect(await grantedActions(quay.emulator.url, "quay.v7.comptech-lab.com", credential, `${org}/openshift/release`)).toEqual(["pull", "push"]);

    // Converged: a refresh finds nothing, and the next check and diff make no call and no change.
    forgetNamespaceListings();
    const clean = await provider.read(created.id, repaired.outs as never);
    // Nothing drifted: the stored outputs come back as they are and no inputs (the engine keeps the stored
    // ones, here those of the last check), so the refresh shows no change.
    expect(clean.props).toEqual(repaired.outs);
    expect(clean.inputs).toBeUndefined();
    forgetNamespaceListings();
    quay.emulator.counter.reset();
    const noop = (await provider.check(replanned, props())).inputs!;
    expect(quay.emulator.counter.total()).toBe(0);
    expect((await provider.diff(created.id, clean.props as never, noop)).changes).toBe(false);
  });

  it("a robot that does not exist yet holds nothing (a first preview), not an error", async () => {
    forgetNamespaceListings();
    const checked = await provider.check({} as never, { ...(props() as object), grantee: `${org}+not_yet` } as never);
    expect(checked.failures).toBeUndefined();
    expect(checked.inputs).toMatchObject({ missingGrants: [`${org}/openshift/release`, `${org}/openshift/release-images`, `${org}/seeded`], wrongRoles: {} });
  });
});

describe("quay:NamespaceReadGrant refresh and plan logic (no API)", () => {
  const connection = { endpoint: "https://quay.example.com", token: "t" };
  const stored = (extra: Partial<NamespaceReadGrantProps> = {}): NamespaceReadGrantProps =>
    ({ connection, granteeKind: "robot", grantee: "ops+m", namespaces: ["ops"], role: "write", missingGrants: [], wrongRoles: {}, ...extra }) as NamespaceReadGrantProps;
  const clean = { missingGrants: [], wrongRoles: {} };

  it("a refresh that finds no drift returns the stored outputs untouched and no inputs (no change shown)", () => {
    expect(refreshResult(stored(), clean)).toEqual({ props: stored() });
    // A stack made before issue 15 stored the repository list: it stays as it was, so nothing shows either.
    const legacy = stored({ repositories: ["ops/a", "ops/b"] });
    expect(refreshResult(legacy, clean)).toEqual({ props: legacy });
    // Outputs of an even older version without wrongRoles: not filled in, no change.
    const older = { ...stored(), wrongRoles: undefined } as unknown as NamespaceReadGrantProps;
    expect(refreshResult(older, clean).props).toBe(older);
  });

  it("drift is named in the outputs and marked in the inputs; the repository list is never stored", () => {
    const res = refreshResult(stored({ repositories: ["ops/a"] }), { missingGrants: ["ops/new"], wrongRoles: { "ops/pushed": "admin" } });
    expect(res.props).toEqual(stored({ missingGrants: ["ops/new"], wrongRoles: { "ops/pushed": "admin" } }));
    expect(res.inputs).toEqual({ ...res.props, missingAtRefresh: ["ops/new", "ops/pushed"] });
    expect(res.props).not.toHaveProperty("repositories");
  });

  it("drift an earlier refresh recorded and that is gone now (repaired outside) is cleared in outputs and inputs", () => {
    const res = refreshResult(stored({ wrongRoles: { "ops/pushed": "admin" } }), clean);
    expect(res.props).toEqual(stored());
    expect(res.inputs).toEqual(stored());
  });

  it("the stored plan stands for unchanged inputs of any version, and not after a refresh found drift or for another grant", () => {
    const news = stored();
    expect(planStillStands(stored(), news)).toBe(true);
    expect(planStillStands(stored({ repositories: ["ops/a"], missingAtRefresh: [] }), news)).toBe(true);
    expect(planStillStands(stored({ missingAtRefresh: ["ops/x"] }), news)).toBe(false);
    expect(planStillStands(stored({ role: "read" }), news)).toBe(false);
    expect(planStillStands({} as never, news)).toBe(false);
    expect(planStillStands({ ...stored(), missingGrants: undefined } as never, news)).toBe(false);
  });

  it("teams are granted through the team permission API, users and robots through the user one", () => {
    expect(permissionPath("ops/a/b", "team", "readers")).toBe("/api/v1/repository/ops/a/b/permissions/team/readers");
    expect(permissionPath("ops/a", "robot", "ops+m")).toBe("/api/v1/repository/ops/a/permissions/user/ops+m");
  });
});

describe("quay:NamespaceReadGrant for a team: now and later", () => {
  let quay: QuayFixture;
  let org: string;
  const provider = NamespaceReadGrantProvider.instance;
  const props = (extra: Record<string, unknown> = {}) => ({ connection: quay.connection, granteeKind: "team", grantee: "readers", namespaces: [org], role: "read", ...extra }) as never;
  const teamRole = async (repo: string) => {
    const { body } = await quay.admin.get<{ permissions: Record<string, { role: string }> }>(`/api/v1/repository/${org}/${repo}/permissions/team/`);
    return body.permissions.readers?.role;
  };
  const createRepo = (repository: string) => quay.admin.post("/api/v1/repository", { namespace: org, repository, visibility: "private", description: "" });

  beforeAll(async () => {
    quay = await startQuay();
    org = uniqueName("teams");
    await quay.admin.post("/api/v1/organization/", { name: org });
    for (const r of ["a", "nested/b", "c"]) await createRepo(r);
  });
  afterAll(async () => quay.close());

  it("check refuses a team grant over several namespaces and a bad team name", async () => {
    expect((await provider.check({} as never, props({ namespaces: [org, "other"] }))).failures?.[0].property).toBe("namespaces");
    expect((await provider.check({} as never, props({ grantee: "Bad Team" }))).failures?.[0].property).toBe("grantee");
  });

  it("a team that does not exist yet holds nothing (first preview); up grants every existing repository, a refresh after a new one shows it, up grants it, then no change", async () => {
    forgetNamespaceListings();
    const first = await provider.check({} as never, props());
    expect(first.failures).toBeUndefined();
    expect(first.inputs).toMatchObject({ missingGrants: [`${org}/a`, `${org}/c`, `${org}/nested/b`], wrongRoles: {} });

    await quay.admin.put(`/api/v1/organization/${org}/team/readers`, { role: "member" });
    // A repository the team already holds with another role is drift too.
    await quay.admin.put(`/api/v1/repository/${org}/c/permissions/team/readers`, { role: "write" });
    forgetNamespaceListings();
    const planned = (await provider.check({} as never, props())).inputs!;
    expect(planned).toMatchObject({ missingGrants: [`${org}/a`, `${org}/nested/b`], wrongRoles: { [`${org}/c`]: "write" } });
    quay.emulator.counter.reset();
    const created = await provider.create(planned);
    expect(created.id).toBe(`team:readers:${org}`);
    expect(quay.emulator.counter.snapshot()).toEqual({ "PUT /api/v1/repository/{repo:path}/permissions/team/{team}": 3 });
    for (const r of ["a", "nested/b", "c"]) expect(await teamRole(r)).toBe("read");

    // Converged: a refresh shows no change.
    forgetNamespaceListings();
    const quiet = await provider.read(created.id, created.outs!);
    expect(quiet).toEqual({ id: created.id, props: created.outs });

    // A repository added later (no default permission here) shows after a refresh; the next up grants it.
    await createRepo("later");
    forgetNamespaceListings();
    const drift = await provider.read(created.id, created.outs!);
    expect(drift.props).toMatchObject({ missingGrants: [`${org}/later`] });
    forgetNamespaceListings();
    const replanned = (await provider.check(drift.inputs as never, props())).inputs!;
    expect((await provider.diff(created.id, drift.props as never, replanned)).changes).toBe(true);
    quay.emulator.counter.reset();
    const repaired = await provider.update(created.id, drift.props as never, replanned);
    expect(quay.emulator.counter.writes()).toBe(1);
    expect(await teamRole("later")).toBe("read");
    forgetNamespaceListings();
    expect(await provider.read(created.id, repaired.outs as never)).toEqual({ id: created.id, props: repaired.outs });

    // A role change re-grants every repository with the new role; delete revokes them all.
    forgetNamespaceListings();
    const rewrite = (await provider.check(replanned, props({ role: "write" }))).inputs!;
    await provider.update(created.id, repaired.outs as never, rewrite);
    for (const r of ["a", "nested/b", "c", "later"]) expect(await teamRole(r)).toBe("write");
    forgetNamespaceListings();
    await provider.delete(created.id, rewrite);
    for (const r of ["a", "nested/b", "c", "later"]) expect(await teamRole(r)).toBeUndefined();
    // Deleting again (nothing left, or the team gone) is not an error.
    await quay.admin.delete(`/api/v1/organization/${org}/team/readers`);
    forgetNamespaceListings();
    await expect(provider.delete(created.id, rewrite)).resolves.toBeUndefined();
  });
});
