// Per-request context shared by the route handlers, and the router.
import type * as http from "node:http";
import { ANONYMOUS, AuthContext, Permissions } from "./auth";
import type { Backends } from "./backends";
import type { QuayConfig } from "./config";
import { BodyStyle, HttpReply, invalidRequest, werkzeugAbort } from "./errors";
import { Schema, validateSchema } from "./schema";
import type { QuayState } from "./state";
import type { BlobStore } from "./storage";

export interface Core {
  /** PostgreSQL, Redis and storage of config.yaml (the stand-in); undefined: all in memory. */
  backends?: Backends;
  state: QuayState;
  config: QuayConfig;
  orgNameLockMs: number;
  /** Upstream host names the emulated Quay host cannot resolve (besides the RFC 6761 TLDs). */
  unresolvableHosts: string[];
  now(): number;
  jwtSign(payload: Record<string, unknown>): string;
  /** The payload of a token jwtSign issued (signature, nbf and exp checked), or the reason it is invalid. */
  jwtVerify(token: string): { payload: Record<string, unknown> } | { error: string };
  /** Where blob bytes live (storage.ts): from DISTRIBUTED_STORAGE_CONFIG, or the store the emulator was given. */
  blobStore(): BlobStore;
}

export interface Reply {
  status: number;
  body: unknown;
  style?: BodyStyle;
  headers?: Record<string, string | string[]>;
}

export const ok = (body: unknown, status = 200, headers?: Record<string, string | string[]>): Reply => ({ status, body, style: "restful", headers });
export const noContent = (): Reply => ({ status: 204, body: "", style: "restful" });

export class Rq {
  ctx: AuthContext = ANONYMOUS;
  perms: Permissions;
  params: Record<string, string> = {};
  responseHeaders: Record<string, string | string[]> = {};
  private parsed: { done: boolean; value: unknown; error: "none" | "type" | "decode" } = { done: false, value: undefined, error: "none" };

  constructor(
    readonly core: Core,
    readonly req: http.IncomingMessage,
    readonly method: string,
    readonly path: string,
    readonly query: URLSearchParams,
    readonly body: Buffer,
  ) {
    this.perms = new Permissions(core.state, core.config, this.ctx);
  }

  get st(): QuayState {
    return this.core.state;
  }
  get cfg(): QuayConfig {
    return this.core.config;
  }
  setAuth(ctx: AuthContext): void {
    this.ctx = ctx;
    this.perms = new Permissions(this.core.state, this.core.config, ctx);
  }
  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  }
  cookie(name: string): string | undefined {
    const raw = this.header("cookie");
    if (!raw) return undefined;
    for (const part of raw.split(";")) {
      const i = part.indexOf("=");
      if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
    }
    return undefined;
  }
  /** Base of the `type` URL of problem errors: ProxyFix scheme + request Host (url_for _external). */
  get baseUrl(): string {
    const proto = (this.header("x-forwarded-proto") ?? "http").split(",")[0].trim() || "http";
    const host = this.header("host") ?? this.cfg.get<string>("SERVER_HOSTNAME");
    return `${proto}://${host}`;
  }

  private isJson(): boolean {
    const ct = (this.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
    return ct === "application/json" || (ct.startsWith("application/") && ct.endsWith("+json"));
  }
  private parse(): void {
    if (this.parsed.done) return;
    this.parsed.done = true;
    if (!this.isJson()) {
      this.parsed.error = "type";
      return;
    }
    try {
      this.parsed.value = JSON.parse(this.body.toString("utf8"));
    } catch {
      this.parsed.error = "decode";
    }
  }
  /** flask request.get_json(silent=...). Returns undefined for "no JSON" in silent mode. */
  json(silent = false): unknown {
    this.parse();
    if (this.parsed.error === "type") {
      if (silent) return undefined;
      throw werkzeugAbort(415);
    }
    if (this.parsed.error === "decode") {
      if (silent) return undefined;
      // Flask's Request.on_json_loading_failed re-raises a bare BadRequest() outside debug mode.
      throw werkzeugAbort(400);
    }
    return this.parsed.value;
  }
  /** endpoints/api validate_json_request(schema, optional). */
  validateJson(schema: Schema, optional = false): void {
    const data = this.json(optional);
    if (data === undefined || data === null) {
      if (!optional) throw invalidRequest("Missing JSON body");
      return;
    }
    const err = validateSchema(data, schema);
    if (err) throw invalidRequest(err);
  }
  /** The parsed body as an object (after validation). */
  get data(): Record<string, unknown> {
    const d = this.json(true);
    return d && typeof d === "object" && !Array.isArray(d) ? (d as Record<string, unknown>) : {};
  }

  // flask-restful reqparse helpers
  argBool(name: string, def: boolean): boolean {
    const v = this.query.get(name);
    if (v === null) return def;
    return !["false", "False", "0", "FALSE", "", "null"].includes(v);
  }
  /** reqparse int argument; a bad value answers 400 {"message": {name: help}} (help.format(error_msg=...)). */
  argInt(name: string, help?: string): number | null {
    const v = this.query.get(name);
    if (v === null) return null;
    if (!/^\s*[-+]?\d+\s*$/.test(v)) {
      throw new HttpReply(400, { message: { [name]: help ?? `invalid literal for int() with base 10: '${v}'` } });
    }
    return parseInt(v, 10);
  }
  argStr(name: string): string | null {
    return this.query.get(name);
  }
}

export type Handler = (rq: Rq) => Reply | Promise<Reply>;

export interface RouteOpts {
  /** Served by the API blueprint: bearer/session auth, CSRF, anonymous protection. */
  api?: boolean;
  anonAllowed?: boolean;
}

export interface Route extends RouteOpts {
  method: string;
  template: string;
  regex: RegExp;
  keys: string[];
  handler: Handler;
}

export class Router {
  routes: Route[] = [];
  add(method: string, template: string, handler: Handler, opts: RouteOpts = {}): void {
    const keys: string[] = [];
    const src = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{(\w+)(:path)?\}/g, (_m, k: string, p?: string) => {
      keys.push(k);
      return p ? "([^/]+(?:/[^/]+)+)" : "([^/]+)";
    });
    this.routes.push({ method, template, regex: new RegExp(`^${src}$`), keys, handler, api: opts.api ?? template.startsWith("/api/"), anonAllowed: opts.anonAllowed });
  }
  match(method: string, path: string): { route: Route; params: Record<string, string> } | { allowed: string[] } | null {
    const allowed = new Set<string>();
    const m = method === "HEAD" ? "GET" : method;
    for (const r of this.routes) {
      const hit = r.regex.exec(path);
      if (!hit) continue;
      if (r.method === m) {
        const params: Record<string, string> = {};
        r.keys.forEach((k, i) => (params[k] = hit[i + 1]));
        return { route: r, params };
      }
      allowed.add(r.method);
    }
    return allowed.size ? { allowed: [...allowed] } : null;
  }
}
