// The services a real Quay uses, for the stand-in Quay (tests/e2e/stand-in): PostgreSQL from DB_URI (every
// object, persist.ts), Redis from USER_EVENTS_REDIS (web sessions) and BUILDLOGS_REDIS (health), the blob
// store of DISTRIBUTED_STORAGE_CONFIG (storage.ts; health here), and /health/instance and /health/endtoend computed the way Quay's
// health/healthcheck.py and health/services.py do. The emulator uses none of this unless it is started with
// `backends` (see connectBackends); unit tests and the conformance replay stay in memory.
import type { Redis as RedisClient, RedisOptions } from "ioredis";
import { QuayConfig } from "./config";
import { PgStore } from "./persist";
import type { QuayState, Session } from "./state";
import { BlobStore, checkStorage } from "./storage";

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

/**
 * health/services._check_storage: the registry's own blob store (storage.ts: RadosGWStorage over S3 with the
 * configured keys) validated as Quay's storage.validate does (write `_verify` under storage_path, find it).
 */
export async function storageHealth(config: QuayConfig, store: BlobStore): Promise<Verdict> {
  if (config.get("REGISTRY_STATE") === "readonly") return [true, "Storage check disabled for readonly mode"];
  const r = await checkStorage(store);
  return r.ok ? [true, null] : [false, `Preferred storage check failed: ${r.error}`];
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
  health(kind: "instance" | "endtoend", config: QuayConfig, store: BlobStore): Promise<HealthResult>;
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
    async health(kind, cfg, blobStore) {
      const global: Record<string, () => Promise<Verdict>> = {
        database: () => store.check(),
        redis: () => checkRedis(buildlogs),
        storage: () => storageHealth(cfg, blobStore),
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
