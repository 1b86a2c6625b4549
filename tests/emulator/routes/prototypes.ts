// endpoints/api/prototype.py
import { orgOr404, unauthorized } from "../common";
import { noContent, ok, Reply, Router, Rq } from "../context";
import { invalidRequest, modelError, notFound } from "../errors";
import { RepoRole, uuid4 } from "../state";
import { prototypeView } from "./views";

const NEW_PROTOTYPE = {
  type: "object",
  description: "Description of a new prototype",
  required: ["role", "delegate"],
  properties: {
    role: { type: "string", description: "Role that should be applied to the delegate", enum: ["read", "write", "admin"] },
    activating_user: {
      type: "object",
      description: "Repository creating user to whom the rule should apply",
      required: ["name"],
      properties: { name: { type: "string", description: "The username for the activating_user" } },
    },
    delegate: {
      type: "object",
      description: "Information about the user or team to which the rule grants access",
      required: ["name", "kind"],
      properties: {
        name: { type: "string", description: "The name for the delegate team or user" },
        kind: { type: "string", description: "Whether the delegate is a user or a team", enum: ["user", "team"] },
      },
    },
  },
};
const PROTOTYPE_UPDATE = {
  type: "object",
  description: "Description of a the new prototype role",
  required: ["role"],
  properties: { role: { type: "string", description: "Role that should be applied to the permission", enum: ["read", "write", "admin"] } },
};

function list(rq: Rq): Reply {
  const org = rq.params.org;
  const p = rq.perms;
  if (!(p.administerOrg(org) || p.isGlobalReadonlySuperuser() || p.fullAccess())) throw unauthorized(rq);
  const o = orgOr404(rq, org);
  return ok({ prototypes: rq.st.prototypes.filter((x) => x.orgId === o.id).map((x) => prototypeView(rq, x)) });
}

function create(rq: Rq): Reply {
  rq.validateJson(NEW_PROTOTYPE);
  const org = rq.params.org;
  if (!(rq.perms.administerOrg(org) || rq.perms.fullAccess())) throw unauthorized(rq);
  const o = orgOr404(rq, org);
  const d = rq.data;
  const act = d.activating_user as Record<string, unknown> | null | undefined;
  const activatingName = act && typeof act === "object" && "name" in act ? String(act.name) : null;
  const delegate = (d.delegate as Record<string, unknown>) ?? {};
  const kind = delegate.kind;
  const dname = delegate.name as string | undefined;
  const activating = activatingName ? rq.st.getUser(activatingName) : undefined;
  const delegateUser = kind === "user" && dname ? rq.st.getUser(dname) : undefined;
  let delegateTeam;
  if (kind === "team" && dname) {
    delegateTeam = rq.st.team(o.id, dname);
    // get_organization_team raises InvalidTeamException("Team does not exist: %s/%s", org, team)
    if (!delegateTeam) throw modelError(`('Team does not exist: %s/%s', '${org}', '${dname}')`);
  }
  if (activatingName && !activating) throw invalidRequest("Unknown activating user");
  if (!delegateUser && !delegateTeam) throw invalidRequest("Missing delegate user or team");
  const proto = {
    id: rq.st.id(),
    uuid: uuid4(),
    orgId: o.id,
    activatingUserId: activating?.id ?? null,
    delegateUserId: delegateUser?.id ?? null,
    delegateTeamId: delegateTeam?.id ?? null,
    role: d.role as RepoRole,
  };
  rq.st.prototypes.push(proto);
  return ok(prototypeView(rq, proto));
}

function update(rq: Rq): Reply {
  rq.validateJson(PROTOTYPE_UPDATE);
  const org = rq.params.org;
  if (!(rq.perms.administerOrg(org) || rq.perms.fullAccess())) throw unauthorized(rq);
  const o = orgOr404(rq, org);
  const proto = rq.st.prototypes.find((x) => x.orgId === o.id && x.uuid === rq.params.prototypeid);
  if (!proto) throw notFound();
  proto.role = rq.data.role as RepoRole;
  return ok(prototypeView(rq, proto));
}

function remove(rq: Rq): Reply {
  const org = rq.params.org;
  if (!(rq.perms.administerOrg(org) || rq.perms.fullAccess())) throw unauthorized(rq);
  const o = orgOr404(rq, org);
  const proto = rq.st.prototypes.find((x) => x.orgId === o.id && x.uuid === rq.params.prototypeid);
  if (!proto) throw notFound();
  rq.st.prototypes = rq.st.prototypes.filter((x) => x !== proto);
  return noContent();
}

export function register(r: Router): void {
  r.add("GET", "/api/v1/organization/{org}/prototypes", list);
  r.add("POST", "/api/v1/organization/{org}/prototypes", create);
  r.add("PUT", "/api/v1/organization/{org}/prototypes/{prototypeid}", update);
  r.add("DELETE", "/api/v1/organization/{org}/prototypes/{prototypeid}", remove);
}
