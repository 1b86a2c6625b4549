// The HTTP server: routing, the API request pipeline (auth, CSRF, anonymous protection), serialisation,
// plus the emulator's own admin endpoints under /__emulator/.
import * as crypto from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { describe } from "./auth";
import type { Backends } from "./backends";
import { SESSION_COOKIE } from "./sessions";
import { QuayConfig } from "./config";
import { Core, Reply, Router, Rq } from "./context";
import { ApiProblem, HttpReply, httpAbort, WERKZEUG_MESSAGES } from "./errors";
import { Counters, FaultRule, Faults, faultBody, Limiter, seededRandom, sleep } from "./faults";
import { pyDumps } from "./pyjson";
import * as organizations from "./routes/organizations";
import * as prototypes from "./routes/prototypes";
import * as registry from "./routes/registry";
import * as search from "./routes/search";
import * as repositories from "./routes/repositories";
import * as robots from "./routes/robots";
import * as superuser from "./routes/superuser";
import * as teams from "./routes/teams";
import * as web from "./routes/web";
import { getSession, resolveApiAuth } from "./sessions";
import { QuayState } from "./state";
import { BlobStore, blobStoreFromConfig } from "./storage";

export interface QuayEmulatorOptions {
  /**
   * The services of config.yaml (backends.ts connectBackends): state in PostgreSQL, one transaction per
   * request; sessions in Redis; /health/* checks them. Default: none, everything in memory.
   */
  backends?: Backends;
  config?: Record<string, unknown>;
  host?: string;
  port?: number;
  latencyMs?: number;
  maxConcurrent?: number;
  /**
   * How long a deleted namespace's name stays locked (Quay's namespace GC worker). Default: the
   * QUAY_EMULATOR_ORG_NAME_LOCK_MS environment variable, else 60 000 (a real Quay with its worker).
   */
  orgNameLockMs?: number;
  /**
   * Host names (exact, or `.suffix`) the emulated Quay host cannot resolve: a proxy cache naming one as
   * its upstream gets Quay's 400 "Cannot resolve hostname '<host>'". Names under .invalid, .test and
   * .example never resolve. Default: QUAY_EMULATOR_UNRESOLVABLE_HOSTS (comma-separated), else none.
   */
  unresolvableHosts?: string[];
  seed?: number;
  /** Where blob bytes go. Default: from DISTRIBUTED_STORAGE_CONFIG (RadosGWStorage -> S3), else in memory. */
  blobStore?: BlobStore;
}

export interface QuayEmulator {
  url: string;
  close(): Promise<void>;
  faults: { add(rule: FaultRule): void; clear(): void };
  counter: { snapshot(): Record<string, number>; reset(): void; writes(): number; total(): number };
  initialize(username?: string, password?: string): Promise<{ token: string; username: string; password: string }>;
}

export function buildRouter(cfg: QuayConfig): Router {
  const r = new Router();
  web.register(r);
  web.registerSignin(r, cfg.feature("DIRECT_LOGIN"));
  organizations.register(r, cfg.feature("PROXY_CACHE"));
  robots.register(r);
  teams.register(r, cfg.feature("MAILING"));
  repositories.register(r);
  prototypes.register(r);
  superuser.register(r, cfg.feature("SUPER_USERS"));
  registry.register(r);
  search.register(r);
  return r;
}

class JwtSigner {
  private key: crypto.KeyObject | null = null;
  private kid = "";
  private publicPem = "";
  /** This instance's key; its public half is registered in the state (the servicekey table) before use. */
  sign(payload: Record<string, unknown>, st: QuayState): string {
    if (!this.key) {
      const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
      this.key = privateKey;
      this.kid = crypto.createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("base64url").slice(0, 43);
      this.publicPem = publicKey.export({ type: "spki", format: "pem" }).toString();
    }
    if (!st.serviceKeys.some((k) => k.kid === this.kid)) st.serviceKeys.push({ kid: this.kid, publicPem: this.publicPem, created: Date.now() });
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const head = enc({ alg: "RS256", kid: this.kid, typ: "JWT" });
    const body = enc(payload);
    const sig = crypto.sign("sha256", Buffer.from(`${head}.${body}`), this.key).toString("base64url");
    return `${head}.${body}.${sig}`;
  }
  /** decode_bearer_header: RS256 with this instance's key, nbf/exp with Quay's leeway, the audience. */
  verify(token: string, audience: string, nowMs: number, st: QuayState): { payload: Record<string, unknown> } | { error: string } {
    const parts = token.split(".");
    if (parts.length !== 3) return { error: "Invalid bearer token: token could not be decoded" };
    let kid: unknown;
    try {
      kid = (JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8")) as { kid?: unknown }).kid;
    } catch {
      return { error: "Invalid bearer token: token could not be decoded" };
    }
    // instance_keys.get_service_key_public_key: the key the token names, from any instance of the registry.
    if (typeof kid !== "string") return { error: "Invalid bearer token: Missing kid header" };
    const known = st.serviceKeys.find((k) => k.kid === kid);
    if (!known) return { error: "Invalid bearer token: Unknown service key" };
    const pub = crypto.createPublicKey(known.publicPem);
    if (!crypto.verify("sha256", Buffer.from(`${parts[0]}.${parts[1]}`), pub, Buffer.from(parts[2], "base64url"))) {
      return { error: "Invalid bearer token: Signature verification failed" };
    }
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")) as Record<string, unknown>;
    } catch {
      return { error: "Invalid bearer token: token could not be decoded" };
    }
    const now = Math.floor(nowMs / 1000);
    const leeway = 60;
    if (typeof payload.exp !== "number" || payload.exp + leeway < now) return { error: "Invalid bearer token: Signature has expired" };
    if (typeof payload.nbf === "number" && payload.nbf - leeway > now) return { error: "Invalid bearer token: The token is not yet valid (nbf)" };
    if (payload.aud !== audience) return { error: "Invalid bearer token: Invalid audience" };
    return { payload };
  }
}

/** ua-parser families Quay treats as browsers (desktop Chrome, Firefox, Safari, Opera, ...). */
function isBrowser(ua: string | undefined): boolean {
  if (!ua) return false;
  if (/Edg\/|Mobile/.test(ua)) return false;
  return /(Firefox|Chrome|OPR|Opera|SeaMonkey|Konqueror|Lynx|Links)\//.test(ua) || (/Safari\//.test(ua) && /Version\//.test(ua));
}

function flaskErrorPage(status: number, title: string, description: string): string {
  return `<!doctype html>\n<html lang=en>\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n<p>${description}</p>\n`;
}

const INTERNAL_ERROR: Reply = { status: 500, body: "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n", style: "html" };

export class EmulatorServer {
  readonly state = new QuayState();
  config: QuayConfig;
  router: Router;
  readonly counters = new Counters();
  readonly faults: Faults;
  readonly limiter: Limiter;
  latencyMs: number;
  clockOffsetMs = 0;
  private jwt = new JwtSigner();
  readonly core: Core;
  private server: http.Server | null = null;
  private store: { key: string; store: BlobStore } | null = null;
  private sockets = new Set<import("node:net").Socket>();

  constructor(readonly opts: QuayEmulatorOptions = {}) {
    this.config = new QuayConfig(opts.config ?? {});
    this.router = buildRouter(this.config);
    this.faults = new Faults(seededRandom(opts.seed ?? 1));
    this.limiter = new Limiter(opts.maxConcurrent ?? 0);
    this.latencyMs = opts.latencyMs ?? 0;
    const self = this;
    this.core = {
      backends: opts.backends,
      state: this.state,
      get config() {
        return self.config;
      },
      orgNameLockMs: opts.orgNameLockMs ?? envNumber("QUAY_EMULATOR_ORG_NAME_LOCK_MS") ?? 60_000,
      unresolvableHosts: (opts.unresolvableHosts ?? (process.env.QUAY_EMULATOR_UNRESOLVABLE_HOSTS ?? "").split(",")).map((h) => h.trim().toLowerCase()).filter((h) => h),
      now: () => Date.now() + self.clockOffsetMs,
      jwtSign: (p) => self.jwt.sign(p, self.state),
      jwtVerify: (t) => self.jwt.verify(t, String(self.config.get("SERVER_HOSTNAME")), self.core.now(), self.state),
      blobStore: () => self.blobStore,
    };
  }

  /** The blob store: the one given in the options, else the one DISTRIBUTED_STORAGE_CONFIG names (rebuilt when it changes). */
  get blobStore(): BlobStore {
    if (this.opts.blobStore) return this.opts.blobStore;
    const key = JSON.stringify([this.config.get("DISTRIBUTED_STORAGE_CONFIG") ?? null, this.config.get("DISTRIBUTED_STORAGE_PREFERENCE") ?? null]);
    if (!this.store || this.store.key !== key) this.store = { key, store: blobStoreFromConfig(this.config) };
    return this.store.store;
  }

  setConfig(patch: Record<string, unknown>): void {
    this.config = new QuayConfig({ ...this.config.values, ...patch });
    this.router = buildRouter(this.config);
  }

  async listen(host: string, port: number): Promise<string> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        console.error("quay-emulator: unhandled error", e);
        if (!res.headersSent) {
          res.writeHead(500, { "Content-Type": "text/plain" });
          res.end("emulator error");
        } else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5000;
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, host, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    return `http://${host}:${addr.port}`;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    const s = this.server;
    this.server = null;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      for (const sock of this.sockets) sock.destroy();
    });
    await this.core.backends?.close();
  }

  private readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks)));
      req.on("error", reject);
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await this.readBody(req);
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://emulator.invalid");
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = url.pathname;
    }
    if (path.startsWith("/__emulator/")) return this.admin(method, path, url.searchParams, body, res);

    await this.limiter.acquire();
    try {
      const match = this.router.match(method, path);
      const template = match && "route" in match ? match.route.template : null;
      this.counters.add(`${method} ${template ?? path}`);
      const rule = this.faults.take(method, path, template);
      const delay = this.latencyMs + (rule?.latencyMs ?? 0);
      if (delay > 0) await sleep(delay);
      if (rule?.reset) {
        req.socket.destroy();
        return;
      }
      const rq = new Rq(this.core, req, method, path, url.searchParams, body);
      if (rule?.status) {
        const fb = faultBody(rule.status, rq.baseUrl);
        res.writeHead(rule.status, { "Content-Type": fb.contentType, "Content-Length": Buffer.byteLength(fb.body) });
        res.end(method === "HEAD" ? undefined : fb.body);
        return;
      }
      const handleRequest = async (): Promise<Reply> => {
        this.core.state.collectGarbage(this.core.now());
        try {
          return await this.dispatch(rq, match, url);
        } catch (e) {
          if (e instanceof ApiProblem) return { status: e.status, body: e.toBody(rq.baseUrl), style: "restful", headers: e.headers };
          if (e instanceof HttpReply) return { status: e.status, body: e.body, style: e.style, headers: e.headers };
          console.error("quay-emulator: handler error", e);
          return INTERNAL_ERROR;
        }
      };
      // With backends, the request is one database transaction (its session read from and written to Redis);
      // the health checks stay outside, so they answer when the database does not.
      const b = this.core.backends;
      let reply: Reply;
      if (b && !path.startsWith("/health")) {
        try {
          reply = await b.store.transaction(this.state, async () => {
            const baseline = await b.sessions.load(this.state, rq.cookie(SESSION_COOKIE));
            const r = await handleRequest();
            await b.sessions.save(this.state, baseline);
            return r;
          });
        } catch (e) {
          console.error(`quay-emulator: ${method} ${path}: database or redis failed: ${e instanceof Error ? e.message : String(e)}`);
          reply = INTERNAL_ERROR;
        }
      } else reply = await handleRequest();
      this.send(res, method, rq, reply);
    } finally {
      this.limiter.release();
    }
  }

  private async dispatch(rq: Rq, match: ReturnType<Router["match"]>, url: URL): Promise<Reply> {
    if (!match) {
      // Werkzeug strict slashes: a rule with a trailing slash redirects its slash-less form.
      const alt = this.router.match(rq.method, rq.path + "/");
      if (alt && "route" in alt) {
        const loc = `${rq.baseUrl}${url.pathname}/${url.search}`;
        return { status: 308, body: `<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: <a href="${loc}">${loc}</a>. If not, click the link.\n`, style: "html", headers: { Location: loc } };
      }
      // Routing-level 404s reach Flask's default handler (flask-restful's catch_all_404s is off): HTML.
      return { status: 404, body: flaskErrorPage(404, "Not Found", WERKZEUG_MESSAGES[404]), style: "html" };
    }
    if (!("route" in match)) {
      const allow = [...match.allowed, "OPTIONS", ...(match.allowed.includes("GET") ? ["HEAD"] : [])].join(", ");
      // flask-restful owns 405s of its own endpoints (JSON); web routes get Flask's HTML page.
      const apiOwned = rq.path.startsWith("/api/") && rq.path !== "/api/v1/user/initialize";
      return apiOwned
        ? { status: 405, body: { message: WERKZEUG_MESSAGES[405] }, style: "restful", headers: { Allow: allow } }
        : { status: 405, body: flaskErrorPage(405, "Method Not Allowed", WERKZEUG_MESSAGES[405]), style: "html", headers: { Allow: allow } };
    }
    const route = match.route;
    rq.params = match.params;
    if (route.api) {
      // require_xhr_from_browser (BROWSER_API_CALLS_XHR_ONLY defaults to True): browser GETs need XHR.
      if (rq.method === "GET" && this.config.get("BROWSER_API_CALLS_XHR_ONLY") !== false && isBrowser(rq.header("user-agent")) && rq.header("x-requested-with") !== "XMLHttpRequest") {
        throw httpAbort(400, "API calls must be invoked with an X-Requested-With header if called from a browser");
      }
      const { ctx } = resolveApiAuth(rq);
      rq.setAuth(ctx);
      if (rq.method !== "GET" && rq.method !== "HEAD" && !ctx.token) {
        const s = ctx.session ?? getSession(rq);
        const expected = s?.csrf ?? "";
        const found = rq.query.get("_csrf_token") ?? rq.header("x-csrf-token") ?? "";
        if (!expected || !found || expected !== found) throw httpAbort(403, "CSRF token was invalid or missing.", describe(ctx));
      }
      if (!this.config.feature("ANONYMOUS_ACCESS") && !route.anonAllowed && !ctx.user) {
        throw httpAbort(401, "Anonymous access is not allowed", describe(ctx));
      }
      if (rq.method !== "GET" && this.config.get("REGISTRY_STATE") === "readonly" && route.template !== "/api/v1/signin") {
        throw new HttpReply(503, { message: "System is currently read-only. Pulls will succeed but all write operations are currently suspended.", is_readonly: true }, "jsonify");
      }
    }
    return route.handler(rq);
  }

  private send(res: http.ServerResponse, method: string, rq: Rq, reply: Reply): void {
    let text: string | Buffer;
    // Flask's Response() is text/html unless the handler says otherwise (raw registry replies set their own).
    let contentType = reply.style === "raw" ? "text/html; charset=utf-8" : "application/json";
    switch (reply.style ?? "restful") {
      case "raw":
        // Registry bytes (blobs, manifests): the handler sets Content-Type; a HEAD may carry only Content-Length.
        text = Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(String(reply.body ?? ""), "utf8");
        break;
      case "restful":
        text = reply.status === 204 ? "" : pyDumps(reply.body) + "\n";
        break;
      case "jsonify":
        text = pyDumps(reply.body, { compact: true, sortKeys: true }) + "\n";
        break;
      case "abort":
        text = pyDumps(reply.body);
        break;
      default:
        text = String(reply.body);
        contentType = "text/html; charset=utf-8";
    }
    const headers: Record<string, string | string[]> = { "Content-Type": contentType, ...rq.responseHeaders, ...(reply.headers ?? {}) };
    if (rq.path.startsWith("/v2/")) headers["Docker-Distribution-API-Version"] = "registry/2.0";
    if (reply.status === 204) text = "";
    if (!(reply.style === "raw" && method === "HEAD" && reply.headers?.["Content-Length"] !== undefined)) headers["Content-Length"] = String(Buffer.byteLength(text));
    res.writeHead(reply.status, headers);
    res.end(method === "HEAD" ? undefined : text);
  }

  private admin(method: string, path: string, query: URLSearchParams, body: Buffer, res: http.ServerResponse): void {
    const send = (status: number, obj: unknown) => {
      const t = JSON.stringify(obj, null, 2) + "\n";
      res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(t) });
      res.end(t);
    };
    const json = (): Record<string, unknown> => {
      try {
        return body.length ? (JSON.parse(body.toString("utf8")) as Record<string, unknown>) : {};
      } catch {
        return {};
      }
    };
    const route = `${method} ${path.replace(/\/+$/, "")}`;
    switch (route) {
      case "GET /__emulator/counters": {
        const snap = { counts: this.counters.snapshot(), total: this.counters.total(), writes: this.counters.writes() };
        if (query.get("reset") === "1" || query.get("reset") === "true") this.counters.reset();
        return send(200, snap);
      }
      case "DELETE /__emulator/counters":
        this.counters.reset();
        return send(200, { reset: true });
      case "GET /__emulator/faults":
        return send(200, { faults: this.faults.list() });
      case "POST /__emulator/faults": {
        const r = json() as FaultRule & { path?: string; pathRegex?: string };
        const rule: FaultRule = { ...r };
        if (typeof r.pathRegex === "string") rule.path = new RegExp(r.pathRegex);
        else if (typeof r.path === "string" && r.path.startsWith("re:")) rule.path = new RegExp(r.path.slice(3));
        delete (rule as { pathRegex?: string }).pathRegex;
        this.faults.add(rule);
        return send(201, { added: true });
      }
      case "DELETE /__emulator/faults":
        this.faults.clear();
        return send(200, { cleared: true });
      case "GET /__emulator/state": {
        const dump = () => send(200, { config: this.config.values, clockOffsetMs: this.clockOffsetMs, state: this.state.snapshot() });
        const store = this.core.backends?.store;
        if (!store) return dump();
        void store.transaction(this.state, async () => dump()).catch((e) => send(500, { error: String(e) }));
        return;
      }
      case "POST /__emulator/config":
        this.setConfig(json());
        return send(200, { config: this.config.values });
      case "POST /__emulator/clock": {
        const d = json();
        this.clockOffsetMs += Number(d.advanceMs ?? 0) || 0;
        return send(200, { clockOffsetMs: this.clockOffsetMs });
      }
      case "POST /__emulator/settings": {
        const d = json();
        if (typeof d.latencyMs === "number") this.latencyMs = d.latencyMs;
        if (typeof d.maxConcurrent === "number") this.limiter.max = d.maxConcurrent;
        if (typeof d.orgNameLockMs === "number" && d.orgNameLockMs >= 0) this.core.orgNameLockMs = d.orgNameLockMs;
        if (Array.isArray(d.unresolvableHosts)) this.core.unresolvableHosts = d.unresolvableHosts.map((h: unknown) => String(h).trim().toLowerCase()).filter((h: string) => h);
        const { orgNameLockMs, unresolvableHosts } = this.core;
        return send(200, { latencyMs: this.latencyMs, maxConcurrent: this.limiter.max, orgNameLockMs, unresolvableHosts });
      }
      default:
        return send(404, { error: `unknown emulator admin route ${route}` });
    }
  }
}

/** A non-negative number from the environment, or undefined. */
function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number of milliseconds, got "${raw}"`);
  return n;
}
