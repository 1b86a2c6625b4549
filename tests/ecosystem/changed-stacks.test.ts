// The workflows' matrix: `scripts/ci-stack.sh changed-stacks <base> <head>` in a scratch repository that holds
// the script and three stacks, through commits that touch a stack file, the program, only tests, or delete a stack.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { repoRoot } from "../support/engine";
import { run } from "./workflow-files";

describe("scripts/ci-stack.sh changed-stacks", () => {
  let repo: string;
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=changed-stacks test", "-c", "user.email=test@quay-mirror.invalid", ...args], { cwd: repo, encoding: "utf8" }).trim();
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    fs.writeFileSync(path.join(repo, file), text);
  };
  const commit = (message: string) => {
    git("add", "-A");
    git("commit", "--quiet", "-m", message);
    return git("rev-parse", "HEAD");
  };
  const changed = async (base: string, head = "HEAD", env: Record<string, string> = {}) => {
    const r = await run("bash", ["scripts/ci-stack.sh", "changed-stacks", base, head], { cwd: repo, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    return { stacks: JSON.parse(r.stdout) as string[], note: r.stderr };
  };

  beforeAll(() => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), "qm-changed-stacks-"));
    git("init", "--quiet", "--initial-branch=main");
    write("scripts/ci-stack.sh", fs.readFileSync(path.join(repoRoot, "scripts", "ci-stack.sh"), "utf8"));
    write("Pulumi.yaml", "name: quay-mirror\nruntime: nodejs\n");
    for (const s of ["lab", "lab-existing", "team"]) write(`Pulumi.${s}.yaml`, "config: {}\n");
    write("components/program.ts", "// v1\n");
    commit("start");
  });
  afterAll(() => fs.rmSync(repo, { recursive: true, force: true }));

  test("a stack file: that stack only; only tests or docs: none; the program: every stack", async () => {
    let base = git("rev-parse", "HEAD");
    write("Pulumi.team.yaml", "config: { quay-mirror:mode: existing }\n");
    commit("team settings");
    expect((await changed(base)).stacks).toEqual(["team"]);

    base = git("rev-parse", "HEAD");
    write("tests/some.test.ts", "// a test\n");
    write("docs/x.md", "# docs\n");
    commit("tests and docs");
    expect((await changed(base)).stacks).toEqual([]);

    base = git("rev-parse", "HEAD");
    write("components/program.ts", "// v2\n");
    commit("program");
    const all = await changed(base);
    expect(all.stacks.sort()).toEqual(["lab", "lab-existing", "team"]);
    expect(all.note).toMatch(/the program changed \(components\/program\.ts/);
  });

  test("QM_CI_STACKS limits the candidates; a deleted stack file is skipped; no base commit means every stack", async () => {
    const base = git("rev-parse", "HEAD");
    write("data/quay/bootstrap-model.json", "{}\n");
    git("rm", "--quiet", "Pulumi.team.yaml");
    commit("model changed, team stack removed");
    expect((await changed(base, "HEAD", { QM_CI_STACKS: "lab team" })).stacks).toEqual(["lab"]);
    expect((await changed(base)).stacks.sort()).toEqual(["lab", "lab-existing"]);
    // A new branch's push event has before = 0000…; a shallow clone may not have the base.
    expect((await changed("0000000000000000000000000000000000000000")).stacks.sort()).toEqual(["lab", "lab-existing"]);
    expect((await changed("f".repeat(40))).note).toMatch(/no base commit/);
  });

  test("refuses a stack name that is not one (a crafted QM_CI_STACKS or file name)", async () => {
    const r = await run("bash", ["scripts/ci-stack.sh", "changed-stacks", "HEAD~1", "HEAD"], {
      cwd: repo,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", QM_CI_STACKS: 'lab $(touch pwned)' },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not a stack name: "\$\(touch"/);
    expect(fs.existsSync(path.join(repo, "pwned"))).toBe(false);
  });
});
