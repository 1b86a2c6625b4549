import { UserOutputs, UserProvider } from "../../providers/quay/user";
import { UNKNOWN } from "../../providers/quay/common";
import { FAULT_KINDS, QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";
import { grantedActions } from "../support/registry";

describe("quay:User provider against the emulator", () => {
  // Scrypt hashing, serialization and fault retries take seconds when suites run in parallel.
  jest.setTimeout(30_000);
  let quay: QuayFixture;
  const provider = UserProvider.instance;

  beforeAll(async () => {
    quay = await startQuay({ orgNameLockMs: 1_500 });
  });
  afterAll(async () => quay.close());
  afterEach(() => {
    quay.emulator.faults.clear();
    delete process.env.QUAY_TIMEOUT_MS;
  });

  const props = (username: string, extra: Record<string, unknown> = {}) =>
    ({ connection: quay.connection, username, password: "first-Password-1", enabled: true, ...extra }) as never;

  /** Whether Quay accepts these credentials (the registry token endpoint answers 401 for bad ones). */
  const canLogIn = async (username: string, password: string) => {
    try {
      await grantedActions(quay.connection.endpoint, "quay.v7.comptech-lab.com", { username, password }, "nobody/nothing", ["pull"]);
      return true;
    } catch (e) {
      if ((e as { status?: number }).status === 401) return false;
      throw e;
    }
  };

  it("check names the property, never echoes the password, and lets unknown values through in preview", async () => {
    const badName = await provider.check(props("x"), props("Bad_Name!"));
    expect(badName.failures?.[0]).toMatchObject({ property: "username" });
    expect(badName.failures?.[0]?.reason).toMatch(/must match expression/);
    const badPassword = await provider.check(props("x"), props("okname", { password: "short pw" }));
    expect(badPassword.failures?.[0]).toMatchObject({ property: "password" });
    expect(JSON.stringify(badPassword.failures)).not.toContain("short pw");
    expect((await provider.check(props("x"), props("okname", { email: "not-an-email" }))).failures?.[0]).toMatchObject({ property: "email" });
    expect((await provider.check(props("x"), props("okname", { enabled: "yes" }))).failures?.[0]).toMatchObject({ property: "enabled" });

    const preview = await provider.check(props("x"), props(UNKNOWN, { password: UNKNOWN }));
    expect(preview.failures).toBeUndefined();
    const defaults = await provider.check(props("x"), { connection: quay.connection, username: "okname", password: "first-Password-1" } as never);
    expect(defaults.failures).toBeUndefined();
    expect(defaults.inputs).toMatchObject({ enabled: true });
  });

  it("creates a user whose password works, keeps only a hash, reads back and diffs to nothing", async () => {
    const username = uniqueName("pull");
    quay.emulator.counter.reset();
    const created = await provider.create(props(username));
    // One POST (Quay generates a password) and one PUT (ours).
    expect(quay.emulator.counter.snapshot()).toMatchObject({ "POST /api/v1/superuser/users/": 1, "PUT /api/v1/superuser/users/{username}": 1 });
    expect(created.id).toBe(username);
    expect(JSON.stringify(created.outs)).not.toContain("first-Password-1");
    expect(created.outs?.passwordHash).toMatch(/^scrypt\$/);
    expect(await canLogIn(username, "first-Password-1")).toBe(true);

    const read = await provider.read(created.id, created.outs!);
    expect(read).toMatchObject({ id: username, props: { username, enabled: true } });
    expect(await provider.diff(username, read.props!, props(username))).toEqual({ changes: false, replaces: undefined });
    // An unknown password (preview) may have changed.
    expect((await provider.diff(username, read.props!, props(username, { password: UNKNOWN }))).changes).toBe(true);
    expect((await provider.diff(username, read.props!, props(uniqueName("other")))).replaces).toEqual(["username"]);
  });

  it("updates the password, email and enabled flag in place with one call each", async () => {
    const username = uniqueName("upd");
    let outs = (await provider.create(props(username))).outs as UserOutputs;

    const step = async (inputs: never) => {
      expect(await provider.diff(username, outs, inputs)).toMatchObject({ changes: true, replaces: undefined });
      quay.emulator.counter.reset();
      outs = (await provider.update(username, outs, inputs)).outs as UserOutputs;
      expect(quay.emulator.counter.writes()).toBe(1);
      expect(quay.emulator.counter.total()).toBe(1);
      expect((await provider.diff(username, outs, inputs)).changes).toBe(false);
    };

    await step(props(username, { password: "second-Password-2" }));
    expect(JSON.stringify(outs)).not.toContain("second-Password-2");
    expect(await canLogIn(username, "second-Password-2")).toBe(true);
    expect(await canLogIn(username, "first-Password-1")).toBe(false);

    await step(props(username, { password: "second-Password-2", email: `${username}@example.com` }));
    expect((await provider.read(username, outs)).props?.email).toBe(`${username}@example.com`);

    await step(props(username, { password: "second-Password-2", email: `${username}@example.com`, enabled: false }));
    expect((await provider.read(username, outs)).props?.enabled).toBe(false);

    // All three at once is still one call.
    await step(props(username, { password: "third-Password-3", email: `x-${username}@example.com`, enabled: true }));
    expect(await canLogIn(username, "third-Password-3")).toBe(true);
  });

  it("a token change is an in-place update that calls nothing", async () => {
    const username = uniqueName("tok");
    const created = await provider.create(props(username));
    const rotated = { ...(props(username) as object), connection: { ...quay.connection, token: "a-new-token" } } as never;
    expect(await provider.diff(username, created.outs!, rotated)).toMatchObject({ changes: true, replaces: undefined });
    quay.emulator.counter.reset();
    await provider.update(username, created.outs!, rotated);
    expect(quay.emulator.counter.total()).toBe(0);
  });

  it("deletes, and treats a user that is already gone as deleted", async () => {
    const username = uniqueName("del");
    const created = await provider.create(props(username));
    await provider.delete(username, created.outs!);
    expect(await provider.read(username, created.outs!)).toEqual({});
    await expect(provider.delete(username, created.outs!)).resolves.toBeUndefined();
  });

  it("reports drift made behind Pulumi's back", async () => {
    const username = uniqueName("drift");
    const created = await provider.create(props(username, { email: `${username}@example.com` }));
    await quay.admin.put(`/api/v1/superuser/users/${username}`, { enabled: false, email: `changed-${username}@example.com` });
    const read = await provider.read(username, created.outs!);
    expect(read.props).toMatchObject({ enabled: false, email: `changed-${username}@example.com` });
    expect((await provider.diff(username, read.props!, props(username, { email: `${username}@example.com` }))).changes).toBe(true);
    await quay.admin.delete(`/api/v1/superuser/users/${username}`);
    expect(await provider.read(username, created.outs!)).toEqual({});
  });

  it("adopts an existing user only when asked, and sets its password", async () => {
    const username = uniqueName("seeded");
    await quay.admin.post("/api/v1/superuser/users/", { username });
    await expect(provider.create(props(username))).rejects.toThrow(/already exists.*adopt: true/s);
    const adopted = await provider.create(props(username, { adopt: true, enabled: false }));
    expect(adopted.id).toBe(username);
    expect(await canLogIn(username, "first-Password-1")).toBe(false); // disabled as declared
    await provider.update(username, adopted.outs!, props(username, { adopt: true }));
    expect(await canLogIn(username, "first-Password-1")).toBe(true);
  });

  it("refuses a superuser or an organization's name with a message that says why", async () => {
    await expect(provider.create(props("quayadmin", { adopt: true }))).rejects.toThrow(/superuser/);
    const org = uniqueName("org");
    await quay.admin.post("/api/v1/organization/", { name: org });
    await expect(provider.create(props(org, { adopt: true }))).rejects.toThrow(/belongs to an organization/);
  });

  it("never puts the password in an error", async () => {
    const username = uniqueName("secret");
    const password = "never-Shown-Password-9";
    // The PUT that sets the password fails after the POST created the user: a partial create.
    quay.emulator.faults.add({ method: "PUT", path: /\/superuser\/users\//, status: 400, count: 1 });
    const err = (await provider.create(props(username, { password })).catch((e) => e)) as Error & { id?: string; properties?: UserOutputs };
    expect(err.id).toBe(username);
    expect(`${err.message} ${err.stack} ${JSON.stringify(err)}`).not.toContain(password);
    expect(err.properties?.passwordHash).toBe("");
    // The next `up` updates it: the empty hash makes the password differ, and the update sets it.
    expect((await provider.diff(username, err.properties!, props(username, { password }))).changes).toBe(true);
    const fixed = await provider.update(username, err.properties!, props(username, { password }));
    expect(await canLogIn(username, password)).toBe(true);

    quay.emulator.faults.add({ method: "PUT", status: 400, count: 1 });
    const failed = (await provider.update(username, fixed.outs!, props(username, { password: "another-Secret-Pw-8" })).catch((e) => e)) as Error;
    expect(failed).toBeInstanceOf(Error);
    expect(`${failed.message} ${failed.stack}`).not.toContain("another-Secret-Pw-8");
    expect(`${failed.message} ${failed.stack}`).not.toContain(quay.connection.token);
  });

  it("a create whose answer was lost looks before it posts again", async () => {
    const username = uniqueName("lost");
    // The POST is applied just after the client gave up waiting for it (its answer is lost).
    process.env.QUAY_TIMEOUT_MS = "400";
    quay.emulator.faults.add({ method: "POST", path: "/api/v1/superuser/users/", latencyMs: 420, count: 1 });
    quay.emulator.counter.reset();
    const created = await provider.create(props(username));
    expect(created.id).toBe(username);
    expect(quay.emulator.counter.snapshot()["POST /api/v1/superuser/users/"]).toBe(1);
    delete process.env.QUAY_TIMEOUT_MS;
    expect(await canLogIn(username, "first-Password-1")).toBe(true);
  });

  it.each(FAULT_KINDS)("converges under 10 %% injected %s faults", async (_label, fault) => {
    quay.emulator.faults.add({ fraction: 0.1, ...fault });
    const names = Array.from({ length: 8 }, () => uniqueName("flt"));
    // What a re-run of `pulumi up` does after a failed step: create again, or update a partial create.
    const converge = async (username: string) => {
      for (let i = 0; ; i++) {
        try {
          const created = await provider.create(props(username));
          return (await provider.update(username, created.outs!, props(username, { password: "after-Fault-Pw-5", enabled: false }))).outs!;
        } catch (e) {
          if (i > 8) throw e;
          const partial = e as { id?: string; properties?: UserOutputs };
          if (partial.id) {
            return (await provider.update(username, partial.properties!, props(username, { password: "after-Fault-Pw-5", enabled: false }))).outs!;
          }
        }
      }
    };
    await Promise.all(names.map(converge));
    quay.emulator.faults.clear();
    const { body } = await quay.admin.get<{ users: Array<{ username: string; enabled: boolean }> }>("/api/v1/superuser/users/");
    for (const username of names) {
      const matches = body.users.filter((u) => u.username === username);
      expect(matches).toHaveLength(1);
      expect(matches[0].enabled).toBe(false);
    }
  });

  it("survives serialization without capturing a secret and still works", async () => {
    const { provider: loaded, containsSecrets, text } = await roundTripProvider(provider);
    expect(containsSecrets).toBe(false);
    expect(text).not.toContain(quay.connection.token);
    const username = uniqueName("ser");
    const created = await loaded.create(props(username));
    expect((await loaded.read(created.id, created.outs!)).id).toBe(username);
    expect((await loaded.diff(username, created.outs!, props(username))).changes).toBe(false);
    await loaded.delete(username, created.outs!);
    expect(await loaded.read(username, created.outs!)).toEqual({});
  }, 30_000);
});
