// endpoints/api/search.py EntitySearch: GET /api/v1/entities/{prefix} (the Ansible collection looks user
// grantees up with it).
import { ok, Reply, Router, Rq } from "../context";
import { avatarData, Entity } from "../state";

/** data/model/user.py get_matching_users (FEATURE_PARTIAL_USER_AUTOCOMPLETE, Quay's default, on). */
function matchingUsers(rq: Rq, prefix: string, robotNamespace: string | null, org: Entity | undefined, limit: number): Entity[] {
  const exactOnly = rq.cfg.get("FEATURE_PARTIAL_USER_AUTOCOMPLETE") === false;
  const query = (exact: boolean, lim: number): Entity[] => {
    // prefix_search is ILIKE 'prefix%'; the robot search is ILIKE '<namespace>+prefix%'.
    const userMatch = (e: Entity) => e.kind === "user" && (exact ? e.username === prefix : e.username.toLowerCase().startsWith(prefix));
    const robotPrefix = robotNamespace ? `${robotNamespace}+${prefix}`.toLowerCase() : null;
    const robotMatch = (e: Entity) => robotPrefix !== null && e.kind === "robot" && e.username.toLowerCase().startsWith(robotPrefix);
    let rows = rq.st.entities.filter((e) => e.purgeAt === undefined && (userMatch(e) || robotMatch(e)));
    // With an organization the query is ordered robots first.
    if (org) rows = [...rows.filter((e) => e.kind === "robot"), ...rows.filter((e) => e.kind !== "robot")];
    return rows.slice(0, lim);
  };
  const exact = query(true, 1);
  const rest = limit - exact.length;
  const out = [...exact];
  if (rest > 0) for (const e of query(exactOnly, rest)) if (!(exact.length && e.username === exact[0].username)) out.push(e);
  return out;
}

function entitySearch(rq: Rq): Reply {
  // unidecode(prefix).replace(" ", "").lower()
  const prefix = rq.params.prefix.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").replace(/ /g, "").toLowerCase();
  const namespace = rq.argStr("namespace") ?? "";
  const includeTeams = rq.argBool("includeTeams", false);
  const includeOrgs = rq.argBool("includeOrgs", false);
  const org = rq.st.getOrg(namespace);
  let robotNamespace: string | null = null;
  const teams: Record<string, unknown>[] = [];
  const orgData: Record<string, unknown>[] = [];
  if (org) {
    if (rq.perms.orgMember(namespace)) {
      robotNamespace = namespace;
      if (includeTeams) {
        for (const t of rq.st.teamsOf(org.id).filter((t) => t.name.toLowerCase().startsWith(prefix)).slice(0, 10)) {
          teams.push({ name: t.name, kind: "team", is_org_member: true, avatar: avatarData(t.name, t.name, "team") });
        }
      }
      // `AdministerOrganizationPermission(namespace_name)` is an object, always truthy: members qualify.
      if (includeOrgs && namespace.startsWith(prefix)) {
        orgData.push({ name: namespace, kind: "org", is_org_member: true, avatar: avatarData(org.username, org.email, "org") });
      }
    }
  } else {
    const user = rq.ctx.user;
    if (user && user.username === namespace && rq.perms.userAdmin(user.username)) robotNamespace = namespace;
  }
  const users = matchingUsers(rq, prefix, robotNamespace, org, 10).map((u) => {
    const v: Record<string, unknown> = { name: u.username, kind: "user", is_robot: u.kind === "robot", avatar: avatarData(u.username, u.email, u.kind === "robot" ? "robot" : "user") };
    // MatchingUserResult.is_org_member reads the robot column (never None): true whenever an org is given.
    if (org) v.is_org_member = true;
    return v;
  });
  return ok({ results: [...teams, ...users, ...orgData] });
}

export function register(r: Router): void {
  r.add("GET", "/api/v1/entities/{prefix}", entitySearch);
}
