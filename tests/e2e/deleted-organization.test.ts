// Issue 15, through the real engine: organizations deleted by hand in Quay, behind Pulumi's back.
// Quay answers 403 (not 404) for every object of a missing namespace, and keeps a deleted namespace's name
// locked until its namespace GC worker has run. `preview --refresh` must plan the re-creation (no 403),
// `up --refresh` must wait out a short lock and re-create everything, or fail within its bound with a
// message that names Quay's garbage collection when the lock outlasts the wait; a second `up` writes nothing.
import { apiPath } from "../../providers/quay/client";
import { uniqueName } from "../support/quay";
import { OperationReport, withEngineStack } from "../support/engine";
import { engineSuiteOnEmulator } from "../support/engine-suite";

jest.setTimeout(600_000);

/** How long the providers wait for a locked name in this test (QUAY_NAME_LOCK_WAIT_SECONDS). */
const WAIT_S = 25;

describe("organizations deleted behind Pulumi's back", () => {
  const suite = engineSuiteOnEmulator({ quay: { orgNameLockMs: 3_000 } });

  const settings = (body: Record<string, unknown>) =>
    fetch(`${suite.quay.emulator.url}/__emulator/settings`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const planned = (report: OperationReport) =>
    report.steps.filter((s) => s.op !== "same" && s.op !== "refresh" && s.type.startsWith("pulumi-nodejs:")).map((s) => `${s.op} ${s.name}`).sort();
  // Every object in the two organizations. The NamespaceReadGrant is not one of them: it is a namespace-wide
  // rule that reads as "nothing to grant" in a missing namespace and stays (the re-created repository gets
  // the robot's role from the default permission and its explicit permission).
  const everything = ["apps", "cache", "cache-config", "creators", "deployer", "proto", "release", "release-deployer"];

  test("preview --refresh plans the re-creation, up waits out Quay's name lock or fails saying so, a second up writes nothing", async () => {
    const prefix = uniqueName("d");
    const orgs = [`${prefix}apps`, `${prefix}cache`];
    const deleteOrgs = async () => {
      for (const org of orgs) await suite.quay.admin.delete(apiPath`/organization/${org}`);
    };
    await withEngineStack(
      {
        program: "deleted-org",
        config: { "test:endpoint": suite.quay.emulator.url, "test:prefix": prefix },
        secrets: { "test:token": suite.quay.connection.token },
        env: { QUAY_NAME_LOCK_WAIT_SECONDS: String(WAIT_S) },
      },
      async (stack) => {
        const first = await stack.up();
        expect(Object.keys(first.summary)).toEqual(["create"]);
        // The program converges: a refreshing up right after writes nothing.
        suite.quay.emulator.counter.reset();
        expect(Object.keys((await stack.up({ refresh: true })).summary)).toEqual(["same"]);
        expect(suite.quay.emulator.counter.writes()).toBe(0);

        await deleteOrgs();
        // What the lab saw: the robot's read is refused with 403, not 404.
        await expect(suite.quay.admin.get(apiPath`/organization/${orgs[0]}/robots/${"deployer"}`)).rejects.toMatchObject({ status: 403 });

        // A plain preview still costs nothing (and cannot see it).
        suite.quay.emulator.counter.reset();
        const blind = await stack.preview();
        expect(Object.keys(blind.summary)).toEqual(["same"]);
        expect(suite.quay.emulator.counter.total()).toBe(0);

        // preview --refresh: every object reads as gone (no 403 error) and is planned for creation.
        suite.quay.emulator.counter.reset();
        const plan = await stack.preview({ refresh: true });
        expect(planned(plan)).toEqual(everything.map((n) => `create ${n}`));
        expect(suite.quay.emulator.counter.writes()).toBe(0);
        // One existence lookup per missing organization: the organizations' own reads (2), the team's read
        // (it reads its organization), and one shared lookup per organization (2).
        expect(suite.quay.emulator.counter.snapshot()["GET /api/v1/organization/{org}"]).toBeLessThanOrEqual(5);

        // up --refresh with the names still locked for a few seconds (a Quay with its GC worker, sped up):
        // the organizations' creates wait, then everything is re-created.
        // (The first deletion's lock has run out by now: make Quay's state fresh again, then delete.)
        // The lock outlasts the refresh (the provider process starts and reads first), not the wait.
        await settings({ orgNameLockMs: 12_000 });
        for (const org of orgs) await suite.quay.admin.post("/api/v1/organization/", { name: org });
        await deleteOrgs();
        suite.quay.emulator.counter.reset();
        const repaired = await stack.up({ refresh: true });
        expect(repaired.summary.create).toBe(everything.length);
        // Quay refused at least one create of each organization before it took it.
        expect(suite.quay.emulator.counter.snapshot()["POST /api/v1/organization/"]).toBeGreaterThanOrEqual(4);
        const said = repaired.diagnostics.map((d) => `${d.severity}: ${d.message}`).join("\n");
        expect(said).toMatch(/Quay still locks the name of the deleted organization until its garbage collection runs; waited \d+ s of at most 25 s/);
        expect((await suite.quay.admin.get<{ upstream_registry: string }>(apiPath`/organization/${orgs[1]}/proxycache`)).body.upstream_registry).toBe("registry.example.org/library");

        // Converged: a second up writes nothing.
        suite.quay.emulator.counter.reset();
        const again = await stack.up({ refresh: true });
        expect(Object.keys(again.summary)).toEqual(["same"]);
        expect(suite.quay.emulator.counter.writes()).toBe(0);

        // A Quay whose GC worker does not come (a lock far longer than the wait): up fails within the bound,
        // naming Quay's garbage collection and saying to run up again later, not Quay's bare 400.
        await settings({ orgNameLockMs: 3_600_000 });
        await deleteOrgs();
        suite.quay.emulator.counter.reset();
        const t0 = Date.now();
        const failure = await stack.up({ refresh: true }).then(
          () => undefined,
          (e: Error) => e,
        );
        const took = Date.now() - t0;
        expect(failure?.message).toMatch(/Quay still locks the name because a namespace of that name was deleted and Quay's garbage collection of the deleted organization/);
        expect(failure?.message).toMatch(/Run `pulumi up` again later/);
        expect(took).toBeLessThan((WAIT_S + 90) * 1000);
        // Pauses of 2, 4, 8, 10 s: at most 5 POSTs per organization within 25 s, not hundreds.
        expect(suite.quay.emulator.counter.snapshot()["POST /api/v1/organization/"] ?? 0).toBeLessThanOrEqual(2 * 5);

        // Once Quay's GC has run (the emulator's clock moves past the lock), up re-creates it all, and the
        // next up writes nothing.
        await fetch(`${suite.quay.emulator.url}/__emulator/clock`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ advanceMs: 3_700_000 }) });
        const healed = await stack.up({ refresh: true });
        expect(healed.summary.create).toBe(everything.length);
        suite.quay.emulator.counter.reset();
        const last = await stack.up({ refresh: true });
        expect(Object.keys(last.summary)).toEqual(["same"]);
        expect(suite.quay.emulator.counter.writes()).toBe(0);
      },
    );
  });
});
