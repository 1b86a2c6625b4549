// The project's own shell scripts (scripts/, .ci/run, test helpers): they pass shellcheck, and the npm step
// never repairs a lock file that `npm ci` refuses.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const repo = path.resolve(__dirname, "..");

function shellScripts(): string[] {
  const out: string[] = [path.join(repo, ".ci/run")];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".sh")) out.push(p);
    }
  };
  walk(path.join(repo, "scripts"));
  walk(path.join(repo, "tests"));
  return out.filter((p) => !p.includes(`${path.sep}node_modules${path.sep}`));
}

describe("the project's shell scripts", () => {
  test("every one passes shellcheck (scripts/test.sh installs it)", () => {
    const files = shellScripts();
    expect(files).toEqual(expect.arrayContaining([path.join(repo, "scripts/fresh-machine.sh"), path.join(repo, "scripts/lib-debian.sh")]));
    const r = spawnSync("shellcheck", ["-x", "-P", "SCRIPTDIR", ...files], { cwd: repo, encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("scripts/lib-npm.sh", () => {
  test("a lock file that npm ci refuses is an error naming the fix; the lock file is left as it was", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-lock-"));
    try {
      // package.json asks for a package the lock file does not have: npm ci refuses before fetching anything.
      fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "x", version: "1.0.0", dependencies: { "is-number": "7.0.0" } }));
      const lock = JSON.stringify({ name: "x", version: "1.0.0", lockfileVersion: 3, requires: true, packages: { "": { name: "x", version: "1.0.0" } } }, null, 2);
      fs.writeFileSync(path.join(dir, "package-lock.json"), lock);
      const r = spawnSync("bash", ["-c", `source ${JSON.stringify(path.join(repo, "scripts/lib-npm.sh"))} && qm_npm_install`], { cwd: dir, encoding: "utf8", timeout: 120_000 });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/npm ci refused package-lock\.json/);
      expect(r.stderr).toMatch(/Fix: run 'npm install --package-lock-only --ignore-scripts'.*commit it/s);
      expect(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8")).toBe(lock);
      expect(fs.existsSync(path.join(dir, "node_modules", "is-number"))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
