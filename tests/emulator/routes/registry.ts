// endpoints/v2/v2auth.py (GET /v2/auth) and GET /v2/.
import { ANONYMOUS, AuthContext, DIRECT_LOGIN, Permissions, scopesFromString } from "../auth";
import { parseRepoPath, REPOSITORY_NAME_EXTENDED_REGEX, REPOSITORY_NAME_REGEX } from "../common";
import { Reply, Router, Rq } from "../context";
import { httpAbort, v2Error } from "../errors";
import { createRepository, createOrganization, ModelException } from "../model";
import type { Entity } from "../state";
import * as distribution from "./distribution";

function authHeaders(rq: Rq): Record<string, string> {
  const host = rq.cfg.get<string>("SERVER_HOSTNAME");
  return { "WWW-Authenticate": `Bearer realm="${rq.cfg.get<string>("PREFERRED_URL_SCHEME")}://${host}/v2/auth",service="${host}"` };
}

/** auth/basic.py + auth/credentials.py validate_credentials. */
function basicAuth(rq: Rq): { ctx: AuthContext; sent: boolean; error: string | null } {
  const header = rq.header("authorization");
  if (!header) return { ctx: ANONYMOUS, sent: false, error: null };
  const parts = header.split(" ").filter(Boolean);
  if (parts.length !== 2 || parts[0].toLowerCase() !== "basic") return { ctx: ANONYMOUS, sent: true, error: null };
  let decoded: string;
  try {
    decoded = Buffer.from(parts[1], "base64").toString("utf8");
  } catch {
    return { ctx: ANONYMOUS, sent: true, error: null };
  }
  const i = decoded.indexOf(":");
  if (i < 0) return { ctx: ANONYMOUS, sent: true, error: null };
  const username = decoded.slice(0, i);
  const secret = decoded.slice(i + 1);
  const st = rq.st;
  const direct = new Set([DIRECT_LOGIN]);
  if (username === "$oauthtoken") {
    const tok = st.tokens.find((t) => t.token === secret);
    const user = tok ? st.entity(tok.userId) : undefined;
    if (!tok || !user) return { ctx: ANONYMOUS, sent: true, error: "OAuth access token could not be validated" };
    if (tok.expiresAt.getTime() <= rq.core.now()) return { ctx: ANONYMOUS, sent: true, error: "OAuth access token has expired" };
    if (!user.enabled) return { ctx: ANONYMOUS, sent: true, error: "Granter of the oauth access token is disabled" };
    return { ctx: { kind: "oauth", user, scopes: scopesFromString(tok.scope), token: tok, session: null }, sent: true, error: null };
  }
  if (username.includes("+")) {
    const robot = st.byName(username);
    if (!robot || robot.kind !== "robot") return { ctx: ANONYMOUS, sent: true, error: "Could not find robot with specified username" };
    const ownerName = username.split("+")[0];
    const owner = st.byName(ownerName);
    if (!owner) return { ctx: ANONYMOUS, sent: true, error: `Robot ${username} owner does not exist` };
    if (!owner.enabled) return { ctx: ANONYMOUS, sent: true, error: `Robot ${username} owner ${owner.username} is disabled` };
    if (robot.robotToken !== secret) return { ctx: ANONYMOUS, sent: true, error: `Could not find robot with username: ${username} and supplied password.` };
    touchLastAccessed(rq, robot);
    return { ctx: { kind: "robot", user: robot, scopes: direct, token: null, session: null }, sent: true, error: null };
  }
  const user = st.getNonRobotUser(username) ?? st.entities.find((e) => e.kind === "user" && e.email === username);
  if (!user || user.password === null || user.password !== secret) return { ctx: ANONYMOUS, sent: true, error: "Invalid Username or Password" };
  if (!user.enabled) return { ctx: ANONYMOUS, sent: true, error: "This user has been disabled. Please contact your administrator." };
  touchLastAccessed(rq, user);
  return { ctx: { kind: "user", user, scopes: direct, token: null, session: null }, sent: true, error: null };
}

/** data/model/_basequery.update_last_accessed: only with FEATURE_USER_LAST_ACCESSED, debounced. */
function touchLastAccessed(rq: Rq, e: Entity): void {
  if (!rq.cfg.feature("USER_LAST_ACCESSED")) return;
  const now = rq.core.now();
  const threshold = Number(rq.cfg.get("LAST_ACCESSED_UPDATE_THRESHOLD_S") ?? 60) * 1000;
  if (e.lastAccessed && now - e.lastAccessed.getTime() < threshold) return;
  e.lastAccessed = new Date(now);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

interface ScopeResult {
  actions: string[];
  name: string;
}

function authorizeScope(rq: Rq, p: Permissions, user: Entity | null, scope: string, hasAuth: boolean): ScopeResult | null {
  if (scope.length === 0) {
    if (!hasAuth) throw v2Error(401, "UNAUTHORIZED", "access to the requested resource is not authorized", {}, authHeaders(rq));
    return null;
  }
  const host = escapeRe(rq.cfg.get<string>("SERVER_HOSTNAME"));
  const re = new RegExp(`^repository:((?:${host}\\/)?((?:[.a-zA-Z0-9_\\-]+\\/)*[.a-zA-Z0-9_\\-]+)):((?:push|pull|\\*)(?:,(?:push|pull|\\*))*)$`);
  const m = re.exec(scope);
  if (!m) throw v2Error(400, "INVALID_REQUEST", `Unable to decode repository and actions: ${scope}`);
  const registryAndRepo = m[1];
  const nsAndRepo = m[2];
  const requested = m[3].split(",");
  const parts = nsAndRepo.replace(/\/+$/, "").split("/");
  const [namespace, reponame] = parts.length < 2 ? [rq.cfg.get<string>("LIBRARY_NAMESPACE"), parts[0]] : parseRepoPath(nsAndRepo);
  if (rq.cfg.feature("EXTENDED_REPOSITORY_NAMES")) {
    if (!REPOSITORY_NAME_EXTENDED_REGEX.test(reponame)) throw v2Error(400, "NAME_INVALID", `Invalid repository name: ${nsAndRepo}`);
  } else if (!REPOSITORY_NAME_REGEX.test(reponame)) {
    if (nsAndRepo.split("/").length > 1) throw v2Error(400, "NAME_INVALID", `Nested repositories are not supported. Found: ${nsAndRepo}`);
    throw v2Error(400, "NAME_INVALID", `Invalid repository name: ${nsAndRepo}`);
  }
  const nsEntity = rq.st.getNamespace(namespace);
  if (nsEntity && !nsEntity.enabled) throw v2Error(405, "DENIED", `Namespace ${namespace} has been disabled. Please contact a system administrator.`);
  const actions: string[] = [];
  let repo = rq.st.repo(namespace, reponame);
  const repoIsPublic = !!repo && repo.visibility === "public";
  let namespaceExists = !!nsEntity;
  if (!namespaceExists && !rq.cfg.get("CREATE_NAMESPACE_ON_PUSH")) return { actions: [], name: registryAndRepo };

  if (requested.includes("push") && hasAuth) {
    if (repo) {
      if (p.modifyRepo(namespace, reponame) || p.fullAccess()) {
        if (repo.state === "NORMAL") actions.push("push");
      }
    } else {
      if (rq.cfg.get("CREATE_NAMESPACE_ON_PUSH") && !rq.st.getNamespace(namespace) && user) {
        try {
          createOrganization(rq.core, namespace, user.email.split("@").join(`+${namespace}@`), user, rq.cfg.feature("MAILING"));
          namespaceExists = true;
        } catch (e) {
          if (e instanceof ModelException) throw v2Error(405, "UNSUPPORTED", "Cannot create organization");
          throw e;
        }
      }
      if (p.createRepo(namespace) && user && namespaceExists) {
        const visibility = rq.cfg.get("CREATE_PRIVATE_REPO_ON_PUSH") === false ? "public" : "private";
        repo = createRepository(rq.core, namespace, reponame, user, visibility, null) ?? rq.st.repo(namespace, reponame);
        if (repo) actions.push("push");
      }
    }
  }
  if (requested.includes("pull")) {
    let canPullthru = false;
    const nsE = rq.st.getOrg(namespace);
    if (rq.cfg.feature("PROXY_CACHE") && nsE && rq.st.proxyCaches.some((c) => c.orgId === nsE.id)) {
      canPullthru = p.orgMember(namespace) && user !== null;
    }
    if (p.readRepo(namespace, reponame) || canPullthru || repoIsPublic || p.isGlobalReadonlySuperuser()) actions.push("pull");
  }
  if (requested.includes("*")) {
    if (p.adminRepo(namespace, reponame) || p.fullAccess()) {
      if (repo && repo.state === "NORMAL") actions.push("*");
    }
  }
  return { actions, name: registryAndRepo };
}

function v2auth(rq: Rq): Reply {
  const auth = basicAuth(rq);
  const hasAuth = auth.ctx.user !== null;
  if (!rq.cfg.feature("ANONYMOUS_ACCESS") && !hasAuth) throw httpAbort(401, "Anonymous access is not allowed");
  if (auth.sent && !hasAuth) throw v2Error(401, "UNAUTHORIZED", auth.error ?? "Specified credentials are invalid", {}, authHeaders(rq));
  const scopes = rq.query.getAll("scope");
  if (!hasAuth && scopes.length === 0) throw v2Error(401, "UNAUTHORIZED", "access to the requested resource is not authorized", {}, authHeaders(rq));
  rq.setAuth(auth.ctx);
  const access: { type: string; name: string; actions: string[] }[] = [];
  for (const s of scopes) {
    const r = authorizeScope(rq, rq.perms, auth.ctx.user, s, hasAuth);
    if (r) access.push({ type: "repository", name: r.name, actions: r.actions });
  }
  const u = auth.ctx.user;
  const context: Record<string, unknown> = u
    ? { version: 2, entity_kind: u.kind === "robot" ? "robot" : auth.ctx.kind === "oauth" ? "oauthtoken" : "user", entity_reference: u.kind === "robot" ? u.username : u.uuid, kind: u.kind === "robot" ? "robot" : "user", user: u.username }
    : { version: 2, entity_kind: "anonymous", entity_reference: null, kind: "anonymous" };
  context["com.apostille.roots"] = {};
  context["com.apostille.root"] = "$disabled";
  const now = Math.floor(rq.core.now() / 1000);
  const token = rq.core.jwtSign({
    iss: "quay",
    aud: rq.query.get("service"),
    nbf: now,
    iat: now,
    exp: now + 3600,
    sub: u ? u.username : "(anonymous)",
    access,
    context,
  });
  return { status: 200, body: { token }, style: "jsonify" };
}

function v2root(rq: Rq): Reply {
  const header = rq.header("authorization");
  const authed = !!header && /^bearer\s+\S+/i.test(header);
  return { status: authed ? 200 : 401, body: "true", style: "text", headers: authed ? {} : authHeaders(rq) };
}

export function register(r: Router): void {
  r.add("GET", "/v2/auth", v2auth, { api: false });
  r.add("GET", "/v2/", v2root, { api: false });
  distribution.register(r);
}
