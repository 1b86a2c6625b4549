// Web-blueprint routes (initialize, csrf_token, health) and the API's discovery, signin, current user.
import { requireUserRead } from "../common";
import { ok, Reply, Router, Rq } from "../context";
import { ERROR_DESCRIPTION, httpAbort, internalError, invalidToken, notFound, werkzeugAbort } from "../errors";
import { createUser, ModelException } from "../model";
import { commonLogin, createAccessToken, createApplication, ensureSession, generateCsrfToken } from "../sessions";
import { fakeBcrypt } from "../state";
import { userView } from "./views";

const INIT_SCOPE = "org:admin repo:admin repo:create repo:read repo:write super:user user:admin user:read";

const jsonify = (body: unknown, status = 200, headers?: Record<string, string>): Reply => ({ status, body, style: "jsonify", headers });

function initialize(rq: Rq): Reply {
  if (!rq.cfg.feature("USER_INITIALIZE")) throw httpAbort(404, "Not Found");
  if (rq.cfg.get("AUTHENTICATION_TYPE") !== "Database") return jsonify({ message: "Cannot initialize user in a non-database auth system" }, 400);
  if (rq.st.entities.length > 0) return jsonify({ message: "Cannot initialize user in a non-empty database" }, 400);
  const data = rq.json(false) as Record<string, unknown> | null;
  if (!data || typeof data !== "object") throw internalError("TypeError: 'NoneType' object is not subscriptable");
  if (!("username" in data) || !("password" in data)) throw internalError("KeyError");
  const username = String(data.username);
  const password = String(data.password);
  const email = (data.email as string | undefined) ?? null;
  try {
    const user = createUser(rq.core, username, password, email, true, rq.cfg.feature("MAILING"));
    const headers = commonLogin(rq, user);
    const result: Record<string, unknown> = { username: data.username, email: data.email ?? null, encrypted_password: fakeBcrypt() };
    if (data.access_token) {
      const app = createApplication(rq.core, user, "automation", "", "", {
        clientId: username,
        description: "Application token generated via /api/v1/user/initialize",
      });
      result.access_token = createAccessToken(rq.core, app, user, INIT_SCOPE, 9000).token;
    }
    return jsonify(result, 200, headers);
  } catch (e) {
    if (e instanceof ModelException) return jsonify({ message: "Failed to initialize user: " + e.message }, 400);
    throw e;
  }
}

/** endpoints/web.py instance_health / endtoend_health: {"data": {"services": {...}}, "status_code"}. */
function health(kind: "instance" | "endtoend") {
  return async (rq: Rq): Promise<Reply> => {
    const b = rq.core.backends;
    if (!b) {
      // In memory: LocalHealthCheck's instance services, all up.
      const services = { auth: true, database: true, disk_space: true, registry_gunicorn: true, service_key: true, web_gunicorn: true };
      return jsonify({ data: { services }, status_code: 200 });
    }
    const r = await b.health(kind, rq.cfg, rq.core.blobStore());
    return jsonify({ data: { services: r.services }, status_code: r.status }, r.status);
  };
}

function discovery(rq: Rq): Reply {
  const host = rq.header("host") ?? rq.cfg.get<string>("SERVER_HOSTNAME");
  return ok({
    swagger: "2.0",
    host,
    basePath: "/",
    schemes: [rq.cfg.get<string>("PREFERRED_URL_SCHEME")],
    info: { version: "v1", title: "Quay Frontend", description: "This API allows you to perform many of the operations required to work with Quay repositories, users, and organizations.", termsOfService: "https://quay.io/tos", contact: { email: "support@quay.io", name: "API Support", url: "https://quay.io/support/" } },
    securityDefinitions: { oauth2_implicit: { type: "oauth2", flow: "implicit", authorizationUrl: `${rq.baseUrl}/oauth/authorize`, scopes: { "repo:read": "", "repo:write": "", "repo:admin": "", "repo:create": "", "user:read": "", "user:admin": "", "org:admin": "", "super:user": "" } } },
    paths: {},
    definitions: {},
    tags: [],
  });
}

function signin(rq: Rq): Reply {
  rq.validateJson({
    type: "object",
    description: "Information required to sign in a user.",
    required: ["username", "password"],
    properties: {
      username: { type: "string", description: "The user's username" },
      password: { type: "string", description: "The user's password" },
      invite_code: { type: "string", description: "The optional invite code" },
    },
  });
  const d = rq.data;
  const name = String(d.username);
  const user = rq.st.getNonRobotUser(name) ?? rq.st.entities.find((e) => e.kind === "user" && e.email === name);
  if (user && user.password !== null && user.password === d.password && user.enabled) {
    const headers = commonLogin(rq, user);
    return ok({ success: true }, 200, headers);
  }
  const message = user && !user.enabled ? "This user has been disabled. Please contact your administrator." : "Invalid Username or Password";
  return ok({ needsEmailVerification: false, invalidCredentials: true, message }, 403);
}

function currentUser(rq: Rq): Reply {
  const u = rq.ctx.user;
  if (!u || u.kind === "org" || !rq.perms.userRead(u.username)) throw invalidToken("Requires authentication", { session_required: false });
  requireUserRead(rq);
  return ok(userView(rq, u));
}

export function register(r: Router): void {
  r.add("POST", "/api/v1/user/initialize", initialize, { api: false });
  r.add("GET", "/csrf_token", (rq) => jsonify({ csrf_token: generateCsrfToken(ensureSession(rq)) }), { api: false });
  r.add("GET", "/health", health("instance"), { api: false });
  r.add("GET", "/health/instance", health("instance"), { api: false });
  r.add("GET", "/health/endtoend", health("endtoend"), { api: false });
  r.add("GET", "/api/v1/discovery", discovery, { anonAllowed: true });
  r.add("GET", "/api/v1/error/{error_type}", (rq) => {
    const t = rq.params.error_type;
    if (!(t in ERROR_DESCRIPTION)) throw notFound();
    return ok({ type: `${rq.baseUrl}/api/v1/error/${t}`, title: t, description: ERROR_DESCRIPTION[t] });
  }, { anonAllowed: true });
  r.add("GET", "/api/v1/user/", currentUser, { anonAllowed: true });
  r.add("GET", "/api/v1/users/{username}", (rq) => {
    const u = rq.st.getNonRobotUser(rq.params.username);
    if (!u) throw werkzeugAbort(404);
    return ok(userView(rq, u));
  });
}

export function registerSignin(r: Router, enabled: boolean): void {
  if (enabled) r.add("POST", "/api/v1/signin", signin, { anonAllowed: true });
}
