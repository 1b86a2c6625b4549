// Throwaway PostgreSQL and Redis servers for tests (Debian's postgresql and redis-server packages): on a free
// loopback port, data in a temporary folder, started and stopped by the test. Passwords reach the servers
// through files (initdb --pwfile, redis.conf), never argv.
//
//   const pg = await startPostgres();          // database "quay", user "quay" with pg.password
//   const redis = await startRedis();          // requirepass redis.password
//   try { ... pg.uri ... } finally { await redis.stop(); await pg.stop(); }
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { freePort } from "./minio";
import type { Prerequisites } from "./prerequisites";

function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!fs.existsSync(root)) return undefined;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], "bin") : undefined;
}

function which(exe: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":").concat(["/usr/bin", "/usr/sbin"])) {
    const p = path.join(dir, exe);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** Root runs the servers as the `postgres` / `redis` system users (initdb refuses root). */
function runAs(user: string): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", user], { stdio: "pipe" }).toString().trim());
    const gid = Number(execFileSync("id", ["-g", user], { stdio: "pipe" }).toString().trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** What a suite needing both servers requires (for describeWithPrerequisites). */
export function pgRedisPrerequisites(): Prerequisites {
  const missing: string[] = [];
  if (!postgresBinDir()) missing.push("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)");
  else if (process.getuid?.() === 0 && !runAs("postgres")) missing.push("the postgres system user (apt-get install postgresql)");
  if (!which("redis-server")) missing.push("redis-server (apt-get install redis-server)");
  return missing.length ? { ok: false, reason: `missing ${missing.join(" and ")}` } : { ok: true };
}

async function waitForPort(port: number, what: string, exited: () => string | null, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = exited();
    if (why !== null) throw new Error(`${what} exited at start: ${why}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopChild(child: ChildProcess, isExited: () => boolean): Promise<void> {
  if (isExited()) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

export interface Postgres {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** postgresql://quay:<password>@127.0.0.1:<port>/quay */
  readonly uri: string;
  /** The same with another password (for wrong-credential tests). */
  uriWithPassword(password: string): string;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL server binaries not found (apt-get install postgresql)");
  const as = runAs("postgres");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-pg-"));
  const data = path.join(dir, "data");
  const password = crypto.randomBytes(18).toString("base64url");
  const pwfile = path.join(dir, "pw");
  fs.writeFileSync(pwfile, password + "\n", { mode: 0o600 });
  if (as) {
    fs.chownSync(dir, as.uid, as.gid);
    fs.chownSync(pwfile, as.uid, as.gid);
  }
  const opts = { uid: as?.uid, gid: as?.gid, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8" } };
  // The superuser is "quay" itself (the database's owner), with a password: scram over TCP, nothing trusted.
  execFileSync(path.join(bin, "initdb"), ["-D", data, "-U", "quay", "--pwfile", pwfile, "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"], { ...opts, stdio: "pipe" });
  fs.rmSync(pwfile);
  const port = await freePort();
  const log = fs.openSync(path.join(dir, "postgres.log"), "a");
  const child = spawn(path.join(bin, "postgres"), ["-D", data, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${dir}`, "-c", "fsync=off"], { ...opts, stdio: ["ignore", log, log] });
  fs.closeSync(log);
  let exit: string | null = null;
  child.once("exit", (code, sig) => (exit = `code ${code} signal ${sig}`));
  const logTail = () => fs.readFileSync(path.join(dir, "postgres.log"), "utf8").slice(-2000);
  try {
    await waitForPort(port, "postgres", () => (exit === null ? null : `${exit}; ${logTail()}`));
    // CREATE DATABASE quay through the server itself (pg client, password from memory).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pg = require("pg") as typeof import("pg");
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = new pg.Client({ host: "127.0.0.1", port, user: "quay", password, database: "postgres" });
      try {
        await c.connect();
        await c.query("CREATE DATABASE quay");
        await c.end();
        break;
      } catch (e) {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200)); // still starting up
      }
    }
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  const uriWithPassword = (pw: string) => `postgresql://quay:${encodeURIComponent(pw)}@127.0.0.1:${port}/quay`;
  return {
    port,
    user: "quay",
    password,
    database: "quay",
    uri: uriWithPassword(password),
    uriWithPassword,
    async stop() {
      await stopChild(child, () => exit !== null);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisServer {
  readonly port: number;
  readonly password: string;
  /** Quay's BUILDLOGS_REDIS / USER_EVENTS_REDIS value. */
  config(password?: string): { host: string; port: number; password: string };
  /** Stops the server (keeps nothing); start() brings it back on the same port (no-op when running). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const exe = which("redis-server");
  if (!exe) throw new Error("redis-server not found (apt-get install redis-server)");
  const as = runAs("redis") ?? runAs("nobody");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-redis-"));
  const password = crypto.randomBytes(18).toString("base64url");
  const port = await freePort();
  const conf = path.join(dir, "redis.conf");
  fs.writeFileSync(conf, [`bind 127.0.0.1`, `port ${port}`, `requirepass ${password}`, `save ""`, `appendonly no`, `dir ${dir}`, `daemonize no`, `logfile ""`, ""].join("\n"), { mode: 0o600 });
  if (as) {
    fs.chownSync(dir, as.uid, as.gid);
    fs.chownSync(conf, as.uid, as.gid);
  }
  let child: ChildProcess | undefined;
  let exit: string | null = null;
  const start = async () => {
    if (child && exit === null) return; // running
    exit = null;
    const log = fs.openSync(path.join(dir, "redis.log"), "a");
    const c = spawn(exe, [conf], { uid: as?.uid, gid: as?.gid, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, stdio: ["ignore", log, log] });
    fs.closeSync(log);
    c.once("exit", (code, sig) => (exit = `code ${code} signal ${sig}`));
    child = c;
    await waitForPort(port, "redis-server", () => (exit === null ? null : `${exit}; ${fs.readFileSync(path.join(dir, "redis.log"), "utf8").slice(-2000)}`));
  };
  const stop = async () => {
    if (child) await stopChild(child, () => exit !== null);
    child = undefined;
  };
  await start();
  return {
    port,
    password,
    config: (pw = password) => ({ host: "127.0.0.1", port, password: pw }),
    stop,
    start,
    async destroy() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
