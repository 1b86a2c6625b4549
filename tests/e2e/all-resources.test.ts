// Issue "Dynamic providers", through the real engine: one of each resource against the emulator.
import * as crypto from "crypto";
import { uniqueName } from "../support/quay";
import { findPlaintext, stepsFor, withEngineStack } from "../support/engine";
import { engineSuiteOnEmulator } from "../support/engine-suite";

describe("every Quay resource through the real engine", () => {
  const suite = engineSuiteOnEmulator();

  test("up creates all, a second up changes nothing and writes nothing, drift shows and is repaired, destroy cleans up; no secret in state", async () => {
    const prefix = uniqueName("e");
    const userPassword = `pw-${crypto.randomBytes(12).toString("hex")}`;
    await withEngineStack(
      {
        program: "all-resources",
        config: { "test:endpoint": suite.quay.emulator.url, "test:prefix": prefix },
        secrets: { "test:token": suite.quay.connection.token, "test:userPassword": userPassword },
      },
      async (stack) => {
        const up = await stack.up();
        const created = up.steps.filter((s) => s.op === "create" && s.type.startsWith("pulumi-nodejs:dynamic/quay:")).map((s) => s.type.split(":").pop());
        expect(created.sort()).toEqual(
          ["ApiToken", "DefaultPermission", "NamespaceReadGrant", "Organization", "Organization", "ProxyCache", "Repository", "RepositoryPermission", "RobotAccount", "Team", "User"].sort(),
        );

        suite.quay.emulator.counter.reset();
        const again = await stack.up();
        expect(Object.keys(again.summary)).toEqual(["same"]);
        expect(suite.quay.emulator.counter.writes()).toBe(0);

        // Out of band: someone edits the repository description in the UI.
        await suite.quay.admin.put(`/api/v1/repository/${prefix}rel/openshift/release-images`, { description: "edited in the UI" });
        // `pulumi preview --refresh` plans exactly one change: putting that description back.
        const drift = await stack.preview({ refresh: true });
        const planned = drift.steps.filter((s) => s.op !== "same" && s.op !== "refresh" && s.type.startsWith("pulumi-nodejs:"));
        expect(planned.map((s) => `${s.op} ${s.name}`)).toEqual(["update repo"]);
        expect(drift.summary.update).toBe(1);
        await stack.refresh();
        const plan = await stack.preview();
        expect(plan.steps.filter((s) => s.op === "update").map((s) => s.name)).toEqual(["repo"]);
        const repair = await stack.up();
        expect(stepsFor(repair, "repo").map((s) => s.op)).toContain("update");
        const { body } = await suite.quay.admin.get<{ description: string }>(`/api/v1/repository/${prefix}rel/openshift/release-images`);
        expect(body.description).toBe("release payloads");

        const state = await stack.exportState();
        const robotToken = up.outputs.robotToken.value as string;
        expect(up.outputs.robotToken.secret).toBe(true);
        expect(robotToken).toMatch(/^[A-Z0-9]{64}$/);
        for (const secret of [suite.quay.connection.token, userPassword, robotToken]) {
          expect(findPlaintext(state, secret)).toEqual([]);
        }
        const apiToken = up.outputs.apiToken;
        expect(apiToken.secret).toBe(true);
        expect(findPlaintext(state, apiToken.value as string)).toEqual([]);

        await stack.destroy();
        expect(await suite.quay.admin.get(`/api/v1/organization/${prefix}rel`).catch((e) => e.status)).toBe(404);
      },
    );
  });
});
