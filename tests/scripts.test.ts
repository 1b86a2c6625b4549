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

describe("scripts/lib-debian.sh", () => {
  test("qm_debian_tools_of reads the packages a script ensures, so fresh-machine.sh reports from test.sh's own list", () => {
    const r = spawnSync("bash", ["-c", `source scripts/lib-debian.sh && qm_debian_tools_of scripts/test.sh`], { cwd: repo, encoding: "utf8" });
    expect(r.status).toBe(0);
    const pairs = r.stdout.trim().split("\n");
    expect(pairs).toEqual(expect.arrayContaining(["shellcheck:shellcheck", "sshd:openssh-server", "skopeo:skopeo", "haproxy:haproxy", "redis-server:redis-server", "pg_ctlcluster:postgresql"]));
    for (const p of pairs) expect(p).toMatch(/^[a-z0-9_.-]+:[a-z0-9.+-]+$/);
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

describe("scripts/env.sh: which Pulumi", () => {
  const made: string[] = [];
  afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  // A fake stock install: a `pulumi` that prints a version, with the language host and launcher beside it.
  function stockInstall(version: string, withHost = true): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-stock-pulumi-"));
    made.push(dir);
    fs.writeFileSync(path.join(dir, "pulumi"), `#!/bin/sh\necho v${version}\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "pulumi-resource-pulumi-nodejs"), "#!/bin/sh\n", { mode: 0o755 });
    if (withHost) fs.writeFileSync(path.join(dir, "pulumi-language-nodejs"), "#!/bin/sh\n", { mode: 0o755 });
    return dir;
  }
  function pulumiDir(stock: string, env: Record<string, string> = {}): string {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), "qm-cache-"));
    try {
      const r = spawnSync("bash", ["-c", `source scripts/env.sh && printf '%s' "$QM_PULUMI_DIR"`], {
        cwd: repo,
        encoding: "utf8",
        // node 22 first (ensure-node.sh then installs nothing), the fake stock install next
        env: { PATH: `${path.dirname(process.execPath)}:${stock}:/usr/bin:/bin`, HOME: os.homedir(), QUAY_MIRROR_CACHE: cache, ...env },
      });
      expect(r.stderr).toBe("");
      return r.stdout.replace(cache, "<cache>");
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  }
  const pinned = fs.readFileSync(path.join(repo, "scripts/versions.sh"), "utf8").match(/^PULUMI_VERSION="([^"]+)"/m)![1]!;

  test("a stock install at least the pinned version, with its language host, is used instead of building one", () => {
    const stock = stockInstall("3.300.1");
    expect(pulumiDir(stock)).toBe(stock);
    expect(pulumiDir(stockInstall(pinned))).not.toMatch(/<cache>/);
  });

  test("an older one, one without its language host, or QM_PULUMI=build (the tests) means building it", () => {
    expect(pulumiDir(stockInstall("3.100.0"))).toBe(`<cache>/pulumi-${pinned}/bin`);
    expect(pulumiDir(stockInstall("3.300.1", false))).toBe(`<cache>/pulumi-${pinned}/bin`);
    expect(pulumiDir(stockInstall("3.300.1"), { QM_PULUMI: "build" })).toBe(`<cache>/pulumi-${pinned}/bin`);
  });
});
