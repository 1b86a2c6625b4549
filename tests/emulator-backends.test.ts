// The emulator with the services of config.yaml (the stand-in Quay's mode, tests/emulator/backends.ts) against
// a real PostgreSQL, Redis and MinIO on loopback: a restart keeps every object, two emulators on one database
// are one registry, sessions live in Redis, and /health/instance fails 503 naming the database, redis or
// storage when it is unreachable or its credentials are wrong.
import { Client } from "pg";
import { connectBackends } from "./emulator/backends";
import { decode, encode, PgStore } from "./emulator/persist";
import { QuayState } from "./emulator/state";
import { QuayEmulator, startQuayEmulator } from "./emulator";
import { Minio, startMinio } from "./support/minio";
import { pgRedisPrerequisites, Postgres, RedisServer, startPostgres, startRedis } from "./support/pg-redis";
import { describeWithPrerequisites } from "./support/prerequisites";
import { makeImage, OciClient, sha256 } from "./support/oci-client";

jest.setTimeout(120_000);

interface Res {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

async function call(base: string, method: string, p: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Res> {
  const h: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) h.Authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) h["Content-Type"] = "application/json";
  const r = await fetch(base + p, { method, headers: h, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await r.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : "";
  } catch {
    /* text */
  }
  return { status: r.status, body, headers: r.headers };
}

describe("persist.ts codec", () => {
  test("Dates, Maps, Sets, bytes, non-finite numbers and $-keys survive a JSON round trip", () => {
    const v = { d: new Date("2026-12-07T04:00:00.123Z"), m: new Map<unknown, unknown>([["a", 1], [2, new Set(["x"])]]), b: Buffer.from([0, 1, 255]), n: Infinity, o: { $date: "not a date", k: [null, "s", true] }, u: undefined };
    const back = decode(JSON.parse(JSON.stringify(encode(v)))) as typeof v;
    expect(back).toEqual({ d: v.d, m: v.m, b: v.b, n: Infinity, o: v.o });
    expect(back.d).toBeInstanceOf(Date);
  });
  test("a class instance in the state is refused, naming where it is and what to do", () => {
    class Cache {
      x = 1;
    }
    expect(() => encode({ list: [{ c: new Cache() }] }, "QuayState.things")).toThrow(/QuayState\.things\.list\[0\]\.c is a Cache; keep QuayState to plain data .* NOT_IN_DATABASE/);
  });
});

describeWithPrerequisites("emulator on PostgreSQL, Redis and S3 (the stand-in's mode)", { prerequisites: pgRedisPrerequisites(), skipVariable: "QM_SKIP_PG_REDIS" }, () => {
  let pg: Postgres;
  let redis: RedisServer;
  let minio: Minio;
  const running: QuayEmulator[] = [];

  beforeAll(async () => {
    [pg, redis, minio] = await Promise.all([startPostgres(), startRedis(), startMinio()]);
    await minio.mc(["mb", "root/quay-storage"]);
  });
  afterAll(async () => {
    for (const e of running) await e.close().catch(() => undefined);
    await Promise.all([pg?.stop(), redis?.destroy(), minio?.stop()]);
  });
  beforeEach(async () => {
    if (redis) await redis.start().catch(() => undefined); // a test may have stopped it
    const c = new Client({ connectionString: pg.uri });
    await c.connect();
    await c.query("DROP SCHEMA IF EXISTS quay_standin CASCADE");
    await c.end();
  });
  afterEach(async () => {
    while (running.length) await running.pop()!.close();
  });

  /** config.yaml as QuayHost renders it (the keys the emulator reads). */
  function config(over: { dbPassword?: string; redisPassword?: string; storageSecret?: string; healthChecker?: unknown } = {}): Record<string, unknown> {
    const redisCfg = redis.config(over.redisPassword);
    return {
      AUTHENTICATION_TYPE: "Database",
      FEATURE_USER_INITIALIZE: true,
      SUPER_USERS: ["quayadmin"],
      FEATURE_MAILING: false,
      DB_URI: over.dbPassword === undefined ? pg.uri : pg.uriWithPassword(over.dbPassword),
      BUILDLOGS_REDIS: redisCfg,
      USER_EVENTS_REDIS: redisCfg,
      DISTRIBUTED_STORAGE_CONFIG: {
        default: ["RadosGWStorage", { hostname: "127.0.0.1", port: minio.port, is_secure: false, bucket_name: "quay-storage", storage_path: "/datastorage/registry", access_key: minio.root.accessKey, secret_key: over.storageSecret ?? minio.root.secretKey }],
      },
      DISTRIBUTED_STORAGE_PREFERENCE: ["default"],
      ...(over.healthChecker === undefined ? {} : { HEALTH_CHECKER: over.healthChecker }),
    };
  }
  async function start(cfg = config()): Promise<QuayEmulator> {
    const emu = await startQuayEmulator({ config: cfg, backends: connectBackends(cfg) });
    running.push(emu);
    return emu;
  }
  async function stop(emu: QuayEmulator): Promise<void> {
    running.splice(running.indexOf(emu), 1);
    await emu.close();
  }
  async function rows(sql: string): Promise<Record<string, unknown>[]> {
    const c = new Client({ connectionString: pg.uri });
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  }
  const state = async (emu: QuayEmulator) => (await call(emu.url, "GET", "/__emulator/state")).body.state;

  /** Organizations, a robot, a team, a repository and its permission, a prototype, a deleted org, a session. */
  async function populate(emu: QuayEmulator) {
    const { token } = await emu.initialize("quayadmin", "password-123");
    const ok = async (method: string, p: string, body?: unknown) => {
      const r = await call(emu.url, method, p, { token, body });
      expect({ method, p, status: r.status < 300 ? "ok" : r.status, body: r.status < 300 ? "" : r.body }).toEqual({ method, p, status: "ok", body: "" });
      return r.body;
    };
    await ok("POST", "/api/v1/organization/", { name: "acme", email: "acme@example.com" });
    await ok("POST", "/api/v1/organization/", { name: "gone", email: "gone@example.com" });
    await ok("DELETE", "/api/v1/organization/gone");
    const robot = await ok("PUT", "/api/v1/organization/acme/robots/mirror", { description: "pushes" });
    await ok("PUT", "/api/v1/organization/acme/team/devs", { role: "member", description: "developers" });
    await ok("POST", "/api/v1/repository", { namespace: "acme", repository: "ocp/release", visibility: "private", description: "releases" });
    await ok("PUT", "/api/v1/repository/acme/ocp/release/permissions/team/devs", { role: "write" });
    await ok("PUT", "/api/v1/repository/acme/ocp/release/permissions/user/acme+mirror", { role: "write" });
    await ok("POST", "/api/v1/organization/acme/prototypes", { role: "read", delegate: { kind: "team", name: "devs" } });
    // A web session: csrf_token + signin (the session lives in Redis).
    const r1 = await fetch(`${emu.url}/csrf_token`);
    const cookie = (r1.headers.get("set-cookie") ?? "").split(";")[0];
    const csrf = ((await r1.json()) as { csrf_token: string }).csrf_token;
    const r2 = await call(emu.url, "POST", "/api/v1/signin", { body: { username: "quayadmin", password: "password-123" }, headers: { Cookie: cookie, "X-CSRF-Token": csrf } });
    expect(r2.status).toBe(200);
    return { token, robotToken: robot.token as string, cookie };
  }

  test("a restart keeps every object: the state after is the state before, and the objects are rows of PostgreSQL", async () => {
    const a = await start();
    const { token, robotToken, cookie } = await populate(a);
    const before = await state(a);
    expect(before.entities.map((e: { username: string }) => e.username).sort()).toEqual(["acme", "acme+mirror", "quayadmin"]);
    expect(Object.keys(before.deletedNamespaces)).toEqual(["gone"]);
    await stop(a);

    const b = await start();
    expect(await state(b)).toEqual(before);
    expect((await call(b.url, "GET", "/api/v1/organization/acme/robots/mirror", { token })).body.token).toBe(robotToken);
    expect((await call(b.url, "GET", "/api/v1/repository/acme/ocp/release/permissions/team/", { token })).body.permissions).toEqual({ devs: expect.objectContaining({ role: "write" }) });
    expect((await call(b.url, "GET", "/api/v1/organization/acme/prototypes", { token })).body.prototypes).toHaveLength(1);
    // the session signed in on the first process is known to the second (Redis)
    expect((await call(b.url, "GET", "/api/v1/user/", { headers: { Cookie: cookie } })).body.username).toBe("quayadmin");
    // the deleted organization's name is still locked
    expect((await call(b.url, "POST", "/api/v1/organization/", { token, body: { name: "gone", email: "g2@example.com" } })).status).toBe(400);

    // The objects are rows of the database's own tables, one per collection.
    const names = (await rows("SELECT doc->>'username' AS u FROM quay_standin.entities ORDER BY ord")).map((r) => r.u);
    expect(names).toEqual(["quayadmin", "acme", "acme+mirror"]);
    expect((await rows("SELECT doc->>'name' AS n FROM quay_standin.repos")).map((r) => r.n)).toEqual(["ocp/release"]);
    const tables = (await rows("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'quay_standin'")).map((r) => r.t);
    expect(tables).toEqual(expect.arrayContaining(["entities", "teams", "repos", "perms", "prototypes", "apps", "tokens", "proxy_caches", "deleted_namespaces", "stars", "_scalars"]));
    expect(tables).not.toContain("sessions");
    // no robot token or password in clear outside its row's JSON is what Quay does too; the token is in the row
    expect((await rows("SELECT doc->>'robotToken' AS t FROM quay_standin.entities WHERE key = (SELECT key FROM quay_standin.entities WHERE doc->>'username' = 'acme+mirror')"))[0].t).toBe(robotToken);
  });

  test("a collection added to QuayState later is persisted with no new code: its own table, rows back after a reload", async () => {
    class Later extends QuayState {
      widgets: { id: number; name: string; at: Date }[] = [];
      gadgetsByName = new Map<string, { size: number }>();
      labels = new Set<string>();
    }
    const store = new PgStore({ connectionString: pg.uri, emptyState: () => new Later() });
    const st = new Later();
    try {
      await store.transaction(st, async () => {
        st.widgets.push({ id: st.id(), name: "w1", at: new Date(1_700_000_000_000) }, { id: st.id(), name: "w2", at: new Date(1_700_000_001_000) });
        st.gadgetsByName.set("g", { size: 3 });
        st.labels.add("blue");
      });
      await store.transaction(st, async () => {
        st.widgets = st.widgets.filter((w) => w.name !== "w1");
      });
      const again = new Later();
      await store.transaction(again, async () => undefined);
      expect(again.widgets).toEqual([{ id: 2, name: "w2", at: new Date(1_700_000_001_000) }]);
      expect(again.gadgetsByName).toEqual(new Map([["g", { size: 3 }]]));
      expect(again.labels).toEqual(new Set(["blue"]));
      expect(again.id()).toBe(3); // the id counter is state too
      expect(store.tables()).toEqual(expect.arrayContaining(["quay_standin.widgets", "quay_standin.gadgets_by_name", "quay_standin.labels"]));
      expect((await rows("SELECT doc->>'name' AS n FROM quay_standin.widgets")).map((r) => r.n)).toEqual(["w2"]);
      // a failing request writes nothing
      await expect(store.transaction(again, async () => {
        again.widgets.push({ id: again.id(), name: "lost", at: new Date() });
        throw new Error("handler failed");
      })).rejects.toThrow("handler failed");
      expect((await rows("SELECT count(*)::int AS c FROM quay_standin.widgets"))[0].c).toBe(1);
    } finally {
      await store.close();
    }
  });

  test("an image pushed through one emulator pulls through another on the database after the first stopped (manifests and tags are rows, blobs in the bucket)", async () => {
    const a = await start();
    const host = new URL(a.url).host; // the token audience and Location host: one name for both emulators
    await stop(a);
    const cfg = { ...config(), SERVER_HOSTNAME: host, PREFERRED_URL_SCHEME: "http" };
    const port = Number(new URL(a.url).port);
    const first = await startQuayEmulator({ port, config: cfg, backends: connectBackends(cfg) });
    running.push(first);
    const { token } = await first.initialize("quayadmin", "password-123");
    expect((await call(first.url, "POST", "/api/v1/organization/", { token, body: { name: "alpha", email: "alpha@example.com" } })).status).toBe(201);
    const robot = (await call(first.url, "PUT", "/api/v1/organization/alpha/robots/mirror", { token, body: {} })).body;
    expect((await call(first.url, "PUT", "/api/v1/organization/alpha/team/pushers", { token, body: { role: "creator" } })).status).toBe(200);
    expect((await call(first.url, "PUT", "/api/v1/organization/alpha/team/pushers/members/alpha+mirror", { token })).status).toBe(200);
    const img = makeImage([3000, 5000]);
    const repo = "alpha/ocp/release";
    const oci = new OciClient(first.url, host);
    expect((await oci.push(await oci.token({ username: "alpha+mirror", password: robot.token }, repo, "push,pull"), repo, img, "v1", 2048)).status).toBe(201);
    await stop(first);
    expect((await rows("SELECT doc->>'name' AS n FROM quay_standin.tags")).map((r) => r.n)).toEqual(["v1"]);
    expect((await rows("SELECT count(*)::int AS c FROM quay_standin.manifests"))[0].c).toBe(1);

    const second = await startQuayEmulator({ port, config: cfg, backends: connectBackends(cfg) });
    running.push(second);
    await fetch(`${second.url}/health/instance`).catch(() => undefined); // drops the client's keep-alive socket to the first
    const oci2 = new OciClient(second.url, host);
    const got = await oci2.pull(await oci2.token({ username: "alpha+mirror", password: robot.token }, repo, "pull"), repo, "v1");
    expect(got.failure).toBeUndefined();
    for (const layer of img.layers) expect(got.blobs.get(sha256(layer))).toEqual(layer);
  });

  test("two emulators on one database are one registry: each sees what the other wrote, concurrent writes are all kept", async () => {
    const a = await start();
    const b = await start();
    const { token } = await a.initialize("quayadmin", "password-123");
    expect((await call(b.url, "POST", "/api/v1/organization/", { token, body: { name: "fromb", email: "b@example.com" } })).status).toBe(201);
    expect((await call(a.url, "GET", "/api/v1/organization/fromb", { token })).status).toBe(200);
    const robot = (await call(a.url, "PUT", "/api/v1/organization/fromb/robots/r1", { token, body: {} })).body;
    expect((await call(b.url, "GET", "/api/v1/organization/fromb/robots/r1", { token })).body.token).toBe(robot.token);
    expect((await call(b.url, "DELETE", "/api/v1/organization/fromb/robots/r1", { token })).status).toBe(204);
    expect((await call(a.url, "GET", "/api/v1/organization/fromb/robots/r1", { token })).status).toBe(400);

    // 12 organizations created at once, alternating between the two: none lost, no id given twice.
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => call(i % 2 ? a.url : b.url, "POST", "/api/v1/organization/", { token, body: { name: `par${i}`, email: `par${i}@example.com` } })));
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(201));
    const [sa, sb] = [await state(a), await state(b)];
    expect(sa).toEqual(sb);
    const ids = sa.entities.map((e: { id: number }) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(sa.entities.filter((e: { username: string }) => e.username.startsWith("par"))).toHaveLength(12);

    // A registry token either instance issued is accepted by the other: each signs with its own key and
    // registers the public half as a row (Quay's servicekey table), as Quay nodes behind a load balancer do.
    const puller = (await call(a.url, "PUT", "/api/v1/organization/fromb/robots/puller", { token, body: {} })).body;
    expect((await call(a.url, "POST", "/api/v1/repository", { token, body: { namespace: "fromb", repository: "app", visibility: "private", description: "" } })).status).toBe(201);
    expect((await call(a.url, "PUT", "/api/v1/repository/fromb/app/permissions/user/fromb+puller", { token, body: { role: "read" } })).status).toBe(200);
    const service = "localhost:5000"; // the emulator's SERVER_HOSTNAME: the tokens' audience on both
    for (const [issuer, verifier] of [[a, b], [b, a]]) {
      const jwt = await new OciClient(issuer.url, service).token({ username: "fromb+puller", password: puller.token }, "fromb/app", "pull");
      const tags = await call(verifier.url, "GET", "/v2/fromb/app/tags/list", { headers: { Authorization: `Bearer ${jwt}` } });
      expect({ status: tags.status, body: tags.body }).toEqual({ status: 200, body: { name: "fromb/app", tags: [] } });
    }
    expect((await rows("SELECT count(*)::int AS c FROM quay_standin.service_keys"))[0].c).toBe(2);
  });

  test("/health/instance: 200 with database, redis and storage when HEALTH_CHECKER checks them; Quay's LocalHealthCheck skips redis and storage by default", async () => {
    const all = await start(config({ healthChecker: ["LocalHealthCheck", { instance_skips: [] }] }));
    const r = await call(all.url, "GET", "/health/instance");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { services: { auth: true, database: true, disk_space: true, redis: true, registry_gunicorn: true, service_key: true, storage: true, web_gunicorn: true } }, status_code: 200 });
    const e2e = await call(all.url, "GET", "/health/endtoend");
    expect(e2e.body).toEqual({ data: { services: { auth: true, database: true, redis: true, storage: true } }, status_code: 200 });
    // the storage check wrote Quay's verification file with the configured keys
    const ls = await minio.mc(["ls", "--recursive", "root/quay-storage/"]);
    expect(ls.json.map((o) => o.key)).toContain("datastorage/registry/_verify");

    const local = await start(config());
    expect((await call(local.url, "GET", "/health/instance")).body.data.services).toEqual({ auth: true, database: true, disk_space: true, registry_gunicorn: true, service_key: true, web_gunicorn: true });
  });

  test("a wrong database password: /health/instance 503 naming the database, and API calls fail instead of forgetting", async () => {
    const emu = await start(config({ dbPassword: "not-the-password", healthChecker: ["LocalHealthCheck", { instance_skips: [] }] }));
    const r = await call(emu.url, "GET", "/health/instance");
    expect(r.status).toBe(503);
    expect(r.body.status_code).toBe(503);
    expect(r.body.data.services).toEqual(expect.objectContaining({ database: false, redis: true, storage: true }));
    expect((await call(emu.url, "GET", "/api/v1/discovery")).status).toBe(500);
    // Quay's default checker looks at the database too
    const dflt = await start(config({ dbPassword: "not-the-password" }));
    expect((await call(dflt.url, "GET", "/health/instance")).status).toBe(503);
  });

  test("redis with a wrong password, or down: /health/instance 503 naming redis; token API calls still work", async () => {
    const wrong = await start(config({ redisPassword: "not-the-password", healthChecker: ["LocalHealthCheck", { instance_skips: [] }] }));
    const r = await call(wrong.url, "GET", "/health/instance");
    expect({ status: r.status, services: r.body.data.services }).toEqual({ status: 503, services: expect.objectContaining({ redis: false, database: true, storage: true }) });

    const emu = await start(config({ healthChecker: ["LocalHealthCheck", { instance_skips: [] }] }));
    const { token } = await emu.initialize("quayadmin", "password-123");
    expect((await call(emu.url, "GET", "/health/instance")).status).toBe(200);
    await redis.stop();
    const down = await call(emu.url, "GET", "/health/instance");
    expect({ status: down.status, services: down.body.data.services }).toEqual({ status: 503, services: expect.objectContaining({ redis: false, database: true, storage: true }) });
    expect((await call(emu.url, "GET", "/api/v1/user/", { token })).body.username).toBe("quayadmin");
    await redis.start();
    expect((await call(emu.url, "GET", "/health/instance")).status).toBe(200);
  });

  test("storage keys that the bucket refuses: /health/instance 503 naming storage", async () => {
    const emu = await start(config({ storageSecret: "not-the-secret", healthChecker: ["LocalHealthCheck", { instance_skips: [] }] }));
    const r = await call(emu.url, "GET", "/health/instance");
    expect({ status: r.status, services: r.body.data.services }).toEqual({ status: 503, services: expect.objectContaining({ storage: false, database: true, redis: true }) });
  });
});
