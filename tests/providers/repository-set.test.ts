import { RepositorySetProvider, RepositorySetProps, presentOf, repositoryMap, setChanges } from "../../providers/quay/repository-set";
import { forgetNamespaceListings, listNamespaceRepositories } from "../../providers/quay/listing";
import { UNKNOWN, clientFor } from "../../providers/quay/common";
import { FAULT_KINDS, QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";

// Calls the way the engine makes them in a new operation: a fresh provider process has no cached listing.
const newOperation = () => forgetNamespaceListings();

describe("quay:RepositorySet, pure parts", () => {
  it("stores the names as a sorted, duplicate-free map and tells added from removed", () => {
    expect(Object.keys(repositoryMap(["b/x", "a", "b/x", "a/c"]))).toEqual(["a", "a/c", "b/x"]);
    expect(repositoryMap(["a"], "public")).toEqual({ a: "public" });
    expect(setChanges({ a: "private", b: "private" }, { b: "private", c: "private" })).toEqual({ added: ["c"], removed: ["a"] });
    expect(presentOf("ns", { a: "private", "b/c": "private" }, ["ns/b/c", "ns/other"])).toEqual({ "b/c": "private" });
  });
});

describe("quay:RepositorySet provider against the emulator", () => {
  let quay: QuayFixture;
  const provider = RepositorySetProvider.instance;

  beforeAll(async () => {
    quay = await startQuay();
  });
  afterAll(async () => quay.close());
  afterEach(() => quay.emulator.faults.clear());

  const newOrg = async (prefix: string) => {
    const org = uniqueName(prefix);
    await quay.admin.post("/api/v1/organization/", { name: org });
    return org;
  };
  const props = (namespace: string, names: string[], extra: Partial<RepositorySetProps> = {}): RepositorySetProps =>
    ({ connection: quay.connection, namespace, repositories: repositoryMap(names), deleteRemoved: false, deleteOnDestroy: false, ...extra }) as RepositorySetProps;
  const listed = async (namespace: string) =>
    (await quay.admin.paginate<{ name: string }>("/api/v1/repository", "repositories", { namespace })).map((r) => r.name).sort();
  const names = (n: number, prefix = "redhat/op") => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, "0")}/bundle`);

  it("check validates every name and the namespace without calling Quay, and sorts the map", async () => {
    quay.emulator.counter.reset();
    const ok = await provider.check({} as never, { ...props("ops", []), repositories: { "z/a": "private", "a/b/c": "private" } });
    expect(ok.failures).toBeUndefined();
    expect(Object.keys(ok.inputs!.repositories)).toEqual(["a/b/c", "z/a"]);
    expect(ok.inputs).toMatchObject({ deleteRemoved: false, deleteOnDestroy: false });
    const bad = await provider.check({} as never, { ...props("ops", []), repositories: { "Bad/Name": "private" } });
    expect(bad.failures?.[0].property).toMatch(/^repositories/);
    expect(bad.failures?.[0].reason).toMatch(/Repository name must match/);
    expect((await provider.check({} as never, props("Bad Org", ["a"]))).failures?.[0].property).toBe("namespace");
    expect((await provider.check({} as never, { ...props("ops", ["a"]), repositories: { a: "internal" as never } })).failures?.[0].reason).toMatch(/visibility/);
    expect((await provider.check({} as never, { ...props(UNKNOWN, []), repositories: UNKNOWN as never })).failures).toBeUndefined();
    expect(quay.emulator.counter.total()).toBe(0);
  });

  it("diff is pure: nothing to do, a repository added or removed, a flag, a new namespace (replace)", async () => {
    quay.emulator.counter.reset();
    const olds = props("ops", ["a", "b"]);
    expect(await provider.diff("ops", olds, props("ops", ["b", "a"]))).toEqual({ changes: false, replaces: undefined });
    expect((await provider.diff("ops", olds, props("ops", ["a", "b", "c"]))).changes).toBe(true);
    expect((await provider.diff("ops", olds, props("ops", ["a"]))).changes).toBe(true);
    expect((await provider.diff("ops", olds, props("ops", ["a", "b"], { deleteRemoved: true }))).changes).toBe(true);
    expect((await provider.diff("ops", olds, props("rel", ["a", "b"]))).replaces).toEqual(["namespace"]);
    expect(quay.emulator.counter.total()).toBe(0);
  });

  it("creates 250 nested repositories with one listing and one POST each; read and a no-op cost one listing", async () => {
    const org = await newOrg("set");
    const wanted = names(250);
    newOperation();
    quay.emulator.counter.reset();
    const created = await provider.create(props(org, wanted));
    expect(created.id).toBe(org);
    expect(quay.emulator.counter.snapshot()).toEqual({ "GET /api/v1/repository": 1, "POST /api/v1/repository": 250 });
    expect(await listed(org)).toEqual(wanted);
    const { body } = await quay.admin.get<{ is_public: boolean }>(`/api/v1/repository/${org}/${wanted[0]}`);
    expect(body.is_public).toBe(false);

    newOperation();
    quay.emulator.counter.reset();
    const read = await provider.read(org, created.outs!);
    expect(Object.keys(read.props!.repositories)).toEqual(wanted);
    // 250 repositories: three pages of 100.
    expect(quay.emulator.counter.snapshot()).toEqual({ "GET /api/v1/repository": 3 });
    expect((await provider.diff(org, read.props!, props(org, wanted))).changes).toBe(false);

    // An update with the same set (e.g. only the connection changed) lists once and writes nothing.
    newOperation();
    quay.emulator.counter.reset();
    await provider.update(org, created.outs!, props(org, wanted));
    expect(quay.emulator.counter.writes()).toBe(0);
    expect(quay.emulator.counter.total()).toBe(3);
  });

  it("adds the new names with one POST each, leaves removed ones in Quay by default, deletes them when asked", async () => {
    const org = await newOrg("upd");
    const first = await provider.create(props(org, ["a/one", "a/two", "b/three"]));
    newOperation();
    quay.emulator.counter.reset();
    const second = await provider.update(org, first.outs!, props(org, ["a/one", "b/three", "c/four", "c/five"]));
    expect(quay.emulator.counter.snapshot()).toEqual({ "GET /api/v1/repository": 1, "POST /api/v1/repository": 2 });
    // a/two left the set but stays in Quay.
    expect(await listed(org)).toEqual(["a/one", "a/two", "b/three", "c/five", "c/four"]);
    expect(Object.keys(second.outs!.repositories)).toEqual(["a/one", "b/three", "c/five", "c/four"]);

    newOperation();
    quay.emulator.counter.reset();
    await provider.update(org, second.outs!, props(org, ["a/one"], { deleteRemoved: true }));
    expect(quay.emulator.counter.writes()).toBe(3);
    // a/two was no longer in the set: deleteRemoved only acts on what leaves the set now.
    expect(await listed(org)).toEqual(["a/one", "a/two"]);
  });

  it("delete leaves the repositories in Quay unless deleteOnDestroy", async () => {
    const org = await newOrg("del");
    const kept = await provider.create(props(org, ["keep/me"]));
    quay.emulator.counter.reset();
    const warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      await provider.delete(org, kept.outs!);
      // It says what happens next: they stay as long as the organization does, whose delete refuses while they are there.
      expect(warn.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(
        new RegExp(`its 1 repositories are not deleted with it \\(deleteOnDestroy is false\\): keep/me\\. They stay in Quay as long as organization ${org} does: .*refuses while it holds repositories, unless QUAY_MIRROR_DELETE_REPOSITORIES names it`),
      );
    } finally {
      warn.mockRestore();
    }
    expect(quay.emulator.counter.total()).toBe(0);
    expect(await listed(org)).toEqual(["keep/me"]);

    newOperation();
    const gone = await provider.create(props(org, ["keep/me", "drop/me"], { deleteOnDestroy: true }));
    await provider.delete(org, gone.outs!);
    expect(await listed(org)).toEqual([]);
    // Again (a retried destroy): already gone is fine.
    await expect(provider.delete(org, gone.outs!)).resolves.toBeUndefined();
  });

  it("drift: a repository deleted behind Pulumi's back drops out on read, the diff shows it, update recreates it", async () => {
    const org = await newOrg("drift");
    const wanted = ["x/one", "x/two", "x/three"];
    const created = await provider.create(props(org, wanted));
    await quay.admin.delete(`/api/v1/repository/${org}/x/two`);
    // A repository oc-mirror created that is not in the set is not ours: read ignores it.
    await quay.admin.post("/api/v1/repository", { namespace: org, repository: "by/oc-mirror", visibility: "private", description: "" });
    newOperation();
    const read = await provider.read(org, created.outs!);
    expect(Object.keys(read.props!.repositories).sort()).toEqual(["x/one", "x/three"]);
    expect((await provider.diff(org, read.props!, props(org, wanted))).changes).toBe(true);
    quay.emulator.counter.reset();
    await provider.update(org, read.props!, props(org, wanted));
    expect(quay.emulator.counter.writes()).toBe(1);
    expect(await listed(org)).toEqual(["by/oc-mirror", "x/one", "x/three", "x/two"]);
  });

  it("a repository oc-mirror creates between the listing and the POST counts as created", async () => {
    const org = await newOrg("race");
    newOperation();
    // The listing this operation already holds predates oc-mirror's push.
    await listNamespaceRepositories(clientFor(quay.connection), org);
    await quay.admin.post("/api/v1/repository", { namespace: org, repository: "pushed/meanwhile", visibility: "private", description: "" });
    quay.emulator.counter.reset();
    const created = await provider.create(props(org, ["pushed/meanwhile", "fresh/one"]));
    expect(Object.keys(created.outs!.repositories)).toEqual(["fresh/one", "pushed/meanwhile"]);
    expect(quay.emulator.counter.snapshot()).toEqual({ "POST /api/v1/repository": 2 });
    expect(await listed(org)).toEqual(["fresh/one", "pushed/meanwhile"]);
  });

  it("takes over repositories that exist (a stack upgraded from the per-repository pre-seed), without writing", async () => {
    const org = await newOrg("adopt");
    for (const r of ["old/one", "old/two"]) await quay.admin.post("/api/v1/repository", { namespace: org, repository: r, visibility: "private", description: "seeded" });
    newOperation();
    quay.emulator.counter.reset();
    const created = await provider.create(props(org, ["old/one", "old/two"]));
    expect(quay.emulator.counter.writes()).toBe(0);
    expect(Object.keys(created.outs!.repositories)).toEqual(["old/one", "old/two"]);
    const { body } = await quay.admin.get<{ description: string }>(`/api/v1/repository/${org}/old/one`);
    expect(body.description).toBe("seeded");
  });

  it("a namespace that does not exist fails fast and names the fix", async () => {
    newOperation();
    quay.emulator.counter.reset();
    const err = await provider.create(props(uniqueName("nosuch"), names(40))).catch((e) => e);
    expect(err.message).toMatch(/40 repositories could not be created/);
    expect(err.message).toMatch(/not attempted: Quay API POST \/api\/v1\/repository failed: 40[34]/);
    expect(err.message).toMatch(/run `pulumi up` again/);
    // Not 40 failing POSTs: after the first answers that the namespace is missing, the rest are not sent.
    expect(quay.emulator.counter.snapshot()["POST /api/v1/repository"]).toBeLessThanOrEqual(8);
  });

  it("a create that fails for some repositories creates the others, records them, and the rerun creates only the rest", async () => {
    const org = await newOrg("part");
    const wanted = names(30, "p/op");
    // Five POSTs are refused outright (no retry can help them).
    quay.emulator.faults.add({ method: "POST", path: "/api/v1/repository", status: 400, count: 5 });
    newOperation();
    const err = (await provider.create(props(org, wanted)).catch((e) => e)) as Error & { id: string; properties: RepositorySetProps; reasons: string[] };
    expect(err.message).toMatch(/^quay:RepositorySet .*: 5 repositories could not be created:\n/);
    expect(err.message).toMatch(/The 25 that exist are recorded; run `pulumi up` again/);
    // The engine records the resource as created with these properties (ErrorResourceInitFailed).
    expect(err.id).toBe(org);
    expect(Object.keys(err.properties.repositories)).toEqual(await listed(org));
    expect(Object.keys(err.properties.repositories)).toHaveLength(25);

    newOperation();
    expect((await provider.diff(org, err.properties, props(org, wanted))).changes).toBe(true);
    quay.emulator.counter.reset();
    const rerun = await provider.update(org, err.properties, props(org, wanted));
    expect(quay.emulator.counter.snapshot()).toEqual({ "GET /api/v1/repository": 1, "POST /api/v1/repository": 5 });
    expect(Object.keys(rerun.outs!.repositories)).toEqual(wanted);
    expect(await listed(org)).toEqual(wanted);
  });

  describe.each(FAULT_KINDS)("under injected %s faults", (_kind, fault) => {
    it("a partial failure records what exists and fails; the rerun converges with no duplicate", async () => {
      const org = await newOrg("flt");
      const wanted = names(60, "f/op");
      // One POST in four answers the fault (a dropped connection for "reset"), plus some listing pages.
      quay.emulator.faults.add({ method: "POST", path: "/api/v1/repository", fraction: 0.25, ...fault });
      quay.emulator.faults.add({ method: "GET", path: "/api/v1/repository", fraction: 0.2, ...fault });
      newOperation();
      quay.emulator.counter.reset();
      let state: RepositorySetProps | undefined;
      let attempts = 0;
      // What the engine does: a create that failed with an id is recorded with its properties, and the next
      // `up` updates from them; one that failed without an id leaves nothing, and the next `up` creates again.
      for (; attempts < 10; attempts++) {
        newOperation();
        try {
          state = state ? (await provider.update(org, state, props(org, wanted))).outs! : (await provider.create(props(org, wanted))).outs!;
          break;
        } catch (e) {
          const failed = e as Error & { id?: string; properties?: RepositorySetProps };
          if (failed.id) {
            expect(failed.message).toMatch(/could not be created/);
            state = failed.properties;
            // The recorded state names only repositories that exist.
            const have = new Set(await listed(org));
            for (const n of Object.keys(state!.repositories)) expect(have.has(n)).toBe(true);
          }
        }
      }
      expect(state && Object.keys(state.repositories)).toEqual(wanted);
      // The faults struck: more POSTs were sent than repositories exist (refused ones were sent again).
      expect(quay.emulator.counter.snapshot()["POST /api/v1/repository"]).toBeGreaterThan(wanted.length);
      quay.emulator.faults.clear();
      expect(await listed(org)).toEqual(wanted);
      newOperation();
      expect((await provider.diff(org, (await provider.read(org, state!)).props!, props(org, wanted))).changes).toBe(false);
    });
  });

  it("survives serialization without capturing a secret", async () => {
    const { provider: loaded, containsSecrets, text } = await roundTripProvider(provider);
    expect(containsSecrets).toBe(false);
    expect(text).not.toContain(quay.connection.token);
    const org = await newOrg("ser");
    newOperation();
    const created = await loaded.create(props(org, ["serialized/one"]));
    expect(Object.keys((await loaded.read(created.id, created.outs!)).props!.repositories)).toEqual(["serialized/one"]);
  });
});
