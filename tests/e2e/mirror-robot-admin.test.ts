// Issue 14 point 5, through the real engine: Quay makes the creator of a repository its admin, so every
// repository oc-mirror creates by pushing as the mirror robot gives the robot `admin`. `preview --refresh`
// must show it (drift on the grant of `write`), `up` must take it back to `write`, and a no-op preview or up
// afterwards must cost nothing.
import { uniqueName } from "../support/quay";
import { grantedActions } from "../support/registry";
import { withEngineStack } from "../support/engine";
import { engineSuiteOnEmulator } from "../support/engine-suite";

// Four engine operations and two refreshes: above the default 60 s on a loaded machine.
jest.setTimeout(300_000);

describe("mirror robot: the admin Quay gives a repository's creator", () => {
  const suite = engineSuiteOnEmulator();

  test("preview --refresh shows the robot's admin on the repositories it pushed, up sets write, a second up writes nothing", async () => {
    const prefix = uniqueName("m");
    await withEngineStack(
      { program: "mirror-robot-grant", config: { "test:endpoint": suite.quay.emulator.url, "test:prefix": prefix }, secrets: { "test:token": suite.quay.connection.token } },
      async (stack) => {
        const up = await stack.up();
        const robot = up.outputs.robotName.value as string;
        const credential = { username: robot, password: up.outputs.robotToken.value as string };
        const org = `${prefix}mirror`;
        const roleOf = async (repo: string) =>
          (await suite.quay.admin.get<{ permissions: Record<string, { role: string }> }>(`/api/v1/repository/${org}/${repo}/permissions/user/`)).body.permissions[robot]?.role;
        expect(await roleOf("openshift/seeded")).toBe("write");

        // oc-mirror pushes as the robot: Quay creates each repository at the push-scope token request and
        // records the robot as admin of it.
        const pushed = ["openshift/release", "openshift/release-images"];
        for (const repo of pushed) {
          expect(await grantedActions(suite.quay.emulator.url, "quay.v7.comptech-lab.com", credential, `${org}/${repo}`)).toEqual(["pull", "push"]);
          expect(await roleOf(repo)).toBe("admin");
        }

        // A plain preview reads nothing (docs/performance.md) and so cannot see it.
        suite.quay.emulator.counter.reset();
        const blind = await stack.preview();
        expect(Object.keys(blind.summary)).toEqual(["same"]);
        expect(suite.quay.emulator.counter.total()).toBe(0);

        // `preview --refresh` (what the pull-request workflow runs) plans exactly one change: the grant,
        // naming the repositories and the role the robot holds there.
        const drift = await stack.preview({ refresh: true });
        const planned = drift.steps.filter((s) => s.op !== "same" && s.op !== "refresh" && s.type.startsWith("pulumi-nodejs:"));
        expect(planned.map((s) => `${s.op} ${s.name}`)).toEqual(["update grant"]);
        expect(suite.quay.emulator.counter.writes()).toBe(0);
        expect(drift.stdout).toContain("wrongRoles");
        for (const repo of pushed) expect(drift.stdout).toContain(`${org}/${repo}`);

        // The gated up refreshes first (.github/workflows/pulumi-up.yml), then updates only the grant.
        await stack.refresh();
        const repair = await stack.up();
        expect(repair.steps.filter((s) => s.op === "update").map((s) => s.name)).toEqual(["grant"]);
        for (const repo of [...pushed, "openshift/seeded"]) expect(await roleOf(repo)).toBe("write");
        // The robot still pushes where it now holds write.
        expect(await grantedActions(suite.quay.emulator.url, "quay.v7.comptech-lab.com", credential, `${org}/${pushed[0]}`)).toEqual(["pull", "push"]);

        // Converged: a refresh finds nothing to do, and a no-op up makes no API call at all.
        const clean = await stack.preview({ refresh: true });
        expect(clean.steps.filter((s) => s.op !== "same" && s.op !== "refresh" && s.type.startsWith("pulumi-nodejs:"))).toEqual([]);
        await stack.refresh();
        suite.quay.emulator.counter.reset();
        const again = await stack.up();
        expect(Object.keys(again.summary)).toEqual(["same"]);
        expect(suite.quay.emulator.counter.total()).toBe(0);
      },
    );
  });
});
