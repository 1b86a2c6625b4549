import { ProxyCacheOutputs, ProxyCacheProvider } from "../../providers/quay/proxy-cache";
import { UNKNOWN } from "../../providers/quay/common";
import { FAULT_KINDS, QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";

interface ProxyView {
  upstream_registry: string;
  expiration_s: number | string;
  insecure: boolean | string;
}

describe("quay:ProxyCache provider against the emulator", () => {
  // Scrypt hashing, serialization and fault retries take seconds when suites run in parallel.
  jest.setTimeout(30_000);
  let quay: QuayFixture;
  const provider = ProxyCacheProvider.instance;

  beforeAll(async () => {
    quay = await startQuay();
  });
  afterAll(async () => quay.close());
  afterEach(() => {
    quay.emulator.faults.clear();
    delete process.env.QUAY_TIMEOUT_MS;
  });

  const newOrg = async (prefix = "cache") => {
    const org = uniqueName(prefix);
    await quay.admin.post("/api/v1/organization/", { name: org });
    return org;
  };
  const props = (organization: string, extra: Record<string, unknown> = {}) =>
    ({ connection: quay.connection, organization, upstreamRegistry: "quay.io", expirationSeconds: 86400, insecure: false, ...extra }) as never;
  const live = async (org: string) => (await quay.admin.get<ProxyView>(`/api/v1/organization/${org}/proxycache`)).body;

  it("an upstream the Quay host cannot resolve fails with Quay's message and says the Quay host needs DNS for it", async () => {
    const org = await newOrg("nodns");
    // The emulated Quay host cannot resolve this name (as a lab whose Quay VM has no DNS for the upstream).
    await fetch(`${quay.emulator.url}/__emulator/settings`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ unresolvableHosts: ["registry.lab.example.com"] }) });
    try {
      const failure = await provider.create(props(org, { upstreamRegistry: "registry.lab.example.com/library" })).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(failure?.message).toMatch(/400 Cannot resolve hostname 'registry\.lab\.example\.com'/);
      expect(failure?.message).toMatch(/the Quay host must resolve the upstream registry's name/);
      expect(await live(org)).toMatchObject({ upstream_registry: "" });
      // Another name still resolves.
      await expect(provider.create(props(org, { upstreamRegistry: "registry.other.example.com/library" }))).resolves.toMatchObject({ id: org });
    } finally {
      await fetch(`${quay.emulator.url}/__emulator/settings`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ unresolvableHosts: [] }) });
    }
  });

  it("check names the property and lets unknown values through in preview", async () => {
    const failure = async (extra: Record<string, unknown>, organization = "someorg") => (await provider.check(props("x"), props(organization, extra))).failures?.[0];
    expect(await failure({}, "Bad_Org!")).toMatchObject({ property: "organization" });
    expect(await failure({ upstreamRegistry: "https://quay.io" })).toMatchObject({ property: "upstreamRegistry", reason: expect.stringMatching(/scheme/) });
    expect(await failure({ upstreamRegistry: "quay.io/Upper Case" })).toMatchObject({ property: "upstreamRegistry" });
    expect(await failure({ upstreamRegistry: "" })).toMatchObject({ property: "upstreamRegistry" });
    expect(await failure({ expirationSeconds: -1 })).toMatchObject({ property: "expirationSeconds" });
    expect(await failure({ expirationSeconds: 1.5 })).toMatchObject({ property: "expirationSeconds" });
    expect(await failure({ insecure: "no" })).toMatchObject({ property: "insecure" });
    expect(await failure({ upstreamUsername: "bob" })).toMatchObject({ property: "upstreamPassword", reason: expect.stringMatching(/both or neither/) });
    const onlyPassword = await failure({ upstreamPassword: "hunter2-secret" });
    expect(onlyPassword).toMatchObject({ property: "upstreamUsername" });
    expect(JSON.stringify(onlyPassword)).not.toContain("hunter2-secret");

    for (const ok of ["quay.io", "docker.io/library", "registry.lab:5000", "192.0.2.10:8443/ns/sub", "[2001:db8::1]:5000"]) {
      expect((await provider.check(props("x"), props("someorg", { upstreamRegistry: ok }))).failures).toBeUndefined();
    }
    // 0 is valid: Quay then never expires cached tags.
    expect((await provider.check(props("x"), props("someorg", { expirationSeconds: 0 }))).failures).toBeUndefined();
    expect((await provider.check(props("x"), props(UNKNOWN, { upstreamRegistry: UNKNOWN, upstreamUsername: "bob", upstreamPassword: UNKNOWN }))).failures).toBeUndefined();
    const defaults = await provider.check(props("x"), { connection: quay.connection, organization: "someorg", upstreamRegistry: "quay.io" } as never);
    expect(defaults.inputs).toMatchObject({ expirationSeconds: 86400, insecure: false });
  });

  it("creates, reads back, diffs to nothing, and keeps only a hash of the password", async () => {
    const org = await newOrg();
    const inputs = props(org, { upstreamUsername: "bob", upstreamPassword: "upstream-Secret-1" });
    quay.emulator.counter.reset();
    const created = await provider.create(inputs);
    expect(quay.emulator.counter.writes()).toBe(1);
    expect(created.id).toBe(org);
    expect(JSON.stringify(created.outs)).not.toContain("upstream-Secret-1");
    expect(created.outs?.upstreamPasswordHash).toMatch(/^scrypt\$/);
    expect(await live(org)).toEqual({ upstream_registry: "quay.io", expiration_s: 86400, insecure: false });

    const read = await provider.read(org, created.outs!);
    expect(read).toMatchObject({ id: org, props: { upstreamRegistry: "quay.io", expirationSeconds: 86400, insecure: false, upstreamUsername: "bob" } });
    expect(await provider.diff(org, read.props!, inputs)).toEqual({ changes: false, replaces: undefined });
    expect((await provider.diff(org, read.props!, props(org, { upstreamUsername: "bob", upstreamPassword: UNKNOWN }))).changes).toBe(true);
    expect((await provider.diff(org, read.props!, props("other-org", { upstreamUsername: "bob", upstreamPassword: "upstream-Secret-1" }))).replaces).toEqual(["organization"]);
  });

  it("updates each field by deleting and re-creating the configuration in one update (two calls)", async () => {
    const org = await newOrg();
    let inputs = props(org) as Record<string, unknown>;
    let outs = (await provider.create(inputs as never)).outs as ProxyCacheOutputs;
    const changes: Array<Record<string, unknown>> = [
      { upstreamRegistry: "docker.io/library" },
      { expirationSeconds: 3600 },
      { insecure: true, upstreamRegistry: "192.0.2.10:5000" },
      { upstreamUsername: "bob", upstreamPassword: "first-Secret-1" },
      { upstreamPassword: "second-Secret-2" },
      { upstreamUsername: undefined, upstreamPassword: undefined },
    ];
    for (const change of changes) {
      const next = { ...inputs, ...change };
      expect(await provider.diff(org, outs, next as never)).toMatchObject({ changes: true, replaces: undefined });
      quay.emulator.counter.reset();
      outs = (await provider.update(org, outs, next as never)).outs as ProxyCacheOutputs;
      expect(quay.emulator.counter.snapshot()).toEqual({ "DELETE /api/v1/organization/{org}/proxycache": 1, "POST /api/v1/organization/{org}/proxycache": 1 });
      expect((await provider.diff(org, outs, next as never)).changes).toBe(false);
      inputs = next;
    }
    expect(await live(org)).toEqual({ upstream_registry: "192.0.2.10:5000", expiration_s: 3600, insecure: true });
    expect(outs.upstreamPasswordHash).toBe("");
  });

  it("a token change is an in-place update that calls nothing", async () => {
    const org = await newOrg();
    const created = await provider.create(props(org, { upstreamUsername: "bob", upstreamPassword: "kept-Secret-1" }));
    const rotated = { ...(props(org, { upstreamUsername: "bob", upstreamPassword: "kept-Secret-1" }) as object), connection: { ...quay.connection, token: "a-new-token" } } as never;
    expect(await provider.diff(org, created.outs!, rotated)).toMatchObject({ changes: true, replaces: undefined });
    quay.emulator.counter.reset();
    const updated = await provider.update(org, created.outs!, rotated);
    expect(quay.emulator.counter.total()).toBe(0);
    expect(updated.outs?.upstreamPasswordHash).toBe(created.outs?.upstreamPasswordHash);
  });

  it("deletes, and treats a missing configuration or organization as deleted", async () => {
    const org = await newOrg();
    const created = await provider.create(props(org));
    await provider.delete(org, created.outs!);
    expect(await live(org)).toEqual({ upstream_registry: "", expiration_s: "", insecure: "" });
    expect(await provider.read(org, created.outs!)).toEqual({});
    await expect(provider.delete(org, created.outs!)).resolves.toBeUndefined();

    // The whole organization deleted behind Pulumi's back: Quay answers 403 there, which is "gone" too.
    const org2 = await newOrg();
    const created2 = await provider.create(props(org2));
    await quay.admin.delete(`/api/v1/organization/${org2}`);
    expect(await provider.read(org2, created2.outs!)).toEqual({});
    await expect(provider.delete(org2, created2.outs!)).resolves.toBeUndefined();
  });

  it("reports drift made behind Pulumi's back", async () => {
    const org = await newOrg();
    const created = await provider.create(props(org));
    await quay.admin.delete(`/api/v1/organization/${org}/proxycache`);
    await quay.admin.post(`/api/v1/organization/${org}/proxycache`, { upstream_registry: "registry.redhat.io", expiration_s: 60, insecure: false });
    const read = await provider.read(org, created.outs!);
    expect(read.props).toMatchObject({ upstreamRegistry: "registry.redhat.io", expirationSeconds: 60 });
    expect((await provider.diff(org, read.props!, props(org))).changes).toBe(true);
    // Repairing the drift puts ours back.
    await provider.update(org, read.props!, props(org));
    expect(await live(org)).toEqual({ upstream_registry: "quay.io", expiration_s: 86400, insecure: false });
  });

  it("adopts an existing configuration only when asked, by replacing it with the declared one", async () => {
    const org = await newOrg();
    await quay.admin.post(`/api/v1/organization/${org}/proxycache`, { upstream_registry: "docker.io", expiration_s: 60 });
    await expect(provider.create(props(org))).rejects.toThrow(/already exists.*adopt: true/s);
    const adopted = await provider.create(props(org, { adopt: true, upstreamUsername: "bob", upstreamPassword: "adopted-Secret-1" }));
    expect(adopted.id).toBe(org);
    expect(await live(org)).toEqual({ upstream_registry: "quay.io", expiration_s: 86400, insecure: false });
  });

  it("never puts the upstream password or the token in an error", async () => {
    const org = await newOrg();
    // Quay's SSRF check refuses a loopback upstream.
    const refused = (await provider.create(props(org, { upstreamRegistry: "localhost:5000", upstreamUsername: "bob", upstreamPassword: "leak-Check-Secret" })).catch((e) => e)) as Error;
    expect(refused.message).toMatch(/not allowed/);
    const created = await provider.create(props(org, { upstreamUsername: "bob", upstreamPassword: "leak-Check-Secret" }));
    quay.emulator.faults.add({ method: "POST", path: /proxycache$/, status: 400, count: 1 });
    const failed = (await provider.update(org, created.outs!, props(org, { upstreamUsername: "bob", upstreamPassword: "other-Leak-Secret" })).catch((e) => e)) as Error;
    for (const err of [refused, failed]) {
      const text = `${err.message} ${err.stack} ${JSON.stringify(err)}`;
      expect(text).not.toContain("leak-Check-Secret");
      expect(text).not.toContain("other-Leak-Secret");
      expect(text).not.toContain(quay.connection.token);
    }
    // The failed update left no configuration; the next `up` repairs it from the same stored outputs.
    await provider.update(org, created.outs!, props(org, { upstreamUsername: "bob", upstreamPassword: "other-Leak-Secret" }));
    expect((await live(org)).upstream_registry).toBe("quay.io");
  });

  it("a create whose answer was lost looks before it posts again", async () => {
    const org = await newOrg();
    process.env.QUAY_TIMEOUT_MS = "400";
    quay.emulator.faults.add({ method: "POST", path: /proxycache$/, latencyMs: 420, count: 1 });
    quay.emulator.counter.reset();
    await provider.create(props(org));
    expect(quay.emulator.counter.snapshot()["POST /api/v1/organization/{org}/proxycache"]).toBe(1);
    delete process.env.QUAY_TIMEOUT_MS;
    expect((await live(org)).upstream_registry).toBe("quay.io");
  });

  it.each(FAULT_KINDS)("converges under 10 %% injected %s faults", async (_label, fault) => {
    const orgs = await Promise.all(Array.from({ length: 6 }, () => newOrg("flt")));
    quay.emulator.faults.add({ fraction: 0.1, ...fault });
    const final = (org: string) => props(org, { upstreamRegistry: "docker.io/library", expirationSeconds: 600, upstreamUsername: "bob", upstreamPassword: "fault-Secret-1" });
    // What re-runs of `pulumi up` do: create (or, once created, update) until it succeeds.
    const converge = async (org: string) => {
      let outs: ProxyCacheOutputs | undefined;
      for (let i = 0; ; i++) {
        try {
          if (!outs) outs = (await provider.create(props(org))).outs as ProxyCacheOutputs;
          return await provider.update(org, outs, final(org));
        } catch (e) {
          if (i > 8) throw e;
        }
      }
    };
    await Promise.all(orgs.map(converge));
    quay.emulator.faults.clear();
    for (const org of orgs) expect(await live(org)).toEqual({ upstream_registry: "docker.io/library", expiration_s: 600, insecure: false });
  });

  it("survives serialization without capturing a secret and still works", async () => {
    const { provider: loaded, containsSecrets, text } = await roundTripProvider(provider);
    expect(containsSecrets).toBe(false);
    expect(text).not.toContain(quay.connection.token);
    const org = await newOrg("ser");
    const created = await loaded.create(props(org));
    expect((await loaded.read(created.id, created.outs!)).id).toBe(org);
    await loaded.delete(org, created.outs!);
    expect(await loaded.read(org, created.outs!)).toEqual({});
  }, 30_000);
});
