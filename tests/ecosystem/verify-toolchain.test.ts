// Issue 14 point 6: scripts/verify-toolchain.sh, run by the up workflow before it runs anything of the cached
// toolchain, against a scratch cache (the real script, a real sha256 manifest).
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { repoRoot } from "../support/engine";
import { run } from "./workflow-files";

describe("scripts/verify-toolchain.sh", () => {
  let tmp: string;
  let cache: string;
  let manifest: string;
  const script = (...args: string[]) =>
    run("bash", [path.join(repoRoot, "scripts", "verify-toolchain.sh"), ...args], {
      cwd: repoRoot,
      env: { ...(process.env as Record<string, string>), QUAY_MIRROR_CACHE: cache, QM_TOOLCHAIN_MANIFEST: manifest },
    });
  const write = (rel: string, content: string, mode = 0o755) => {
    fs.mkdirSync(path.dirname(path.join(cache, rel)), { recursive: true });
    fs.writeFileSync(path.join(cache, rel), content, { mode });
  };

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "qm-verify-toolchain-"));
    cache = path.join(tmp, "cache");
    manifest = path.join(tmp, "toolchain.sha256");
    // The layout the install scripts make (scripts/versions.sh's versions).
    const versions = fs.readFileSync(path.join(repoRoot, "scripts", "versions.sh"), "utf8");
    const pulumi = /^PULUMI_VERSION="([^"]+)"/m.exec(versions)![1];
    const node = /^NODE_VERSION="([^"]+)"/m.exec(versions)![1];
    write(`pulumi-${pulumi}/bin/pulumi`, "the CLI");
    write(`pulumi-${pulumi}/bin/pulumi-language-nodejs`, "the shim");
    write(`pulumi-${pulumi}/bin/.pulumi-resource-command.version`, "v1.2.1", 0o644);
    write(`pulumi-${pulumi}/libexec/pulumi-language-nodejs`, "the real host");
    write(`node-${node}/bin/node`, "node");
    write("tools/bin/mc", "mc");
    write("pulumi-home/plugins/resource-command-v1.2.1/pulumi-resource-command", "plugin");
    fs.symlinkSync("pulumi", path.join(cache, `pulumi-${pulumi}/bin/pulumi-alias`));
    // Not part of it: build workspaces, what the CLI writes into PULUMI_HOME at run time, npm's and the
    // CLI's records that name the machine's registry or hold locks.
    write("build/pulumi/go.sum", "x", 0o644);
    write(`pulumi-${pulumi}/build/shim-src/main.go`, "package main", 0o644);
    write("pulumi-home/workspaces/x.json", "{}", 0o644);
    write(`node-${node}/node_modules/.package-lock.json`, '{"resolved":"https://registry.example/"}', 0o644);
    write("pulumi-home/plugins/resource-command-v1.2.1.lock", "", 0o644);
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const recordAndCheck = async () => {
    const rec = await script("record");
    expect(rec.code).toBe(0);
    const listed = fs.readFileSync(manifest, "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
    expect(listed).toHaveLength(8);
    expect(listed.join("\n")).not.toMatch(/build\/|workspaces\/|package-lock|\.lock/);
    const ok = await script("check");
    expect({ code: ok.code, err: ok.stderr }).toEqual({ code: 0, err: expect.stringMatching(/matches .* \(8 files\)/) });
  };

  test("a recorded cache passes; a changed binary, a redirected symlink and an extra plugin each fail, named", async () => {
    await recordAndCheck();
    const bin = fs.readdirSync(cache).find((d) => d.startsWith("pulumi-") && d !== "pulumi-home")!;
    write(`${bin}/bin/pulumi`, "the CLI, with a little extra");
    fs.rmSync(path.join(cache, bin, "bin", "pulumi-alias"));
    fs.symlinkSync("/bin/sh", path.join(cache, bin, "bin", "pulumi-alias"));
    write("pulumi-home/plugins/resource-evil-v1.0.0/pulumi-resource-evil", "planted");
    const bad = await script("check");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`DIFFERENT: ${bin}/bin/pulumi `);
    expect(bad.stderr).toContain(`DIFFERENT: ${bin}/bin/pulumi-alias `);
    expect(bad.stderr).toContain("NOT IN THE MANIFEST: pulumi-home/plugins/resource-evil-v1.0.0/pulumi-resource-evil");
    expect(bad.stderr).toMatch(/Do not run it/);
  });

  test("a missing file fails; --allow-missing lets only that pass (a fresh runner builds it), not a changed one", async () => {
    await recordAndCheck();
    fs.rmSync(path.join(cache, "tools", "bin", "mc"));
    const missing = await script("check");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("missing: tools/bin/mc");
    expect((await script("check", "--allow-missing")).code).toBe(0);
    write(`node-${fs.readdirSync(cache).find((d) => d.startsWith("node-"))!.slice(5)}/bin/node`, "another node");
    const changed = await script("check", "--allow-missing");
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/DIFFERENT: node-[^/]+\/bin\/node /);
  });

  test("a folder this machine does not have at all (Node from the system) is skipped, not missing", async () => {
    await recordAndCheck();
    const node = fs.readdirSync(cache).find((d) => d.startsWith("node-"))!;
    fs.rmSync(path.join(cache, node), { recursive: true });
    const r = await script("check");
    expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: expect.stringContaining(`not installed here, nothing of it runs: ${node}`) });
  });

  test("no manifest is a failure that says how to make one", async () => {
    const r = await script("check");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no manifest .*verify-toolchain\.sh record/);
  });
});

describe("scripts/toolchain.sha256, the committed manifest", () => {
  const manifest = fs.readFileSync(path.join(repoRoot, "scripts", "toolchain.sha256"), "utf8");
  const entries = new Map(
    manifest
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => {
        const m = /^([0-9a-f]{64}) {2}(\S.*)$/.exec(l);
        if (!m) throw new Error(`not a manifest line: ${l}`);
        return [m[2], m[1]] as const;
      }),
  );
  const versions = fs.readFileSync(path.join(repoRoot, "scripts", "versions.sh"), "utf8");
  const pulumi = /^PULUMI_VERSION="([^"]+)"/m.exec(versions)![1];
  const commandVersion = /^PULUMI_COMMAND_VERSION="([^"]+)"/m.exec(versions)![1];

  it("lists the CLI, its hosts, the command plugin (also as registered in PULUMI_HOME) and the tools, with the Go version it was made with", () => {
    for (const p of [`pulumi-${pulumi}/bin/pulumi`, `pulumi-${pulumi}/bin/pulumi-language-nodejs`, `pulumi-${pulumi}/libexec/pulumi-language-nodejs`, `pulumi-${pulumi}/bin/pulumi-resource-command`, "tools/bin/mc", "tools/bin/minio"]) {
      expect({ p, listed: entries.has(p) }).toEqual({ p, listed: true });
    }
    expect(entries.get(`pulumi-home/plugins/resource-command-v${commandVersion}/pulumi-resource-command`)).toBe(entries.get(`pulumi-${pulumi}/bin/pulumi-resource-command`));
    expect(manifest).toMatch(/^# go: go\d+\.\d+(\.\d+)? \S+\/\S+$/m);
  });

  it("was recorded from plugins/command as it is in this commit (change the plugin: rebuild and record again)", () => {
    // install-pulumi.sh's stamp of the own command plugin: the hash of its sources (own_command_plugin()).
    const src = path.join(repoRoot, "plugins", "command");
    const files = fs
      .readdirSync(src, { recursive: true })
      .map(String)
      .filter((f) => (f.endsWith(".go") && !f.endsWith("_test.go")) || f === "go.mod" || f === "go.sum")
      .map((f) => `./${f}`)
      .sort();
    const lines = files.map((f) => `${crypto.createHash("sha256").update(fs.readFileSync(path.join(src, f))).digest("hex")}  ${f}\n`);
    const sourceHash = crypto.createHash("sha256").update(`v${commandVersion}\n${lines.join("")}`).digest("hex");
    const stamp = crypto.createHash("sha256").update(`${sourceHash}\n`).digest("hex");
    expect({ stamp: entries.get(`pulumi-${pulumi}/bin/.pulumi-resource-command.own`), fix: "bash scripts/verify-toolchain.sh record, after rebuilding into an empty cache" }).toEqual({
      stamp,
      fix: expect.any(String),
    });
  });
});
