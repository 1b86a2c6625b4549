import { OrganizationProvider } from "../../providers/quay/organization";
import { UNKNOWN } from "../../providers/quay/common";
import { QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";

describe("quay:Organization provider against the emulator", () => {
  let quay: QuayFixture;
  const provider = OrganizationProvider.instance;

  beforeAll(async () => {
    quay = await startQuay({ orgNameLockMs: 1_500 });
  });
  afterAll(async () => quay.close());

  const props = (name: string, extra: Record<string, unknown> = {}) => ({ connection: quay.connection, name, ...extra });

  it("check names the property and Quay's rule, and lets unknown values through in preview", async () => {
    const bad = await provider.check(props("x") as never, props("Bad_Name!") as never);
    expect(bad.failures?.[0]?.property).toBe("name");
    expect(bad.failures?.[0]?.reason).toMatch(/must match expression/);
    const preview = await provider.check(props("x") as never, props(UNKNOWN) as never);
    expect(preview.failures).toBeUndefined();
  });

  it("creates, reads back, diffs to nothing, updates in place with one call, and deletes", async () => {
    const name = uniqueName("org");
    const inputs = props(name, { tagExpirationSeconds: 1209600 });
    const created = await provider.create(inputs as never);
    expect(created.id).toBe(name);

    const read = await provider.read(created.id, created.outs!);
    expect(read.id).toBe(name);
    expect(read.props?.tagExpirationSeconds).toBe(1209600);
    expect((await provider.diff(name, read.props!, inputs as never)).changes).toBe(false);

    quay.emulator.counter.reset();
    const changed = { ...inputs, tagExpirationSeconds: 604800 };
    expect(await provider.diff(name, read.props!, changed as never)).toMatchObject({ changes: true, replaces: undefined });
    await provider.update(name, read.props!, changed as never);
    expect(quay.emulator.counter.writes()).toBe(1);
    expect((await provider.read(name, changed as never)).props?.tagExpirationSeconds).toBe(604800);

    expect((await provider.diff(name, read.props!, props(uniqueName("other")) as never)).replaces).toEqual(["name"]);

    await provider.delete(name, changed as never);
    expect(await provider.read(name, changed as never)).toEqual({});
    await expect(provider.delete(name, changed as never)).resolves.toBeUndefined();
  });

  it("refuses an existing organization unless asked to adopt it", async () => {
    const name = uniqueName("adopt");
    await quay.admin.post("/api/v1/organization/", { name });
    await expect(provider.create(props(name) as never)).rejects.toThrow(/already exists.*adopt: true/s);
    const adopted = await provider.create(props(name, { adopt: true }) as never);
    expect(adopted.id).toBe(name);
  });

  it("re-creating a just-deleted organization waits out Quay's name lock", async () => {
    const name = uniqueName("lock");
    await provider.create(props(name) as never);
    await provider.delete(name, props(name) as never);
    const started = Date.now();
    await provider.create(props(name) as never);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it("a name Quay keeps locked past the wait fails within the bound, saying it is Quay's GC of the deleted organization", async () => {
    const name = uniqueName("gclock");
    const settings = (orgNameLockMs: number) =>
      fetch(`${quay.emulator.url}/__emulator/settings`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ orgNameLockMs }) });
    await provider.create(props(name) as never);
    // A Quay whose namespace GC worker is slow (or not running): the name stays locked for 10 minutes.
    await settings(600_000);
    process.env.QUAY_NAME_LOCK_WAIT_SECONDS = "3";
    try {
      await provider.delete(name, props(name) as never);
      quay.emulator.counter.reset();
      const started = Date.now();
      const failure = await provider.create(props(name) as never).then(
        () => undefined,
        (e: Error) => e,
      );
      const took = Date.now() - started;
      expect(failure?.message).toMatch(new RegExp(`"${name}" cannot be created yet: Quay still locks the name`));
      expect(failure?.message).toMatch(/garbage collection of the deleted organization/);
      expect(failure?.message).toMatch(/Run `pulumi up` again later/);
      expect(failure?.message).toMatch(/Username is not available/);
      // Waited about the bound (3 s), not Quay's lock (10 min) nor the old 300 s; a few POSTs, not hundreds.
      expect(took).toBeGreaterThanOrEqual(1_500);
      expect(took).toBeLessThan(8_000);
      const posts = quay.emulator.counter.snapshot()["POST /api/v1/organization/"];
      expect(posts).toBeGreaterThanOrEqual(2);
      expect(posts).toBeLessThanOrEqual(4);
      // With no wait at all, the first refusal is the answer.
      process.env.QUAY_NAME_LOCK_WAIT_SECONDS = "0";
      quay.emulator.counter.reset();
      await expect(provider.create(props(name) as never)).rejects.toThrow(/Quay still locks the name/);
      expect(quay.emulator.counter.snapshot()["POST /api/v1/organization/"]).toBe(1);
    } finally {
      delete process.env.QUAY_NAME_LOCK_WAIT_SECONDS;
      await settings(1_500);
    }
  });

  it("a token change is an in-place update that calls nothing", async () => {
    const name = uniqueName("tok");
    const created = await provider.create(props(name) as never);
    const rotated = { ...props(name), connection: { ...quay.connection, token: "a-new-token" } };
    expect(await provider.diff(name, created.outs!, rotated as never)).toMatchObject({ changes: true, replaces: undefined });
    quay.emulator.counter.reset();
    await provider.update(name, created.outs!, rotated as never);
    expect(quay.emulator.counter.total()).toBe(0);
  });

  it("read and delete keep working after the stored token was revoked, given QUAY_TOKEN or quay:token", async () => {
    const name = uniqueName("rot");
    const created = await provider.create(props(name) as never);
    const revoked = { ...created.outs!, connection: { ...quay.connection, token: "REVOKED0000000000000000000000000000000000" } };
    await expect(provider.read(name, revoked)).rejects.toThrow(/token was rejected.*QUAY_TOKEN.*quay:token/s);

    process.env.QUAY_TOKEN = quay.connection.token;
    try {
      expect((await provider.read(name, revoked)).id).toBe(name);
    } finally {
      delete process.env.QUAY_TOKEN;
    }

    const fresh = new OrganizationProvider();
    await fresh.configure({ config: { get: (k: string) => (k === "quay:token" ? quay.connection.token : undefined), require: () => "" } } as never);
    expect((await fresh.read(name, revoked)).id).toBe(name);
    await fresh.delete(name, revoked);
    expect(await fresh.read(name, revoked)).toEqual({});
  });

  it("refuses to delete an organization that still holds repositories, unless QUAY_MIRROR_DELETE_REPOSITORIES names it or it is a proxy cache", async () => {
    const name = uniqueName("held");
    await provider.create(props(name) as never);
    for (const repository of ["openshift/release", "ubi9"]) {
      await quay.admin.post("/api/v1/repository", { namespace: name, repository, visibility: "private", description: "", repo_kind: "image" });
    }
    quay.emulator.counter.reset();
    const refused = await provider.delete(name, props(name) as never).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(refused?.message).toMatch(new RegExp(`quay:Organization ${name}: not deleted, because deleting an organization deletes every repository in it and ${name} still holds 2 repositories \\(${name}/openshift/release, ${name}/ubi9\\)`));
    expect(refused?.message).toMatch(new RegExp(`QUAY_MIRROR_DELETE_REPOSITORIES=${name} bash scripts/pulumi.sh destroy`));
    expect(quay.emulator.counter.writes()).toBe(0);
    await quay.admin.get(`/api/v1/organization/${name}`);

    // Naming another organization is not consent for this one; naming it (or *) is.
    for (const value of ["other-org", `other-org, ${name}`]) {
      process.env.QUAY_MIRROR_DELETE_REPOSITORIES = value;
      try {
        if (value === "other-org") await expect(provider.delete(name, props(name) as never)).rejects.toThrow(/not deleted/);
        else await provider.delete(name, props(name) as never);
      } finally {
        delete process.env.QUAY_MIRROR_DELETE_REPOSITORIES;
      }
    }
    await expect(quay.admin.get(`/api/v1/organization/${name}`)).rejects.toMatchObject({ status: 404 });

    // A proxy cache's repositories are cached copies: it goes with them, without being told.
    const cache = uniqueName("cache");
    await provider.create(props(cache) as never);
    await quay.admin.post(`/api/v1/organization/${cache}/proxycache`, { org_name: cache, upstream_registry: "192.0.2.10", expiration_s: 86400, insecure: false });
    await quay.admin.post("/api/v1/repository", { namespace: cache, repository: "library/alpine", visibility: "private", description: "", repo_kind: "image" });
    await provider.delete(cache, props(cache) as never);
    await expect(quay.admin.get(`/api/v1/organization/${cache}`)).rejects.toMatchObject({ status: 404 });
  });

  it("survives serialization without capturing a secret and still works", async () => {
    const { provider: loaded, containsSecrets, text } = await roundTripProvider(provider);
    expect(containsSecrets).toBe(false);
    expect(text).not.toContain(quay.connection.token);
    const name = uniqueName("ser");
    const created = await loaded.create(props(name) as never);
    expect((await loaded.read(created.id, created.outs!)).id).toBe(name);
    await loaded.delete(name, created.outs!);
  });
});
