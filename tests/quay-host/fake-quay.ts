// A small stand-in for the Quay routes the initialize and health steps use, written from Quay's source
// (endpoints/web.py user_initialize + csrf_token, endpoints/api/user.py Signin, endpoints/csrf.py,
// endpoints/common.py common_login, endpoints/api/organization.py applications,
// endpoints/api/organization_application_tokens.py). It checks what Quay checks: CSRF on session writes
// (the token rotates at login), the session cookie (Secure, as SESSION_COOKIE_SECURE sets it), the
// mint-scope rule, SUPER_USERS. It records every request so tests can assert on them.
import * as crypto from "crypto";
import * as http from "http";
import type { AddressInfo } from "net";

interface User {
  username: string;
  password: string;
  email?: string;
}
interface Session {
  csrf?: string;
  user?: string;
}
interface Token {
  user: string;
  scope: string[];
}

export interface FakeQuay {
  url: string;
  users: Map<string, User>;
  orgs: Map<string, { admins: Set<string> }>;
  apps: { org: string; name: string; clientId: string }[];
  tokens: Map<string, Token>;
  requests: { method: string; path: string; body: string }[];
  superUsers: string[];
  health: { sequence: number[] };
  close(): Promise<void>;
}

const rand = (n: number) => crypto.randomBytes(n).toString("base64url");
const token40 = () => Array.from(crypto.randomBytes(40), (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[b % 36]).join("");
const ALL_SCOPES = "org:admin repo:admin repo:create repo:read repo:write super:user user:admin user:read".split(" ");

export async function startFakeQuay(options: { superUsers?: string[]; healthSequence?: number[]; port?: number; host?: string } = {}): Promise<FakeQuay> {
  const sessions = new Map<string, Session>();
  const fake: FakeQuay = {
    url: "",
    users: new Map(),
    orgs: new Map(),
    apps: [],
    tokens: new Map(),
    requests: [],
    superUsers: options.superUsers ?? ["quayadmin"],
    health: { sequence: options.healthSequence ?? [200] },
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url ?? "/", "http://x");
      const p = url.pathname;
      const method = req.method ?? "GET";
      fake.requests.push({ method, path: p, body });
      const headers: Record<string, string> = {};
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { "Content-Type": "application/json", ...headers });
        res.end(JSON.stringify(value) + "\n");
      };

      // Flask's session cookie (SESSION_COOKIE_NAME = "_csrf_token"), Secure like SESSION_COOKIE_SECURE: true
      const cookie = /(?:^|;\s*)_csrf_token=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
      let sid = cookie && sessions.has(cookie) ? cookie : undefined;
      const session = (): Session => {
        if (!sid) {
          sid = rand(24);
          sessions.set(sid, {});
        }
        headers["Set-Cookie"] = `_csrf_token=${sid}; Secure; HttpOnly; Path=/; SameSite=Lax`;
        return sessions.get(sid)!;
      };
      const login = (username: string) => {
        const s = session();
        s.user = username;
        s.csrf = rand(48); // common_login forces a new CSRF token
        headers["X-Next-CSRF-Token"] = s.csrf;
      };
      let json: any = {};
      try {
        json = body ? JSON.parse(body) : {};
      } catch {
        return send(400, { message: "bad json" });
      }

      if (p === "/health/instance") {
        const status = fake.health.sequence.length > 1 ? fake.health.sequence.shift()! : fake.health.sequence[0]!;
        return send(status, { data: { services: { database: status === 200, redis: true, web_gunicorn: status === 200 } }, status_code: status });
      }
      if (p === "/csrf_token" && method === "GET") {
        const s = session();
        s.csrf ??= rand(48);
        return send(200, { csrf_token: s.csrf });
      }
      if (p === "/api/v1/user/initialize" && method === "POST") {
        // web blueprint: no CSRF, no bearer processing
        if (fake.users.size > 0 || fake.orgs.size > 0) return send(400, { message: "Cannot initialize user in a non-empty database" });
        if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(json.username) || typeof json.password !== "string" || json.password.length < 8 || /\s/.test(json.password)) {
          return send(400, { message: "Failed to initialize user: Invalid password, password must be at least 8 characters and contain no whitespace." });
        }
        fake.users.set(json.username, { username: json.username, password: json.password, email: json.email });
        login(json.username);
        const result: Record<string, unknown> = { username: json.username, email: json.email ?? null, encrypted_password: "x" };
        if (json.access_token) {
          const t = token40();
          fake.tokens.set(t, { user: json.username, scope: ALL_SCOPES });
          result.access_token = t;
        }
        return send(200, result);
      }

      // ---- the API blueprint: process_oauth, then csrf_protect ----
      const bearer = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
      const tok = bearer ? fake.tokens.get(bearer) : undefined;
      const sess = sid ? sessions.get(sid) : undefined;
      const user = tok?.user ?? sess?.user;
      if (!tok && method !== "GET" && method !== "HEAD") {
        const sent = req.headers["x-csrf-token"];
        if (!sess?.csrf || sent !== sess.csrf) return send(403, { error: "CSRF token was invalid or missing." });
      }
      const scopes = tok ? tok.scope : ALL_SCOPES; // a session is direct_user_login: everything the user may do

      if (p === "/api/v1/signin" && method === "POST") {
        const u = fake.users.get(json.username);
        if (!u || u.password !== json.password) return send(403, { needsEmailVerification: false, invalidCredentials: true, message: "Invalid Username or Password" });
        login(u.username);
        return send(200, { success: true });
      }
      if (p === "/api/v1/user/" && method === "GET") {
        if (!user) return send(401, { detail: "Requires authentication", error_message: "Requires authentication", session_required: false });
        const view: Record<string, unknown> = { anonymous: false, username: user };
        if (fake.superUsers.includes(user) && scopes.includes("super:user")) view.super_user = true;
        return send(200, view);
      }
      if (!user) return send(401, { detail: "Requires authentication", error_message: "Requires authentication" });

      let m: RegExpExecArray | null;
      if (p === "/api/v1/organization/" && method === "POST") {
        if (fake.orgs.has(json.name) || fake.users.has(json.name)) return send(400, { detail: "A user or organization with this name already exists" });
        fake.orgs.set(json.name, { admins: new Set([user]) });
        return send(201, "Created");
      }
      if ((m = /^\/api\/v1\/organization\/([^/]+)$/.exec(p)) && method === "GET") {
        return fake.orgs.has(m[1]!) ? send(200, { name: m[1] }) : send(404, { detail: "Not Found", error_message: "Not Found", status: 404 });
      }
      if ((m = /^\/api\/v1\/organization\/([^/]+)\/applications$/.exec(p))) {
        const org = fake.orgs.get(m[1]!);
        if (!org) return send(404, { detail: "Not Found" });
        if (!org.admins.has(user) || !scopes.includes("org:admin")) return send(403, { detail: "Unauthorized", error_message: "Unauthorized" });
        if (method === "GET") return send(200, { applications: fake.apps.filter((a) => a.org === m![1]).map((a) => ({ name: a.name, client_id: a.clientId, client_secret: "CLIENT-SECRET-" + a.clientId })) });
        const app = { org: m[1]!, name: json.name, clientId: token40().slice(0, 20) };
        fake.apps.push(app);
        return send(200, { name: app.name, client_id: app.clientId, client_secret: "CLIENT-SECRET-" + app.clientId });
      }
      if ((m = /^\/api\/v1\/organization\/([^/]+)\/applications\/([^/]+)\/tokens$/.exec(p)) && method === "POST") {
        const org = fake.orgs.get(m[1]!);
        const app = fake.apps.find((a) => a.org === m![1] && a.clientId === m![2]);
        if (!org || !app) return send(404, { detail: "Not Found" });
        const wanted = String(json.scope).replace(/,/g, " ").split(/\s+/).filter(Boolean);
        const can = org.admins.has(user) && wanted.every((s) => scopes.includes(s)) && (!wanted.includes("super:user") || fake.superUsers.includes(user));
        if (!can) return send(403, { detail: "Unauthorized" });
        const t = token40();
        fake.tokens.set(t, { user, scope: wanted });
        return send(200, { uuid: rand(8), name: json.name, scope: wanted.join(" "), expires_at: null, token: t });
      }
      return send(404, { message: "not found in the fake" });
    });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((r) => server.listen(options.port ?? 0, host, () => r()));
  fake.url = `http://${host}:${(server.address() as AddressInfo).port}`;
  return fake;
}
