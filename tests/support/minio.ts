// A real MinIO server for tests (built from Go modules by scripts/install-tools.sh), on a free port, with
// its data in a temporary folder, and MinIO's `mc` client wired to it.
//
//   const minio = await startMinio();                 // 127.0.0.1, or { address: host.hostAddress }
//   try {
//     await minio.mc(["mb", "root/quay-storage"]);    // "root" is the alias of the root user
//     const r = await minio.mc(["ls", "u/quay-backups"], { allowFailure: true, as: { accessKey, secretKey } });
//   } finally {
//     await minio.stop();
//   }
//
// Credentials reach `mc` only through a private config.json written by the provider's own mcConfigJson
// (never argv or the environment), exactly as the MinIO providers hand them over.
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { mcConfigJson, mcEnvironment, parseJsonLines } from "../../providers/minio/client";
import { toolchain } from "./engine";

export interface MinioOptions {
  /** Address MinIO listens on. Default 127.0.0.1; a test host's `hostAddress` lets its guest reach it. */
  address?: string;
  /** Port. Default: a free one. */
  port?: number;
}

export interface MinioCredentials {
  accessKey: string;
  secretKey: string;
}

export interface McResult {
  code: number;
  stdout: string;
  stderr: string;
  /** `--json` output, one object per line (empty when not JSON). */
  json: Array<Record<string, unknown>>;
}

export interface McOptions {
  /** Credentials for the alias "u" (default: only "root", the root user, is defined). */
  as?: MinioCredentials;
  /** Return failures instead of throwing. */
  allowFailure?: boolean;
  /** Standard input. */
  stdin?: string | Buffer;
}

export interface Minio {
  /** http://address:port */
  readonly endpoint: string;
  readonly address: string;
  readonly port: number;
  readonly root: MinioCredentials;
  /** Folder holding the `minio` and `mc` binaries. */
  readonly binDir: string;
  /** Path of the `mc` binary (to upload to a host). */
  readonly mcPath: string;
  /** Runs `mc --json <args>` with alias "root" (root user) and, with `as`, alias "u". */
  mc(args: string[], opts?: McOptions): Promise<McResult>;
  stop(): Promise<void>;
}

/** Where scripts/install-tools.sh put the tools; a clear error when they are missing. */
export function toolsBinDir(): string {
  // scripts/install-tools.sh installs beside the Pulumi toolchain: $QUAY_MIRROR_CACHE/tools/bin.
  const dir = path.join(toolchain().binDir, "..", "..", "tools", "bin");
  for (const exe of ["minio", "mc"]) {
    if (!fs.existsSync(path.join(dir, exe))) {
      throw new Error(`${path.join(dir, exe)} not found: run scripts/install-tools.sh (scripts/test.sh runs it before the tests)`);
    }
  }
  return dir;
}

export async function freePort(address = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, address, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startMinio(opts: MinioOptions = {}): Promise<Minio> {
  const binDir = toolsBinDir();
  const address = opts.address ?? "127.0.0.1";
  const port = opts.port ?? (await freePort(address));
  const consolePort = await freePort(address);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-minio-"));
  const dataDir = path.join(dir, "data");
  fs.mkdirSync(dataDir);
  const root = { accessKey: "qm-root", secretKey: `root-${Math.random().toString(36).slice(2)}${Date.now()}` };
  const endpoint = `http://${address}:${port}`;
  const log = fs.openSync(path.join(dir, "minio.log"), "a");
  const child: ChildProcess = spawn(
    path.join(binDir, "minio"),
    ["server", dataDir, "--address", `${address}:${port}`, "--console-address", `${address}:${consolePort}`, "--quiet"],
    {
      // only what the server needs: not this process's secrets (PULUMI_CONFIG_PASSPHRASE, AWS_*, …)
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, TMPDIR: os.tmpdir(), MINIO_ROOT_USER: root.accessKey, MINIO_ROOT_PASSWORD: root.secretKey, MINIO_BROWSER: "off", MINIO_UPDATE: "off" },
      stdio: ["ignore", log, log],
      detached: false,
    },
  );
  fs.closeSync(log);
  let exited = false;
  child.once("exit", () => (exited = true));

  const mc = (args: string[], o: McOptions = {}): Promise<McResult> =>
    new Promise((resolve, reject) => {
      // A fresh private config per call: alias "root" always, "u" for the credentials asked for.
      const configDir = fs.mkdtempSync(path.join(dir, "mc-"));
      fs.writeFileSync(path.join(configDir, "config.json"), mcConfigJson(endpoint, { root, ...(o.as ? { u: o.as } : {}) }), { mode: 0o600 });
      const env = mcEnvironment(configDir); // the provider's allow-list: no secret of this process reaches mc
      const p = execFile(path.join(binDir, "mc"), ["--json", "--quiet", ...args], { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        fs.rmSync(configDir, { recursive: true, force: true });
        const code = err ? (typeof (err as NodeJS.ErrnoException).code === "number" ? ((err as unknown as { code: number }).code) : 1) : 0;
        const json = parseJsonLines(String(stdout)) as Array<Record<string, unknown>>;
        const result = { code, stdout: String(stdout), stderr: String(stderr), json };
        if (code !== 0 && !o.allowFailure) {
          reject(new Error(`mc ${args.join(" ")} failed (${code}): ${String(stdout).slice(0, 2000)} ${String(stderr).slice(0, 2000)}`));
        } else {
          resolve(result);
        }
      });
      if (o.stdin !== undefined) p.stdin?.end(o.stdin);
      else p.stdin?.end();
    });

  // Ready when the root user can list buckets.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`minio exited at start; log: ${fs.readFileSync(path.join(dir, "minio.log"), "utf8").slice(-2000)}`);
    const r = await mc(["ls", "root"], { allowFailure: true });
    if (r.code === 0) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`minio did not answer within 60 s at ${endpoint}: ${r.stdout} ${r.stderr}`);
    }
    await new Promise((r2) => setTimeout(r2, 250));
  }

  return {
    endpoint,
    address,
    port,
    root,
    binDir,
    mcPath: path.join(binDir, "mc"),
    mc,
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000).unref())]);
        if (!exited) child.kill("SIGKILL");
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
