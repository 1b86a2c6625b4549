// mc gets only what it needs from its parent's environment: the provider's runMc (and the tests' MinIO helper,
// which uses the same mcEnvironment) passes an allow-list plus MC_CONFIG_DIR; the host scripts that run mc
// (the storage preflight, the backup, the restore proof) run it through `env -i` with PATH, HOME and
// MC_CONFIG_DIR. A stand-in mc prints the environment it got, while the parent holds secrets.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MC_ENV_PASSED, runMc } from "../../providers/minio/client";
import { renderBackupScript, renderRestoreScript } from "../../components/quay-backups/render";
import { renderStep } from "../../components/quay-host/render";

const SECRETS: Record<string, string> = {
  PULUMI_CONFIG_PASSPHRASE: "passphrase-in-parent-env-0123456789",
  AWS_SECRET_ACCESS_KEY: "aws-secret-in-parent-env-0123456789",
  QUAY_TOKEN: "quay-token-in-parent-env-0123456789",
};

let dir: string;
let fakeMc: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-mc-env-"));
  fakeMc = path.join(dir, "mc");
  // prints its environment as one mc-style JSON line (perl adds no variable of its own)
  fs.writeFileSync(fakeMc, '#!/usr/bin/perl\nuse strict; my %e = %ENV; my $j = join(",", map { my $v = $e{$_}; $v =~ s/(["\\\\])/\\\\$1/g; $v =~ s/\\n/\\\\n/g; "\\"$_\\":\\"$v\\"" } sort keys %e);\nprint "{\\"status\\":\\"success\\",\\"env\\":{$j}}\\n";\n', { mode: 0o755 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("control: the stand-in mc does print a variable its parent passes", () => {
  const r = spawnSync(fakeMc, [], { env: { PATH: "/usr/bin:/bin", ...SECRETS }, encoding: "utf8" });
  expect(JSON.parse(r.stdout).env).toMatchObject(SECRETS);
});

test("the provider's runMc: mc sees the allow-list and MC_CONFIG_DIR, none of the parent's secrets", async () => {
  const saved = { ...process.env };
  Object.assign(process.env, SECRETS, { MC_HOST_stale: "http://k:stale-secret@x" });
  let env: Record<string, string>;
  try {
    const lines = await runMc({ endpoint: "http://127.0.0.1:9", accessKey: "a", secretKey: "provider-secret-key-0123", mcPath: fakeMc }, ["ls", "target"]);
    env = (lines[0] as unknown as { env: Record<string, string> }).env;
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
  const text = JSON.stringify(env);
  for (const s of [...Object.values(SECRETS), "stale-secret", "provider-secret-key-0123"]) expect(text).not.toContain(s);
  expect(Object.keys(env).filter((k) => k !== "MC_CONFIG_DIR" && !(MC_ENV_PASSED as readonly string[]).includes(k))).toEqual([]);
  expect(env.PATH).toBe(process.env.PATH);
  expect(env.MC_CONFIG_DIR).toMatch(/qm-mc-/);
});

describe.each([
  ["the storage preflight", () => renderStep("preflight", { MC: fakeMc, ENDPOINT: "http://127.0.0.1:9", BUCKET: "b", PROBE_PREFIX: ".p", DEPLOYMENT: "d".repeat(64) })],
  ["quay-backup-to-minio", () => renderBackupScript({ database: "quay", mcPath: fakeMc, bucket: "b", prefix: "p" })],
  ["quay-restore-validate", () => renderRestoreScript({ database: "quay", mcPath: fakeMc, bucket: "b", prefix: "p" })],
])("%s", (_name, render) => {
  test("runs mc only through mc_run, which gives it PATH, HOME and MC_CONFIG_DIR and nothing else", () => {
    const script = render();
    const defs = script.split("\n").filter((l) => /^mc_run\(\) \{/.test(l));
    expect(defs).toHaveLength(1);
    // every other mention of "$mc" is the is-it-installed check
    const others = script.split("\n").filter((l) => l.includes('"$mc"') && !/^mc_run\(\) \{/.test(l));
    expect(others.every((l) => /\[ -x "\$mc" \]/.test(l))).toBe(true);
    expect(script).toMatch(/^\s*(if ! )?mc_run /m);
    // the function itself, run with secrets in the environment
    const values = /^readonly mc=.*$/m.exec(script)![0];
    const r = spawnSync("bash", ["-c", `set -euo pipefail\n${values}\nwork=$(mktemp -d)\ntrap 'rm -rf "$work"' EXIT\n${defs[0]}\nmc_run ls target`], {
      // (HOME without a .bashrc: bash reads ~/.bashrc when its stdin is a socket, as under node)
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir, MC_CONFIG_DIR: "/somewhere/else", MC_HOST_x: "http://k:stale-secret@x", ...SECRETS },
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    const env = JSON.parse(r.stdout).env as Record<string, string>;
    expect(Object.keys(env).sort()).toEqual(["HOME", "MC_CONFIG_DIR", "PATH"]);
    expect(env.MC_CONFIG_DIR).toBe(`${env.HOME}/mc`);
    expect(env.PATH).toBe("/usr/local/bin:/usr/bin:/bin");
  });
});
