// The services a real Quay uses, for the stand-in Quay (tests/e2e/stand-in): PostgreSQL from DB_URI (every
// object, persist.ts), Redis from USER_EVENTS_REDIS (web sessions) and BUILDLOGS_REDIS (health), the storage
// of DISTRIBUTED_STORAGE_CONFIG (health), and /health/instance and /health/endtoend computed the way Quay's
// health/healthcheck.py and health/services.py do. The emulator uses none of this unless it is started with
// `backends` (see connectBackends); unit tests and the conformance replay stay in memory.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import type { Redis as RedisClient, RedisOptions } from "ioredis";
import { QuayConfig } from "./config";
import { PgStore } from "./persist";
import type { QuayState, Session } from "./state";

/** A health check's verdict, as Quay's (status, message) tuples. */
export type Verdict = [boolean, string | null];

// ---- Redis ------------------------------------------------------------------------------------------------

/** Quay's redis config dicts (BUILDLOGS_REDIS, USER_EVENTS_REDIS): host, port, password, username, db, ssl. */
export function redisOptions(value: unknown, key: string): RedisOptions {
  if (!value || typeof value !== "object") throw new Error(`${key} is not set in config.yaml`);
  const v = value as Record<string, unknown>;
  if (typeof v.host !== "string" || !v.host) throw new Error(`${key}.host is not set in config.yaml`);
  return {
    host: v.host,
    port: v.port === undefined ? 6379 : Number(v.port),
    password: typeof v.password === "string" ? v.password : undefined,
    username: typeof v.username === "string" ? v.username : undefined,
    db: typeof v.db === "number" ? v.db : 0,
    tls: v.ssl === true ? {} : undefined,
  };
}

function newRedis(opts: RedisOptions, extra: RedisOptions): RedisClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Redis = require("ioredis") as typeof import("ioredis").default;
  return new Redis({ ...opts, ...extra });
}

/** data/buildlogs.py RedisBuildLogs.check_health: a fresh connection, 1 s timeouts, PING, SET and GET. */
export async function checkRedis(opts: RedisOptions): Promise<Verdict> {
  const r = newRedis(opts, { lazyConnect: true, connectTimeout: 1000, commandTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let lastError: Error | undefined; // the server's own refusal (WRONGPASS, ...) names the cause better
  r.on("error", (e: Error) => (lastError = e));
  try {
    await r.connect();
    if ((await r.ping()) !== "PONG") return [false, "Could not ping redis"];
    await r.set("_health", String(Date.now() / 1000));
    await r.get("_health");
    return [true, null];
  } catch (e) {
    return [false, `Could not connect to redis: ${lastError?.message ?? (e instanceof Error ? e.message : String(e))}`];
  } finally {
    r.disconnect();
  }
}

/**
 * Web sessions (the `_csrf_token` cookie's server side) in Redis, so every stand-in behind one Redis knows
 * every session: the request's session is read before it is handled and what it changed is written after.
 */
export class RedisSessions {
  readonly client: RedisClient;
  static readonly PREFIX = "quay-standin:session:";
  static readonly TTL_S = 7 * 24 * 3600;

  constructor(opts: RedisOptions) {
    this.client = newRedis(opts, { lazyConnect: true, connectTimeout: 2000, commandTimeout: 2000, maxRetriesPerRequest: 1 });
    this.client.on("error", (e: Error) => console.error(`quay-emulator: redis (sessions): ${e.message}`));
  }

  /** Puts the session named by the cookie (if Redis has it) into state.sessions; returns the baseline. */
  async load(state: QuayState, sid: string | undefined): Promise<Map<string, string>> {
    state.sessions = new Map<string, Session>();
    const baseline = new Map<string, string>();
    if (!sid) return baseline;
    const text = await this.client.get(RedisSessions.PREFIX + sid);
    if (text) {
      state.sessions.set(sid, JSON.parse(text) as Session);
      baseline.set(sid, text);
    }
    return baseline;
  }

  /** Writes the sessions the request created or changed, and deletes those it removed. */
  async save(state: QuayState, baseline: Map<string, string>): Promise<void> {
    for (const [sid, s] of state.sessions) {
      const text = JSON.stringify(s);
      if (baseline.get(sid) !== text) await this.client.set(RedisSessions.PREFIX + sid, text, "EX", RedisSessions.TTL_S);
    }
    for (const sid of baseline.keys()) if (!state.sessions.has(sid)) await this.client.del(RedisSessions.PREFIX + sid);
  }

  close(): void {
    this.client.disconnect();
  }
}

// ---- storage ----------------------------------------------------------------------------------------------

/** RadosGWStorage parameters (DISTRIBUTED_STORAGE_CONFIG[location][1]). */
export interface RadosGWParams {
  hostname: string;
  port?: number;
  is_secure?: boolean;
  bucket_name: string;
  storage_path?: string;
  access_key: string;
  secret_key: string;
  region_name?: string;
}

const sha256 = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");
const hmac = (key: crypto.BinaryLike, data: string) => crypto.createHmac("sha256", key).update(data).digest();
const uriEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** One path-style S3 request signed with AWS Signature V4 (what boto does for RadosGW). */
export function s3Request(p: RadosGWParams, method: string, key: string, body: Buffer = Buffer.alloc(0), timeoutMs = 3000): Promise<{ status: number; body: string }> {
  const secure = p.is_secure === true;
  const port = p.port ?? (secure ? 443 : 80);
  const hostHeader = (secure && port === 443) || (!secure && port === 80) ? p.hostname : `${p.hostname}:${port}`;
  const canonicalUri = "/" + [p.bucket_name, ...key.split("/")].filter((s) => s !== "").map(uriEncode).join("/");
  const now = new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const region = p.region_name || "us-east-1";
  const payloadHash = sha256(body);
  const headers: Record<string, string> = { host: hostHeader, "x-amz-content-sha256": payloadHash, "x-amz-date": amzDate };
  const signed = Object.keys(headers).sort();
  const canonicalHeaders = signed.map((h) => `${h}:${headers[h]}\n`).join("");
  const canonical = [method, canonicalUri, "", canonicalHeaders, signed.join(";"), payloadHash].join("\n");
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${p.secret_key}`, day), region), "s3"), "aws4_request");
  const signature = crypto.createHmac("sha256", kSigning).update(toSign).digest("hex");
  const authorization = `AWS4-HMAC-SHA256 Credential=${p.access_key}/${scope}, SignedHeaders=${signed.join(";")}, Signature=${signature}`;
  const mod = secure ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      { host: p.hostname, port, method, path: canonicalUri, headers: { ...headers, Authorization: authorization, "Content-Length": String(body.length) }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** S3's error code out of an XML error body. */
function s3Code(body: string): string {
  return /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? "";
}

/**
 * The storage health check for RadosGWStorage, as Quay's BaseStorage.validate: write `_verify` under
 * storage_path in the bucket with the configured keys, then find it. A blob store (S3 client) added later may
 * replace it in STORAGE_HEALTH_CHECKS.
 */
export async function checkRadosGWStorage(p: RadosGWParams): Promise<Verdict> {
  const key = `${(p.storage_path ?? "").replace(/^\/+|\/+$/g, "")}/_verify`.replace(/^\//, "");
  try {
    const put = await s3Request(p, "PUT", key, Buffer.from("testing 123"));
    if (put.status !== 200) throw new Error(`PUT ${p.bucket_name}/${key}: HTTP ${put.status} ${s3Code(put.body)}`.trim());
    const head = await s3Request(p, "HEAD", key);
    if (head.status !== 200) throw new Error(`Could not find verification file (HTTP ${head.status})`);
    return [true, null];
  } catch (e) {
    return [false, e instanceof Error ? e.message : String(e)];
  }
}

/** LocalStorage: write and read `_verify` under storage_path. */
export async function checkLocalStorage(p: { storage_path: string }): Promise<Verdict> {
  try {
    fs.mkdirSync(p.storage_path, { recursive: true });
    const f = path.join(p.storage_path, "_verify");
    fs.writeFileSync(f, "testing 123");
    if (fs.readFileSync(f, "utf8") !== "testing 123") throw new Error("Could not find verification file");
    return [true, null];
  } catch (e) {
    return [false, e instanceof Error ? e.message : String(e)];
  }
}

/** Storage drivers the stand-in can check, by DISTRIBUTED_STORAGE_CONFIG driver name. */
export const STORAGE_HEALTH_CHECKS: Record<string, (params: never) => Promise<Verdict>> = {
  RadosGWStorage: checkRadosGWStorage,
  LocalStorage: checkLocalStorage,
};

/** health/storage_engines.check_storage_engines: every location; a preferred one failing fails the check. */
export async function checkStorage(config: QuayConfig): Promise<Verdict> {
  if (config.get("REGISTRY_STATE") === "readonly") return [true, "Storage check disabled for readonly mode"];
  const locations = (config.get<Record<string, [string, Record<string, unknown>]>>("DISTRIBUTED_STORAGE_CONFIG") ?? {}) as Record<string, [string, Record<string, unknown>]>;
  const preferred = new Set((config.get<string[]>("DISTRIBUTED_STORAGE_PREFERENCE") ?? []).map(String));
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const [location, [driver, params]] of Object.entries(locations)) {
    const check = STORAGE_HEALTH_CHECKS[driver];
    const [ok, message] = check ? await check(params as never) : [false, `storage driver ${driver} is not emulated by the stand-in`];
    if (ok) continue;
    if (!preferred.size || preferred.has(location)) failures.push(`Preferred storage '${location}' check failed: ${message}`);
    else warnings.push(`Non-preferred storage '${location}' unavailable: ${message}`);
  }
  if (failures.length) return [false, failures.join("; ") + (warnings.length ? ` (warnings: ${warnings.join("; ")})` : "")];
  return [true, warnings.length ? warnings.join("; ") : null];
}

// ---- health -----------------------------------------------------------------------------------------------

/** The services skipped by /health/instance: HEALTH_CHECKER's instance_skips (LocalHealthCheck: redis, storage). */
export function instanceSkips(config: QuayConfig): string[] {
  const hc = config.get<[string, Record<string, unknown> | null] | undefined>("HEALTH_CHECKER") ?? ["LocalHealthCheck", {}];
  const params: Record<string, unknown> = (Array.isArray(hc) ? hc[1] : null) ?? {};
  const skips = params.instance_skips;
  return Array.isArray(skips) ? skips.map(String) : ["redis", "storage"];
}

export interface HealthResult {
  /** Quay's `data`: {services: {name: bool}} */
  services: Record<string, boolean>;
  /** The failure messages (Quay logs them and shows them to superusers only). */
  failures: Record<string, string>;
  status: 200 | 503;
}

// ---- the bundle -------------------------------------------------------------------------------------------

export interface Backends {
  store: PgStore;
  sessions: RedisSessions;
  /** /health/instance (instance services + global ones minus instance_skips) or /health/endtoend (global). */
  health(kind: "instance" | "endtoend", config: QuayConfig): Promise<HealthResult>;
  close(): Promise<void>;
}

/** Connects (lazily) to what config.yaml names: DB_URI, USER_EVENTS_REDIS, BUILDLOGS_REDIS, storage. */
export function connectBackends(values: Record<string, unknown>): Backends {
  const config = new QuayConfig(values);
  const dbUri = config.get<string>("DB_URI");
  if (typeof dbUri !== "string" || !/^postgres(ql)?:\/\//.test(dbUri)) throw new Error("DB_URI in config.yaml must be a postgresql:// URI for the stand-in");
  const store = new PgStore({ connectionString: dbUri });
  const buildlogs = redisOptions(config.get("BUILDLOGS_REDIS"), "BUILDLOGS_REDIS");
  const sessions = new RedisSessions(redisOptions(config.get("USER_EVENTS_REDIS") ?? config.get("BUILDLOGS_REDIS"), "USER_EVENTS_REDIS"));
  return {
    store,
    sessions,
    async health(kind, cfg) {
      const global: Record<string, () => Promise<Verdict>> = {
        database: () => store.check(),
        redis: () => checkRedis(buildlogs),
        storage: () => checkStorage(cfg),
        auth: async () => [true, null], // Database authentication: ping is the database check
      };
      // This process answers, so its workers do; service keys and disk space are not emulated.
      const instance: Record<string, () => Promise<Verdict>> = {
        registry_gunicorn: async () => [true, null],
        web_gunicorn: async () => [true, null],
        service_key: async () => [true, null],
        disk_space: async () => [true, null],
      };
      const services = kind === "instance" ? { ...instance, ...global } : global;
      const skip = kind === "instance" ? instanceSkips(cfg) : [];
      const result: HealthResult = { services: {}, failures: {}, status: 200 };
      for (const [name, fn] of Object.entries(services)) {
        if (skip.includes(name)) continue;
        const [ok, message] = await fn();
        result.services[name] = ok;
        if (!ok) {
          result.failures[name] = message ?? "failed";
          result.status = 503;
        }
      }
      if (result.status !== 200) console.warn(`[FAILED HEALTH CHECK] ${JSON.stringify(result.failures)}`);
      return result;
    },
    async close() {
      sessions.close();
      await store.close();
    },
  };
}
