// The verify command (scripts/verify.ts, compiled) against a stack the real engine brought up against the
// emulator in existing-registry mode: after `up` every line is ok (the host lines say skip, and why), and it
// wrote nothing (the emulator's write counter); after drift made behind Pulumi's back (a robot deleted,
// permissions removed) it exits 1 and names each; no secret is ever printed.
import * as path from "path";
import { credentialFromDockerConfig } from "../support/registry";
import { repoRoot, withEngineStack } from "../support/engine";
import { Verified, runVerifyCommand } from "../support/verify";
import { engineSuiteOnEmulator, existingLabConfig } from "../support/engine-suite";

const HOST = "quay.v7.comptech-lab.com";
const checks = (v: Verified) => v.checks;

describe("verify against a stack the engine applied (existing-registry mode, emulator)", () => {
  const suite = engineSuiteOnEmulator({ tempPrefix: "qm-verify-" });

  test("all ok and no write after up; drift makes it exit 1 naming each object; host checks skipped and said so; no secret printed", async () => {
    await withEngineStack(
      {
        program: "lab",
        config: existingLabConfig(suite.quay, HOST, {
          "quay-mirror:proxyCaches": JSON.stringify({ upstreams: ["192.0.2.10"], expirationSeconds: 86400 }),
          "quay-mirror:mirrorMappings": JSON.stringify([{ file: path.join(repoRoot, "data/oc-mirror/mapping.txt"), organization: "openshift-operators" }]),
        }),
        secrets: { "quay:token": suite.quay.connection.token },
      },
      async (stack) => {
        const up = await stack.up();
        const robots = up.outputs.robotCredentials.value as Record<string, { username: string; password: string }>;
        const pullUser = credentialFromDockerConfig(up.outputs.pullSecret.value as string, HOST);
        const secrets = [suite.quay.connection.token, pullUser.password, ...Object.values(robots).map((r) => r.password)];

        // 1. Right after up: every check holds, and verify wrote nothing.
        suite.quay.emulator.counter.reset();
        const good = await runVerifyCommand(stack, { registryUrl: suite.quay.emulator.url });
        const counts = suite.quay.emulator.counter.snapshot();
        expect(suite.quay.emulator.counter.writes()).toBe(0);
        // It did read: the model's objects and the token grants.
        expect(counts["GET /v2/auth"]).toBeGreaterThan(10);
        expect(Object.keys(counts).some((k) => k.startsWith("GET /api/v1/organization/"))).toBe(true);
        expect({ code: good.code, fails: checks(good).filter((l) => l.startsWith("FAIL")) }).toEqual({ code: 0, fails: [] });
        expect(good.stdout).toMatch(/^verify: stack .* \(mode existing\)$/m);
        // Host checks: skipped, saying why; backups too. Nothing else is skipped.
        const skipped = checks(good).filter((l) => l.startsWith("skip"));
        expect(skipped).toEqual([expect.stringMatching(/^skip host: .*existing mode/), expect.stringMatching(/^skip backups: .*existing mode/)]);
        // One line per declared object and per access rule.
        for (const line of [
          new RegExp(`^ok   discovery: ${HOST.replace(/\./g, "\\.")} \\(.*\\) /api/v1/discovery$`, "m"),
          new RegExp(`^ok   discovery: ${HOST.replace(/\./g, "\\.")} \\(.*\\) GET /v2/ asks for a Quay token$`, "m"),
          /^ok   model: organization openshift-release$/m,
          /^ok   model: robot platform\+read_only$/m,
          /^ok   model: robot golden-images\+read_only$/m,
          /^ok   model: team openshift-release\/mirror-creators \(creator; members openshift-release\+ocp_mirror\)$/m,
          /^ok   model: repository platform\/smoke \(private\)$/m,
          /^ok   model: default permission robot platform\+ci_push write in platform$/m,
          /^ok   model: grant robot platform\+ci_push write on every repository of platform$/m,
          /^ok   model: grant user ocp_cluster_pull read on every repository of openshift-release, openshift-operators$/m,
          /^ok   model: proxy cache cache_192_0_2_10 → 192\.0\.2\.10$/m,
          /^ok   model: user ocp_cluster_pull$/m,
          /^ok   model: pre-seeded repositories of openshift-operators \(\d+\)$/m,
          /^ok   access: mirror robot openshift-release\+ocp_mirror may push to openshift-release — push granted on all \d+ repositories$/m,
          /^ok   access: mirror robot openshift-operators\+ocp_mirror may not push outside openshift-operators — push denied in \d+ other organizations/m,
          /^ok   access: pull user ocp_cluster_pull may pull every repository of openshift-operators — \d+ repositories$/m,
        ]) {
          expect(good.stdout).toMatch(line);
        }
        expect(good.stdout).toMatch(/^verify: \d+ ok, 0 FAIL, 2 skip$/m);
        for (const s of secrets) expect(`${good.stdout}${good.stderr}`).not.toContain(s);

        // 2. Drift behind Pulumi's back: a robot deleted, the pull user's read and a robot's write removed.
        await suite.quay.admin.delete("/api/v1/organization/golden-images/robots/read_only");
        await suite.quay.admin.delete("/api/v1/repository/openshift-release/release-images/permissions/user/ocp_cluster_pull");
        await suite.quay.admin.delete("/api/v1/repository/platform/smoke/permissions/user/platform+ci_push");
        suite.quay.emulator.counter.reset();
        const drifted = await runVerifyCommand(stack, { registryUrl: suite.quay.emulator.url });
        expect(suite.quay.emulator.counter.writes()).toBe(0);
        expect(drifted.code).toBe(1);
        const fails = checks(drifted).filter((l) => l.startsWith("FAIL"));
        expect(fails).toEqual(
          expect.arrayContaining([
            expect.stringMatching(/^FAIL model: robot golden-images\+read_only — missing in Quay \(deleted outside Pulumi\)/),
            expect.stringMatching(/^FAIL model: grant user ocp_cluster_pull read on every repository of .* — lacking on 1 repository: openshift-release\/release-images/),
            expect.stringMatching(/^FAIL model: grant robot platform\+ci_push write on every repository of platform — lacking on 1 repository: platform\/smoke/),
            expect.stringMatching(/^FAIL access: pull user ocp_cluster_pull may pull every repository of openshift-release — pull denied on 1 of \d+: openshift-release\/release-images$/),
          ]),
        );
        // Only what drifted fails (the deleted robot takes its own grant and default permission with it).
        for (const f of fails) expect(f).toMatch(/golden-images\+read_only|ocp_cluster_pull|platform\+ci_push/);
        expect(drifted.stdout).toMatch(/^verify: \d+ ok, [1-9]\d* FAIL, 2 skip$/m);
        for (const s of secrets) expect(`${drifted.stdout}${drifted.stderr}`).not.toContain(s);

        // 3. `up` repairs it, and verify says so.
        await stack.refresh();
        await stack.up();
        const repaired = await runVerifyCommand(stack, { registryUrl: suite.quay.emulator.url });
        expect({ code: repaired.code, fails: checks(repaired).filter((l) => l.startsWith("FAIL")) }).toEqual({ code: 0, fails: [] });
      },
    );
  }, 600_000);
});
