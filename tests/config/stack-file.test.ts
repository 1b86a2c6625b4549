// The stack settings file is checked before the engine runs: scripts/lab-stack.ts merge-config (the first thing
// scripts/preview-lab.sh and scripts/pulumi.sh do with it) refuses a broken file with the file, the line or key
// and the fix, and no stack trace; it writes nothing. Runs the compiled script (npx tsc -p . first).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const repoRoot = path.resolve(__dirname, "../..");
const script = path.join(repoRoot, "bin/scripts/lab-stack.js");

function mergeConfig(bytes: Buffer | string): { status: number | null; stderr: string; generated: boolean; committed: Buffer; original: Buffer } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-file-"));
  const committedFile = path.join(dir, "site-a.yaml");
  const original = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  fs.writeFileSync(committedFile, original);
  const generatedFile = path.join(dir, "state", "Pulumi.lab.yaml");
  const r = spawnSync(process.execPath, [script, "merge-config", committedFile, generatedFile], { cwd: repoRoot, encoding: "utf8" });
  return { status: r.status, stderr: r.stderr, generated: fs.existsSync(generatedFile), committed: fs.readFileSync(committedFile), original };
}

const noStackTrace = (s: string) => expect(s).not.toMatch(/\n\s+at .+[:(]\d+/);

describe("lab-stack merge-config checks the settings file first", () => {
  beforeAll(() => {
    if (!fs.existsSync(script)) throw new Error(`${script} not found: run npx tsc -p . first`);
  });

  test("a valid file is merged", () => {
    const r = mergeConfig("config:\n  quay-mirror:mode: existing\n  quay:token:\n    secure: v1:AAAA\n");
    expect(r.stderr).not.toMatch(/problem/);
    expect(r.status).toBe(0);
    expect(r.generated).toBe(true);
  });

  test.each([
    ["a YAML syntax error", "config:\n  quay-mirror:mode: existing\n  quay-mirror:apiUrl https://q.example.com\n  quay-mirror:registryHostname: q\n", /site-a\.yaml line 3 column 3: the stack settings file is not valid YAML.* — fix: /],
    ["UTF-16 from PowerShell's >", Buffer.from("\ufeffconfig:\r\n  quay-mirror:mode: existing\r\n", "utf16le"), /site-a\.yaml line 1: the stack settings file is UTF-16 .* — fix: save the file as UTF-8 without a byte-order mark/],
    ["a UTF-8 byte-order mark", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("config: {}\n")]), /site-a\.yaml line 1: .*byte-order mark \(BOM\) — fix: /],
    ["quay:token in plain text", "config:\n  quay-mirror:mode: existing\n  quay:token: PLAIN-TOKEN-VALUE-123\n", /site-a\.yaml \$\.config\["quay:token"\]: quay:token is a secret written in plain text.* — fix: .*scripts\/pulumi\.sh config set --secret quay:token </],
  ])("%s is refused with the file, the place and the fix; nothing is written", (_what, bytes, expected) => {
    const r = mergeConfig(bytes);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(expected);
    expect(r.stderr).not.toContain("PLAIN-TOKEN-VALUE-123");
    noStackTrace(r.stderr);
    expect(r.generated).toBe(false);
    expect(r.committed.equals(r.original)).toBe(true);
  });
});
