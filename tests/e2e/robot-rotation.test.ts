// Rotating a robot's token from the model file: `rotateToken` changes → the next `up` regenerates the token
// in place (the robot, its team memberships and permissions stay), the outputs carry the new token, and the
// old one stops working. Real engine, the program in existing-registry mode, the emulator as Quay.
import * as fs from "fs";
import * as path from "path";
import { Credential, grantedActions } from "../support/registry";
import { repoRoot, withEngineStack } from "../support/engine";
import { engineSuiteOnEmulator } from "../support/engine-suite";

jest.setTimeout(600_000);

const HOST = "quay.v7.comptech-lab.com";
const ROBOT = "platform+ci_push";

describe("robot token rotation through the model file", () => {
  const suite = engineSuiteOnEmulator({ tempPrefix: "qm-rotate-" });

  test("changing rotateToken updates only that robot, hands out a working new token and revokes the old one", async () => {
    const model = JSON.parse(fs.readFileSync(path.join(repoRoot, "data/quay/bootstrap-model.json"), "utf8")) as { robots: Array<Record<string, unknown>> };
    delete (model as Record<string, unknown>).$schema;
    const modelFile = path.join(suite.dir, "model.json");
    const writeModel = (rotateToken?: string) => {
      for (const r of model.robots) if (`${r.organization}+${r.name}` === ROBOT) r.rotateToken = rotateToken;
      fs.writeFileSync(modelFile, JSON.stringify(model, null, 2));
    };
    writeModel(undefined);
    await withEngineStack(
      {
        program: "lab",
        config: {
          "quay-mirror:mode": "existing",
          "quay-mirror:apiUrl": suite.quay.emulator.url,
          "quay-mirror:registryHostname": HOST,
          "quay-mirror:modelFile": modelFile,
        },
        secrets: { "quay:token": suite.quay.connection.token },
      },
      async (stack) => {
        const first = await stack.up();
        const before = (first.outputs.robotCredentials.value as Record<string, Credential>)[ROBOT];
        expect(await grantedActions(suite.quay.emulator.url, HOST, before, "platform/smoke")).toEqual(["pull", "push"]);

        writeModel("2026-11-22");
        const preview = await stack.preview();
        const updates = preview.steps.filter((s) => s.op === "update").map((s) => s.urn.split("::").pop());
        expect(updates).toEqual([`mirror-model-robot-${ROBOT}`]);
        expect(preview.steps.filter((s) => s.op === "replace" || s.op === "create-replacement" || s.op === "delete")).toEqual([]);

        suite.quay.emulator.counter.reset();
        const rotated = await stack.up();
        expect(rotated.summary.update).toBe(1);
        const after = (rotated.outputs.robotCredentials.value as Record<string, Credential>)[ROBOT];
        expect(after.username).toBe(ROBOT);
        expect(after.password).not.toBe(before.password);
        // One write: the regenerate call.
        expect(suite.quay.emulator.counter.writes()).toBe(1);
        expect(await grantedActions(suite.quay.emulator.url, HOST, after, "platform/smoke")).toEqual(["pull", "push"]);
        await expect(grantedActions(suite.quay.emulator.url, HOST, before, "platform/smoke")).rejects.toThrow(/401/);

        // Converged: the same value again changes nothing.
        const again = await stack.up();
        expect(Object.keys(again.summary)).toEqual(["same"]);
      },
    );
  });
});
