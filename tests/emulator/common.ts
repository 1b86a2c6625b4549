// Shared guards (endpoints/api/__init__.py decorators) and views used by several route files.
import { convertToSeconds } from "./config";
import type { Rq } from "./context";
import { ApiProblem, freshLoginRequired, notFound } from "./errors";
import { avatarData, Entity, Repo, RepoPerm, Team } from "./state";

/** endpoints/exception.py Unauthorized: 401 without a user (or for an org), else 403. */
export function unauthorized(rq: Rq): ApiProblem {
  const u = rq.ctx.user;
  if (!u || u.kind === "org") return new ApiProblem("invalid_token", 401, "Requires authentication");
  return new ApiProblem("insufficient_scope", 403, "Unauthorized");
}

export function requireUserAdmin(rq: Rq, allowForSuperuser = false): Entity {
  const u = rq.ctx.user;
  if (!u) throw unauthorized(rq);
  if (rq.perms.userAdmin(u.username)) return u;
  if (allowForSuperuser && rq.perms.fullAccess()) return u;
  throw unauthorized(rq);
}

export function requireUserRead(rq: Rq): Entity {
  const u = rq.ctx.user;
  if (!u) throw unauthorized(rq);
  if (rq.perms.userRead(u.username)) return u;
  throw unauthorized(rq);
}

export function requireFreshLogin(rq: Rq): void {
  const u = rq.ctx.user;
  if (!u || u.kind === "robot") throw unauthorized(rq);
  if (rq.ctx.token) return;
  const s = rq.ctx.session;
  const timeout = convertToSeconds(rq.cfg.get<string>("FRESH_LOGIN_TIMEOUT") ?? "10m") * 1000;
  if (s && s.loginTime !== null && s.loginTime >= rq.core.now() - timeout) return;
  if (!u.password) return;
  throw freshLoginRequired();
}

export type RepoPermKind = "read" | "write" | "admin";

/** require_repo_read/write/admin(allow_for_superuser, allow_for_global_readonly_superuser). */
export function requireRepo(
  rq: Rq,
  kind: RepoPermKind,
  ns: string,
  name: string,
  opts: { allowForSuperuser?: boolean; allowForGlobalReadonly?: boolean } = {},
): void {
  const p = rq.perms;
  const can = kind === "read" ? p.readRepo(ns, name) : kind === "write" ? p.modifyRepo(ns, name) : p.adminRepo(ns, name);
  if (can) return;
  if (kind === "read") {
    const r = rq.st.repo(ns, name);
    if ((r && r.visibility === "public") || p.isGlobalReadonlySuperuser()) return;
  }
  if (opts.allowForSuperuser && rq.ctx.user) {
    if (opts.allowForGlobalReadonly && rq.cfg.feature("SUPERUSERS_FULL_ACCESS") && p.allowIfAnySuperuser()) return;
    if (!opts.allowForGlobalReadonly && p.fullAccess()) return;
  }
  if (opts.allowForGlobalReadonly && p.isGlobalReadonlySuperuser()) return;
  throw unauthorized(rq);
}

/** model.organization.get_organization or NotFound. */
export function orgOr404(rq: Rq, name: string): Entity {
  const o = rq.st.getOrg(name);
  if (!o) throw notFound();
  return o;
}

// ---- views
export const userAvatar = (e: Entity) => avatarData(e.username, e.email, e.kind === "robot" ? "robot" : "user");
export const orgAvatar = (e: Entity) => avatarData(e.username, e.email, "org");
export const teamAvatar = (t: Team) => avatarData(t.name, t.name, "team");

export function validateEmail(email: unknown): boolean {
  if (typeof email !== "string" || !email || email.length > 254) return false;
  const parts = email.split("@");
  if (parts.length !== 2 || !parts[0] || !parts[1]) return false;
  const labels = parts[1].split(".");
  return labels.length >= 2 && labels.every((l) => l.length > 0);
}

export const VALID_USERNAME_REGEX = "^([a-z0-9]+(?:[._-][a-z0-9]+)*)$";
export function validateUsername(name: string): string | null {
  if (!new RegExp(VALID_USERNAME_REGEX).test(name)) return "Namespace must match expression " + VALID_USERNAME_REGEX;
  if (name.length < 2 || name.length > 255) return "Namespace must be between 2 and 255 characters in length";
  return null;
}
export function validatePassword(pw: unknown): boolean {
  return typeof pw === "string" && !/\s/.test(pw) && pw.length > 7;
}
export const INVALID_PASSWORD_MESSAGE = "Invalid password, password must be at least 8 characters and contain no whitespace.";

export const REPOSITORY_NAME_REGEX = /^[a-z0-9][.a-z0-9_-]{0,254}$/;
export const REPOSITORY_NAME_EXTENDED_REGEX = /^(?=.{0,255}$)[a-z0-9][.a-z0-9_-]*(?:\/[a-z0-9][.a-z0-9_-]*)*$/;
export function validRepoName(rq: Rq, name: string): boolean {
  return (rq.cfg.feature("EXTENDED_REPOSITORY_NAMES") ? REPOSITORY_NAME_EXTENDED_REGEX : REPOSITORY_NAME_REGEX).test(name);
}

/** util/names.parse_namespace_repository: split at the first "/", urlquote the name (safe "/"). */
export function parseRepoPath(path: string): [string, string] {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.indexOf("/");
  const ns = i < 0 ? "library" : trimmed.slice(0, i);
  const name = i < 0 ? trimmed : trimmed.slice(i + 1);
  return [ns, quotePlus(name)];
}

function quotePlus(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9_.\-~/]/.test(c)) out += c;
    else if (b === 0x20) out += "+";
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** The team-member view of endpoints/api/team.py. */
export function memberView(e: Entity, invited = false) {
  return { name: e.username, kind: "user", is_robot: e.kind === "robot", avatar: userAvatar(e), invited };
}

/** organization.get_organization_member_set (robots count as members where views say so). */
export function isOrgMember(rq: Rq, orgId: number, e: Entity): boolean {
  return rq.st.isOrgMember(e.id, orgId);
}

/** Permission rows of an org's repositories held by non-robot users (list_organization_member_permissions). */
export function orgUserPerms(rq: Rq, orgId: number): { perm: RepoPerm; repo: Repo; user: Entity }[] {
  const out: { perm: RepoPerm; repo: Repo; user: Entity }[] = [];
  for (const p of rq.st.perms) {
    if (p.userId === null) continue;
    const repo = rq.st.repoById(p.repoId);
    if (!repo || repo.nsId !== orgId) continue;
    const user = rq.st.entity(p.userId);
    if (!user || user.kind === "robot") continue;
    out.push({ perm: p, repo, user });
  }
  return out;
}
