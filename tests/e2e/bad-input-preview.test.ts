// Bad input through the user's real path: `bash scripts/preview-lab.sh` (the engine, the program bin/index.js)
// with QM_STACK_CONFIG naming a settings file outside the repository. Each mistake must stop the preview
// before any resource is planned, with the file the user wrote (not Pulumi.<stack>.yaml), the key or line, the
// fix, and no JavaScript stack trace or dump of the error object. Both ways the engine runs the program: the
// CLI with the Node.js language host, and the Automation API's inline program (QM_ENGINE_VIA=inline).
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { repoRoot, toolchain } from "../support/engine";

const run = promisify(execFile);
const STACK = "bad-input-e2e";
const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHy3XWNwZOJqEOv/wzgpXthNqdbKAu5ksNZIhvWgdUc9 ops@laptop";
const lab = () => fs.readFileSync(path.join(repoRoot, "Pulumi.lab.yaml"), "utf8");
const existing = (extra: string) => `config:\n  quay-mirror:mode: existing\n  quay-mirror:registryHostname: quay.example.com\n${extra}`;

interface Outcome {
  code: number;
  out: string;
}

async function sh(script: string, args: string[], settings: string, via: "cli" | "inline", stdin?: string): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = { ...process.env, QM_STACK: STACK, QM_STACK_CONFIG: settings, QM_ENGINE_VIA: via, PULUMI_CONFIG_PASSPHRASE: "bad-input-e2e-passphrase-not-a-secret" };
  delete env.PULUMI_ACCESS_TOKEN;
  const child = run("bash", [script, ...args], { cwd: repoRoot, env, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 });
  if (stdin !== undefined) {
    child.child.stdin!.end(stdin);
  }
  try {
    const { stdout, stderr } = await child;
    return { code: 0, out: `${stdout}\n${stderr}` };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : 1, out: `${err.stdout ?? ""}\n${err.stderr ?? ""}` };
  }
}

describe("bad input through scripts/preview-lab.sh", () => {
  let dir: string;
  beforeAll(() => {
    toolchain();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bad-input-e2e-"));
  });

  // Every row has all four values: jest would pass its `done` callback in place of a missing last one.
  const cases: [string, () => string, RegExp[], string | null][] = [
    ["an apiUrl without a scheme", () => existing("  quay-mirror:apiUrl: quay.example.com\n"), [/site\.yaml \$\["quay-mirror:apiUrl"\]: has no scheme — fix: .*https:\/\/quay\.example\.com/], null],
    ["a model file that does not exist", () => existing("  quay-mirror:apiUrl: https://quay.example.com\n  quay-mirror:modelFile: data/quay/no-such-model.json\n"), [/site\.yaml \$\["quay-mirror:modelFile"\]: the model file "data\/quay\/no-such-model\.json" does not exist.* — fix: /], null],
    ["a proxy-cache upstream listed twice", () => existing("  quay-mirror:apiUrl: https://quay.example.com\n  quay-mirror:proxyCaches:\n    upstreams: [quay.io, quay.io]\n"), [/site\.yaml \$\["quay-mirror:proxyCaches"\]\.upstreams\[1\]: upstream "quay\.io" is listed twice/], null],
    ["quayVersion: latest", () => lab().replace(/quayVersion: v[0-9.]+/, "quayVersion: latest"), [/site\.yaml \(quay-mirror:host[^\n]*:\n\s+\$\.quayVersion: quayVersion is a moving tag.* — fix: pin a release tag/], null],
    ["an SSH public key as quay-mirror:sshPrivateKey", () => lab(), [/site\.yaml \$\.config\["quay-mirror:sshPrivateKey"\]: quay-mirror:sshPrivateKey is an SSH PUBLIC key.* — fix: /], PUBLIC_KEY],
  ];

  for (const via of ["cli", "inline"] as const) {
    test.each(cases)(`${via}: %s stops the preview with the file, the key and the fix, without a stack trace`, async (_what, settings, expected, sshKey) => {
      const file = path.join(dir, "site.yaml");
      fs.writeFileSync(file, settings());
      if (sshKey !== null) {
        const set = await sh("scripts/pulumi.sh", ["config", "set", "--secret", "quay-mirror:sshPrivateKey"], file, via, sshKey);
        expect(set.code).toBe(0);
      }
      const r = await sh("scripts/preview-lab.sh", [], file, via);
      try {
        expect(r.code).not.toBe(0);
        for (const e of expected) expect(r.out).toMatch(e);
        // the file the user wrote, not the name the stack would have
        expect(r.out).not.toContain(`Pulumi.${STACK}.yaml $`);
        // no JavaScript stack frame, no dump of the error object, no secret
        expect(r.out).not.toMatch(/^\s+at .+\.(js|ts):\d+/m);
        expect(r.out).not.toMatch(/__pulumiRunError|issues: \[|unhandled exception/i);
        expect(r.out).not.toContain("AAAAC3NzaC1lZDI1NTE5AAAAIHy3");
        // nothing planned but the stack itself: the program stopped before declaring a resource
        expect(r.out).not.toMatch(/\+ ([2-9]|\d{2,}) to create/);
        expect(r.out).not.toMatch(/(quay|command:remote|minio)[:\w/-]*\s+\S+\s+create/i);
      } finally {
        if (sshKey !== null) await sh("scripts/pulumi.sh", ["config", "rm", "quay-mirror:sshPrivateKey"], file, via);
      }
    }, 900_000);
  }
});
