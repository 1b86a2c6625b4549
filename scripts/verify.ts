// `bash scripts/pulumi.sh verify` (compiled to bin/scripts/verify.js): the seed's validation script as a
// command. Read-only: it reads the stack (pulumi stack output / config / stack export, each with
// --show-secrets, read from the CLI's stdout — never a secret on a command line), then checks the host over
// SSH, discovery, the model applied, the access model and the backups (scripts/verify/run.ts). One line per
// check; exit status 0 only when none failed, 1 when one did, 2 when verify itself could not run.
//
//   node bin/scripts/verify.js --stack <name> [--config-file <file>] [--cwd <dir>] [--project-dir <dir>]
//       [--registry-url <url>] [--max-backup-age-hours <h>] [--max-restore-age-hours <h>]
//
// --registry-url: where this machine reaches the registry hostname (default https://<registryHostname>).
// PULUMI_BACKEND_URL and the passphrase come from the environment (scripts/pulumi.sh sets them up).
import { execFile } from "child_process";
import * as path from "path";
import { ConfigError } from "../config/errors";
import { DEFAULT_LIMITS } from "./verify/host";
import { decodeSecrets, StateResource } from "./verify/model";
import { exitStatus, formatLine, summary } from "./verify/report";
import { runVerify } from "./verify/run";

const repoRoot = path.resolve(__dirname, "..", "..");

function usage(message: string): never {
  process.stderr.write(`verify: ${message}\nusage: node bin/scripts/verify.js --stack <name> [--config-file <file>] [--cwd <dir>] [--project-dir <dir>] [--registry-url <url>] [--max-backup-age-hours <h>] [--max-restore-age-hours <h>]\n`);
  process.exit(2);
}

interface Args {
  stack: string;
  configFile?: string;
  cwd: string;
  projectDir: string;
  registryUrl?: string;
  maxBackupAgeHours: number;
  maxRestoreAgeHours: number;
}

function parseArgs(argv: string[]): Args {
  const a: Partial<Args> = { cwd: repoRoot, projectDir: repoRoot, maxBackupAgeHours: DEFAULT_LIMITS.maxBackupAgeHours, maxRestoreAgeHours: DEFAULT_LIMITS.maxRestoreAgeHours };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    const need = () => {
      if (value === undefined || value.startsWith("--")) usage(`${flag} needs a value`);
      i++;
      return value;
    };
    const hours = () => {
      const v = need();
      if (!/^\d+(\.\d+)?$/.test(v)) usage(`${flag} must be a number of hours, not ${JSON.stringify(v)}`);
      return Number(v);
    };
    switch (flag) {
      case "--stack": a.stack = need(); break;
      case "--config-file": a.configFile = path.resolve(need()); break;
      case "--cwd": a.cwd = path.resolve(need()); break;
      case "--project-dir": a.projectDir = path.resolve(need()); break;
      case "--registry-url": {
        const v = need();
        if (!/^https?:\/\/[^\s/]+\/?$/.test(v)) usage(`--registry-url must be an http(s) base URL such as https://quay.example.com, not ${JSON.stringify(v)}`);
        a.registryUrl = v;
        break;
      }
      case "--max-backup-age-hours": a.maxBackupAgeHours = hours(); break;
      case "--max-restore-age-hours": a.maxRestoreAgeHours = hours(); break;
      default: usage(`unknown argument ${JSON.stringify(flag)}`);
    }
  }
  if (!a.stack) usage("--stack is required");
  return a as Args;
}

/** Runs the pulumi CLI and returns its stdout (where the secrets are); its stderr is shown only on failure. */
function pulumi(args: string[], cwd: string): Promise<string> {
  const exe = process.env.QM_PULUMI || "pulumi";
  return new Promise((resolve, reject) => {
    execFile(exe, [...args, "--non-interactive"], { cwd, maxBuffer: 512 * 1024 * 1024, env: process.env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`pulumi ${args.filter((x) => x !== "--show-secrets").slice(0, 2).join(" ")} failed: ${String(stderr).trim().split("\n").slice(-3).join(" | ")}`));
      else resolve(stdout);
    });
  });
}

/** `pulumi config --json`: { key: { value, objectValue?, secret } } → quay-mirror:* values, JSON decoded, and the secrets. */
function splitConfig(json: string): { config: Record<string, unknown>; sshPrivateKey?: string } {
  const all = JSON.parse(json) as Record<string, { value?: string; objectValue?: unknown; secret?: boolean }>;
  const config: Record<string, unknown> = {};
  let sshPrivateKey: string | undefined;
  for (const [key, entry] of Object.entries(all)) {
    if (!key.startsWith("quay-mirror:")) continue;
    const name = key.slice("quay-mirror:".length);
    if (entry.secret) {
      if (name === "sshPrivateKey") sshPrivateKey = entry.value;
      continue; // the other secrets are not verify's business
    }
    if (entry.objectValue !== undefined) config[name] = entry.objectValue;
    else {
      try {
        config[name] = JSON.parse(entry.value ?? "");
      } catch {
        config[name] = entry.value;
      }
    }
  }
  return { config, sshPrivateKey };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const stackArgs = ["--stack", args.stack];
  const configArgs = args.configFile ? ["--config-file", args.configFile] : [];
  const [outputsText, configText, stateText] = await Promise.all([
    pulumi(["stack", "output", "--json", "--show-secrets", ...stackArgs], args.cwd),
    pulumi(["config", "--json", "--show-secrets", ...stackArgs, ...configArgs], args.cwd),
    pulumi(["stack", "export", "--show-secrets", ...stackArgs], args.cwd),
  ]);
  const outputs = JSON.parse(outputsText) as Record<string, unknown>;
  const { config, sshPrivateKey } = splitConfig(configText);
  // Only the Quay objects' outputs are decoded (and kept): verify needs nothing of the other resources.
  const exported = JSON.parse(stateText) as { deployment?: { resources?: StateResource[] } };
  const resources = (exported.deployment?.resources ?? []).map((r) =>
    r.type.startsWith("pulumi-nodejs:dynamic/quay:") ? { ...r, outputs: decodeSecrets(r.outputs) as Record<string, unknown> } : { urn: r.urn, type: r.type, id: r.id },
  );
  const stackFile = args.configFile ?? path.join(args.cwd, `Pulumi.${args.stack.split("/").pop()}.yaml`);
  process.stdout.write(`verify: stack ${args.stack} (mode ${String(config.mode ?? "full")})\n`);
  const result = await runVerify({
    projectDir: args.projectDir,
    stackFile,
    config,
    sshPrivateKey,
    outputs,
    resources,
    registryUrl: args.registryUrl,
    limits: { maxBackupAgeHours: args.maxBackupAgeHours, maxRestoreAgeHours: args.maxRestoreAgeHours },
  });
  for (const line of result.lines) process.stdout.write(`${formatLine(line, result.redactor)}\n`);
  process.stdout.write(`verify: ${summary(result.lines)}\n`);
  return exitStatus(result.lines);
}

main().then(
  (code) => process.exit(code),
  (e) => {
    // A bad stack config names the file and key; anything else is one line (no stack trace, no secret: the
    // pulumi CLI's stderr never carries a --show-secrets value).
    process.stderr.write(`verify: ${e instanceof ConfigError ? e.message : e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
