// endpoints/api/team.py
import { memberView, unauthorized } from "../common";
import { noContent, ok, Reply, Router, Rq } from "../context";
import { internalError, invalidRequest, modelError, notFound } from "../errors";
import { createTeam, ModelException } from "../model";
import { avatarData, Entity, randomString, Team, TeamRole } from "../state";
import { teamView } from "./views";

const TEAM_DESCRIPTION = {
  type: "object",
  description: "Description of a team",
  required: ["role"],
  properties: {
    role: { type: "string", description: "Org wide permissions that should apply to the team", enum: ["member", "creator", "admin"] },
    description: { type: "string", description: "Markdown description for the team" },
  },
};

function getTeam(rq: Rq, org: string, name: string): Team | undefined {
  const o = rq.st.getOrg(org);
  return o ? rq.st.team(o.id, name) : undefined;
}

/** Admin teams of the org that `username` belongs to (__get_user_admin_teams). */
function userAdminTeams(rq: Rq, orgId: number, user: Entity | null): Team[] {
  if (!user) return [];
  return rq.st.teamsOf(orgId).filter((t) => t.role === "admin" && t.members.includes(user.id));
}

function putTeam(rq: Rq): Reply {
  rq.validateJson(TEAM_DESCRIPTION);
  const orgName = rq.params.org;
  const teamName = rq.params.team;
  if (!(rq.perms.administerOrg(orgName) || rq.perms.fullAccess())) throw unauthorized(rq);
  const d = rq.data;
  let team = getTeam(rq, orgName, teamName);
  const isExisting = !!team;
  if (!team) {
    const org = rq.st.getOrg(orgName);
    if (!org) throw modelError(`Organization does not exist: ${orgName}`);
    try {
      team = createTeam(rq.st, teamName, org, ((d.role as TeamRole) ?? "member"), (d.description as string) ?? "");
    } catch (e) {
      if (e instanceof ModelException) throw modelError(e.message);
      throw e;
    }
  } else {
    if ("description" in d && team.description !== d.description) team.description = String(d.description);
    if ("role" in d && team.role !== d.role) {
      if (team.role === "admin" && d.role !== "admin") {
        const admin = new Set(userAdminTeams(rq, team.orgId, rq.ctx.user).map((t) => t.name));
        if (admin.has(team.name) && admin.size <= 1) {
          throw modelError(`Cannot remove admin from team '${team.name}' because calling user would no longer have admin on org '${orgName}'`);
        }
      }
      team.role = d.role as TeamRole;
    }
  }
  return ok(teamView(rq, orgName, team, !isExisting));
}

function deleteTeam(rq: Rq): Reply {
  const orgName = rq.params.org;
  const teamName = rq.params.team;
  if (!(rq.perms.administerOrg(orgName) || rq.perms.fullAccess())) throw unauthorized(rq);
  const team = getTeam(rq, orgName, teamName);
  if (!team) throw modelError(`Team '${teamName}' is not a team in org '${orgName}'`);
  if (team.role === "admin") {
    const admin = userAdminTeams(rq, team.orgId, rq.ctx.user);
    if (admin.length === 0) throw internalError("IndexError: list index out of range");
    if (admin.length <= 1 && admin[0].name === teamName) {
      throw modelError(`Deleting team '${teamName}' would remove admin ability for user '${rq.ctx.user!.username}' in organization '${orgName}'`);
    }
  }
  rq.st.purgeTeam(team);
  return noContent();
}

function listMembers(rq: Rq): Reply {
  const orgName = rq.params.org;
  const teamName = rq.params.team;
  const includePending = rq.argBool("includePending", false);
  const p = rq.perms;
  if (!(p.viewTeam(orgName, teamName) || p.isGlobalReadonlySuperuser() || p.fullAccess())) throw unauthorized(rq);
  const team = getTeam(rq, orgName, teamName);
  if (!team) throw notFound();
  const members = team.members.map((id) => rq.st.entity(id)).filter((e): e is Entity => !!e).map((e) => memberView(e));
  const canEdit = p.administerOrg(orgName);
  const invites = includePending && canEdit
    ? rq.st.invites.filter((i) => i.teamId === team.id).map((i) => {
        const u = rq.st.entity(i.userId);
        return u ? memberView(u, true) : { email: i.email, kind: "invite", avatar: avatarData(i.email ?? "", i.email, "user"), invited: true };
      })
    : [];
  return ok({ name: teamName, members: [...members, ...invites], can_edit: canEdit });
}

function addMember(rq: Rq): Reply {
  const orgName = rq.params.org;
  const teamName = rq.params.team;
  if (!(rq.perms.administerOrg(orgName) || rq.perms.fullAccess())) throw unauthorized(rq);
  const team = getTeam(rq, orgName, teamName);
  if (!team) throw notFound();
  const user = rq.st.getUser(rq.params.member);
  if (!user) throw invalidRequest("Unknown user");
  // add_or_invite_to_team
  let requiresInvite = rq.cfg.feature("MAILING") && rq.cfg.feature("REQUIRE_TEAM_INVITE");
  if (requiresInvite) {
    if (user.kind === "robot") {
      requiresInvite = false;
      if (!user.username.startsWith(orgName + "+")) throw modelError("Cannot add the specified robot to this team, as it is not a member of the organization");
    } else {
      requiresInvite = !rq.st.isOrgMember(user.id, team.orgId);
    }
  }
  if (!requiresInvite) {
    if (team.members.includes(user.id)) throw modelError(`User ${user.username} is already a member of team ${team.name}`);
    team.members.push(user.id);
    return ok(memberView(user, false));
  }
  rq.st.invites.push({ id: rq.st.id(), teamId: team.id, userId: user.id, email: null, inviterId: rq.ctx.user!.id, token: randomString(40) });
  // send_org_invite_email: without SMTP configured Quay answers 400 B (the invite row stays).
  if (!rq.cfg.get("MAIL_SERVER")) throw modelError("Could not send email. Please contact an administrator and report this problem.");
  return ok(memberView(user, true));
}

function removeMember(rq: Rq): Reply {
  const orgName = rq.params.org;
  const teamName = rq.params.team;
  if (!(rq.perms.administerOrg(orgName) || rq.perms.fullAccess())) throw unauthorized(rq);
  const team = getTeam(rq, orgName, teamName);
  if (!team) throw notFound();
  const member = rq.st.getUser(rq.params.member);
  if (!member) throw notFound();
  const invite = rq.st.invites.find((i) => i.teamId === team.id && i.userId === member.id);
  if (invite) {
    rq.st.invites = rq.st.invites.filter((i) => i !== invite);
    return noContent();
  }
  if (!team.members.includes(member.id)) throw modelError(`User ${member.username} does not belong to team ${teamName}`);
  if (rq.ctx.user && member.id === rq.ctx.user.id) {
    const admin = new Set(userAdminTeams(rq, team.orgId, member).map((t) => t.name));
    if (admin.has(teamName) && admin.size <= 1) throw modelError("User cannot remove themselves from their only admin team.");
  }
  team.members = team.members.filter((m) => m !== member.id);
  return noContent();
}

function teamPermissions(rq: Rq): Reply {
  const orgName = rq.params.org;
  const p = rq.perms;
  if (!(p.administerOrg(orgName) || p.isGlobalReadonlySuperuser() || p.fullAccess())) throw unauthorized(rq);
  const team = getTeam(rq, orgName, rq.params.team);
  if (!team) throw notFound();
  const perms = rq.st.perms.filter((x) => x.teamId === team.id).map((x) => ({ x, repo: rq.st.repoById(x.repoId) })).filter((y) => y.repo);
  return ok({ permissions: perms.map(({ x, repo }) => ({ repository: { name: repo!.name, is_public: repo!.visibility === "public" }, role: x.role })) });
}

function inviteEmail(rq: Rq): Reply {
  const orgName = rq.params.org;
  if (!(rq.perms.administerOrg(orgName) || rq.perms.fullAccess())) throw unauthorized(rq);
  const team = getTeam(rq, orgName, rq.params.team);
  if (!team) throw notFound();
  const email = rq.params.email;
  rq.st.invites.push({ id: rq.st.id(), teamId: team.id, userId: null, email, inviterId: rq.ctx.user!.id, token: randomString(40) });
  if (!rq.cfg.get("MAIL_SERVER")) throw modelError("Could not send email. Please contact an administrator and report this problem.");
  return ok({ email, kind: "invite", avatar: avatarData(email, email, "user"), invited: true });
}

function deleteInviteEmail(rq: Rq): Reply {
  const orgName = rq.params.org;
  if (!(rq.perms.administerOrg(orgName) || rq.perms.fullAccess())) throw unauthorized(rq);
  const team = getTeam(rq, orgName, rq.params.team);
  if (!team) throw notFound();
  const inv = rq.st.invites.find((i) => i.teamId === team.id && i.email === rq.params.email);
  if (!inv) throw notFound();
  rq.st.invites = rq.st.invites.filter((i) => i !== inv);
  return noContent();
}

export function register(r: Router, mailing: boolean): void {
  r.add("PUT", "/api/v1/organization/{org}/team/{team}", putTeam);
  r.add("DELETE", "/api/v1/organization/{org}/team/{team}", deleteTeam);
  r.add("GET", "/api/v1/organization/{org}/team/{team}/members", listMembers);
  r.add("PUT", "/api/v1/organization/{org}/team/{team}/members/{member}", addMember);
  r.add("DELETE", "/api/v1/organization/{org}/team/{team}/members/{member}", removeMember);
  r.add("GET", "/api/v1/organization/{org}/team/{team}/permissions", teamPermissions);
  if (mailing) {
    r.add("PUT", "/api/v1/organization/{org}/team/{team}/invite/{email}", inviteEmail);
    r.add("DELETE", "/api/v1/organization/{org}/team/{team}/invite/{email}", deleteInviteEmail);
  }
}
