import { ApiTokenOutputs, ApiTokenProvider, allApiTokenScopes } from "../../providers/quay/api-token";
import { QuayClient } from "../../providers/quay/client";
import { UNKNOWN } from "../../providers/quay/common";
import { FAULT_KINDS, QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";

interface TokenView {
  uuid: string;
  name: string;
  scope: string;
  expires_at: string;
  token?: string;
}

describe("quay:ApiToken provider against the emulator", () => {
  // Scrypt hashing, serialization and fault retries take seconds when suites run in parallel.
  jest.setTimeout(30_000);
  let quay: QuayFixture;
  let org: string;
  const provider = ApiTokenProvider.instance;
  const DAY = 24 * 3600;

  beforeAll(async () => {
    quay = await startQuay();
    org = uniqueName("tokens");
    await quay.admin.post("/api/v1/organization/", { name: org });
  });
  afterAll(async () => quay.close());
  afterEach(() => {
    quay.emulator.faults.clear();
    delete process.env.QUAY_TIMEOUT_MS;
  });

  const props = (name: string, extra: Record<string, unknown> = {}) =>
    ({
      connection: quay.connection,
      organization: org,
      applicationName: "quay-mirror",
      name,
      scopes: allApiTokenScopes(),
      expiresInSeconds: 365 * DAY,
      rotateBefore: 30 * DAY,
      ...extra,
    }) as never;

  /** The user a bearer token acts as, or the HTTP status Quay refused it with. */
  const whoAmI = async (token: string): Promise<string | number> => {
    const client = new QuayClient({ endpoint: quay.connection.endpoint, token, retries: 0 });
    try {
      return (await client.get<{ username: string }>("/api/v1/user/")).body.username;
    } catch (e) {
      return (e as { status: number }).status;
    }
  };
  const appsNamed = async (name: string) =>
    (await quay.admin.get<{ applications: Array<{ name: string; client_id: string }> }>(`/api/v1/organization/${org}/applications`)).body.applications.filter((a) => a.name === name);
  const tokensOf = async (clientId: string) => quay.admin.paginate<TokenView>(`/api/v1/organization/${org}/applications/${clientId}/tokens`, "tokens");

  /** A short-lived token minted by the admin, standing in for the 2.5 h initialize token. */
  const bootstrapToken = async (): Promise<{ token: string; uuid: string; clientId: string }> => {
    let [app] = await appsNamed("bootstrap");
    if (!app) app = (await quay.admin.post<{ name: string; client_id: string }>(`/api/v1/organization/${org}/applications`, { name: "bootstrap" })).body;
    const { body } = await quay.admin.post<TokenView>(`/api/v1/organization/${org}/applications/${app.client_id}/tokens`, {
      name: "bootstrap",
      scope: allApiTokenScopes().join(" "),
      expiration: 9000,
    });
    return { token: body.token!, uuid: body.uuid, clientId: app.client_id };
  };

  it("check names the property, fills defaults, and lets unknown values through in preview", async () => {
    const failure = async (extra: Record<string, unknown>, name = "ci") => (await provider.check(props("x"), props(name, extra))).failures?.[0];
    expect(await failure({ organization: "Bad_Org!" })).toMatchObject({ property: "organization" });
    expect(await failure({}, " padded ")).toMatchObject({ property: "name" });
    expect(await failure({}, "")).toMatchObject({ property: "name" });
    expect(await failure({ scopes: [] })).toMatchObject({ property: "scopes" });
    expect((await failure({ scopes: ["repo:read", "repo:push"] }))?.property).toMatch(/^scopes\.1$/);
    expect(await failure({ expiresInSeconds: 0 })).toMatchObject({ property: "expiresInSeconds" });
    expect(await failure({ expiresInSeconds: 400_000_000 })).toMatchObject({ property: "expiresInSeconds" });
    expect(await failure({ expiresInSeconds: 3600, rotateBefore: 3600 })).toMatchObject({ property: "rotateBefore" });
    expect(await failure({ applicationName: "__quay_bootstrap_app" })).toMatchObject({ property: "applicationName" });

    const defaults = await provider.check(props("x"), { connection: quay.connection, organization: org, name: "ci" } as never);
    expect(defaults.failures).toBeUndefined();
    expect(defaults.inputs).toMatchObject({ applicationName: "quay-mirror", scopes: allApiTokenScopes(), expiresInSeconds: 365 * DAY, rotateBefore: 30 * DAY });
    expect((await provider.check(props("x"), props(UNKNOWN, { organization: UNKNOWN, scopes: UNKNOWN, expiresInSeconds: UNKNOWN }))).failures).toBeUndefined();
  });

  it("mints a working token in a found-or-created application, reads back and diffs to nothing", async () => {
    quay.emulator.counter.reset();
    const created = await provider.create(props("ci"));
    const outs = created.outs!;
    expect(created.id).toBe(outs.tokenUuid);
    expect(outs.token).toMatch(/^[A-Z0-9]{40}$/);
    expect([...outs.scopes].sort()).toEqual([...allApiTokenScopes()].sort());
    expect(Math.abs(Date.parse(outs.expiresAt) - (Date.now() + 365 * DAY * 1000))).toBeLessThan(60_000);
    expect(quay.emulator.counter.snapshot()["POST /api/v1/organization/{org}/applications"]).toBe(1);
    // The minted token works as a bearer token, and acts as the user who minted it.
    expect(await whoAmI(outs.token)).toBe("quayadmin");

    // A second token reuses the application.
    const second = await provider.create(props("ci-2", { scopes: ["repo:read"] }));
    expect(second.outs?.clientId).toBe(outs.clientId);
    expect(await appsNamed("quay-mirror")).toHaveLength(1);
    expect(second.outs?.scopes).toEqual(["repo:read"]);

    const read = await provider.read(created.id, outs);
    expect(read.id).toBe(created.id);
    expect(read.props?.expiresAt).toBe(outs.expiresAt);
    expect(await provider.diff(created.id, read.props!, props("ci"))).toEqual({ changes: false, replaces: undefined });
    // Scope order does not matter.
    expect((await provider.diff(created.id, read.props!, props("ci", { scopes: [...allApiTokenScopes()].reverse() }))).changes).toBe(false);
  });

  it("an identity, scope or lifetime change, or an expiry inside the rotation window, is a replacement", async () => {
    const { outs } = await provider.create(props("repl"));
    const diff = (extra: Record<string, unknown>, name = "repl", olds: ApiTokenOutputs = outs!) => provider.diff(outs!.tokenUuid, olds, props(name, extra));
    expect((await diff({}, "renamed")).replaces).toEqual(["name"]);
    expect((await diff({ organization: "elsewhere" })).replaces).toEqual(["organization"]);
    expect((await diff({ applicationName: "other-app" })).replaces).toEqual(["applicationName"]);
    expect((await diff({ scopes: ["repo:read"] })).replaces).toEqual(["scopes"]);
    expect((await diff({ expiresInSeconds: 90 * DAY })).replaces).toEqual(["expiresInSeconds"]);
    // Unknown in preview: shown as a possible replacement.
    expect((await diff({ scopes: UNKNOWN })).replaces).toEqual(["scopes"]);

    // 20 days before expiry with a 30-day window: preview already shows the rotation.
    const nearExpiry = { ...outs!, expiresAt: new Date(Date.now() + 20 * DAY * 1000).toISOString() };
    expect(await diff({}, "repl", nearExpiry)).toEqual({ changes: true, replaces: ["expiresAt"] });
    // A narrower window postpones it.
    expect(await diff({ rotateBefore: 10 * DAY }, "repl", nearExpiry)).toEqual({ changes: true, replaces: undefined });
  });

  it("a rotation-window or token change is an in-place update that calls nothing", async () => {
    const created = await provider.create(props("inplace"));
    const changes = [{ rotateBefore: 7 * DAY }, { connection: { ...quay.connection, token: "a-new-token" } }];
    for (const change of changes) {
      const next = props("inplace", change);
      expect(await provider.diff(created.id, created.outs!, next)).toEqual({ changes: true, replaces: undefined });
      quay.emulator.counter.reset();
      const updated = await provider.update(created.id, created.outs!, next);
      expect(quay.emulator.counter.total()).toBe(0);
      expect(updated.outs).toMatchObject({ token: created.outs!.token, tokenUuid: created.id, expiresAt: created.outs!.expiresAt });
    }
  });

  it("rotates by replacement: the new token exists before the old one is revoked", async () => {
    const old = await provider.create(props("rotating"));
    const nearExpiry = { ...old.outs!, expiresAt: new Date(Date.now() + DAY * 1000).toISOString() };
    expect((await provider.diff(old.id, nearExpiry, props("rotating"))).replaces).toEqual(["expiresAt"]);

    // The engine's default order: create the replacement, update dependants, delete the old one last.
    const fresh = await provider.create(props("rotating"));
    expect(fresh.id).not.toBe(old.id);
    expect(await whoAmI(fresh.outs!.token)).toBe("quayadmin");
    expect(await whoAmI(old.outs!.token)).toBe("quayadmin"); // dependants still hold it until they are updated
    await provider.delete(old.id, nearExpiry);
    expect(await whoAmI(old.outs!.token)).toBe(401);
    expect(await whoAmI(fresh.outs!.token)).toBe("quayadmin");
    const names = (await tokensOf(fresh.outs!.clientId)).filter((t) => t.name === "rotating").map((t) => t.uuid);
    expect(names).toEqual([fresh.id]);
  });

  it("reads and deletes with its own token after the bootstrap token is revoked", async () => {
    const bootstrap = await bootstrapToken();
    const connection = { endpoint: quay.connection.endpoint, token: bootstrap.token };
    const created = await provider.create(props("long-lived", { connection }));
    // The bootstrap token goes away (expired or revoked).
    await quay.admin.delete(`/api/v1/organization/${org}/applications/${bootstrap.clientId}/tokens/${bootstrap.uuid}`);
    expect(await whoAmI(bootstrap.token)).toBe(401);

    const read = await provider.read(created.id, created.outs!);
    expect(read.id).toBe(created.id);
    await provider.delete(created.id, created.outs!);
    expect((await tokensOf(created.outs!.clientId)).map((t) => t.uuid)).not.toContain(created.id);
    expect(await whoAmI(created.outs!.token)).toBe(401);
  });

  it("a rotation after the bootstrap token expired mints the successor with the token being replaced", async () => {
    const bootstrap = await bootstrapToken();
    const connection = { endpoint: quay.connection.endpoint, token: bootstrap.token };
    const old = await provider.create(props("successor", { connection }));
    await quay.admin.delete(`/api/v1/organization/${org}/applications/${bootstrap.clientId}/tokens/${bootstrap.uuid}`);
    // What the engine does in one process: diff (rotation due), create the replacement, delete the old one.
    const nearExpiry = { ...old.outs!, expiresAt: new Date(Date.now() + DAY * 1000).toISOString() };
    expect((await provider.diff(old.id, nearExpiry, props("successor", { connection }))).replaces).toEqual(["expiresAt"]);
    const fresh = await provider.create(props("successor", { connection }));
    expect(await whoAmI(fresh.outs!.token)).toBe("quayadmin");
    await provider.delete(old.id, nearExpiry);
    expect(await whoAmI(old.outs!.token)).toBe(401);
    // Without a valid predecessor or connection, the error says how to supply a token.
    await expect(provider.create(props("no-credential", { connection }))).rejects.toThrow(/QUAY_TOKEN|quay:token/);
  });

  it("reports a token revoked behind Pulumi's back as gone, and deletes what is already gone", async () => {
    const created = await provider.create(props("revoked"));
    await quay.admin.delete(`/api/v1/organization/${org}/applications/${created.outs!.clientId}/tokens/${created.id}`);
    // Its own token is rejected now; the connection's token answers that it is gone.
    expect(await provider.read(created.id, created.outs!)).toEqual({});
    await expect(provider.delete(created.id, created.outs!)).resolves.toBeUndefined();

    // The whole application deleted: every token of it is gone.
    const other = await provider.create(props("app-gone", { applicationName: "short-lived-app" }));
    await quay.admin.delete(`/api/v1/organization/${org}/applications/${other.outs!.clientId}`);
    expect(await provider.read(other.id, other.outs!)).toEqual({});
    await expect(provider.delete(other.id, other.outs!)).resolves.toBeUndefined();
  });

  it("says that Quay 3.18 is needed when the token API is missing", async () => {
    for (const status of [404, 405]) {
      quay.emulator.faults.add({ path: /\/applications\/[^/]+\/tokens$/, status });
      await expect(provider.create(props(`old-quay-${status}`))).rejects.toThrow(/Quay 3\.18 or later/);
      quay.emulator.faults.clear();
    }
  });

  it("explains a refusal to mint scopes the connection's token lacks", async () => {
    const narrow = await provider.create(props("narrow", { scopes: ["org:admin", "repo:read"] }));
    const connection = { endpoint: quay.connection.endpoint, token: narrow.outs!.token };
    await expect(provider.create(props("wider", { connection }))).rejects.toThrow(/hold every requested scope/);
  });

  it("never puts a token in an error", async () => {
    const created = await provider.create(props("leak-check"));
    quay.emulator.faults.add({ method: "GET", path: /\/tokens$/, status: 400 });
    quay.emulator.faults.add({ method: "DELETE", path: /\/tokens\//, status: 400 });
    const errors = [
      (await provider.read(created.id, created.outs!).catch((e) => e)) as Error,
      (await provider.delete(created.id, created.outs!).catch((e) => e)) as Error,
    ];
    quay.emulator.faults.clear();
    quay.emulator.faults.add({ method: "POST", path: /\/tokens$/, status: 403 });
    errors.push((await provider.create(props("leak-check-2")).catch((e) => e)) as Error);
    for (const err of errors) {
      expect(err).toBeInstanceOf(Error);
      const text = `${err.message} ${err.stack} ${JSON.stringify(err)}`;
      expect(text).not.toContain(created.outs!.token);
      expect(text).not.toContain(quay.connection.token);
    }
  });

  it("a mint whose answer was lost revokes the orphan before minting again", async () => {
    // The POST is applied just after the client gave up waiting: the token exists, its secret is lost.
    process.env.QUAY_TIMEOUT_MS = "400";
    quay.emulator.faults.add({ method: "POST", path: /\/tokens$/, latencyMs: 420, count: 1 });
    quay.emulator.counter.reset();
    const created = await provider.create(props("lost-answer"));
    delete process.env.QUAY_TIMEOUT_MS;
    const calls = quay.emulator.counter.snapshot();
    expect(calls["POST /api/v1/organization/{org}/applications/{client_id}/tokens"]).toBe(2);
    expect(calls["DELETE /api/v1/organization/{org}/applications/{client_id}/tokens/{token_uuid}"]).toBe(1);
    expect(await whoAmI(created.outs!.token)).toBe("quayadmin");
    const ours = (await tokensOf(created.outs!.clientId)).filter((t) => t.name === "lost-answer");
    expect(ours.map((t) => t.uuid)).toEqual([created.id]);
  });

  it.each(FAULT_KINDS)("converges under 10 %% injected %s faults with nothing duplicated", async (label, fault) => {
    const app = `faults-${label}`;
    quay.emulator.faults.add({ fraction: 0.1, ...fault });
    const names = Array.from({ length: 6 }, (_, i) => `flt-${label}-${i}`);
    const converge = async (name: string) => {
      for (let i = 0; ; i++) {
        try {
          return await provider.create(props(name, { applicationName: app }));
        } catch (e) {
          if (i > 8) throw e;
        }
      }
    };
    // One token first (the application is created once), then the rest in parallel.
    const results = [await converge(names[0]), ...(await Promise.all(names.slice(1).map(converge)))];
    quay.emulator.faults.clear();
    const apps = await appsNamed(app);
    expect(apps).toHaveLength(1);
    const listed = await tokensOf(apps[0].client_id);
    expect(listed.map((t) => t.name).sort()).toEqual([...names].sort());
    for (const r of results) expect(await whoAmI(r.outs!.token)).toBe("quayadmin");
  });

  it("survives serialization without capturing a secret and still works", async () => {
    const { provider: loaded, containsSecrets, text } = await roundTripProvider(provider);
    expect(containsSecrets).toBe(false);
    expect(text).not.toContain(quay.connection.token);
    const created = await loaded.create(props("serialized"));
    expect(await whoAmI(created.outs!.token)).toBe("quayadmin");
    expect((await loaded.read(created.id, created.outs!)).id).toBe(created.id);
    expect((await loaded.diff(created.id, created.outs!, props("serialized"))).changes).toBe(false);
    await loaded.delete(created.id, created.outs!);
    expect(await loaded.read(created.id, created.outs!)).toEqual({});
  }, 30_000);
});


describe("quay:ApiToken createOrganization", () => {
  it("creates a missing organization for its application, and mints a token there", async () => {
    const q = await startQuay();
    try {
      const org = uniqueName("boot");
      const created = await ApiTokenProvider.instance.create({ connection: q.connection, organization: org, name: "quay-mirror", createOrganization: true } as never);
      expect(created.outs?.token).toBeTruthy();
      const { status } = await q.admin.get(`/api/v1/organization/${org}`);
      expect(status).toBe(200);
      // A second token in the now existing organization does not try to create it again.
      q.emulator.counter.reset();
      await ApiTokenProvider.instance.create({ connection: q.connection, organization: org, name: "second", createOrganization: true } as never);
      expect(q.emulator.counter.snapshot()["POST /api/v1/organization/"]).toBeUndefined();
    } finally {
      await q.close();
    }
  });
});
