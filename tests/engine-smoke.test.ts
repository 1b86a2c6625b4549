// End-to-end smoke test of the real engine: tests/programs/smoke declares one dynamic resource that keeps a
// file in a temporary directory. Proves create, no-op update, drift found by refresh and preview, repair,
// destroy, and that a secret config value never reaches the exported state in plain text.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findPlaintext, stepsFor, toolchain, withEngineStack } from "./support/engine";

const FILE_TYPE = "pulumi-nodejs:dynamic/smoke:File";

describe("engine smoke (real pulumi CLI, file backend)", () => {
    let dir: string;

    beforeAll(() => {
        toolchain(); // fails fast with "run scripts/install-pulumi.sh" when the engine is missing
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-smoke-"));
    });

    afterAll(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    test("up, no-op up, drift via refresh and preview, repair, destroy; no plaintext secret", async () => {
        const token = `tok-${crypto.randomBytes(12).toString("hex")}`;
        const file = path.join(dir, "greeting.txt");

        await withEngineStack({ program: "smoke", config: { dir }, secrets: { token } }, async (stack) => {
            // First up creates the stack and the file.
            const up1 = await stack.up();
            expect(stepsFor(up1, "greeting", FILE_TYPE).map((s) => s.op)).toEqual(["create"]);
            expect(up1.summary.create).toBe(2); // the stack and the file
            expect(fs.readFileSync(file, "utf8")).toBe("hello from quay-mirror\n");
            expect(up1.outputs.path.value).toBe(file);
            expect(up1.outputs.token).toEqual({ value: token, secret: true });

            // A second up with nothing changed does nothing.
            const up2 = await stack.up();
            expect(up2.summary).toEqual({ same: 2 });
            expect(stepsFor(up2, "greeting").every((s) => s.op === "same")).toBe(true);

            // Drift: someone edits the file. Preview alone does not read the world...
            fs.writeFileSync(file, "edited by hand\n");
            const quiet = await stack.preview();
            expect(quiet.summary).toEqual({ same: 2 });

            // ...a preview-only refresh reports the change without recording it...
            const peek = await stack.refresh(true);
            expect(peek.summary.update).toBe(1);
            expect((await stack.resources())[0].outputs?.content).toBe("hello from quay-mirror\n");

            // ...refresh reads it back and reports the change...
            const refreshed = await stack.refresh();
            expect(refreshed.summary.update).toBe(1);
            expect(stepsFor(refreshed, "greeting", FILE_TYPE).length).toBeGreaterThan(0);
            const drifted = await stack.resources();
            expect(drifted).toHaveLength(1);
            expect(drifted[0].outputs?.content).toBe("edited by hand\n");

            // ...after which preview plans an update back to the desired content, and up applies it.
            const pre = await stack.preview();
            expect(stepsFor(pre, "greeting", FILE_TYPE).map((s) => s.op)).toEqual(["update"]);
            expect(pre.summary.update).toBe(1);
            const repair = await stack.up();
            expect(repair.summary.update).toBe(1);
            expect(fs.readFileSync(file, "utf8")).toBe("hello from quay-mirror\n");

            // A deleted file is dropped from state by refresh and created again by up.
            fs.rmSync(file);
            const gone = await stack.refresh();
            expect(gone.summary.delete).toBe(1);
            expect(await stack.resources()).toHaveLength(0);
            const recreate = await stack.up();
            expect(recreate.summary.create).toBe(1);
            expect(fs.existsSync(file)).toBe(true);

            // The secret is in state only encrypted: config, input, output and stack output alike.
            const state = await stack.exportState();
            expect(findPlaintext(state, token)).toEqual([]);
            const json = JSON.stringify(state);
            expect(json).toContain("4dabf18193072939515e22adb298388d"); // the secret signature key
            expect(json).toContain("hello from quay-mirror"); // a sanity check that the search sees plain values
            expect(findPlaintext(state, "hello from quay-mirror").length).toBeGreaterThan(0);
            // (and the decrypted export does hold it, so the search above would have found it)
            expect(findPlaintext(await stack.exportState({ showSecrets: true }), token).length).toBeGreaterThan(0);

            // Destroy removes the file and every resource.
            const destroyed = await stack.destroy();
            expect(destroyed.summary.delete).toBe(2);
            expect(fs.existsSync(file)).toBe(false);
            expect(await stack.resources(false)).toEqual([]);
        });
    }, 600_000);

    test("the harness cleans up when the test body fails", async () => {
        let workDir = "";
        let stateDir = "";
        await expect(
            withEngineStack({ program: "smoke", config: { dir: path.join(dir, "cleanup") }, secrets: { token: "x-secret" } }, async (stack) => {
                workDir = stack.workDir;
                stateDir = stack.stateDir;
                await stack.up();
                expect(fs.existsSync(path.join(dir, "cleanup", "greeting.txt"))).toBe(true);
                throw new Error("boom");
            }),
        ).rejects.toThrow("boom");
        expect(fs.existsSync(path.join(dir, "cleanup", "greeting.txt"))).toBe(false); // destroyed
        expect(fs.existsSync(workDir)).toBe(false);
        expect(fs.existsSync(stateDir)).toBe(false);
    }, 300_000);
});
