// Authentication contexts and the permission model of auth/permissions.py.
import type { QuayConfig } from "./config";
import type { AccessToken, Entity, QuayState, Session } from "./state";

export const ALL_SCOPES = [
  "repo:read", "repo:write", "repo:admin", "repo:create", "user:read", "user:admin", "org:admin", "super:user",
];
export const DIRECT_LOGIN = "direct_user_login";

/** auth/scopes.py scopes_from_scope_string: split on " " or ","; any unknown part empties the set. */
export function scopesFromString(s: string | null | undefined): Set<string> {
  const parts = (s ?? "").split(/ |,/);
  const set = new Set<string>();
  for (const p of parts) {
    if (!ALL_SCOPES.includes(p)) return new Set();
    set.add(p);
  }
  return set;
}

const IMPLIED: Record<string, string[]> = {
  "repo:admin": ["repo:admin", "repo:write", "repo:read"],
  "repo:write": ["repo:write", "repo:read"],
};
export function isSubsetString(full: string, expected: string): boolean {
  const f = scopesFromString(full);
  if (f.size === 0) return false;
  const implied = new Set<string>();
  for (const s of f) for (const i of IMPLIED[s] ?? [s]) implied.add(i);
  for (const s of scopesFromString(expected)) if (!implied.has(s)) return false;
  return true;
}

export type AuthKind = "anonymous" | "oauth" | "session" | "robot" | "user";

export interface AuthContext {
  kind: AuthKind;
  /** The authenticated user or robot. */
  user: Entity | null;
  /** Token scopes; sessions and Basic auth carry {direct_user_login}. */
  scopes: Set<string>;
  token: AccessToken | null;
  session: Session | null;
}

export const ANONYMOUS: AuthContext = { kind: "anonymous", user: null, scopes: new Set(), token: null, session: null };

export function describe(ctx: AuthContext): string | null {
  if (!ctx.user) return null;
  if (ctx.kind === "oauth") return `oauthtoken for user ${ctx.user.username}`;
  if (ctx.user.kind === "robot") return `robot ${ctx.user.username}`;
  return `user ${ctx.user.username}`;
}

const REPO_ROLES = [null, "read", "write", "admin"] as const;
const TEAM_ROLES = [null, "member", "creator", "admin"] as const;
const USER_ROLES = [null, "read", "admin"] as const;
const SCOPE_MAX_REPO: Record<string, string> = { "repo:read": "read", "repo:write": "write", "repo:admin": "admin", [DIRECT_LOGIN]: "admin" };
const SCOPE_MAX_TEAM: Record<string, string> = { "repo:create": "creator", [DIRECT_LOGIN]: "admin", "org:admin": "admin" };
const SCOPE_MAX_USER: Record<string, string> = { "user:read": "read", [DIRECT_LOGIN]: "admin", "user:admin": "admin" };

/** The permission checks of auth/permissions.py (QuayDeferredPermissionUser.can) for one request. */
export class Permissions {
  constructor(private st: QuayState, private cfg: QuayConfig, readonly ctx: AuthContext) {}

  private cap(card: readonly (string | null)[], max: Record<string, string>, role: string): number {
    let m = 0;
    for (const s of this.ctx.scopes) m = Math.max(m, card.indexOf(max[s] ?? null));
    return Math.min(m, card.indexOf(role));
  }

  get user(): Entity | null {
    return this.ctx.user;
  }

  isGlobalReadonlySuperuser(): boolean {
    const u = this.ctx.user;
    const list = this.cfg.get<string[] | null>("GLOBAL_READONLY_SUPER_USERS");
    return !!u && u.kind === "user" && Array.isArray(list) && list.includes(u.username);
  }

  /** SuperUserPermission().can(): listed in SUPER_USERS and the token holds super:user (or a session). */
  superUser(): boolean {
    const u = this.ctx.user;
    if (!u || u.kind !== "user" || !this.cfg.feature("SUPER_USERS")) return false;
    if (this.isGlobalReadonlySuperuser()) return false;
    if (!(this.ctx.scopes.has("super:user") || this.ctx.scopes.has(DIRECT_LOGIN))) return false;
    return this.cfg.superUsers.includes(u.username);
  }
  /** allow_if_superuser_with_full_access() and the namespace bypass inside can(). */
  fullAccess(): boolean {
    return this.cfg.feature("SUPERUSERS_FULL_ACCESS") && this.superUser();
  }
  allowIfAnySuperuser(): boolean {
    return this.superUser() || this.isGlobalReadonlySuperuser();
  }

  private userRoleIdx(username: string): number {
    const u = this.ctx.user;
    if (!u || u.username !== username) return 0;
    return this.cap(USER_ROLES, SCOPE_MAX_USER, "admin");
  }
  userAdmin(username: string): boolean {
    return this.userRoleIdx(username) >= 2;
  }
  userRead(username: string): boolean {
    return this.userRoleIdx(username) >= 1;
  }

  /** Highest (scope-capped) team role of the caller in a namespace; the own namespace counts as admin. */
  teamRoleIdx(ns: string): number {
    const u = this.ctx.user;
    if (!u) return 0;
    let best = 0;
    if (u.username === ns) best = this.cap(TEAM_ROLES, SCOPE_MAX_TEAM, "admin");
    const org = this.st.getOrg(ns);
    if (org) for (const t of this.st.memberTeams(u.id, org.id)) best = Math.max(best, this.cap(TEAM_ROLES, SCOPE_MAX_TEAM, t.role));
    return best;
  }
  administerOrg(ns: string): boolean {
    return this.fullAccess() || this.teamRoleIdx(ns) >= 3;
  }
  createRepo(ns: string): boolean {
    return this.fullAccess() || this.teamRoleIdx(ns) >= 2;
  }
  orgMember(ns: string): boolean {
    return this.fullAccess() || this.teamRoleIdx(ns) >= 1;
  }
  viewTeam(org: string, team: string): boolean {
    if (this.fullAccess()) return true;
    const u = this.ctx.user;
    if (!u) return false;
    const o = this.st.getOrg(org);
    if (o) {
      const t = this.st.team(o.id, team);
      if (t && t.members.includes(u.id) && this.cap(TEAM_ROLES, SCOPE_MAX_TEAM, t.role) >= 1) return true;
    }
    return this.teamRoleIdx(org) >= 3;
  }

  /** Highest (scope-capped) repository role of the caller. */
  repoRoleIdx(ns: string, name: string): number {
    const u = this.ctx.user;
    if (!u) return 0;
    let best = 0;
    const capAdmin = this.cap(REPO_ROLES, SCOPE_MAX_REPO, "admin");
    if (u.username === ns) best = capAdmin;
    const org = this.st.getOrg(ns);
    if (org && this.st.memberTeams(u.id, org.id).some((t) => t.role === "admin")) best = Math.max(best, capAdmin);
    const repo = this.st.repo(ns, name);
    if (repo) {
      const myTeams = new Set(this.st.teams.filter((t) => t.members.includes(u.id)).map((t) => t.id));
      for (const p of this.st.permsOfRepo(repo.id)) {
        if (p.userId === u.id || (p.teamId !== null && myTeams.has(p.teamId))) {
          best = Math.max(best, this.cap(REPO_ROLES, SCOPE_MAX_REPO, p.role));
        }
      }
    }
    return best;
  }
  readRepo(ns: string, name: string): boolean {
    return this.fullAccess() || this.repoRoleIdx(ns, name) >= 1;
  }
  modifyRepo(ns: string, name: string): boolean {
    return this.fullAccess() || this.repoRoleIdx(ns, name) >= 2;
  }
  adminRepo(ns: string, name: string): boolean {
    return this.fullAccess() || this.repoRoleIdx(ns, name) >= 3;
  }
}
