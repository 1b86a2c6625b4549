import { NamespaceReadGrantProvider } from "../../providers/quay/namespace-grant";
import { forgetNamespaceListings } from "../../providers/quay/listing";
import { UNKNOWN } from "../../providers/quay/common";
import { QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";

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
      expect(checked.inputs).toMatchObject({ repositories: [], missingGrants: [] });
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
