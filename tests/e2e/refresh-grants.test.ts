// Issue 15 "What a refresh and a destroy say", through the real engine against the emulator with the lab
// model (existing-registry mode):
// - a refresh of unchanged objects shows no change: right after a clean `up`, after an oc-mirror pass (only
//   the real drift, the mirror robot's admin, shows; up repairs it; then nothing), and for a stack whose
//   state was written by the code before this change (a pinned commit, built here);
// - a team's namespace permission covers the repositories that exist, and ones added later without it are
//   shown by a refresh and granted by up.
import { execFile, execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import { QuayFixture } from "../support/quay";
import { grantedActions } from "../support/registry";
import { EngineStack, OperationReport, repoRoot, toolchain, withEngineStack } from "../support/engine";
import { engineSuiteOnEmulator } from "../support/engine-suite";

jest.setTimeout(900_000);

const HOST = "quay.v7.comptech-lab.com";
const QUAY = "pulumi-nodejs:dynamic/quay:";
/** main at the start of this work: NamespaceReadGrant stored the repository list and reported it on every refresh. */
const LEGACY_COMMIT = "5e49728";

/** The resources whose refresh `--diff` prints a change (a `--outputs:--` block under their URN). */
function refreshedWithChanges(stdout: string): string[] {
  const names: string[] = [];
  let urn = "";
  for (const line of stdout.split("\n")) {
    const m = /\[urn=([^\]]+)\]/.exec(line);
    if (m) urn = m[1];
    if (line.includes("--outputs:--")) names.push(urn.slice(urn.lastIndexOf("::") + 2));
  }
  return names;
}

/**
 * What a reviewer sees as a change: planned steps other than `same`, and what `--diff` prints for a refresh
 * (`--outputs:--` blocks, `[diff: …]` markers).
 */
function shownChanges(report: OperationReport): string[] {
  const shown = report.steps.filter((s) => s.type.startsWith("pulumi-nodejs:") && s.op !== "same" && s.op !== "refresh").map((s) => `${s.op} ${s.name}`);
  for (const name of refreshedWithChanges(report.stdout)) shown.push(`refresh ${name}`);
  for (const m of report.stdout.matchAll(/\[diff: [^\]]*\]/g)) shown.push(`stdout: ${m[0]}`);
  return shown;
}

const run = promisify(execFile);

/** GET requests in an emulator counter snapshot. */
const gets = (snapshot: Record<string, number>) => Object.entries(snapshot).filter(([k]) => k.startsWith("GET ")).reduce((n, [, v]) => n + v, 0);

/**
 * The CLI itself, as scripts/pulumi.sh runs it with the language host: `pulumi up` without --skip-preview
 * is two engine deployments (the preview, then the update). The Automation API always skips the preview.
 */
async function cli(stack: EngineStack, args: string[]): Promise<string> {
  const env = { ...process.env, ...(stack as unknown as { envVars: Record<string, string> }).envVars };
  const { stdout, stderr } = await run(path.join(toolchain().binDir, "pulumi"), [...args, "--stack", stack.name, "--non-interactive", "--color", "never"], {
    cwd: stack.workDir,
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  return `${stdout}\n${stderr}`;
}

const plannedSteps = (report: OperationReport) =>
  report.steps.filter((s) => s.type.startsWith(QUAY) && s.op !== "same" && s.op !== "refresh").map((s) => `${s.op} ${s.name}`);

function labConfig(quay: QuayFixture, modelFile: string): Record<string, string> {
  return {
    "quay-mirror:mode": "existing",
    "quay-mirror:apiUrl": quay.emulator.url,
    "quay-mirror:registryHostname": HOST,
    "quay-mirror:modelFile": modelFile,
  };
}

/** Builds the providers of LEGACY_COMMIT into `dir` (bin/providers/…), the way the project's build does. */
function buildLegacyProviders(dir: string): void {
  const archive = execFileSync("git", ["-C", repoRoot, "archive", LEGACY_COMMIT, "providers", "tsconfig.json"]);
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
  const tsconfig = JSON.parse(fs.readFileSync(path.join(dir, "tsconfig.json"), "utf8"));
  tsconfig.include = ["providers/**/*.ts"];
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
  execFileSync(process.execPath, [path.join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", dir], { stdio: "inherit" });
}

describe("refresh of NamespaceReadGrant and team namespace permissions through the real engine", () => {
  const suite = engineSuiteOnEmulator({ tempPrefix: "qm-refresh-grants-" });

  test("clean up → no change on refresh; an oc-mirror pass shows only the mirror robot's admin, up repairs it, then no change; a team namespace permission covers existing and later repositories", async () => {
    const model = JSON.parse(fs.readFileSync(path.join(repoRoot, "data/quay/bootstrap-model.json"), "utf8"));
    const modelFile = path.join(suite.dir, "model.json");
    fs.writeFileSync(modelFile, JSON.stringify(model));
    await withEngineStack({ program: "lab", config: labConfig(suite.quay, modelFile), secrets: { "quay:token": suite.quay.connection.token } }, async (stack) => {
      await stack.up();

      // 1. Right after a clean up: a refresh shows nothing, and `preview --refresh --diff` plans nothing.
      expect(shownChanges(await stack.preview({ refresh: true }))).toEqual([]);
      const onlyRefresh = await stack.refresh(true);
      expect(shownChanges(onlyRefresh)).toEqual([]);
      expect(Object.keys(onlyRefresh.summary).filter((k) => k !== "same")).toEqual([]);

      // 2. An oc-mirror pass: repositories created by pushing as the mirror robot (Quay makes it admin of
      // each; the cluster-pull user's and the robot's default permissions apply).
      const up = await stack.up();
      const robots = up.outputs.robotCredentials.value as Record<string, { username: string; password: string }>;
      const mirror = robots["openshift-operators+ocp_mirror"];
      const pushed = ["appcafe/open-liberty/op1/bundle", "appcafe/open-liberty/op2/bundle"].map((r) => `openshift-operators/${r}`);
      for (const repo of pushed) expect(await grantedActions(suite.quay.emulator.url, HOST, mirror, repo)).toEqual(["pull", "push"]);

      // Only the real drift shows: the mirror robot's grant (admin where write is declared); the cluster-pull
      // user's grant, which holds on the new repositories through its default permission, stays quiet.
      const drift = await stack.preview({ refresh: true });
      const grant = "mirror-model-grant-openshift-operators-robot-openshift-operators+ocp_mirror";
      expect(plannedSteps(drift)).toEqual([`update ${grant}`]);
      expect(refreshedWithChanges(drift.stdout)).toEqual([grant]);
      for (const repo of pushed) expect(drift.stdout).toContain(repo);
      expect(drift.stdout).toContain("wrongRoles");

      // up --refresh (what the gated workflow runs) repairs exactly that, then nothing shows.
      suite.quay.emulator.counter.reset();
      const repair = await stack.up({ refresh: true });
      expect(repair.steps.filter((s) => s.op === "update").map((s) => s.name)).toEqual([grant]);
      expect(suite.quay.emulator.counter.writes()).toBe(2);
      for (const repo of pushed) {
        const { body } = await suite.quay.admin.get<{ permissions: Record<string, { role: string }> }>(`/api/v1/repository/${repo}/permissions/user/`);
        expect(body.permissions[mirror.username].role).toBe("write");
      }
      expect(shownChanges(await stack.preview({ refresh: true }))).toEqual([]);

      // 3. A team namespace permission added to a namespace whose repositories exist (one of them created
      // outside the model): the team, its default permission and its grant are created, and the team holds
      // the role on every repository there.
      await suite.quay.admin.post("/api/v1/repository", { namespace: "platform", repository: "legacy/tool", visibility: "private", description: "" });
      model.teams.push({ organization: "platform", name: "readers", role: "member", description: "platform readers", members: ["platform+read_only"] });
      model.namespacePermissions.push({ organization: "platform", team: "readers", role: "read" });
      fs.writeFileSync(modelFile, JSON.stringify(model));
      const plan = await stack.preview();
      expect(plannedSteps(plan).sort()).toEqual(["create mirror-model-default-platform-team-readers", "create mirror-model-grant-platform-team-readers", "create mirror-model-team-platform-readers"]);
      await stack.up();
      const teamRole = async (repo: string) => {
        const { body } = await suite.quay.admin.get<{ permissions: Record<string, { role: string }> }>(`/api/v1/repository/platform/${repo}/permissions/team/`);
        return body.permissions.readers?.role;
      };
      for (const repo of ["ci-tools", "smoke", "legacy/tool"]) expect(await teamRole(repo)).toBe("read");
      expect(shownChanges(await stack.preview({ refresh: true }))).toEqual([]);

      // Later: a new repository gets the role from the default permission (nothing to show); one that lacks
      // it (taken away by hand) is shown by a refresh and granted again by up.
      await suite.quay.admin.post("/api/v1/repository", { namespace: "platform", repository: "later", visibility: "private", description: "" });
      expect(await teamRole("later")).toBe("read");
      await suite.quay.admin.delete("/api/v1/repository/platform/legacy/tool/permissions/team/readers");
      const teamDrift = await stack.preview({ refresh: true });
      expect(plannedSteps(teamDrift)).toEqual(["update mirror-model-grant-platform-team-readers"]);
      expect(refreshedWithChanges(teamDrift.stdout)).toEqual(["mirror-model-grant-platform-team-readers"]);
      expect(teamDrift.stdout).toContain("platform/legacy/tool");
      suite.quay.emulator.counter.reset();
      await stack.up({ refresh: true });
      expect(suite.quay.emulator.counter.snapshot()).toMatchObject({ "PUT /api/v1/repository/{repo:path}/permissions/team/{team}": 1 });
      expect(suite.quay.emulator.counter.writes()).toBe(1);
      expect(await teamRole("legacy/tool")).toBe("read");
      expect(shownChanges(await stack.preview({ refresh: true }))).toEqual([]);
    });
  });

  test("a stack written by the code before this change previews with no change, with and without refresh", async () => {
    const legacy = path.join(suite.dir, "legacy");
    fs.mkdirSync(legacy);
    buildLegacyProviders(legacy);
    // The shim stored with each resource loads the providers of QUAY_MIRROR_PROJECT_DIR: first the legacy
    // build, then this checkout.
    const link = path.join(suite.dir, "project");
    fs.symlinkSync(legacy, link);
    await withEngineStack(
      {
        program: "lab",
        config: labConfig(suite.quay, path.join(repoRoot, "data/quay/bootstrap-model.json")),
        secrets: { "quay:token": suite.quay.connection.token },
        env: { QUAY_MIRROR_PROJECT_DIR: link },
      },
      async (stack: EngineStack) => {
        const use = (target: string) => {
          fs.unlinkSync(link);
          fs.symlinkSync(target, link);
        };
        const quietWithNewCode = async () => {
          use(repoRoot);
          suite.quay.emulator.counter.reset();
          const plain = await stack.preview();
          expect(shownChanges(plain)).toEqual([]);
          expect(suite.quay.emulator.counter.total()).toBe(0);
          // Teams included: one written by older code stores its members as a list, and a refresh of an
          // unchanged team keeps that form rather than showing a change of form.
          expect(shownChanges(await stack.preview({ refresh: true }))).toEqual([]);
          expect(shownChanges(await stack.refresh(true))).toEqual([]);
        };
        // State as the old code's up leaves it: the grants store their repository list, and the old code's
        // own refresh reports it (the noise of issue 15).
        await stack.up();
        const grants = (await stack.resources()).filter((r) => r.type === `${QUAY}NamespaceReadGrant`);
        expect(grants).toHaveLength(6);
        for (const g of grants) expect(Array.isArray(g.outputs?.repositories)).toBe(true);
        expect(shownChanges(await stack.preview({ refresh: true })).length).toBeGreaterThan(0);
        await quietWithNewCode();

        // State as the old code's refresh leaves it (inputs with missingAtRefresh: [], the list refreshed).
        use(legacy);
        await stack.refresh();
        await quietWithNewCode();
        await stack.refresh();
        suite.quay.emulator.counter.reset();
        const again = await stack.up();
        expect(Object.keys(again.summary)).toEqual(["same"]);
        expect(suite.quay.emulator.counter.total()).toBe(0);
        expect(shownChanges(await stack.preview({ refresh: true }))).toEqual([]);
      },
    );
  });

  test("`pulumi up --refresh` through the CLI (its preview, then the update) reads Quay once per object, and repairs drift with live reads after its first write", async () => {
    await withEngineStack(
      { program: "lab", mode: "local", config: labConfig(suite.quay, path.join(repoRoot, "data/quay/bootstrap-model.json")), secrets: { "quay:token": suite.quay.connection.token } },
      async (stack) => {
        const up = await stack.up();
        suite.quay.emulator.counter.reset();
        await stack.preview({ refresh: true });
        const once = gets(suite.quay.emulator.counter.snapshot());
        suite.quay.emulator.counter.reset();
        const out = await cli(stack, ["up", "--refresh", "--yes"]);
        const twice = gets(suite.quay.emulator.counter.snapshot());
        expect(out).toMatch(/Previewing update/);
        expect(out).toMatch(/Updating/);
        expect(suite.quay.emulator.counter.writes()).toBe(0);
        // Measured for this model: before issue 15, 82 GETs (41 in the preview's refresh, 41 again in the
        // update's); now 37 (36 of them a single refresh's). The update's refresh reads what its preview read.
        expect(once).toBeLessThanOrEqual(41);
        expect(twice).toBeLessThanOrEqual(once + 3);

        // Drift (an oc-mirror pass): the CLI's up --refresh repairs it, and what follows its first write is
        // read from Quay, so a refresh afterwards finds nothing.
        const robots = up.outputs.robotCredentials.value as Record<string, { username: string; password: string }>;
        const mirror = robots["openshift-release+ocp_mirror"];
        const pushed = ["openshift-release/openshift/release-x", "openshift-release/openshift/release-y"];
        for (const repo of pushed) expect(await grantedActions(suite.quay.emulator.url, HOST, mirror, repo)).toEqual(["pull", "push"]);
        suite.quay.emulator.counter.reset();
        const repair = await cli(stack, ["up", "--refresh", "--yes"]);
        expect(repair).toMatch(/1 updated/);
        expect(suite.quay.emulator.counter.writes()).toBe(2);
        for (const repo of pushed) {
          const { body } = await suite.quay.admin.get<{ permissions: Record<string, { role: string }> }>(`/api/v1/repository/${repo}/permissions/user/`);
          expect(body.permissions[mirror.username].role).toBe("write");
        }
        expect(shownChanges(await stack.preview({ refresh: true }))).toEqual([]);
        suite.quay.emulator.counter.reset();
        await cli(stack, ["up", "--refresh", "--yes"]);
        expect(suite.quay.emulator.counter.writes()).toBe(0);
      },
    );
  });
});
