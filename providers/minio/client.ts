// A small client for MinIO that runs MinIO's own `mc --json` (the same tool the host's backup scripts use).
//
// Credentials never reach argv (which `ps` shows to every user) nor the environment: each call gets a private,
// fresh MC_CONFIG_DIR (mode 0700) whose config.json (mode 0600) holds its aliases, so nothing is read from or
// written to ~/.mc. (Not `MC_HOST_<alias>=http://key:secret@host`: this mc does not percent-decode it, so a
// secret key with ':', '@' or '/' cannot be written there.) The one value mc would otherwise
// take on its command line, a new user's secret key, goes on stdin (`mc admin user add ALIAS ACCESSKEY`
// reads the secret from stdin when it is not an argument; mc's cmd/admin-user-add.go fetchUserKeys).
//
// Errors carry the mc command (argv holds no secret) and MinIO's own message and code; every secret the
// call knows of is redacted from them, because mc echoes some (e.g. `admin user add` prints the secret key).
//
// This module is loaded from bin/ by the lazy shims (providers/lazy.ts), never serialized into state.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** How a provider reaches MinIO. `secretKey` is a secret. */
export interface MinioConnection {
  /** `http://host:port` or `https://host:port` of the MinIO S3 API. */
  endpoint: string;
  /** Access key of a MinIO admin user (the root user, or one with the admin policies). */
  accessKey: string;
  secretKey: string;
  /** Path of the `mc` binary. Default "mc" (looked up on PATH). */
  mcPath?: string;
}

export interface MinioCredentials {
  accessKey: string;
  secretKey: string;
}

/** The alias the connection's credentials are bound to in every call: write targets as `target/bucket`. */
export const ALIAS = "target";

/** `target/<path>` */
export const at = (p = ""): string => (p ? `${ALIAS}/${p}` : ALIAS);

/** One line of `mc --json` output. */
export type McLine = Record<string, unknown>;

export interface McCallOptions {
  /** Standard input for mc (secrets go here, never in args). */
  stdin?: string;
  /** More aliases, bound to other credentials (e.g. to test what a user may do). */
  aliases?: Record<string, MinioCredentials>;
  /** Values to redact from errors besides the credentials (e.g. a secret sent on stdin). */
  secrets?: string[];
  /** Kill mc after this long. Default $MINIO_MC_TIMEOUT_MS or 120 s. */
  timeoutMs?: number;
}

/** An mc call that failed: the command (no secrets), MinIO's message and its error code when it gave one. */
export class McError extends Error {
  constructor(
    /** `mc --json … <args>`, as run (argv never holds a secret). */
    readonly command: string,
    readonly exitCode: number | null,
    /** mc's own summary, e.g. "Unable to get lifecycle configuration". */
    readonly mcMessage: string,
    /** MinIO's message, e.g. "The lifecycle configuration does not exist". */
    readonly minioMessage: string,
    /** MinIO's (S3) error code, e.g. "NoSuchLifecycleConfiguration", when it sent one. */
    readonly code: string | undefined,
  ) {
    super(`${command} failed${exitCode === null ? "" : ` (exit ${exitCode})`}: ${[mcMessage, minioMessage].filter(Boolean).join(": ")}${code ? ` [${code}]` : ""}`);
    this.name = "McError";
  }
}

export function isMcError(e: unknown): e is McError {
  return e instanceof Error && e.name === "McError" && "command" in e;
}

/** True when `e` is an McError with one of these MinIO codes. */
export function hasCode(e: unknown, ...codes: string[]): boolean {
  return isMcError(e) && e.code !== undefined && codes.includes(e.code);
}

/** mc's config.json (version 10) with one alias per credential pair on the endpoint (secret: a 0600 file only). */
export function mcConfigJson(endpoint: string, aliases: Record<string, MinioCredentials>): string {
  const url = new URL(endpoint);
  const entry = (c: MinioCredentials) => ({ url: `${url.protocol}//${url.host}`, accessKey: c.accessKey, secretKey: c.secretKey, api: "S3v4", path: "auto" });
  return JSON.stringify({ version: "10", aliases: Object.fromEntries(Object.entries(aliases).map(([alias, c]) => [alias, entry(c)])) });
}

export interface McInvocation {
  file: string;
  argv: string[];
  env: Record<string, string>;
  /** The content of $MC_CONFIG_DIR/config.json (holds the secrets). */
  configJson: string;
}

/**
 * The only variables mc gets from its parent: where to find programs and a home, locale and time zone, the
 * TLS trust store (a lab CA), and the HTTP proxy settings. Nothing else passes — not the engine's
 * PULUMI_CONFIG_PASSPHRASE, not AWS_* keys, not a stale MC_HOST_* alias.
 */
export const MC_ENV_PASSED = [
  "PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL", "LC_CTYPE",
  "SSL_CERT_FILE", "SSL_CERT_DIR",
  "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
] as const;

/** mc's whole environment: MC_ENV_PASSED from baseEnv, plus MC_CONFIG_DIR (its private config.json). */
export function mcEnvironment(configDir: string, baseEnv: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of MC_ENV_PASSED) {
    const v = baseEnv[k];
    if (v !== undefined) env[k] = v;
  }
  env.MC_CONFIG_DIR = configDir;
  return env;
}

/**
 * What one call runs, as a pure function so tests can assert that no secret is on argv or in the environment:
 * the binary, its arguments, the child's whole environment (mcEnvironment: an allow-list, plus
 * MC_CONFIG_DIR), and the config file with the aliases.
 */
export function mcInvocation(connection: MinioConnection, args: string[], configDir: string, opts: McCallOptions = {}, baseEnv: NodeJS.ProcessEnv = process.env): McInvocation {
  const env = mcEnvironment(configDir, baseEnv);
  const configJson = mcConfigJson(connection.endpoint, { [ALIAS]: connection, ...(opts.aliases ?? {}) });
  return { file: connection.mcPath || "mc", argv: ["--json", "--quiet", "--no-color", "--disable-pager", ...args], env, configJson };
}

/** Parses `mc --json` output: one JSON object per line (mc pretty-prints some as several lines). */
export function parseJsonLines(stdout: string): McLine[] {
  const out: McLine[] = [];
  let buffer = "";
  for (const line of stdout.split("\n")) {
    if (!buffer && !line.trimStart().startsWith("{")) continue;
    buffer += line + "\n";
    try {
      out.push(JSON.parse(buffer) as McLine);
      buffer = "";
    } catch {
      // an object spread over several lines: keep reading
    }
  }
  return out;
}

function redact(text: string, secrets: string[]): string {
  let t = text;
  for (const s of secrets.filter((x) => x && x.length >= 3).sort((a, b) => b.length - a.length)) {
    t = t.split(s).join("***").split(encodeURIComponent(s)).join("***");
  }
  return t;
}

/** The error line of mc's JSON output, as an McError. */
function errorFrom(command: string, exitCode: number | null, lines: McLine[], stderr: string, secrets: string[]): McError {
  const failure = lines.find((l) => l.status === "error") as { error?: { message?: string; cause?: { message?: string; error?: { Code?: string; Message?: string } } } } | undefined;
  const mcMessage = failure?.error?.message ?? "";
  const minioMessage = failure?.error?.cause?.error?.Message || failure?.error?.cause?.message || (failure ? "" : stderr.trim().slice(0, 2000));
  return new McError(command, exitCode, redact(mcMessage, secrets), redact(minioMessage, secrets), failure?.error?.cause?.error?.Code || undefined);
}

/**
 * Runs `mc --json <args>` against the connection (alias `target`). Resolves with the JSON lines on
 * success; rejects with an McError otherwise.
 */
export async function runMc(connection: MinioConnection, args: string[], opts: McCallOptions = {}): Promise<McLine[]> {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-mc-"));
  fs.chmodSync(configDir, 0o700);
  const inv = mcInvocation(connection, args, configDir, opts);
  fs.writeFileSync(path.join(configDir, "config.json"), inv.configJson, { mode: 0o600 });
  const secrets = [connection.secretKey, ...Object.values(opts.aliases ?? {}).map((c) => c.secretKey), ...(opts.secrets ?? [])];
  const command = `${path.basename(inv.file)} ${inv.argv.join(" ")}`;
  const envTimeout = Number(process.env.MINIO_MC_TIMEOUT_MS);
  const timeoutMs = opts.timeoutMs ?? (Number.isFinite(envTimeout) && envTimeout > 0 ? envTimeout : 120_000);
  try {
    const { code, stdout, stderr, timedOut } = await new Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }>((resolve, reject) => {
      const child = spawn(inv.file, inv.argv, { env: inv.env, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", (e) => {
        clearTimeout(timer);
        const hint = (e as NodeJS.ErrnoException).code === "ENOENT" ? ` — fix: install MinIO's mc or set the connection's mcPath to its full path` : "";
        reject(new McError(command, null, `cannot run ${inv.file}: ${e.message}${hint}`, "", undefined));
      });
      child.on("close", (c) => {
        clearTimeout(timer);
        resolve({ code: c, stdout, stderr, timedOut });
      });
      child.stdin.on("error", () => undefined); // mc may exit before reading stdin
      child.stdin.end(opts.stdin ?? "");
    });
    const lines = parseJsonLines(stdout);
    if (timedOut) throw new McError(command, null, `timed out after ${timeoutMs} ms (set MINIO_MC_TIMEOUT_MS to wait longer)`, "", undefined);
    if (code !== 0 || lines.some((l) => l.status === "error")) throw errorFrom(command, code, lines, stderr, secrets);
    return lines;
  } finally {
    fs.rmSync(configDir, { recursive: true, force: true });
  }
}
