// data/model/* operations shared by several endpoints. DataModelException -> thrown as ModelException.
import { validateEmail, validatePassword, validateUsername, INVALID_PASSWORD_MESSAGE } from "./common";
import type { Core } from "./context";
import { Entity, QuayState, Repo, RepoRole, Team, TeamRole, randomString, uuid4 } from "./state";

export class ModelException extends Error {}

/** data/model/user.py create_user_noverify. */
export function createUserNoVerify(core: Core, username: string, email: string | null | undefined, emailRequired: boolean, kind: "user" | "org" = "user"): Entity {
  const st = core.state;
  let mail = email ?? "";
  if (emailRequired) {
    if (!validateEmail(email)) throw new ModelException(`Invalid email address: ${email ?? "None"}`);
  } else {
    mail = email || uuid4();
  }
  const issue = validateUsername(username);
  if (issue) throw new ModelException(`Invalid namespace ${username}: ${issue}`);
  const existing = st.byName(username);
  if (existing) {
    throw new ModelException(
      existing.kind === "user"
        ? `Username has already been taken by user cannot be reused: ${username}`
        : `Username has already been taken by an organization and cannot be reused: ${username}`,
    );
  }
  st.collectGarbage(core.now());
  if (st.deletedNamespaces.has(username)) throw new ModelException("Username is not available");
  if (emailRequired && st.entities.some((e) => e.kind === "user" && e.email === mail)) {
    throw new ModelException(`Email has already been used: ${mail}`);
  }
  return st.newEntity(username, kind, mail, core.config.defaultTagExpirationS);
}

/** data/model/user.py create_user. */
export function createUser(core: Core, username: string, password: string, email: string | null | undefined, autoVerify: boolean, emailRequired: boolean): Entity {
  if (!validatePassword(password)) throw new ModelException(INVALID_PASSWORD_MESSAGE);
  const u = createUserNoVerify(core, username, email, emailRequired, "user");
  u.password = password;
  u.verified = autoVerify;
  return u;
}

/** data/model/organization.py create_organization: the creator lands in a new "owners" admin team. */
export function createOrganization(core: Core, name: string, email: string | null | undefined, creator: Entity, emailRequired: boolean): Entity {
  // HEAD (3.18+): the email is optional even with FEATURE_MAILING; it must not belong to a user.
  if (email && emailRequired && !validateEmail(email)) throw new ModelException(`Invalid email address: ${email}`);
  if (email && !core.config.feature("ORG_SHARED_EMAIL") && core.state.entities.some((e) => e.kind !== "org" && e.email === email)) {
    throw new ModelException(`Email has already been used: ${email}`);
  }
  const org = createUserNoVerify(core, name, null, false, "org");
  if (email) org.email = email;
  const owners = createTeam(core.state, "owners", org, "admin", "");
  owners.members.push(creator.id);
  return org;
}

export function validateTeamName(name: string): string | null {
  if (!/^([a-z0-9]+(?:[._-][a-z0-9]+)*)$/.test(name)) return "Namespace must match expression ^([a-z0-9]+(?:[._-][a-z0-9]+)*)$";
  if (name.length < 2 || name.length > 255) return "Team must be between 2 and 255 characters in length";
  return null;
}

export function createTeam(st: QuayState, name: string, org: Entity, role: TeamRole, description: string): Team {
  const issue = validateTeamName(name);
  if (issue) throw new ModelException(`Invalid team name ${name}: ${issue}`);
  if (org.kind !== "org") throw new ModelException(`Specified organization ${org.username} was not an organization`);
  const t: Team = { id: st.id(), orgId: org.id, name, role, description, members: [] };
  st.teams.push(t);
  return t;
}

/** data/model/user.py create_robot. */
export function createRobot(core: Core, shortname: string, parent: Entity, description: string, metadata: Record<string, unknown> | null | undefined): { robot: Entity; token: string } {
  const st = core.state;
  const issue = validateUsername(shortname);
  if (core.config.get("ROBOTS_DISALLOW")) throw new ModelException("Robot accounts have been disabled. Please contact your administrator.");
  if (issue) throw new ModelException(`The name for the robot '${shortname}' is invalid: ${issue}`);
  const username = `${parent.username}+${shortname}`;
  if (st.byName(username)) throw new ModelException(`Existing robot with name: ${username}`);
  const robot = st.newEntity(username, "robot", uuid4(), core.config.defaultTagExpirationS);
  robot.robotToken = randomString(64);
  robot.robotDescription = description.slice(0, 255);
  robot.robotMetadata = metadata ?? {};
  return { robot, token: robot.robotToken };
}

export function lookupRobot(st: QuayState, robotUsername: string): Entity {
  // eslint-disable-next-line no-control-regex
  const r = /^[\x00-\x7f]*$/.test(robotUsername) ? st.byName(robotUsername) : undefined;
  if (!r || r.kind !== "robot") throw new ModelException("Could not find robot with specified username");
  return r;
}

/** data/model/repository.py create_repository (+ permission.apply_default_permissions). */
export function createRepository(core: Core, nsName: string, name: string, creator: Entity | null, visibility: "public" | "private", description: string | null): Repo | null {
  const st = core.state;
  const ns = st.getNamespace(nsName);
  if (!ns) throw new Error(`User.DoesNotExist: ${nsName}`);
  if (st.repo(nsName, name)) return null;
  const repo: Repo = {
    id: st.id(),
    nsId: ns.id,
    name,
    visibility,
    description,
    kind: "image",
    state: "NORMAL",
    badgeToken: uuid4(),
    trustEnabled: false,
  };
  st.repos.push(repo);
  if (creator && creator.kind !== "org") {
    st.perms.push({ id: st.id(), repoId: repo.id, userId: creator.id, teamId: null, role: "admin" });
    if (creator.username !== nsName) applyDefaultPermissions(st, repo, creator);
  }
  return repo;
}

function applyDefaultPermissions(st: QuayState, repo: Repo, creator: Entity): void {
  const protos = st.prototypes.filter((p) => p.orgId === repo.nsId && (p.activatingUserId === null || p.activatingUserId === creator.id));
  const apply = (list: typeof protos, key: (p: (typeof protos)[number]) => number | null, create: (id: number, role: RepoRole) => void) => {
    const final = new Map<number, RepoRole>();
    for (const p of list) {
      const k = key(p);
      if (k === null) continue;
      if (final.has(k) && p.activatingUserId === null) continue;
      final.set(k, p.role);
    }
    for (const [id, role] of final) create(id, role);
  };
  apply(protos.filter((p) => p.delegateUserId === null), (p) => p.delegateTeamId, (teamId, role) => {
    st.perms.push({ id: st.id(), repoId: repo.id, userId: null, teamId, role });
  });
  apply(protos.filter((p) => p.delegateTeamId === null), (p) => p.delegateUserId, (userId, role) => {
    if (userId === creator.id) return;
    st.perms.push({ id: st.id(), repoId: repo.id, userId, teamId: null, role });
  });
}

/** mark_repository_for_deletion: renamed to a UUID at once; permissions linger until the GC worker runs. */
export function markRepositoryForDeletion(core: Core, repo: Repo): void {
  repo.name = uuid4();
  repo.state = "MARKED_FOR_DELETION";
  repo.deletedAt = core.now() + core.orgNameLockMs;
}

/** mark_namespace_for_deletion: the namespace disappears, its name stays locked until the namespace GC runs. */
export function markNamespaceForDeletion(core: Core, ns: Entity): void {
  const st = core.state;
  const original = ns.username;
  st.deletedNamespaces.set(original, core.now() + core.orgNameLockMs);
  if (ns.kind === "user") {
    // _delete_user_linked_data for a user: team memberships and robots go now; the row is renamed to a
    // UUID and disabled, and its repository permissions and repositories linger until the GC worker runs.
    for (const t of st.teams) t.members = t.members.filter((m) => m !== ns.id);
    for (const robot of st.entities.filter((e) => e.kind === "robot" && e.username.startsWith(original + "+"))) st.purgeEntity(robot);
    st.invites = st.invites.filter((i) => i.userId !== ns.id);
    ns.username = uuid4();
    ns.email = uuid4();
    ns.enabled = false;
    ns.purgeAt = core.now() + core.orgNameLockMs;
    for (const r of st.repos.filter((x) => x.nsId === ns.id)) {
      r.state = "MARKED_FOR_DELETION";
      r.deletedAt = ns.purgeAt;
    }
    return;
  }
  for (const r of st.repos.filter((x) => x.nsId === ns.id)) st.purgeRepo(r);
  for (const t of st.teamsOf(ns.id)) st.purgeTeam(t);
  for (const robot of st.entities.filter((e) => e.kind === "robot" && e.username.startsWith(original + "+"))) st.purgeEntity(robot);
  st.proxyCaches = st.proxyCaches.filter((p) => p.orgId !== ns.id);
  st.prototypes = st.prototypes.filter((p) => p.orgId !== ns.id);
  st.purgeEntity(ns);
}
