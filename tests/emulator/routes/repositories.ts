// endpoints/api/repository.py and permission.py
import * as crypto from "node:crypto";
import { parseRepoPath, requireRepo, teamAvatar, unauthorized, userAvatar, validRepoName } from "../common";
import { noContent, ok, Reply, Router, Rq } from "../context";
import { internalError, invalidRequest, modelError, notFound, werkzeugAbort } from "../errors";
import { createRepository, markRepositoryForDeletion } from "../model";
import { Entity, formatDate, RepoPerm, RepoRole } from "../state";
import { repositoryTagsView } from "./distribution";

const NEW_REPO = {
  type: "object",
  description: "Description of a new repository",
  required: ["repository", "visibility", "description"],
  properties: {
    repository: { type: "string", description: "Repository name" },
    visibility: { type: "string", description: "Visibility which the repository will start with", enum: ["public", "private"] },
    namespace: { type: "string", description: "Namespace in which the repository should be created. If omitted, the username of the caller is used" },
    description: { type: "string", description: "Markdown encoded description for the repository" },
    repo_kind: { type: ["string", "null"], description: "The kind of repository", enum: ["image", null] },
  },
};
const REPO_UPDATE = {
  type: "object",
  description: "Fields which can be updated in a repository.",
  required: ["description"],
  properties: { description: { type: "string", description: "Markdown encoded description for the repository" } },
};
const CHANGE_VISIBILITY = {
  type: "object",
  description: "Change the visibility for the repository.",
  required: ["visibility"],
  properties: { visibility: { type: "string", description: "Visibility which the repository will start with", enum: ["public", "private"] } },
};
const USER_PERMISSION = {
  type: "object",
  description: "Description of a user permission.",
  required: ["role"],
  properties: { role: { type: "string", description: "Role to use for the user", enum: ["read", "write", "admin"] } },
};
const TEAM_PERMISSION = {
  type: "object",
  description: "Description of a team permission.",
  required: ["role"],
  properties: { role: { type: "string", description: "Role to use for the team", enum: ["read", "write", "admin"] } },
};

const REPOS_PER_PAGE = 100;
const PAGE_KEY = crypto.randomBytes(32);

function encryptPageToken(data: Record<string, unknown>): string {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv("aes-256-gcm", PAGE_KEY, iv);
  const enc = Buffer.concat([c.update(JSON.stringify({ ...data, t: Date.now() })), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), enc]).toString("base64url");
}
/** util/pagination.decrypt_page_token: invalid or older than 2 days -> None (first page). */
function decryptPageToken(tok: string | null): Record<string, unknown> | null {
  if (!tok) return null;
  try {
    const raw = Buffer.from(tok, "base64url");
    const d = crypto.createDecipheriv("aes-256-gcm", PAGE_KEY, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    const obj = JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8"));
    if (Date.now() - Number(obj.t) > 2 * 86400 * 1000) return null;
    return obj;
  } catch {
    return null;
  }
}

function repoParams(rq: Rq): [string, string] {
  return parseRepoPath(rq.params.repo);
}

function createRepo(rq: Rq): Reply {
  rq.validateJson(NEW_REPO);
  const owner = rq.ctx.user;
  const d = rq.data;
  const ns = "namespace" in d ? String(d.namespace) : owner?.username;
  if (ns === undefined) throw unauthorized(rq);
  if (!(rq.perms.createRepo(ns) || rq.perms.fullAccess())) throw unauthorized(rq);
  const name = String(d.repository);
  if (rq.st.repo(ns, name)) throw invalidRequest("Repository already exists");
  if (!validRepoName(rq, name)) throw invalidRequest("Invalid repository name");
  if (!rq.st.getNamespace(ns)) throw internalError(`User.DoesNotExist: ${ns}`);
  const kind = (d.repo_kind as string) || "image";
  const created = createRepository(rq.core, ns, name, owner, d.visibility as "public" | "private", (d.description as string) ?? null);
  if (!created) throw invalidRequest("Could not create repository");
  return ok({ namespace: ns, name, kind }, 201);
}

function listRepos(rq: Rq): Reply {
  const namespace = rq.argStr("namespace");
  const starred = rq.argBool("starred", false);
  const pub = rq.argBool("public", false);
  const lastModified = rq.argBool("last_modified", false);
  const popularity = rq.argBool("popularity", false);
  const token = decryptPageToken(rq.argStr("next_page"));
  if (!namespace && !starred && !pub) throw invalidRequest("namespace, starred or public are required for this API call");
  const user = rq.ctx.user;
  if (starred && !user) throw werkzeugAbort(400);
  const p = rq.perms;
  const isSuper = p.isGlobalReadonlySuperuser() || (rq.cfg.feature("SUPERUSERS_FULL_ACCESS") && p.superUser());
  let repos = rq.st.repos.filter((r) => r.state !== "MARKED_FOR_DELETION").sort((a, b) => a.id - b.id);
  const nsOf = (nsId: number) => rq.st.entity(nsId);
  if (starred) {
    repos = repos.filter((r) => rq.st.stars.has(`${user!.id}:${r.id}`));
  } else {
    if (!pub && !user) repos = [];
    if (namespace) repos = repos.filter((r) => nsOf(r.nsId)?.username === namespace);
    if (!isSuper) {
      // filter_to_repos_for_user: public (when asked), own namespace, org-admin teams, direct or team permissions.
      const myTeams = user ? rq.st.teams.filter((t) => t.members.includes(user.id)) : [];
      const myTeamIds = new Set(myTeams.map((t) => t.id));
      const adminOrgs = new Set(myTeams.filter((t) => t.role === "admin").map((t) => t.orgId));
      const permitted = new Set(user ? rq.st.perms.filter((x) => x.userId === user.id || (x.teamId !== null && myTeamIds.has(x.teamId))).map((x) => x.repoId) : []);
      repos = repos.filter((r) => {
        if (pub && r.visibility === "public") return true;
        if (!user) return false;
        return r.nsId === user.id || adminOrgs.has(r.nsId) || permitted.has(r.id);
      });
    }
  }
  const startId = token && typeof token.start_id === "number" ? token.start_id : null;
  if (startId !== null) repos = repos.filter((r) => r.id >= startId);
  let next: string | undefined;
  if (repos.length > REPOS_PER_PAGE) {
    next = encryptPageToken({ start_id: repos[REPOS_PER_PAGE].id, page_number: 1, is_datetime: false, offset_val: 0 });
    repos = repos.slice(0, REPOS_PER_PAGE);
  }
  const out = repos.map((r) => {
    const v: Record<string, unknown> = {
      namespace: nsOf(r.nsId)!.username,
      name: r.name,
      description: r.description,
      is_public: r.visibility === "public",
      kind: r.kind,
      state: r.state,
    };
    if (lastModified) v.last_modified = null;
    if (popularity) v.popularity = 0.0;
    if (user) v.is_starred = rq.st.stars.has(`${user.id}:${r.id}`);
    return v;
  });
  const body: Record<string, unknown> = { repositories: out };
  if (next) body.next_page = next;
  return ok(body);
}

function getRepo(rq: Rq): Reply {
  const includeTags = rq.argBool("includeTags", true);
  const includeStats = rq.argBool("includeStats", false);
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "read", ns, name, { allowForSuperuser: true, allowForGlobalReadonly: true });
  const repo = rq.st.repo(ns, name);
  if (!repo) throw notFound();
  const nsE = rq.st.entity(repo.nsId)!;
  const p = rq.perms;
  const isPublic = repo.visibility === "public";
  const v: Record<string, unknown> = {
    namespace: ns,
    name,
    kind: repo.kind,
    description: repo.description,
    is_public: isPublic,
    is_organization: nsE.kind === "org",
    is_starred: rq.ctx.user ? rq.st.stars.has(`${rq.ctx.user.id}:${repo.id}`) : false,
    status_token: isPublic ? "" : repo.badgeToken,
    trust_enabled: rq.cfg.feature("SIGNING") && repo.trustEnabled,
    tag_expiration_s: nsE.tagExpirationS,
    is_free_account: true,
    state: repo.state,
  };
  if (includeTags) v.tags = repositoryTagsView(rq, repo.id, 500, formatDate);
  let canWrite = p.modifyRepo(ns, name) && repo.state === "NORMAL";
  let canAdmin = p.adminRepo(ns, name);
  if (p.isGlobalReadonlySuperuser()) canAdmin = true;
  else if (rq.cfg.feature("SUPERUSERS_FULL_ACCESS") && p.superUser()) {
    canAdmin = true;
    if (repo.state === "NORMAL") canWrite = true;
  }
  v.can_write = canWrite;
  v.can_admin = canAdmin;
  if (includeStats) v.stats = [];
  return ok(v);
}

function updateRepo(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "write", ns, name, { allowForSuperuser: true });
  rq.validateJson(REPO_UPDATE);
  const repo = rq.st.repo(ns, name);
  if (!repo) throw notFound();
  repo.description = String(rq.data.description);
  return ok({ success: true });
}

function deleteRepo(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "admin", ns, name, { allowForSuperuser: true });
  const repo = rq.st.repo(ns, name);
  if (!rq.st.getNamespace(ns)) throw internalError(`'NoneType' object has no attribute 'username'`);
  if (repo) markRepositoryForDeletion(rq.core, repo);
  return noContent();
}

function changeVisibility(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "admin", ns, name, { allowForSuperuser: true });
  rq.validateJson(CHANGE_VISIBILITY);
  const repo = rq.st.repo(ns, name);
  if (!repo) return ok(null);
  repo.visibility = rq.data.visibility as "public" | "private";
  return ok({ success: true });
}

// ---- permissions
function userPermView(rq: Rq, perm: RepoPerm, ns: string) {
  const user = rq.st.entity(perm.userId)!;
  const org = rq.st.getOrg(ns);
  const v: Record<string, unknown> = { role: perm.role, name: user.username, is_robot: user.kind === "robot", avatar: userAvatar(user) };
  if (org) v.is_org_member = user.kind === "robot" || rq.st.isOrgMember(user.id, org.id);
  return v;
}
function teamPermView(rq: Rq, perm: RepoPerm) {
  const t = rq.st.teamById(perm.teamId)!;
  return { role: perm.role, name: t.name, avatar: teamAvatar(t) };
}
function userPermOf(rq: Rq, ns: string, name: string, username: string): RepoPerm | undefined {
  const repo = rq.st.repo(ns, name);
  const u = rq.st.byName(username);
  if (!repo || !u) return undefined;
  return rq.st.permsOfRepo(repo.id).find((p) => p.userId === u.id);
}
function teamPermOf(rq: Rq, ns: string, name: string, team: string): RepoPerm | undefined {
  const repo = rq.st.repo(ns, name);
  if (!repo) return undefined;
  return rq.st.permsOfRepo(repo.id).find((p) => p.teamId !== null && rq.st.teamById(p.teamId)?.name === team);
}

function listUserPerms(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "admin", ns, name, { allowForSuperuser: true, allowForGlobalReadonly: true });
  const repo = rq.st.repo(ns, name);
  const perms = repo ? rq.st.permsOfRepo(repo.id).filter((p) => p.userId !== null) : [];
  return ok({ permissions: Object.fromEntries(perms.map((p) => [rq.st.entity(p.userId)!.username, userPermView(rq, p, ns)])) });
}

function getUserPerm(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "admin", ns, name, { allowForSuperuser: true, allowForGlobalReadonly: true });
  const perm = userPermOf(rq, ns, name, rq.params.username);
  if (!perm) throw modelError("User does not have permission for repo.");
  return ok(userPermView(rq, perm, ns));
}

function putUserPerm(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "admin", ns, name, { allowForSuperuser: true });
  rq.validateJson(USER_PERMISSION);
  const username = rq.params.username;
  const role = rq.data.role as RepoRole;
  if (username === ns) throw invalidRequest("Namespace owner must always be admin.");
  const user: Entity | undefined = rq.st.byName(username);
  if (!user) throw invalidRequest(`Invalid username: ${username}`);
  if (user.kind === "robot") {
    const [robotNs] = user.username.split("+");
    if (robotNs !== ns) throw invalidRequest(`Cannot add robot ${username} under namespace ${ns}`);
  }
  const repo = rq.st.repo(ns, name);
  if (!repo) throw internalError("Repository.DoesNotExist");
  let perm = rq.st.permsOfRepo(repo.id).find((p) => p.userId === user.id);
  if (perm) perm.role = role;
  else {
    perm = { id: rq.st.id(), repoId: repo.id, userId: user.id, teamId: null, role };
    rq.st.perms.push(perm);
  }
  return ok(userPermView(rq, perm, ns));
}

function deleteUserPerm(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "admin", ns, name, { allowForSuperuser: true });
  const username = rq.params.username;
  if (username === ns) throw invalidRequest("Namespace owner must always be admin.");
  const perm = userPermOf(rq, ns, name, username);
  if (!perm) throw invalidRequest("User does not have permission for repo.");
  rq.st.perms = rq.st.perms.filter((p) => p !== perm);
  return noContent();
}

function transitive(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "admin", ns, name, { allowForSuperuser: true, allowForGlobalReadonly: true });
  const user = rq.st.getUser(rq.params.username);
  const repo = rq.st.repo(ns, name);
  if (!user || !repo) throw notFound();
  const myTeams = new Set(rq.st.teams.filter((t) => t.members.includes(user.id)).map((t) => t.id));
  const roles = rq.st.permsOfRepo(repo.id).filter((p) => p.userId === user.id || (p.teamId !== null && myTeams.has(p.teamId)));
  if (!roles.length) throw notFound();
  return ok({ permissions: roles.map((r) => ({ role: r.role })) });
}

function listTeamPerms(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "admin", ns, name, { allowForSuperuser: true, allowForGlobalReadonly: true });
  const repo = rq.st.repo(ns, name);
  const perms = repo ? rq.st.permsOfRepo(repo.id).filter((p) => p.teamId !== null) : [];
  return ok({ permissions: Object.fromEntries(perms.map((p) => [rq.st.teamById(p.teamId)!.name, teamPermView(rq, p)])) });
}

function getTeamPerm(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "admin", ns, name, { allowForSuperuser: true, allowForGlobalReadonly: true });
  const perm = teamPermOf(rq, ns, name, rq.params.team);
  if (!perm) throw modelError("Team does not have permission for repo.");
  return ok({ role: perm.role });
}

function putTeamPerm(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "admin", ns, name, { allowForSuperuser: true });
  rq.validateJson(TEAM_PERMISSION);
  const teamName = rq.params.team;
  const org = rq.st.getNamespace(ns);
  const team = org ? rq.st.team(org.id, teamName) : undefined;
  if (!team) throw invalidRequest(`No team ${teamName} in organization ${ns}`);
  const repo = rq.st.repo(ns, name);
  if (!repo) throw internalError("Repository.DoesNotExist");
  const role = rq.data.role as RepoRole;
  let perm = rq.st.permsOfRepo(repo.id).find((p) => p.teamId === team.id);
  if (perm) perm.role = role;
  else {
    perm = { id: rq.st.id(), repoId: repo.id, userId: null, teamId: team.id, role };
    rq.st.perms.push(perm);
  }
  return ok(teamPermView(rq, perm));
}

function deleteTeamPerm(rq: Rq): Reply {
  const [ns, name] = repoParams(rq);
  requireRepo(rq, "admin", ns, name, { allowForSuperuser: true });
  const perm = teamPermOf(rq, ns, name, rq.params.team);
  if (!perm) throw invalidRequest("Team does not have permission for repo.");
  rq.st.perms = rq.st.perms.filter((p) => p !== perm);
  return noContent();
}

export function register(r: Router): void {
  r.add("POST", "/api/v1/repository", createRepo);
  r.add("GET", "/api/v1/repository", listRepos);
  // Werkzeug prefers the rules with more static parts, so the specific routes come first.
  r.add("GET", "/api/v1/repository/{repo:path}/permissions/user/{username}/transitive", transitive);
  r.add("GET", "/api/v1/repository/{repo:path}/permissions/user/", listUserPerms);
  r.add("GET", "/api/v1/repository/{repo:path}/permissions/user/{username}", getUserPerm);
  r.add("PUT", "/api/v1/repository/{repo:path}/permissions/user/{username}", putUserPerm);
  r.add("DELETE", "/api/v1/repository/{repo:path}/permissions/user/{username}", deleteUserPerm);
  r.add("GET", "/api/v1/repository/{repo:path}/permissions/team/", listTeamPerms);
  r.add("GET", "/api/v1/repository/{repo:path}/permissions/team/{team}", getTeamPerm);
  r.add("PUT", "/api/v1/repository/{repo:path}/permissions/team/{team}", putTeamPerm);
  r.add("DELETE", "/api/v1/repository/{repo:path}/permissions/team/{team}", deleteTeamPerm);
  r.add("POST", "/api/v1/repository/{repo:path}/changevisibility", changeVisibility);
  r.add("GET", "/api/v1/repository/{repo:path}", getRepo);
  r.add("PUT", "/api/v1/repository/{repo:path}", updateRepo);
  r.add("DELETE", "/api/v1/repository/{repo:path}", deleteRepo);
}
