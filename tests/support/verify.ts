// Runs the compiled verify command (bin/scripts/verify.js, what `bash scripts/pulumi.sh verify` runs) on a
// test stack of tests/support/engine.ts: its backend, passphrase and project directory.
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import { EngineStack, repoRoot, toolchain } from "./engine";

const run = promisify(execFile);

export interface Verified {
  code: number;
  stdout: string;
  stderr: string;
  /** Every line of stdout. */
  lines: string[];
  /** The check lines only (ok / FAIL / skip). */
  checks: string[];
}

export async function runVerifyCommand(stack: EngineStack, opts: { registryUrl?: string; extraArgs?: string[] } = {}): Promise<Verified> {
  const tc = toolchain();
  const bin = path.join(repoRoot, "bin/scripts/verify.js");
  if (!fs.existsSync(bin)) throw new Error(`${bin} missing: run \`npx tsc -p .\` first`);
  const args = [bin, "--stack", stack.name, "--cwd", stack.workDir, "--project-dir", repoRoot, ...(opts.registryUrl ? ["--registry-url", opts.registryUrl] : []), ...(opts.extraArgs ?? [])];
  const env: NodeJS.ProcessEnv = { ...process.env, ...tc.env, PULUMI_BACKEND_URL: `file://${stack.stateDir}`, PULUMI_CONFIG_PASSPHRASE: stack.passphrase, QM_PULUMI: path.join(tc.binDir, "pulumi") };
  delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
  let code = 0;
  let stdout: string;
  let stderr: string;
  try {
    ({ stdout, stderr } = await run("node", args, { env, maxBuffer: 64 * 1024 * 1024 }));
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    code = typeof err.code === "number" ? err.code : -1;
    stdout = err.stdout ?? "";
    stderr = err.stderr ?? String(e);
  }
  const lines = stdout.split("\n").filter(Boolean);
  return { code, stdout, stderr, lines, checks: lines.filter((l) => /^(ok|FAIL|skip) /.test(l)) };
}
