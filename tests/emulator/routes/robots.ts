// endpoints/api/robot.py
import { requireUserAdmin, unauthorized } from "../common";
import { noContent, ok, Reply, Router, Rq } from "../context";
import { httpAbort, invalidRequest, modelError, werkzeugAbort } from "../errors";
import { createRobot, lookupRobot, ModelException } from "../model";
import { avatarData, Entity, formatDate, randomString, uuid4 } from "../state";
import { robotView } from "./views";

const CREATE_ROBOT = {
  type: "object",
  description: "Optional data for creating a robot",
  properties: {
    description: { type: "string", description: "Optional text description for the robot", maxLength: 255 },
    unstructured_metadata: { type: "object", description: "Optional unstructured metadata for the robot" },
  },
};
const ROBOT_MAX_SIZE = 1024 * 1024;

function rethrow(e: unknown): never {
  if (e instanceof ModelException) throw modelError(e.message);
  throw e;
}

/** list_entity_robot_permission_teams + the robots_list view. */
function robotsList(rq: Rq, prefix: string, includePermissions: boolean, includeToken: boolean, limit: number | null) {
  const robots = rq.st.entities.filter((e) => e.kind === "robot" && e.username.startsWith(prefix + "+"));
  // ORDER BY last_accessed DESC (NULLs first in PostgreSQL), then insertion order.
  robots.sort((a, b) => (b.lastAccessed?.getTime() ?? Infinity) - (a.lastAccessed?.getTime() ?? Infinity) || a.id - b.id);
  const lastAccessed = (r: Entity) => (rq.cfg.feature("USER_LAST_ACCESSED") ? formatDate(r.lastAccessed) : null);
  if (!includePermissions) {
    const rows = limit !== null ? robots.slice(0, Math.max(limit, 0)) : robots;
    return rows.map((r) => {
      const d: Record<string, unknown> = { name: r.username, created: formatDate(r.created), last_accessed: lastAccessed(r), description: r.robotDescription ?? "" };
      if (includeToken) d.token = r.robotToken;
      return d;
    });
  }
  // With permissions the LIMIT applies to the joined rows (robot x repository permission x team).
  type Row = { robot: Entity; repo: string | null; team: string | null };
  const rows: Row[] = [];
  for (const r of robots) {
    const repos = rq.st.perms.filter((p) => p.userId === r.id).map((p) => rq.st.repoById(p.repoId)?.name ?? null);
    const teams = rq.st.teams.filter((t) => t.members.includes(r.id)).map((t) => t.name);
    for (const repo of repos.length ? repos : [null]) for (const team of teams.length ? teams : [null]) rows.push({ robot: r, repo, team });
  }
  const limited = limit !== null ? rows.slice(0, Math.max(limit, 0)) : rows;
  const out = new Map<number, { d: Record<string, unknown>; teams: { name: string; avatar: unknown }[]; repos: string[] }>();
  for (const row of limited) {
    let entry = out.get(row.robot.id);
    if (!entry) {
      entry = { d: {}, teams: [], repos: [] };
      out.set(row.robot.id, entry);
    }
    if (row.team !== null && !entry.teams.some((t) => t.name === row.team)) entry.teams.push({ name: row.team, avatar: avatarData(row.team, row.team, "team") });
    if (row.repo !== null && !entry.repos.includes(row.repo)) entry.repos.push(row.repo);
  }
  return [...out.entries()].map(([id, e]) => {
    const r = rq.st.entity(id)!;
    const d: Record<string, unknown> = {
      name: r.username,
      created: formatDate(r.created),
      last_accessed: lastAccessed(r),
      teams: e.teams,
      repositories: e.repos,
      description: r.robotDescription ?? "",
    };
    if (includeToken) d.token = r.robotToken;
    return d;
  });
}

function checkSize(rq: Rq): void {
  const ct = (rq.header("content-type") ?? "").split(";")[0].trim();
  if (ct === "application/json" && rq.body.length > ROBOT_MAX_SIZE) throw invalidRequest(null as unknown as string);
}

function createRobotFor(rq: Rq, parent: Entity, short: string): Reply {
  const data = (rq.json(true) as Record<string, unknown> | undefined) ?? {};
  const body = data && typeof data === "object" && !Array.isArray(data) ? data : {};
  try {
    const { robot } = createRobot(rq.core, short, parent, (body.description as string) || "", body.unstructured_metadata as Record<string, unknown> | undefined);
    return ok(robotView(robot, { includeMetadata: true, includeToken: true, metadataOverride: body.unstructured_metadata ?? null }), 201);
  } catch (e) {
    if (e instanceof ModelException) throw invalidRequest(e.message);
    throw e;
  }
}

function regenerate(rq: Rq, parent: string, short: string): Reply {
  let robot: Entity;
  try {
    robot = lookupRobot(rq.st, `${parent}+${short}`);
  } catch (e) {
    rethrow(e);
  }
  robot.robotToken = randomString(64);
  robot.email = uuid4();
  robot.uuid = uuid4();
  return ok(robotView(robot, { includeToken: true }));
}

function deleteRobot(rq: Rq, username: string): Reply {
  try {
    const robot = lookupRobot(rq.st, username); // robot_has_mirror looks the robot up first
    rq.st.purgeEntity(robot);
  } catch (e) {
    rethrow(e);
  }
  return noContent();
}

function robotPermissions(rq: Rq, robotName: string) {
  const robot = lookupRobot(rq.st, robotName);
  return rq.st.perms
    .filter((p) => p.userId === robot.id)
    .map((p) => ({ p, repo: rq.st.repoById(p.repoId)! }))
    .filter((x) => x.repo)
    .map(({ p, repo }) => ({ repository: { name: repo.name, is_public: repo.visibility === "public" }, role: p.role }));
}

// ---- organization robots
function orgList(rq: Rq): Reply {
  const org = rq.params.org;
  const p = rq.perms;
  const permissions = rq.argBool("permissions", false);
  const token = rq.argBool("token", true);
  const limit = rq.argInt("limit", "If specified, the number of robots to return.");
  const fa = rq.cfg.feature("SUPERUSERS_FULL_ACCESS") && p.superUser();
  if (!(p.orgMember(org) || p.isGlobalReadonlySuperuser() || fa)) throw unauthorized(rq);
  const isAdmin = p.administerOrg(org);
  const includeToken = (isAdmin || fa) && token;
  const includePerms = (isAdmin || fa || p.isGlobalReadonlySuperuser()) && permissions;
  return ok({ robots: robotsList(rq, org, includePerms, includeToken, limit) });
}

function orgGet(rq: Rq): Reply {
  const org = rq.params.org;
  const p = rq.perms;
  const isAdmin = p.administerOrg(org);
  const fa = rq.cfg.feature("SUPERUSERS_FULL_ACCESS") && p.superUser();
  if (!(isAdmin || p.isGlobalReadonlySuperuser() || fa)) throw unauthorized(rq);
  if (!rq.st.getOrg(org)) throw modelError(`Organization does not exist: ${org}`);
  try {
    const robot = lookupRobot(rq.st, `${org}+${rq.params.robot}`);
    return ok(robotView(robot, { includeMetadata: true, includeToken: isAdmin || fa }));
  } catch (e) {
    rethrow(e);
  }
}

function orgPut(rq: Rq): Reply {
  checkSize(rq);
  rq.validateJson(CREATE_ROBOT, true);
  const org = rq.params.org;
  if (!(rq.perms.administerOrg(org) || rq.perms.fullAccess())) throw unauthorized(rq);
  const parent = rq.st.getOrg(org);
  if (!parent) throw modelError(`Organization does not exist: ${org}`);
  return createRobotFor(rq, parent, rq.params.robot);
}

function orgDelete(rq: Rq): Reply {
  const org = rq.params.org;
  if (!(rq.perms.administerOrg(org) || rq.perms.fullAccess())) throw unauthorized(rq);
  return deleteRobot(rq, `${org}+${rq.params.robot}`);
}

function orgRegenerate(rq: Rq): Reply {
  const org = rq.params.org;
  if (!(rq.perms.administerOrg(org) || rq.perms.fullAccess())) throw unauthorized(rq);
  if (!rq.st.getOrg(org)) throw modelError(`Organization does not exist: ${org}`);
  return regenerate(rq, org, rq.params.robot);
}

function orgPermissions(rq: Rq): Reply {
  requireUserAdmin(rq);
  const org = rq.params.org;
  const p = rq.perms;
  if (!(p.administerOrg(org) || p.isGlobalReadonlySuperuser() || (rq.cfg.feature("SUPERUSERS_FULL_ACCESS") && p.superUser()))) throw werkzeugAbort(403);
  if (!rq.st.getOrg(org)) throw modelError(`Organization does not exist: ${org}`);
  try {
    return ok({ permissions: robotPermissions(rq, `${org}+${rq.params.robot}`) });
  } catch (e) {
    rethrow(e);
  }
}

// ---- user robots
function userList(rq: Rq): Reply {
  const u = requireUserAdmin(rq);
  const permissions = rq.argBool("permissions", false);
  const token = rq.argBool("token", true);
  const limit = rq.argInt("limit", "If specified, the number of robots to return.");
  return ok({ robots: robotsList(rq, u.username, permissions, token, limit) });
}
function userGet(rq: Rq): Reply {
  const u = requireUserAdmin(rq);
  try {
    return ok(robotView(lookupRobot(rq.st, `${u.username}+${rq.params.robot}`), { includeMetadata: true, includeToken: true }));
  } catch (e) {
    rethrow(e);
  }
}
function userPut(rq: Rq): Reply {
  const u = requireUserAdmin(rq);
  checkSize(rq);
  rq.validateJson(CREATE_ROBOT, true);
  return createRobotFor(rq, u, rq.params.robot);
}
function userDelete(rq: Rq): Reply {
  const u = requireUserAdmin(rq);
  return deleteRobot(rq, `${u.username}+${rq.params.robot}`);
}
function userRegenerate(rq: Rq): Reply {
  const u = requireUserAdmin(rq);
  return regenerate(rq, u.username, rq.params.robot);
}
function userPermissions(rq: Rq): Reply {
  const u = requireUserAdmin(rq);
  try {
    return ok({ permissions: robotPermissions(rq, `${u.username}+${rq.params.robot}`) });
  } catch (e) {
    rethrow(e);
  }
}

export function register(r: Router): void {
  r.add("GET", "/api/v1/organization/{org}/robots", orgList);
  r.add("GET", "/api/v1/organization/{org}/robots/{robot}", orgGet);
  r.add("PUT", "/api/v1/organization/{org}/robots/{robot}", orgPut);
  r.add("DELETE", "/api/v1/organization/{org}/robots/{robot}", orgDelete);
  r.add("POST", "/api/v1/organization/{org}/robots/{robot}/regenerate", orgRegenerate);
  r.add("GET", "/api/v1/organization/{org}/robots/{robot}/permissions", orgPermissions);
  r.add("GET", "/api/v1/user/robots", userList);
  r.add("GET", "/api/v1/user/robots/{robot}", userGet);
  r.add("PUT", "/api/v1/user/robots/{robot}", userPut);
  r.add("DELETE", "/api/v1/user/robots/{robot}", userDelete);
  r.add("POST", "/api/v1/user/robots/{robot}/regenerate", userRegenerate);
  r.add("GET", "/api/v1/user/robots/{robot}/permissions", userPermissions);
}

export { httpAbort };
