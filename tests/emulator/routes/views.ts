// JSON views of Quay's endpoints (user_view, org_view, team_view, robot views, ...).
import { orgAvatar, teamAvatar, userAvatar, validateEmail } from "../common";
import type { Rq } from "../context";
import { AccessToken, avatarData, Entity, formatDate, isoZ, OAuthApp, Prototype, Team } from "../state";

/** endpoints/api/user.py user_view. */
export function userView(rq: Rq, user: Entity): Record<string, unknown> {
  const p = rq.perms;
  const resp: Record<string, unknown> = { anonymous: false, username: user.username, avatar: userAvatar(user) };
  const isAdmin = p.userAdmin(user.username);
  if (isAdmin) {
    Object.assign(resp, {
      can_create_repo: true,
      is_me: true,
      verified: user.verified,
      email: user.email,
      logins: [],
      invoice_email: user.invoiceEmail,
      invoice_email_address: user.invoiceEmailAddress,
      preferred_namespace: false,
      tag_expiration_s: user.tagExpirationS,
      prompts: [],
      company: null,
      family_name: null,
      given_name: null,
      location: null,
      is_free_account: true,
      has_password_set: !!user.password,
    });
  }
  if (p.userRead(user.username)) {
    const orgs = new Map<number, Entity>();
    for (const t of rq.st.teams) if (t.members.includes(user.id)) {
      const o = rq.st.entity(t.orgId);
      if (o) orgs.set(o.id, o);
    }
    for (const ns of rq.cfg.get<string[]>("PUBLIC_NAMESPACES") ?? []) {
      const o = rq.st.getNamespace(ns);
      if (o) orgs.set(o.id, o);
    }
    resp.organizations = [...orgs.values()].map((o) => {
      const v: Record<string, unknown> = {
        name: o.username,
        avatar: orgAvatar(o),
        can_create_repo: p.createRepo(o.username),
        public: (rq.cfg.get<string[]>("PUBLIC_NAMESPACES") ?? []).includes(o.username),
      };
      if (isAdmin) Object.assign(v, { is_org_admin: p.administerOrg(o.username), preferred_namespace: false });
      return v;
    });
  }
  if (rq.cfg.feature("SUPER_USERS") && p.superUser()) resp.super_user = rq.ctx.user?.id === user.id && p.superUser();
  if (p.isGlobalReadonlySuperuser()) resp.global_readonly_super_user = rq.ctx.user?.id === user.id;
  return resp;
}

/** organization.py team_view (the org view's teams). */
export function orgTeamView(rq: Rq, t: Team, viewable: Set<number> | null) {
  return {
    name: t.name,
    description: t.description,
    role: t.role,
    avatar: teamAvatar(t),
    can_view: viewable === null ? true : viewable.has(t.id),
    repo_count: rq.st.perms.filter((p) => p.teamId === t.id).length,
    member_count: t.members.length,
    is_synced: false,
  };
}

/** organization.py org_view. */
export function orgView(rq: Rq, o: Entity, withTeams: boolean): Record<string, unknown> {
  const p = rq.perms;
  let isAdmin = p.administerOrg(o.username);
  let isMember = p.orgMember(o.username);
  const asSuper = p.isGlobalReadonlySuperuser() || (rq.cfg.feature("SUPERUSERS_FULL_ACCESS") && p.superUser());
  if (asSuper) {
    isAdmin = true;
    isMember = true;
  }
  const view: Record<string, unknown> = {
    name: o.username,
    email: isAdmin || asSuper ? (validateEmail(o.email) ? o.email : "") : "",
    avatar: userAvatar(o),
    is_admin: isAdmin,
    is_member: isMember,
  };
  if (withTeams) {
    const teams = rq.st.teamsOf(o.id).sort((a, b) => a.id - b.id);
    let viewable: Set<number> | null = null;
    if (!(asSuper || isAdmin)) {
      const u = rq.ctx.user;
      viewable = new Set(u ? rq.st.memberTeams(u.id, o.id).map((t) => t.id) : []);
    }
    view.teams = Object.fromEntries(teams.map((t) => [t.name, orgTeamView(rq, t, viewable)]));
    view.ordered_teams = teams.map((t) => t.name);
  }
  if (isAdmin) {
    view.invoice_email = o.invoiceEmail;
    view.invoice_email_address = o.invoiceEmailAddress;
    view.tag_expiration_s = o.tagExpirationS;
    view.is_free_account = true;
  }
  return view;
}

/** team.py team_view. */
export function teamView(rq: Rq, orgName: string, t: Team, isNew: boolean) {
  return {
    name: t.name,
    description: t.description,
    can_view: rq.perms.viewTeam(orgName, t.name),
    role: t.role,
    avatar: teamAvatar(t),
    new_team: isNew,
  };
}

/** robot_models_interface Robot.to_dict. */
export function robotView(r: Entity, opts: { includeMetadata?: boolean; includeToken?: boolean; metadataOverride?: unknown } = {}) {
  const d: Record<string, unknown> = {
    name: r.username,
    created: formatDate(r.created),
    last_accessed: formatDate(r.lastAccessed),
    description: r.robotDescription ?? "",
  };
  if (opts.includeToken) d.token = r.robotToken;
  if (opts.includeMetadata) d.unstructured_metadata = "metadataOverride" in opts ? opts.metadataOverride : (r.robotMetadata ?? {});
  return d;
}

export function prototypeView(rq: Rq, proto: Prototype) {
  const orgId = proto.orgId;
  const userV = (u: Entity) => ({
    name: u.username,
    is_robot: u.kind === "robot",
    kind: "user",
    is_org_member: u.kind === "robot" || rq.st.isOrgMember(u.id, orgId),
    avatar: userAvatar(u),
  });
  const du = rq.st.entity(proto.delegateUserId);
  const dt = rq.st.teamById(proto.delegateTeamId);
  const au = rq.st.entity(proto.activatingUserId);
  return {
    activating_user: au ? userV(au) : null,
    delegate: du ? userV(du) : dt ? { name: dt.name, kind: "team", avatar: teamAvatar(dt) } : null,
    role: proto.role,
    id: proto.uuid,
  };
}

/** superuser_models_interface User.to_dict. */
export function superUserView(rq: Rq, u: Entity) {
  const ro = rq.cfg.get<string[] | null>("GLOBAL_READONLY_SUPER_USERS");
  return {
    kind: "user",
    name: u.username,
    username: u.username,
    email: u.email,
    verified: u.verified,
    avatar: userAvatar(u),
    super_user: rq.cfg.superUsers.includes(u.username),
    global_readonly_super_user: Array.isArray(ro) && ro.includes(u.username),
    enabled: u.enabled,
  };
}

export function appView(rq: Rq, app: OAuthApp) {
  const ns = rq.st.entity(app.nsId);
  const isAdmin = ns ? rq.perms.administerOrg(ns.username) : false;
  return {
    name: app.name,
    description: app.description,
    application_uri: app.applicationUri,
    client_id: app.clientId,
    client_secret: isAdmin ? app.clientSecret : null,
    redirect_uri: isAdmin ? app.redirectUri : null,
    avatar_email: isAdmin ? app.avatarEmail : null,
  };
}

export function tokenView(rq: Rq, t: AccessToken, secret?: string) {
  const v: Record<string, unknown> = {
    uuid: t.uuid,
    name: t.displayName,
    scope: t.scope,
    expires_at: isoZ(t.expiresAt),
    created: isoZ(t.created),
    created_by: rq.st.entity(t.userId)?.username ?? null,
    last_accessed: isoZ(t.lastAccessed),
  };
  if (secret !== undefined) v.token = secret;
  return v;
}

export { avatarData };
