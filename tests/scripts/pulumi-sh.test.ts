// scripts/pulumi.sh takes a secret's value from stdin (or pulumi's hidden prompt) only: a value on the
// command line — where every process on the machine can read it — is refused before anything runs, and no
// hint or doc of the project shows that form. Runs the real script in a scratch copy of the repository's
// layout with a stand-in `pulumi` that records its arguments and its stdin (no toolchain needed).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const repoRoot = path.resolve(__dirname, "../..");

let root: string;
let cache: string;
let log: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "qm-pulumi-sh-"));
  fs.mkdirSync(path.join(root, "scripts"));
  for (const f of ["pulumi.sh", "env.sh", "versions.sh", "ensure-node.sh", "lib-stack.sh"]) fs.copyFileSync(path.join(repoRoot, "scripts", f), path.join(root, "scripts", f));
  for (const f of ["Pulumi.yaml", "Pulumi.lab.yaml"]) fs.copyFileSync(path.join(repoRoot, f), path.join(root, f));
  // lab-stack.js merge-config SRC DST: the stand-in copies
  fs.mkdirSync(path.join(root, "bin/scripts"), { recursive: true });
  fs.writeFileSync(path.join(root, "bin/scripts/lab-stack.js"), 'const fs = require("fs"); const [, , cmd, src, dst] = process.argv; if (cmd === "merge-config") fs.copyFileSync(src, dst);\n');
  // the stand-in pulumi, where scripts/env.sh puts the toolchain's first on PATH
  const version = /^PULUMI_VERSION="([^"]+)"/m.exec(fs.readFileSync(path.join(repoRoot, "scripts/versions.sh"), "utf8"))![1]!;
  cache = path.join(root, "cache");
  const pulumiBin = path.join(cache, `pulumi-${version}`, "bin");
  fs.mkdirSync(pulumiBin, { recursive: true });
  log = path.join(root, "pulumi.log");
  fs.writeFileSync(
    path.join(pulumiBin, "pulumi"),
    `#!/usr/bin/env bash
printf 'argv:' >>${JSON.stringify(log)}; printf ' [%s]' "$@" >>${JSON.stringify(log)}; echo >>${JSON.stringify(log)}
if [ "$1" = config ] && [ "\${2:-}" = set ]; then printf 'stdin:[%s]\\n' "$(cat)" >>${JSON.stringify(log)}; fi
exit 0
`,
    { mode: 0o755 },
  );
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
beforeEach(() => fs.rmSync(log, { force: true }));

function pulumiSh(args: string[], input = "") {
  const env: NodeJS.ProcessEnv = { ...process.env, QUAY_MIRROR_CACHE: cache, PULUMI_CONFIG_PASSPHRASE: "test-passphrase-not-a-secret", QM_STACK: "lab" };
  delete env.QM_STACK_CONFIG;
  delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
  const r = spawnSync("bash", [path.join(root, "scripts/pulumi.sh"), ...args], { input, env, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stderr: r.stderr, log: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "" };
}

describe("scripts/pulumi.sh config set --secret", () => {
  const value = "s3cret-VALUE-on-argv-0123";
  test.each([
    [["config", "set", "--secret", "quay:token", value]],
    [["config", "set", "--secret", "--", "quay:token", value]],
    [["config", "set", "quay:token", "--secret", value]],
    [["config", "set", "--path", "--secret", "quay-mirror:objectStorage.secret", value]],
  ])("refuses a value on the command line before pulumi runs, naming the fix: %j", (args) => {
    const r = pulumiSh(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/refusing a secret value on the command line .* — fix: .*on stdin \(bash scripts\/pulumi\.sh config set --secret \S+ < value-file\), or let it prompt/);
    expect(r.stderr).not.toContain(value);
    expect(r.log).toBe(""); // nothing ran: not even pulumi stack select
  });

  test("reads the value from stdin: pulumi gets the key (and the stack's flags) on argv, the value on its stdin", () => {
    const r = pulumiSh(["config", "set", "--secret", "quay:token"], value);
    expect(r.stderr).not.toContain(value);
    expect(r.status).toBe(0);
    const calls = r.log.split("\n").filter((l) => l.startsWith("argv:"));
    const set = calls.find((l) => l.startsWith("argv: [config] [set]"))!;
    expect(set).toMatch(/^argv: \[config\] \[set\] \[--secret\] \[quay:token\] \[--stack\] \[lab\] \[--config-file\] \[[^\]]*\.pulumi-state\/config\/Pulumi\.lab\.yaml\]$/);
    expect(calls.join("\n")).not.toContain(value);
    expect(r.log).toContain(`stdin:[${value}]`);
  });

  test("still refuses plain values (they belong in the committed stack file) and a missing key", () => {
    let r = pulumiSh(["config", "set", "quay-mirror:registryHostname", "quay.example.com"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/plain config values belong in the committed Pulumi\.lab\.yaml/);
    r = pulumiSh(["config", "set", "--secret"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/needs the key — fix: /);
    expect(r.log).toBe("");
  });
});

/**
 * Every `pulumi[.sh] config set --secret` command in a text that puts a value on the command line: the words after it up to the
 * end of the command (a redirection `< file`, `#`, a closing backtick, `|`, `;`, `)`), minus flags, are more
 * than the key. `<token>` (a placeholder) counts as a value; `< file` is stdin.
 */
function argvForms(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/pulumi(?:\.sh)?(?: -C \S+)? config set --secret([^\n`#|;)]*)/g)) {
    const rest = m[1]!.split(/<(?![A-Za-z_-]+>)/)[0]!;
    const words = rest.split(/\s+/).filter(Boolean);
    const positional: string[] = [];
    let skip = false;
    let flagsDone = false;
    for (const w of words) {
      if (skip) {
        skip = false;
        continue;
      }
      if (!flagsDone && w === "--") {
        flagsDone = true;
        continue;
      }
      if (!flagsDone && ["--stack", "-s", "--config-file", "-C", "--cwd"].includes(w)) {
        skip = true;
        continue;
      }
      if (!flagsDone && w.startsWith("-")) continue;
      positional.push(w);
    }
    if (positional.length > 1) found.push(m[0]!.trim());
  }
  return found;
}

test("the scan finds the argv form (control) and passes the stdin forms", () => {
  expect(argvForms("set QUAY_TOKEN or `pulumi config set --secret quay:token <token>` to use another one")).toHaveLength(1);
  expect(argvForms('pulumi config set --secret --stack "$QM_STACK" --config-file "$f" -- "$key" "$value"')).toHaveLength(1);
  expect(argvForms("bash scripts/pulumi.sh config set --secret quay:token < token.txt")).toEqual([]);
  expect(argvForms('pulumi config set --secret --stack "$s" --config-file "$f" -- "$key" < <(printf \'%s\' "$value")')).toEqual([]);
  expect(argvForms("bash scripts/pulumi.sh config set --secret quay-mirror:minioAdminSecretKey  # prompts, input hidden")).toEqual([]);
});

test("no hint, doc or script of the project shows a secret's value on the command line", () => {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (!["node_modules", "bin", ".git", ".pulumi-state"].includes(e.name)) walk(p);
      } else if (/\.(ts|sh|md|ya?ml)$/.test(e.name)) files.push(p);
    }
  };
  for (const d of ["docs", "providers", "components", "scripts", "config", "policy", ".github"]) if (fs.existsSync(path.join(repoRoot, d))) walk(path.join(repoRoot, d));
  files.push(path.join(repoRoot, "README.md"), path.join(repoRoot, "index.ts"));
  const hits = files.flatMap((f) => argvForms(fs.readFileSync(f, "utf8")).map((h) => `${path.relative(repoRoot, f)}: ${h}`));
  expect(hits).toEqual([]);
});

describe("scripts/pulumi.sh passes the stack to every command that works on one", () => {
  test.each([[["cancel", "--yes"]], [["stack", "export"]], [["stack", "import", "--file", "state.json"]], [["stack", "history"]], [["stack", "output"]], [["state", "delete", "urn:x"]], [["about"]]])("%j gets --stack lab", (args) => {
    const r = pulumiSh(args);
    expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status: 0 });
    // the last pulumi call is the command itself (the earlier ones select the stack)
    const last = r.log.trim().split("\n").filter((l) => l.startsWith("argv:")).pop();
    expect(last).toBe(`argv: ${[...args, "--stack", "lab"].map((a) => `[${a}]`).join(" ")}`);
  });

  const lastCall = (log: string) => log.trim().split("\n").filter((l) => l.startsWith("argv:")).pop();
  const argv = (args: string[]) => `argv: ${args.map((a) => `[${a}]`).join(" ")}`;

  test("import gets the stack and the config copy (it runs the providers' checks with the stack's config)", () => {
    const r = pulumiSh(["import", "pulumi-nodejs:dynamic/quay:Repository", "r", "platform/smoke"]);
    expect(r.status).toBe(0);
    expect(lastCall(r.log)).toMatch(/^argv: \[import\] .*\[platform\/smoke\] \[--stack\] \[lab\] \[--config-file\] \[[^\]]*\.pulumi-state\/config\/Pulumi\.lab\.yaml\]$/);
  });

  test("state move takes the stack as its source; state upgrade (the whole backend) takes none", () => {
    let r = pulumiSh(["state", "move", "urn:x", "--dest", "other"]);
    expect(lastCall(r.log)).toBe(argv(["state", "move", "urn:x", "--dest", "other", "--source", "lab"]));
    r = pulumiSh(["state", "move", "--source", "lab", "--dest", "other", "urn:x"]);
    expect(lastCall(r.log)).toBe(argv(["state", "move", "--source", "lab", "--dest", "other", "urn:x"]));
    r = pulumiSh(["state", "upgrade", "--yes"]);
    expect(lastCall(r.log)).toBe(argv(["state", "upgrade", "--yes"]));
  });
});
