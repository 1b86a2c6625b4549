import { RepositoryProvider } from "../../providers/quay/repository";
import { UNKNOWN } from "../../providers/quay/common";
import { QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";

describe("quay:Repository provider against the emulator", () => {
  let quay: QuayFixture;
  let org: string;
  const provider = RepositoryProvider.instance;

  beforeAll(async () => {
    quay = await startQuay();
    org = uniqueName("repos");
    await quay.admin.post("/api/v1/organization/", { name: org });
  });
  afterAll(async () => quay.close());
  afterEach(() => quay.emulator.faults.clear());

  const props = (name: string, extra: Record<string, unknown> = {}) =>
    ({ connection: quay.connection, namespace: org, name, description: "", visibility: "private", ...extra }) as never;

  it("check applies Quay's extended name rule and fills defaults", async () => {
    const ok = await provider.check(props("x"), { connection: quay.connection, namespace: org, name: "openshift/release-images" } as never);
    expect(ok.failures).toBeUndefined();
    expect(ok.inputs).toMatchObject({ description: "", visibility: "private" });
    for (const bad of ["Bad", "a//b", "/lead", "a/", "x".repeat(256)]) {
      const res = await provider.check(props("x"), props(bad));
      expect(res.failures?.[0]).toMatchObject({ property: "name" });
    }
    expect((await provider.check(props("x"), props("x", { visibility: "internal" }))).failures?.[0].property).toBe("visibility");
    expect((await provider.check(props("x"), props(UNKNOWN, { namespace: UNKNOWN }))).failures).toBeUndefined();
  });

  it("creates a nested repository, reads it back, updates each field with one call, replaces on identity, deletes", async () => {
    const name = "openshift/release-images";
    const created = await provider.create(props(name, { description: "payloads" }));
    expect(created.id).toBe(`${org}/${name}`);
    const read = await provider.read(created.id, created.outs!);
    expect(read.props).toMatchObject({ description: "payloads", visibility: "private" });
    expect((await provider.diff(created.id, read.props!, props(name, { description: "payloads" }))).changes).toBe(false);

    for (const change of [{ description: "new text" }, { visibility: "public" }]) {
      const before = (await provider.read(created.id, created.outs!)).props!;
      const news = props(name, { ...before, connection: quay.connection, ...change });
      expect((await provider.diff(created.id, before, news)).changes).toBe(true);
      quay.emulator.counter.reset();
      await provider.update(created.id, before, news);
      expect(quay.emulator.counter.writes()).toBe(1);
      expect((await provider.read(created.id, news)).props).toMatchObject(change);
    }
    expect((await provider.diff(created.id, read.props!, props("other"))).replaces).toEqual(["name"]);
    expect((await provider.diff(created.id, read.props!, props(name, { namespace: "elsewhere" }))).replaces).toEqual(["namespace"]);

    await provider.delete(created.id, created.outs!);
    expect(await provider.read(created.id, created.outs!)).toEqual({});
    await expect(provider.delete(created.id, created.outs!)).resolves.toBeUndefined();
  });

  it("sees drift made behind Pulumi's back", async () => {
    const created = await provider.create(props("drift"));
    await quay.admin.put(`/api/v1/repository/${org}/drift`, { description: "edited in the UI" });
    const read = await provider.read(created.id, created.outs!);
    expect(read.props?.description).toBe("edited in the UI");
    expect((await provider.diff(created.id, read.props!, props("drift"))).changes).toBe(true);
    await quay.admin.delete(`/api/v1/repository/${org}/drift`);
    expect(await provider.read(created.id, created.outs!)).toEqual({});
  });

  it("adopts an existing repository only when asked, converging its fields", async () => {
    await quay.admin.post("/api/v1/repository", { namespace: org, repository: "seeded/by/script", visibility: "public", description: "old" });
    await expect(provider.create(props("seeded/by/script"))).rejects.toThrow(/already exists.*adopt: true/s);
    await provider.create(props("seeded/by/script", { adopt: true }));
    const { body } = await quay.admin.get<{ is_public: boolean; description: string }>(`/api/v1/repository/${org}/seeded/by/script`);
    expect(body).toMatchObject({ is_public: false, description: "" });
  });

  it("converges under 10 % injected faults without duplicates", async () => {
    quay.emulator.faults.add({ fraction: 0.1, status: 500, path: /^\/api\/v1\/repository/ });
    quay.emulator.faults.add({ fraction: 0.05, reset: true, path: /^\/api\/v1\/repository/ });
    const names = Array.from({ length: 30 }, (_, i) => `faulty/r${i}`);
    const retry = async <T>(fn: () => Promise<T>): Promise<T> => {
      for (let i = 0; ; i++) {
        try {
          return await fn();
        } catch (e) {
          if (i > 8) throw e;
        }
      }
    };
    // What a re-run of `pulumi up` does after a failed step: try the create again.
    await Promise.all(names.map((n) => retry(() => provider.create(props(n)).catch(async (e) => {
      if (/already exists/.test(String(e))) return provider.create(props(n, { adopt: true }));
      throw e;
    }))));
    quay.emulator.faults.clear();
    const listed = await quay.admin.paginate<{ name: string }>("/api/v1/repository", "repositories", { namespace: org });
    const faulty = listed.filter((r) => r.name.startsWith("faulty/")).map((r) => r.name).sort();
    expect(faulty).toEqual([...names].sort());
  });

  it("survives serialization without capturing a secret", async () => {
    const { provider: loaded, containsSecrets, text } = await roundTripProvider(provider);
    expect(containsSecrets).toBe(false);
    expect(text).not.toContain(quay.connection.token);
    const created = await loaded.create(props("serialized/one"));
    expect((await loaded.read(created.id, created.outs!)).id).toBe(created.id);
  });
});
