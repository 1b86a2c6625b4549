// Flask sessions (cookie "_csrf_token", as SESSION_COOKIE_NAME in config.py) and OAuth access tokens.
import * as crypto from "node:crypto";
import { AuthContext, DIRECT_LOGIN, scopesFromString } from "./auth";
import type { Core, Rq } from "./context";
import type { AccessToken, Entity, OAuthApp, Session } from "./state";
import { randomString, uuid4 } from "./state";

export const SESSION_COOKIE = "_csrf_token";

export function getSession(rq: Rq): Session | undefined {
  const sid = rq.cookie(SESSION_COOKIE);
  return sid ? rq.st.sessions.get(sid) : undefined;
}

/** Returns the request's session, creating one (and its Set-Cookie) when absent. */
export function ensureSession(rq: Rq): Session {
  let s = getSession(rq);
  if (!s) {
    s = { id: crypto.randomBytes(24).toString("base64url"), csrf: "", userUuid: null, loginTime: null };
    rq.st.sessions.set(s.id, s);
    rq.responseHeaders["Set-Cookie"] = `${SESSION_COOKIE}=${s.id}; HttpOnly; Path=/; SameSite=Lax`;
  }
  return s;
}

export function generateCsrfToken(s: Session, force = false): string {
  if (!s.csrf || force) s.csrf = crypto.randomBytes(48).toString("base64url");
  return s.csrf;
}

/** endpoints/common.py common_login. Returns the X-Next-CSRF-Token header. */
export function commonLogin(rq: Rq, user: Entity): Record<string, string> {
  const s = ensureSession(rq);
  s.userUuid = user.uuid;
  s.loginTime = rq.core.now();
  return { "X-Next-CSRF-Token": generateCsrfToken(s, true) };
}

export function createApplication(core: Core, ns: Entity, name: string, applicationUri: string, redirectUri: string, extra: { clientId?: string; description?: string; avatarEmail?: string | null } = {}): OAuthApp {
  const st = core.state;
  const app: OAuthApp = {
    id: st.id(),
    nsId: ns.id,
    name,
    clientId: extra.clientId ?? randomString(20),
    clientSecret: randomString(40),
    redirectUri,
    applicationUri,
    description: extra.description ?? "",
    avatarEmail: extra.avatarEmail ?? null,
  };
  st.apps.push(app);
  return app;
}

export function createAccessToken(core: Core, app: OAuthApp, user: Entity, scope: string, expiresInS: number, tokenType = "token", displayName: string | null = null): AccessToken {
  const now = new Date(core.now());
  const t: AccessToken = {
    id: core.state.id(),
    uuid: uuid4(),
    appId: app.id,
    userId: user.id,
    scope,
    token: randomString(40),
    tokenType,
    displayName,
    expiresAt: new Date(now.getTime() + expiresInS * 1000),
    created: now,
    lastAccessed: null,
  };
  core.state.tokens.push(t);
  return t;
}

/** auth/decorators.process_oauth: bearer token first, else the session cookie. */
export function resolveApiAuth(rq: Rq): { ctx: AuthContext; bearerPresent: boolean } {
  const header = rq.header("authorization");
  if (header) {
    const parts = header.split(" ").map((p) => p.trim()).filter(Boolean);
    if (parts.length === 2 && parts[0].toLowerCase() === "bearer") {
      const code = parts[1];
      // validate_access_token: first 20 chars name, rest code.
      const tok = code.length > 20 ? rq.st.tokens.find((t) => t.token === code) : undefined;
      if (tok && tok.expiresAt.getTime() > rq.core.now()) {
        const user = rq.st.entity(tok.userId);
        if (user && user.enabled) {
          tok.lastAccessed = new Date(rq.core.now());
          return { ctx: { kind: "oauth", user, scopes: scopesFromString(tok.scope), token: tok, session: null }, bearerPresent: true };
        }
      }
      // Invalid / expired: the request carries on anonymously (only SSO JWTs abort here).
      return { ctx: { kind: "anonymous", user: null, scopes: new Set(), token: null, session: getSession(rq) ?? null }, bearerPresent: true };
    }
  }
  const s = getSession(rq);
  if (s && s.userUuid) {
    const user = rq.st.byUuid(s.userUuid);
    if (user && user.enabled && user.kind === "user") {
      return { ctx: { kind: "session", user, scopes: new Set([DIRECT_LOGIN]), token: null, session: s }, bearerPresent: false };
    }
  }
  return { ctx: { kind: "anonymous", user: null, scopes: new Set(), token: null, session: s ?? null }, bearerPresent: false };
}
