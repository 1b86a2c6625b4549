import { RobotAccountProvider } from "../../providers/quay/robot";
import { QuayFixture, roundTripProvider, startQuay, uniqueName } from "../support/quay";

describe("quay:RobotAccount provider against the emulator", () => {
  let quay: QuayFixture;
  let org: string;
  const provider = RobotAccountProvider.instance;

  beforeAll(async () => {
    quay = await startQuay();
    org = uniqueName("robots");
    await quay.admin.post("/api/v1/organization/", { name: org });
  });
  afterAll(async () => quay.close());
  afterEach(() => quay.emulator.faults.clear());

  const props = (name: string, extra: Record<string, unknown> = {}) =>
    ({ connection: quay.connection, namespace: org, name, description: "", ...extra }) as never;

  it("check rejects names Quay rejects", async () => {
    expect((await provider.check(props("x"), props("Bad-Name"))).failures?.[0]).toMatchObject({ property: "name" });
    expect((await provider.check(props("x"), props("ok", { description: "x".repeat(256) }))).failures?.[0]).toMatchObject({ property: "description" });
    expect((await provider.check(props("x"), props("ocp_mirror"))).failures).toBeUndefined();
  });

  it("creates a robot with a working token, rotates it in place, and deletes it", async () => {
    const created = await provider.create(props("ocp_mirror", { description: "pushes release payloads" }));
    expect(created.id).toBe(`${org}+ocp_mirror`);
    expect(created.outs?.token).toMatch(/^[A-Z0-9]{64}$/);
    const read = await provider.read(created.id, created.outs!);
    expect(read.props?.token).toBe(created.outs?.token);
    expect((await provider.diff(created.id, read.props!, props("ocp_mirror", { description: "pushes release payloads" }))).changes).toBe(false);

    // Quay cannot change a robot's description: no diff, no call.
    expect((await provider.diff(created.id, read.props!, props("ocp_mirror", { description: "changed" }))).changes).toBe(false);

    quay.emulator.counter.reset();
    const rotated = props("ocp_mirror", { description: "pushes release payloads", rotateToken: "2026-11" });
    expect((await provider.diff(created.id, read.props!, rotated)).changes).toBe(true);
    const updated = await provider.update(created.id, read.props!, rotated);
    expect(quay.emulator.counter.writes()).toBe(1);
    expect(updated.outs?.token).not.toBe(created.outs?.token);
    expect((await provider.read(created.id, updated.outs!)).props?.token).toBe(updated.outs?.token);

    expect((await provider.diff(created.id, read.props!, props("other"))).replaces).toEqual(["name"]);
    await provider.delete(created.id, created.outs!);
    expect(await provider.read(created.id, created.outs!)).toEqual({});
    // Quay answers 400 "Could not find robot" for a robot that is gone: that is success here.
    await expect(provider.delete(created.id, created.outs!)).resolves.toBeUndefined();
  });

  it("reports a token regenerated behind Pulumi's back", async () => {
    const created = await provider.create(props("ci_push"));
    const { body } = await quay.admin.post<{ token: string }>(`/api/v1/organization/${org}/robots/ci_push/regenerate`);
    expect((await provider.read(created.id, created.outs!)).props?.token).toBe(body.token);
  });

  it("adopts an existing robot only when asked, keeping its token", async () => {
    const { body } = await quay.admin.put<{ token: string }>(`/api/v1/organization/${org}/robots/seeded`, { description: "old script" });
    await expect(provider.create(props("seeded"))).rejects.toThrow(/already exists.*adopt: true/s);
    const adopted = await provider.create(props("seeded", { adopt: true }));
    expect(adopted.outs?.token).toBe(body.token);
  });

  it("a retried create after an ambiguous failure looks before it writes again", async () => {
    // The first PUT is applied but its answer is lost (reset after Quay acted, or a 502 from the proxy).
    quay.emulator.faults.add({ method: "PUT", path: new RegExp(`/robots/flaky$`), status: 502, count: 1 });
    const created = await provider.create(props("flaky"));
    expect(created.outs?.token).toMatch(/^[A-Z0-9]{64}$/);
    const { body } = await quay.admin.get<{ robots: Array<{ name: string }> }>(`/api/v1/organization/${org}/robots`, { query: { token: "false" } });
    expect(body.robots.filter((r) => r.name === `${org}+flaky`)).toHaveLength(1);
  });

  it("survives serialization without capturing a secret", async () => {
    const { provider: loaded, containsSecrets, text } = await roundTripProvider(provider);
    expect(containsSecrets).toBe(false);
    expect(text).not.toContain(quay.connection.token);
    const created = await loaded.create(props("serialized"));
    expect(created.outs?.token).toBeTruthy();
  });
});
