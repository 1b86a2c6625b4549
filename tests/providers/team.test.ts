import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { UNKNOWN } from "../../providers/quay/common";
import { TeamProvider, memberSet, planTeamMembers } from "../../providers/quay/team";
import { lossyProxy } from "../support/lossy-proxy";
import { FAULT_KINDS, QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";

interface MembersBody {
  members: Array<{ name: string; invited?: boolean }>;
}

describe("planTeamMembers", () => {
  it("adds the missing, removes the extra, ignores duplicates and sorts", () => {
    expect(planTeamMembers(["b", "a", "x"], ["c", "a", "c", "b"])).toEqual({ add: ["c"], remove: ["x"] });
    expect(planTeamMembers([], [])).toEqual({ add: [], remove: [] });
    expect(planTeamMembers(["o+r"], [])).toEqual({ add: [], remove: ["o+r"] });
  });
});

describe("quay:Team provider against the emulator", () => {
  let quay: QuayFixture;
  let org: string;
  const provider = TeamProvider.instance;
  const robot = (short: string) => `${org}+${short}`;

  beforeAll(async () => {
    quay = await startQuay();
    org = uniqueName("teams");
    await quay.admin.post("/api/v1/organization/", { name: org });
    for (const short of ["mirror", "ci", "ro"]) await quay.admin.put(`/api/v1/organization/${org}/robots/${short}`, { description: "" });
    await quay.admin.post("/api/v1/superuser/users/", { username: "alice", email: "alice@example.com" });
  });
  afterAll(async () => quay.close());
  afterEach(() => quay.emulator.faults.clear());

  const props = (name: string, extra: Record<string, unknown> = {}) =>
    ({ connection: quay.connection, organization: org, name, role: "creator", description: "", members: [], ...extra }) as never;
  const members = async (team: string, includePending = false) =>
    (await quay.admin.get<MembersBody>(`/api/v1/organization/${org}/team/${team}/members`, { query: { includePending: includePending ? "true" : undefined } })).body.members;
  const teamsOfOrg = async () => (await quay.admin.get<{ teams: Record<string, { role: string; description: string }> }>(`/api/v1/organization/${org}`)).body.teams;

  it("check names the property, applies Quay's rules, fills defaults, and lets unknown values through", async () => {
    const failure = async (extra: Record<string, unknown>) => (await provider.check(props("x"), props("mirror-creators", extra))).failures?.[0];
    expect(await failure({ name: "Bad Team!" })).toMatchObject({ property: "name", reason: expect.stringMatching(/must match expression/) });
    expect(await failure({ role: "owner" })).toMatchObject({ property: "role", reason: expect.stringMatching(/member, creator, admin/) });
    expect(await failure({ organization: "Org" })).toMatchObject({ property: "organization" });
    expect(await failure({ members: ["ok", "Not A User"] })).toMatchObject({ property: "members.1" });
    expect(await failure({ members: ["otherorg+robot"] })).toMatchObject({ property: "members.0", reason: expect.stringMatching(/belongs to namespace otherorg/) });

    const checked = await provider.check(props("x"), { connection: quay.connection, organization: org, name: "t1", role: "member", members: [robot("ro"), "alice", robot("ro")] } as never);
    expect(checked.failures).toBeUndefined();
    // Stored as a map name → kind, so `preview --diff` names each member entering or leaving.
    expect(checked.inputs).toMatchObject({ description: "", members: { alice: "user", [robot("ro")]: "robot" } });
    expect(Object.keys((checked.inputs as { members: object }).members)).toEqual(["alice", robot("ro")]);

    for (const extra of [{ name: UNKNOWN }, { organization: UNKNOWN, members: [robot("ci")] }, { members: [UNKNOWN, "alice"] }, { members: UNKNOWN }, { role: UNKNOWN }]) {
      expect((await provider.check(props("x"), props("tt", extra))).failures).toBeUndefined();
    }
  });

  it("creates, reads back, diffs to nothing, updates each field in place with the fewest calls, and deletes", async () => {
    const inputs = props("mirror-creators", { description: "oc-mirror robots", members: [robot("mirror"), robot("ci")] });
    quay.emulator.counter.reset();
    const created = await provider.create(inputs);
    expect(created.id).toBe(`${org}/mirror-creators`);
    // One look, one team PUT, one PUT per member.
    expect(quay.emulator.counter.writes()).toBe(3);
    expect((await members("mirror-creators")).map((m) => m.name).sort()).toEqual([robot("ci"), robot("mirror")]);

    const read = await provider.read(created.id, created.outs!);
    expect(read.props).toMatchObject({ role: "creator", description: "oc-mirror robots", members: { [robot("ci")]: "robot", [robot("mirror")]: "robot" } });
    // Nothing drifted: the stored inputs stay.
    expect(read.inputs).toBeUndefined();
    expect((await provider.diff(created.id, read.props!, inputs)).changes).toBe(false);
    // Member order does not matter.
    expect((await provider.diff(created.id, read.props!, props("mirror-creators", { description: "oc-mirror robots", members: [robot("mirror"), robot("ci")] }))).changes).toBe(false);

    // role: one PUT, nothing else.
    let olds = read.props!;
    let news = props("mirror-creators", { role: "admin", description: "oc-mirror robots", members: [robot("ci"), robot("mirror")] });
    expect(await provider.diff(created.id, olds, news)).toMatchObject({ changes: true, replaces: undefined });
    quay.emulator.counter.reset();
    olds = (await provider.update(created.id, olds, news)).outs!;
    expect(quay.emulator.counter.snapshot()).toEqual({ "PUT /api/v1/organization/{org}/team/{team}": 1 });
    expect((await teamsOfOrg())["mirror-creators"].role).toBe("admin");

    // description: one PUT.
    news = props("mirror-creators", { role: "admin", description: "changed", members: [robot("ci"), robot("mirror")] });
    quay.emulator.counter.reset();
    olds = (await provider.update(created.id, olds, news)).outs!;
    expect(quay.emulator.counter.snapshot()).toEqual({ "PUT /api/v1/organization/{org}/team/{team}": 1 });
    expect((await teamsOfOrg())["mirror-creators"].description).toBe("changed");

    // members: one listing, then one call per member added or removed.
    news = props("mirror-creators", { role: "admin", description: "changed", members: [robot("mirror"), robot("ro"), "alice"] });
    expect((await provider.diff(created.id, olds, news)).changes).toBe(true);
    quay.emulator.counter.reset();
    olds = (await provider.update(created.id, olds, news)).outs!;
    expect(quay.emulator.counter.snapshot()).toEqual({
      "GET /api/v1/organization/{org}/team/{team}/members": 1,
      "PUT /api/v1/organization/{org}/team/{team}/members/{member}": 2,
      "DELETE /api/v1/organization/{org}/team/{team}/members/{member}": 1,
    });
    expect((await members("mirror-creators")).map((m) => m.name).sort()).toEqual(["alice", robot("mirror"), robot("ro")]);
    // Nothing drifted: read keeps what was stored, in its stored form.
    expect((await provider.read(created.id, olds)).props?.members).toEqual(olds.members);
    expect(memberSet((await provider.read(created.id, olds)).props?.members)).toEqual(["alice", robot("mirror"), robot("ro")].sort());

    // identity
    expect((await provider.diff(created.id, olds, props("other-name"))).replaces).toEqual(["name"]);
    expect((await provider.diff(created.id, olds, { ...(props("mirror-creators") as object), organization: "elsewhere" } as never)).replaces).toEqual(["organization"]);

    await provider.delete(created.id, olds);
    expect(await provider.read(created.id, olds)).toEqual({});
    // 400 "Team 'x' is not a team in org 'y'" means it is gone already.
    await expect(provider.delete(created.id, olds)).resolves.toBeUndefined();
  });

  it("reports drift made behind Pulumi's back, and a team deleted outside Pulumi as gone", async () => {
    const created = await provider.create(props("drift", { members: [robot("ci")] }));
    await quay.admin.put(`/api/v1/organization/${org}/team/drift`, { role: "member", description: "edited in the UI" });
    await quay.admin.put(`/api/v1/organization/${org}/team/drift/members/${robot("ro")}`);
    await quay.admin.delete(`/api/v1/organization/${org}/team/drift/members/${robot("ci")}`);
    const read = await provider.read(created.id, created.outs!);
    expect(read.props).toMatchObject({ role: "member", description: "edited in the UI", members: { [robot("ro")]: "robot" } });
    // The drift becomes the old inputs, so the plan after the refresh marks what drifted.
    expect(read.inputs).toEqual(read.props);
    expect((await provider.diff(created.id, read.props!, props("drift", { members: [robot("ci")] }))).changes).toBe(true);

    // The next `up` converges it exactly.
    await provider.update(created.id, read.props!, props("drift", { members: [robot("ci")] }));
    expect((await members("drift")).map((m) => m.name)).toEqual([robot("ci")]);
    expect((await teamsOfOrg()).drift).toMatchObject({ role: "creator", description: "" });

    await quay.admin.delete(`/api/v1/organization/${org}/team/drift`);
    expect(await provider.read(created.id, created.outs!)).toEqual({});

    // Without a refresh, an update of the role re-creates the team through the upsert: members follow.
    await provider.update(created.id, created.outs!, props("drift", { role: "member", members: [robot("ci")] }));
    expect((await members("drift")).map((m) => m.name)).toEqual([robot("ci")]);
  });

  it("a team whose organization was deleted is gone for read and delete (Quay answers 403 there, not 404)", async () => {
    const doomed = uniqueName("doomed");
    await quay.admin.post("/api/v1/organization/", { name: doomed });
    const inputs = { ...(props("orphan") as object), organization: doomed } as never;
    const created = await provider.create(inputs);
    await quay.admin.delete(`/api/v1/organization/${doomed}`);
    expect(await provider.read(created.id, created.outs!)).toEqual({});
    await expect(provider.delete(created.id, created.outs!)).resolves.toBeUndefined();
  });

  it("refuses an existing team without touching it unless asked to adopt it, then converges it", async () => {
    await quay.admin.put(`/api/v1/organization/${org}/team/seeded`, { role: "member", description: "old script" });
    await quay.admin.put(`/api/v1/organization/${org}/team/seeded/members/${robot("ro")}`);
    const desired = props("seeded", { role: "creator", description: "now managed", members: [robot("mirror")] });

    quay.emulator.counter.reset();
    await expect(provider.create(desired)).rejects.toThrow(/team ".*seeded" already exists.*adopt: true/s);
    expect(quay.emulator.counter.writes()).toBe(0);
    expect((await teamsOfOrg()).seeded).toMatchObject({ role: "member", description: "old script" });

    const adopted = await provider.create({ ...(desired as object), adopt: true } as never);
    expect(adopted.id).toBe(`${org}/seeded`);
    expect((await teamsOfOrg()).seeded).toMatchObject({ role: "creator", description: "now managed" });
    expect((await members("seeded")).map((m) => m.name)).toEqual([robot("mirror")]);
  });

  it("a create whose member step fails is recorded as created, and the next up converges it", async () => {
    quay.emulator.faults.add({ method: "PUT", path: /\/team\/partial\/members\//, status: 400, count: 1 });
    const inputs = props("partial", { members: [robot("ci")] });
    const err = await provider.create(inputs).catch((e) => e);
    expect(err).toMatchObject({ id: `${org}/partial`, properties: expect.objectContaining({ members: {} }) });
    expect(err.message).toMatch(/created .*partial, but a follow-up step failed/);
    // The provider host sends these properties to the engine as a protobuf Struct: no undefined anywhere.
    expect(() => Struct.fromJavaScript(err.properties)).not.toThrow();

    // The engine now holds the partial outputs: diff sees the missing member and update adds it.
    expect((await provider.diff(err.id, err.properties, inputs)).changes).toBe(true);
    await provider.update(err.id, err.properties, inputs);
    expect((await members("partial")).map((m) => m.name)).toEqual([robot("ci")]);
  });

  it("a team PUT that keeps failing after it was applied is recorded as created, without a role so the next up sends it", async () => {
    const proxy = await lossyProxy(quay.emulator.url, (method, path) => method === "PUT" && /\/team\/unsure$/.test(path), 10);
    try {
      process.env.QUAY_RETRIES = "1";
      const inputs = { ...(props("unsure", { role: "admin", members: [robot("ci")] }) as object), connection: { ...quay.connection, endpoint: proxy.url }, __provider: "serialized code" } as never;
      const err = await provider.create(inputs).catch((e) => e);
      expect(err).toMatchObject({ id: `${org}/unsure`, properties: expect.objectContaining({ members: {}, __provider: "serialized code" }) });
      expect(err.properties).not.toHaveProperty("role");
      expect(() => Struct.fromJavaScript(err.properties)).not.toThrow();
      const diff = await provider.diff(err.id, err.properties, props("unsure", { role: "admin", members: [robot("ci")] }));
      expect(diff.changes).toBe(true);
      await provider.update(err.id, err.properties, props("unsure", { role: "admin", members: [robot("ci")] }));
      expect((await teamsOfOrg()).unsure.role).toBe("admin");
      expect((await members("unsure")).map((m) => m.name)).toEqual([robot("ci")]);
    } finally {
      delete process.env.QUAY_RETRIES;
      await proxy.close();
    }
  });

  it("a member PUT whose answer was lost is looked up, not repeated", async () => {
    const proxy = await lossyProxy(quay.emulator.url, (method, path) => method === "PUT" && /\/team\/lossy\/members\//.test(path), 1);
    try {
      const via = (extra: Record<string, unknown>) => ({ ...(props("lossy", extra) as object), connection: { ...quay.connection, endpoint: proxy.url } }) as never;
      quay.emulator.counter.reset();
      const created = await provider.create(via({ members: [robot("mirror")] }));
      expect(created.id).toBe(`${org}/lossy`);
      expect(quay.emulator.counter.snapshot()["PUT /api/v1/organization/{org}/team/{team}/members/{member}"]).toBe(1);
      expect((await members("lossy")).map((m) => m.name)).toEqual([robot("mirror")]);
    } finally {
      await proxy.close();
    }
  });

  it("takes state written by the earlier version (members as a list): no change, no drift, and members still converge", async () => {
    const created = await provider.create(props("legacy", { members: [robot("ci"), robot("mirror")] }));
    const legacy = { ...created.outs!, members: [robot("mirror"), robot("ci")] } as never;
    const checked = (await provider.check(legacy, props("legacy", { members: [robot("ci"), robot("mirror")] }))).inputs!;
    expect((await provider.diff(created.id, legacy, checked)).changes).toBe(false);
    quay.emulator.counter.reset();
    const read = await provider.read(created.id, legacy);
    // Kept in the form it was stored in, so a refresh shows no change of form.
    expect(read.props?.members).toEqual([robot("mirror"), robot("ci")]);
    expect(read.inputs).toBeUndefined();
    expect(quay.emulator.counter.writes()).toBe(0);
    const fewer = (await provider.check(legacy, props("legacy", { members: [robot("ci")] }))).inputs!;
    expect((await provider.diff(created.id, legacy, fewer)).changes).toBe(true);
    await provider.update(created.id, legacy, fewer);
    expect((await members("legacy")).map((m) => m.name)).toEqual([robot("ci")]);
  });

  it("a token change is an in-place update that calls nothing", async () => {
    const created = await provider.create(props("tok", { members: [robot("ci")] }));
    const rotated = { ...(props("tok", { members: [robot("ci")] }) as object), connection: { ...quay.connection, token: "a-new-token" } } as never;
    expect(await provider.diff(created.id, created.outs!, rotated)).toMatchObject({ changes: true, replaces: undefined });
    quay.emulator.counter.reset();
    const updated = await provider.update(created.id, created.outs!, rotated);
    expect(quay.emulator.counter.total()).toBe(0);
    expect(updated.outs?.connection.token).toBe("a-new-token");
  });

  it("survives serialization without capturing a secret and still works", async () => {
    const { provider: loaded, containsSecrets, text } = await roundTripProvider(provider);
    expect(containsSecrets).toBe(false);
    expect(text).not.toContain(quay.connection.token);
    const created = await loaded.create(props("serialized", { members: [robot("ro")] }));
    expect((await loaded.read(created.id, created.outs!)).props?.members).toEqual({ [robot("ro")]: "robot" });
    await loaded.delete(created.id, created.outs!);
    expect(await loaded.read(created.id, created.outs!)).toEqual({});
  });

  it.each(FAULT_KINDS)("converges under 10 %% injected %s faults with nothing duplicated", async (label, fault) => {
    const names = Array.from({ length: 6 }, (_, i) => `faulty-${label}-${i}`);
    const want = [robot("mirror"), robot("ci"), "alice"];
    // What repeated `pulumi up` runs do: create (or adopt what a failed run left), then update to the target.
    const converge = async (name: string) => {
      for (let attempt = 0; ; attempt++) {
        try {
          let outs: object;
          try {
            outs = (await provider.create(props(name, { members: want.slice(0, 2) }))).outs!;
          } catch (e) {
            const partial = e as { id?: string; properties?: Record<string, unknown> };
            if (partial.id) outs = partial.properties!;
            else if (/already exists/.test(String(e))) outs = (await provider.create(props(name, { members: want.slice(0, 2), adopt: true }))).outs!;
            else throw e;
          }
          await provider.update(`${org}/${name}`, outs as never, props(name, { role: "admin", members: want.slice(1) }));
          return;
        } catch (e) {
          if (attempt > 10) throw e;
        }
      }
    };
    quay.emulator.faults.add({ fraction: 0.1, path: /\/team\//, ...fault });
    await Promise.all(names.map(converge));
    quay.emulator.faults.clear();
    const teams = await teamsOfOrg();
    for (const name of names) {
      expect(teams[name]?.role).toBe("admin");
      const listed = (await members(name, true)).map((m) => m.name);
      expect(listed.sort()).toEqual(["alice", robot("ci")]);
    }
  });
});

describe("quay:Team provider with team invites (FEATURE_MAILING)", () => {
  let quay: QuayFixture;
  let org: string;
  const provider = TeamProvider.instance;

  beforeAll(async () => {
    quay = await startQuay({ config: { FEATURE_MAILING: true, MAIL_SERVER: "smtp.example.com" } });
    org = uniqueName("invites");
    await quay.admin.post("/api/v1/organization/", { name: org, email: `${org}@example.com` });
    await quay.admin.post("/api/v1/superuser/users/", { username: "bob", email: "bob@example.com" });
  });
  afterAll(async () => quay.close());

  it("an invited user is not a member: read shows them missing and an update does not invite again", async () => {
    const inputs = { connection: quay.connection, organization: org, name: "readers", role: "member", description: "", members: ["bob"] } as never;
    const created = await provider.create(inputs);
    const pending = async () =>
      (await quay.admin.get<MembersBody>(`/api/v1/organization/${org}/team/readers/members`, { query: { includePending: "true" } })).body.members.filter((m) => m.invited);
    expect((await pending()).map((m) => m.name)).toEqual(["bob"]);

    const read = await provider.read(created.id, created.outs!);
    expect(read.props?.members).toEqual({});
    expect((await provider.diff(created.id, read.props!, inputs)).changes).toBe(true);

    quay.emulator.counter.reset();
    await provider.update(created.id, read.props!, inputs);
    expect(quay.emulator.counter.writes()).toBe(0);
    expect(await pending()).toHaveLength(1);

    // Dropping the user from the set withdraws the invite.
    await provider.update(created.id, created.outs!, { ...(inputs as object), members: [] } as never);
    expect(await pending()).toHaveLength(0);
  });
});
