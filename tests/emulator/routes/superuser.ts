// endpoints/api/superuser.py: user management.
import * as crypto from "node:crypto";
import { INVALID_PASSWORD_MESSAGE, orgAvatar, requireFreshLogin, unauthorized, validateEmail, validatePassword, validateUsername } from "../common";
import { noContent, ok, Reply, Router, Rq } from "../context";
import { internalError, invalidRequest, modelError, notFound } from "../errors";
import { createUser, markNamespaceForDeletion, ModelException } from "../model";
import { Entity, fakeBcrypt, uuid4 } from "../state";
import { superUserView } from "./views";

const CREATE_INSTALL_USER = {
  id: "CreateInstallUser",
  description: "Data for creating a user",
  required: ["username"],
  properties: {
    username: { type: "string", description: "The username of the user being created" },
    email: { type: "string", description: "The email address of the user being created" },
  },
};
const UPDATE_USER = {
  id: "UpdateUser",
  type: "object",
  description: "Description of updates for a user",
  properties: {
    password: { type: "string", description: "The new password for the user" },
    email: { type: "string", description: "The new e-mail address for the user" },
    enabled: { type: "boolean", description: "Whether the user is enabled" },
  },
};

function verifyNotProd(rq: Rq): void {
  if (String(rq.cfg.get("SERVER_HOSTNAME")).includes("quay.io")) throw notFound();
}

function listUsers(rq: Rq): Reply {
  requireFreshLogin(rq);
  verifyNotProd(rq);
  const disabled = rq.argBool("disabled", true);
  const limit = rq.argInt("limit", "Limit to the number of results to return per page. Max 100.");
  if (!rq.perms.allowIfAnySuperuser()) throw unauthorized(rq);
  if (limit !== null && limit > 100) throw invalidRequest("Page limit cannot be above 100");
  const users = rq.st.entities.filter((e) => e.kind === "user" && e.purgeAt === undefined && (disabled || e.enabled)).sort((a, b) => a.id - b.id);
  if (limit === null) return ok({ users: users.map((u) => superUserView(rq, u)) });
  const start = Number(rq.argStr("next_page_start") ?? 0) || 0;
  void start;
  const token = rq.argStr("next_page");
  let offset = 0;
  if (token) {
    try {
      const o = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
      offset = Number(o.offset_val) || 0;
    } catch {
      offset = 0;
    }
  }
  const page = users.slice(offset, offset + Math.max(limit, 0));
  const body: Record<string, unknown> = { users: page.map((u) => superUserView(rq, u)) };
  if (offset + limit < users.length) body.next_page = Buffer.from(JSON.stringify({ offset_val: offset + limit })).toString("base64url");
  return ok(body);
}

function createUserRoute(rq: Rq): Reply {
  requireFreshLogin(rq);
  verifyNotProd(rq);
  rq.validateJson(CREATE_INSTALL_USER);
  if (rq.cfg.get("AUTHENTICATION_TYPE") !== "Database") throw invalidRequest("Cannot create a user in a non-database auth system");
  if (!rq.perms.superUser()) throw unauthorized(rq);
  const raw = rq.json(true);
  // CreateInstallUser has no "type": "object", so a non-object body passes validation and then fails.
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw internalError("TypeError: list indices must be integers or slices, not str");
  const d = rq.data;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  let password = "";
  for (const b of crypto.randomBytes(32)) password += alphabet[b % alphabet.length];
  const mailing = rq.cfg.feature("MAILING");
  try {
    createUser(rq.core, String(d.username), password, (d.email as string) ?? null, !mailing, mailing);
  } catch (e) {
    if (e instanceof ModelException) throw modelError(e.message);
    throw e;
  }
  if (mailing && !rq.cfg.get("MAIL_SERVER")) throw modelError("Could not send email. Please contact an administrator and report this problem.");
  return ok({ username: d.username, email: d.email ?? null, password, encrypted_password: fakeBcrypt() });
}

function getUser(rq: Rq): Reply {
  requireFreshLogin(rq);
  verifyNotProd(rq);
  if (!rq.perms.allowIfAnySuperuser()) throw unauthorized(rq);
  const u = rq.st.getNonRobotUser(rq.params.username);
  if (!u) throw notFound();
  return ok(superUserView(rq, u));
}

function deleteUser(rq: Rq): Reply {
  requireFreshLogin(rq);
  verifyNotProd(rq);
  if (!rq.perms.superUser()) throw unauthorized(rq);
  const u = rq.st.getNonRobotUser(rq.params.username);
  if (!u) throw notFound();
  if (rq.cfg.superUsers.includes(u.username)) throw invalidRequest("Cannot delete a superuser");
  markNamespaceForDeletion(rq.core, u);
  return noContent();
}

function updateUser(rq: Rq): Reply {
  requireFreshLogin(rq);
  verifyNotProd(rq);
  rq.validateJson(UPDATE_USER);
  if (!rq.perms.superUser()) throw unauthorized(rq);
  const u = rq.st.getNonRobotUser(rq.params.username);
  if (!u) throw notFound();
  if (rq.cfg.superUsers.includes(u.username)) throw invalidRequest("Cannot update a superuser");
  const d = rq.data;
  // The view is built from the user object fetched before the updates (only email is overlaid).
  const v: Record<string, unknown> = superUserView(rq, u);
  if ("password" in d) {
    if (rq.cfg.get("AUTHENTICATION_TYPE") !== "Database") throw invalidRequest("Cannot change password in non-database auth");
    if (!validatePassword(d.password)) throw modelError(INVALID_PASSWORD_MESSAGE);
    u.password = String(d.password);
    u.uuid = uuid4(); // change_password invalidates all sessions
  }
  if ("email" in d) {
    if (!["Database", "AppToken"].includes(String(rq.cfg.get("AUTHENTICATION_TYPE")))) throw invalidRequest("Cannot change e-mail in non-database auth");
    const email = String(d.email);
    if (rq.st.entities.some((e) => e.id !== u.id && e.kind === "user" && e.email === email)) throw modelError("E-mail address already used");
    u.email = email;
    u.verified = true;
  }
  if ("enabled" in d) u.enabled = !!d.enabled;
  if ("superuser" in d) {
    const list = new Set(rq.cfg.superUsers);
    if (d.superuser) list.add(u.username);
    else list.delete(u.username);
    rq.cfg.values.SUPER_USERS = [...list];
  }
  if (d.password !== undefined && d.password !== null) v.encrypted_password = fakeBcrypt();
  if (d.email !== undefined && d.email !== null) v.email = d.email;
  return ok(v);
}

const orgSuperView = (o: Entity) => ({ name: o.username, email: o.email, avatar: orgAvatar(o) });

function listOrgs(rq: Rq): Reply {
  requireFreshLogin(rq);
  verifyNotProd(rq);
  const limit = rq.argInt("limit", "Limit to the number of results to return per page. Max 100.");
  if (!rq.perms.allowIfAnySuperuser()) throw unauthorized(rq);
  if (limit !== null && limit > 100) throw invalidRequest("Page limit cannot be above 100");
  const orgs = rq.st.entities.filter((e) => e.kind === "org").sort((a, b) => a.id - b.id);
  if (limit === null) return ok({ organizations: orgs.map(orgSuperView) });
  let offset = 0;
  const token = rq.argStr("next_page");
  if (token) {
    try {
      offset = Number(JSON.parse(Buffer.from(token, "base64url").toString("utf8")).offset_val) || 0;
    } catch {
      offset = 0;
    }
  }
  const body: Record<string, unknown> = { organizations: orgs.slice(offset, offset + Math.max(limit, 0)).map(orgSuperView) };
  if (offset + limit < orgs.length) body.next_page = Buffer.from(JSON.stringify({ offset_val: offset + limit })).toString("base64url");
  return ok(body);
}

function deleteOrg(rq: Rq): Reply {
  requireFreshLogin(rq);
  verifyNotProd(rq);
  if (!rq.perms.superUser()) throw unauthorized(rq);
  const o = rq.st.getOrg(rq.params.name);
  if (!o) throw notFound();
  markNamespaceForDeletion(rq.core, o);
  return noContent();
}

function renameOrg(rq: Rq): Reply {
  requireFreshLogin(rq);
  verifyNotProd(rq);
  rq.validateJson({ id: "UpdateOrg", type: "object", description: "Description of updates for an existing organization", properties: { name: { type: "string", description: "The new name for the organization" } } });
  if (!rq.perms.superUser()) throw unauthorized(rq);
  const o = rq.st.getOrg(rq.params.name);
  if (!o) throw modelError(`Organization does not exist: ${rq.params.name}`);
  const newName = rq.data.name as string | undefined;
  if (newName !== undefined && newName !== null) {
    const issue = validateUsername(newName);
    if (issue) throw modelError(`Invalid username ${newName}: ${issue}`);
    if (rq.st.byName(newName)) throw internalError("IntegrityError: duplicate key value violates unique constraint");
    const old = o.username;
    o.username = newName;
    for (const robot of rq.st.entities.filter((e) => e.kind === "robot" && e.username.startsWith(old + "+"))) robot.username = newName + robot.username.slice(old.length);
  }
  return ok(orgSuperView(o));
}

export function register(r: Router, enabled: boolean): void {
  if (!enabled) return;
  r.add("GET", "/api/v1/superuser/organizations/", listOrgs);
  r.add("DELETE", "/api/v1/superuser/organizations/{name}", deleteOrg);
  r.add("PUT", "/api/v1/superuser/organizations/{name}", renameOrg);
  r.add("GET", "/api/v1/superuser/users/", listUsers);
  r.add("POST", "/api/v1/superuser/users/", createUserRoute);
  r.add("GET", "/api/v1/superuser/users/{username}", getUser);
  r.add("PUT", "/api/v1/superuser/users/{username}", updateUser);
  r.add("DELETE", "/api/v1/superuser/users/{username}", deleteUser);
}

export { validateEmail };
