// PostgreSQL persistence of the emulator's state, for the stand-in Quay (tests/e2e/stand-in): every persisted
// field of QuayState (state.ts, persistedFields) is one table of the schema `quay_standin`, one JSONB row per
// element (arrays: per item, keyed by its `id` when every item has a unique one, else by position; maps: per
// entry; sets: per member; plain scalars such as the id counter: one row each in `_scalars`). A field added
// to QuayState later is persisted without new code here.
//
// Every API request runs as one transaction: BEGIN; pg_advisory_xact_lock; load every table into the
// QuayState; handle; write the rows that changed; COMMIT. Two emulators on one database therefore see one
// registry, and a restart loses nothing. Simple and correct, not fast: the in-memory mode (no store) stays
// the default for unit tests and the conformance replay.
import type { Pool, PoolClient } from "pg";
import { persistedFields, QuayState } from "./state";

export const SCHEMA = "quay_standin";
/** The key of the advisory lock that serialises requests across every emulator on the database. */
export const LOCK_KEY = 0x5175_6179; // "Quay"

// ---- a JSON codec that keeps Dates, Maps, Sets and bytes ---------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Encodes a state value as JSON; throws on what it cannot restore (class instances, functions). */
export function encode(v: unknown, where = "value"): Json {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "boolean":
    case "string":
      return v;
    case "number":
      return Number.isFinite(v) ? v : { $num: String(v) };
    case "bigint":
      return { $bigint: v.toString() };
    case "object":
      break;
    default:
      throw new Error(`persist: ${where} is a ${typeof v}, which the stand-in's database cannot store`);
  }
  const o = v as object;
  if (o instanceof Date) return { $date: o.toISOString() };
  if (Array.isArray(o)) return o.map((x, i) => encode(x, `${where}[${i}]`));
  if (o instanceof Map) return { $map: [...o].map(([k, x]) => [encode(k, `${where} key`), encode(x, `${where}.get(${String(k)})`)]) };
  if (o instanceof Set) return { $set: [...o].map((x) => encode(x, `${where} member`)) };
  if (o instanceof Uint8Array) return { $bytes: Buffer.from(o.buffer, o.byteOffset, o.byteLength).toString("base64") };
  if (!isPlainObject(o)) {
    throw new Error(`persist: ${where} is a ${o.constructor?.name ?? "non-plain object"}; keep QuayState to plain data (objects, arrays, Map, Set, Date, Buffer) or list the field in NOT_IN_DATABASE (state.ts)`);
  }
  const out: { [k: string]: Json } = {};
  let tagged = false;
  for (const [k, x] of Object.entries(o)) {
    if (x === undefined) continue;
    if (k.startsWith("$")) tagged = true;
    out[k] = encode(x, `${where}.${k}`);
  }
  return tagged ? { $obj: out } : out;
}

export function decode(j: unknown): unknown {
  if (j === null || typeof j !== "object") return j;
  if (Array.isArray(j)) return j.map(decode);
  const o = j as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0].startsWith("$")) {
    const x = o[keys[0]];
    switch (keys[0]) {
      case "$date":
        return new Date(String(x));
      case "$num":
        return Number(x);
      case "$bigint":
        return BigInt(String(x));
      case "$map":
        return new Map((x as [unknown, unknown][]).map(([k, y]) => [decode(k), decode(y)]));
      case "$set":
        return new Set((x as unknown[]).map(decode));
      case "$bytes":
        return Buffer.from(String(x), "base64");
      case "$obj":
        return Object.fromEntries(Object.entries(x as Record<string, unknown>).map(([k, y]) => [k, decode(y)]));
    }
  }
  return Object.fromEntries(keys.map((k) => [k, decode(o[k])]));
}

// ---- fields <-> rows --------------------------------------------------------------------------------------

type Kind = "array" | "map" | "set" | "scalar";

interface Row {
  key: string;
  ord: number;
  /** JSON.stringify of the encoded element (what is compared to find changes). */
  text: string;
}

/** Table of a field: snake_case of its name (proxyCaches -> proxy_caches). */
export function tableOf(field: string): string {
  const t = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(t)) throw new Error(`persist: QuayState field ${field} has no usable table name`);
  return t;
}
const SCALARS = "_scalars";

function kindOf(v: unknown, field: string): Kind {
  if (Array.isArray(v)) return "array";
  if (v instanceof Map) return "map";
  if (v instanceof Set) return "set";
  if (v === null || ["number", "string", "boolean"].includes(typeof v)) return "scalar";
  throw new Error(`persist: QuayState.${field} is neither an array, a Map, a Set nor a scalar; the stand-in's database cannot store it (list it in NOT_IN_DATABASE in state.ts if it is not state)`);
}

/** Elements of a collection as (key, encoded text), in order. */
function elements(kind: Kind, value: unknown, field: string): { key: string; text: string }[] {
  switch (kind) {
    case "array": {
      const items = value as unknown[];
      const ids = items.map((x) => (x && typeof x === "object" && "id" in x ? (x as { id: unknown }).id : undefined));
      const byId = ids.every((id) => typeof id === "number" || typeof id === "string") && new Set(ids.map(String)).size === ids.length;
      return items.map((x, i) => ({ key: byId ? String(ids[i]) : `#${i}`, text: JSON.stringify(encode(x, `QuayState.${field}[${i}]`)) }));
    }
    case "map":
      return [...(value as Map<unknown, unknown>)].map(([k, x]) => ({ key: JSON.stringify(encode(k)), text: JSON.stringify(encode(x, `QuayState.${field}.get(${String(k)})`)) }));
    case "set":
      return [...(value as Set<unknown>)].map((x) => {
        const text = JSON.stringify(encode(x, `QuayState.${field} member`));
        return { key: text, text };
      });
    default:
      return [{ key: field, text: JSON.stringify(encode(value, `QuayState.${field}`)) }];
  }
}

function rebuild(kind: Kind, rows: { key: string; doc: unknown }[]): unknown {
  switch (kind) {
    case "array":
      return rows.map((r) => decode(r.doc));
    case "map":
      return new Map(rows.map((r) => [decode(JSON.parse(r.key)), decode(r.doc)]));
    case "set":
      return new Set(rows.map((r) => decode(r.doc)));
    default:
      return decode(rows[0]?.doc);
  }
}

interface Field {
  name: string;
  kind: Kind;
  table: string;
}

/** What a transaction loaded: per table, key -> row. */
type Loaded = Map<string, Map<string, Row>>;

export interface PgStoreOptions {
  /** postgresql://user:password@host:port/db (Quay's DB_URI). */
  connectionString: string;
  /** Give up connecting after this long (Quay's health check uses 3 s). */
  connectTimeoutMs?: number;
  /** Makes an empty state (its own fields name the tables). Default: new QuayState(). */
  emptyState?: () => QuayState;
}

/** Keeps a QuayState in PostgreSQL; see the top of this file. */
export class PgStore {
  readonly pool: Pool;
  private fields: Field[];
  private readonly emptyState: () => QuayState;
  private schemaReady = false;
  /** In-process queue: one transaction at a time per emulator (they share one QuayState object). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: PgStoreOptions) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pg = require("pg") as typeof import("pg");
    this.pool = new pg.Pool({ connectionString: opts.connectionString, connectionTimeoutMillis: opts.connectTimeoutMs ?? 3000, max: 4, idleTimeoutMillis: 10_000 });
    // An idle client losing its server (a PostgreSQL restart) must not crash the process.
    this.pool.on("error", (e) => console.error(`quay-emulator: database connection lost: ${e.message}`));
    this.emptyState = opts.emptyState ?? (() => new QuayState());
    const fresh = this.emptyState();
    this.fields = persistedFields(fresh).map((name) => {
      const kind = kindOf((fresh as unknown as Record<string, unknown>)[name], name);
      return { name, kind, table: kind === "scalar" ? SCALARS : tableOf(name) };
    });
  }

  /** The tables this store uses (schema-qualified). */
  tables(): string[] {
    return [...new Set(this.fields.map((f) => `${SCHEMA}.${f.table}`))];
  }

  private async ensureSchema(c: PoolClient): Promise<void> {
    if (this.schemaReady) return;
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    for (const t of new Set(this.fields.map((f) => f.table))) {
      await c.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.${t} (key text PRIMARY KEY, ord bigint NOT NULL, doc jsonb NOT NULL)`);
    }
    this.schemaReady = true;
  }

  /**
   * Runs fn with `state` holding what the database holds, under the cluster-wide advisory lock, and writes
   * back what fn changed. Throws (and rolls back) when fn throws or the database fails.
   */
  transaction<T>(state: QuayState, fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.runTransaction(state, fn));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runTransaction<T>(state: QuayState, fn: () => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    let broken = false;
    try {
      await c.query("BEGIN");
      await c.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
      await this.ensureSchema(c);
      const loaded = await this.load(c, state);
      const result = await fn();
      await this.save(c, state, loaded);
      await c.query("COMMIT");
      return result;
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw e;
    } finally {
      c.release(broken);
    }
  }

  private async load(c: PoolClient, state: QuayState): Promise<Loaded> {
    const tables = [...new Set(this.fields.map((f) => f.table))];
    const sql = tables.map((t) => `SELECT '${t}' AS t, key, ord, doc FROM ${SCHEMA}.${t}`).join(" UNION ALL ") + " ORDER BY t, ord";
    const res = await c.query<{ t: string; key: string; ord: string; doc: unknown }>(sql);
    const byTable = new Map<string, { key: string; ord: number; doc: unknown }[]>();
    for (const r of res.rows) {
      const list = byTable.get(r.t) ?? [];
      list.push({ key: r.key, ord: Number(r.ord), doc: r.doc });
      byTable.set(r.t, list);
    }
    const target = state as unknown as Record<string, unknown>;
    const fresh = this.emptyState() as unknown as Record<string, unknown>;
    const loaded: Loaded = new Map();
    for (const f of this.fields) {
      let rows = byTable.get(f.table) ?? [];
      if (f.kind === "scalar") rows = rows.filter((r) => r.key === f.name);
      target[f.name] = rows.length || f.kind !== "scalar" ? rebuild(f.kind, rows) : fresh[f.name];
      // The baseline is the re-encoding of what was loaded, so unchanged elements compare equal.
      const ords = new Map(rows.map((r) => [r.key, r.ord]));
      const mine = loaded.get(f.table) ?? new Map<string, Row>();
      for (const e of elements(f.kind, target[f.name], f.name)) mine.set(e.key, { key: e.key, ord: ords.get(e.key) ?? 0, text: e.text });
      loaded.set(f.table, mine);
    }
    return loaded;
  }

  private async save(c: PoolClient, state: QuayState, loaded: Loaded): Promise<void> {
    const source = state as unknown as Record<string, unknown>;
    for (const table of new Set(this.fields.map((f) => f.table))) {
      const before = loaded.get(table) ?? new Map<string, Row>();
      const fields = this.fields.filter((f) => f.table === table);
      const after: Row[] = [];
      let last = 0;
      for (const f of fields) {
        for (const e of elements(f.kind, source[f.name], f.name)) {
          // Keep an element's position number while the order holds, so a delete rewrites nothing else.
          const prev = before.get(e.key)?.ord;
          const ord = prev !== undefined && prev > last ? prev : last + 1;
          last = ord;
          after.push({ key: e.key, ord, text: e.text });
        }
      }
      const keep = new Set(after.map((r) => r.key));
      const gone = [...before.keys()].filter((k) => !keep.has(k));
      if (gone.length) await c.query(`DELETE FROM ${SCHEMA}.${table} WHERE key = ANY($1)`, [gone]);
      const changed = after.filter((r) => {
        const b = before.get(r.key);
        return !b || b.text !== r.text || b.ord !== r.ord;
      });
      for (const r of changed) {
        await c.query(`INSERT INTO ${SCHEMA}.${table} (key, ord, doc) VALUES ($1, $2, $3::jsonb) ON CONFLICT (key) DO UPDATE SET ord = EXCLUDED.ord, doc = EXCLUDED.doc`, [r.key, r.ord, r.text]);
      }
    }
  }

  /** Quay's database health check: connect (3 s) and run a query. */
  async check(): Promise<[boolean, string | null]> {
    try {
      const c = await this.pool.connect();
      try {
        await c.query("SET statement_timeout = 5000");
        await c.query("SELECT 1");
        await c.query("RESET statement_timeout");
      } finally {
        c.release();
      }
      return [true, null];
    } catch (e) {
      return [false, `Could not connect to the database: ${e instanceof Error ? e.message : String(e)}`];
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
