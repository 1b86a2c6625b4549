// The smoke program run the way `pulumi up` runs a project: the CLI starts the Node.js language host
// (pulumi-language-nodejs, built from github.com/pulumi/pulumi/sdk/v3@v3.68.0 by scripts/install-pulumi.sh),
// which starts @pulumi/pulumi's run script on the compiled program. Proves that this old host works with
// CLI v3.259.0 and SDK 3.260.0: create, no-op, drift seen by refresh, repair, destroy, secrets encrypted.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findPlaintext, stepsFor, toolchain, withEngineStack } from "./support/engine";

const FILE_TYPE = "pulumi-nodejs:dynamic/smoke:File";

describe("engine smoke in local mode (CLI + pulumi-language-nodejs)", () => {
    let dir: string;

    beforeAll(() => {
        const tc = toolchain();
        if (!tc.hasLanguageHost) {
            throw new Error(`pulumi-language-nodejs not found in ${tc.binDir}: run scripts/install-pulumi.sh`);
        }
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-smoke-local-"));
    });

    afterAll(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    test("up, no-op up, drift via refresh, repair, destroy; no plaintext secret", async () => {
        const token = `tok-${crypto.randomBytes(12).toString("hex")}`;
        const file = path.join(dir, "greeting.txt");

        await withEngineStack({ program: "smoke", mode: "local", config: { dir }, secrets: { token } }, async (stack) => {
            expect(stack.mode).toBe("local");

            const pre = await stack.preview();
            expect(stepsFor(pre, "greeting", FILE_TYPE).map((s) => s.op)).toEqual(["create"]);
            expect(fs.existsSync(file)).toBe(false);

            const up1 = await stack.up();
            expect(stepsFor(up1, "greeting", FILE_TYPE).map((s) => s.op)).toEqual(["create"]);
            expect(up1.summary.create).toBe(2);
            expect(fs.readFileSync(file, "utf8")).toBe("hello from quay-mirror\n");
            expect(up1.outputs.path.value).toBe(file);
            expect(up1.outputs.token).toEqual({ value: token, secret: true });
            // The program really ran under the CLI's language host, not in this process.
            expect(up1.stdout + up1.stderr).not.toContain("--client");

            const up2 = await stack.up();
            expect(up2.summary).toEqual({ same: 2 });

            fs.writeFileSync(file, "edited by hand\n");
            const refreshed = await stack.refresh();
            expect(refreshed.summary.update).toBe(1);
            const again = await stack.preview();
            expect(stepsFor(again, "greeting", FILE_TYPE).map((s) => s.op)).toEqual(["update"]);
            const repair = await stack.up();
            expect(repair.summary.update).toBe(1);
            expect(fs.readFileSync(file, "utf8")).toBe("hello from quay-mirror\n");

            const state = await stack.exportState();
            expect(findPlaintext(state, token)).toEqual([]);
            expect(findPlaintext(await stack.exportState({ showSecrets: true }), token).length).toBeGreaterThan(0);

            const destroyed = await stack.destroy();
            expect(destroyed.summary.delete).toBe(2);
            expect(fs.existsSync(file)).toBe(false);
        });
    }, 600_000);
});
