// endpoints/api/organization.py (+ organization_application_tokens.py).
import { isSubsetString, scopesFromString } from "../auth";
import { orgAvatar, orgOr404, orgUserPerms, requireFreshLogin, requireUserAdmin, teamAvatar, unauthorized, userAvatar, validateEmail } from "../common";
import { noContent, ok, Reply, Router, Rq } from "../context";
import { invalidRequest, modelError, notFound } from "../errors";
import { createOrganization, markNamespaceForDeletion, ModelException } from "../model";
import { createAccessToken, createApplication } from "../sessions";
import { Entity, uuid4 } from "../state";
import { appView, orgView, tokenView } from "./views";

const NEW_ORG = {
  type: "object",
  description: "Description of a new organization.",
  required: ["name"],
  properties: {
    name: { type: "string", description: "Organization username" },
    email: { type: "string", description: "Organization contact email" },
    contact_email: { type: "string", description: "Optional contact email for organization recovery and notifications" },
    recaptcha_response: { type: "string", description: "The (may be disabled) recaptcha response code for verification" },
  },
};

const UPDATE_ORG = {
  type: "object",
  description: "Description of updates for an existing organization",
  properties: {
    email: { type: "string", description: "Organization contact email" },
    contact_email: { type: ["string", "null"], description: "Organization contact email" },
    invoice_email: { type: "boolean", description: "Whether the organization desires to receive emails for invoices" },
    invoice_email_address: { type: ["string", "null"], description: "The email address at which to receive invoices" },
    tag_expiration_s: { type: "integer", minimum: 0, description: "The number of seconds for tag expiration" },
  },
};

const NEW_APP = {
  type: "object",
  description: "Description of a new organization application.",
  required: ["name"],
  properties: {
    name: { type: "string", description: "The name of the application" },
    redirect_uri: { type: "string", description: "The URI for the application's OAuth redirect" },
    application_uri: { type: "string", description: "The URI for the application's homepage" },
    description: { type: "string", description: "The human-readable description for the application" },
    avatar_email: { type: "string", description: "The e-mail address of the avatar to use for the application" },
  },
};

const UPDATE_APP = { ...NEW_APP, description: "Description of an updated application.", required: ["name", "redirect_uri", "application_uri"] };

const NEW_TOKEN = {
  type: "object",
  description: "Description of a new OAuth application token.",
  required: ["name", "scope"],
  properties: {
    name: { type: "string", description: "A display name for the token", minLength: 1, maxLength: 255 },
    scope: { type: "string", description: "Space or comma separated list of scopes" },
    expiration: { type: "number", description: "Expiration in seconds", minimum: 1 },
  },
};

const NEW_PROXY = {
  type: "object",
  description: "Proxy cache configuration for an organization",
  required: ["upstream_registry"],
  properties: { upstream_registry: { type: "string", description: "Name of the upstream registry that is to be cached" } },
};

const DEFAULT_TOKEN_EXPIRATION_SECONDS = Math.trunc(60 * 60 * 24 * 365.25 * 10);

function createOrg(rq: Rq): Reply {
  const user = requireUserAdmin(rq);
  rq.validateJson(NEW_ORG);
  if (rq.cfg.feature("SUPERUSERS_ORG_CREATION_ONLY") && !rq.perms.superUser()) throw unauthorized(rq);
  const d = rq.data;
  const name = String(d.name);
  const existing = rq.st.byName(name);
  if (existing) throw invalidRequest("A user or organization with this name already exists");
  const email = (d.contact_email as string) || (d.email as string) || null;
  if (email && !validateEmail(email)) throw invalidRequest("Invalid email address");
  try {
    createOrganization(rq.core, name, email, user, rq.cfg.feature("MAILING"));
  } catch (e) {
    if (e instanceof ModelException) throw invalidRequest(e.message);
    throw e;
  }
  return ok("Created", 201);
}

function getOrg(rq: Rq): Reply {
  const o = orgOr404(rq, rq.params.org);
  const p = rq.perms;
  const withTeams = p.orgMember(o.username) || p.isGlobalReadonlySuperuser() || (rq.cfg.feature("SUPERUSERS_FULL_ACCESS") && p.superUser());
  return ok(orgView(rq, o, withTeams));
}

function putOrg(rq: Rq): Reply {
  rq.validateJson(UPDATE_ORG);
  const name = rq.params.org;
  if (!(rq.perms.administerOrg(name) || rq.perms.fullAccess())) throw unauthorized(rq);
  const o = orgOr404(rq, name);
  const d = rq.data;
  if ("invoice_email" in d) o.invoiceEmail = !!d.invoice_email;
  if ("invoice_email_address" in d && d.invoice_email_address !== o.invoiceEmailAddress) o.invoiceEmailAddress = (d.invoice_email_address as string) ?? null;
  if ("contact_email" in d || "email" in d) {
    const newEmail = (("contact_email" in d ? d.contact_email : d.email) as string | null) || "";
    const current = validateEmail(o.email) ? o.email : "";
    if (newEmail !== current) {
      if (newEmail && !validateEmail(newEmail)) throw invalidRequest("Invalid email address");
      o.email = newEmail || uuid4();
    }
  }
  if (rq.cfg.feature("CHANGE_TAG_EXPIRATION") && "tag_expiration_s" in d) {
    const v = d.tag_expiration_s as number;
    if (!rq.cfg.tagExpirationOptionsS.includes(v)) throw modelError("Invalid tag expiration option");
    o.tagExpirationS = v;
  }
  return ok(orgView(rq, o, true));
}

function deleteOrg(rq: Rq): Reply {
  requireFreshLogin(rq);
  const name = rq.params.org;
  if (!(rq.perms.administerOrg(name) || rq.perms.fullAccess())) throw unauthorized(rq);
  const o = orgOr404(rq, name);
  markNamespaceForDeletion(rq.core, o);
  return noContent();
}

function collaborators(rq: Rq): Reply {
  const name = rq.params.org;
  const p = rq.perms;
  if (!p.administerOrg(name) && !p.isGlobalReadonlySuperuser() && !(rq.cfg.feature("SUPERUSERS_FULL_ACCESS") && p.superUser())) throw unauthorized(rq);
  const o = orgOr404(rq, name);
  const members = new Set(rq.st.orgMemberships(o.id).map((m) => m.member.username));
  const collab = new Map<string, { kind: string; name: string; avatar: unknown; repositories: string[] }>();
  for (const { repo, user } of orgUserPerms(rq, o.id)) {
    if (members.has(user.username)) continue;
    if (!collab.has(user.username)) collab.set(user.username, { kind: "user", name: user.username, avatar: userAvatar(user), repositories: [] });
    collab.get(user.username)!.repositories.push(repo.name);
  }
  return ok({ collaborators: [...collab.values()] });
}

function members(rq: Rq): Reply {
  const name = rq.params.org;
  const p = rq.perms;
  if (!(p.administerOrg(name) || p.isGlobalReadonlySuperuser() || p.fullAccess())) throw unauthorized(rq);
  const o = orgOr404(rq, name);
  const dict = new Map<string, { name: string; kind: string; avatar: unknown; teams: unknown[]; repositories: string[] }>();
  for (const { team, member } of rq.st.orgMemberships(o.id)) {
    if (member.kind === "robot") continue;
    if (!dict.has(member.username)) dict.set(member.username, { name: member.username, kind: "user", avatar: userAvatar(member), teams: [], repositories: [] });
    dict.get(member.username)!.teams.push({ name: team.name, avatar: teamAvatar(team) });
  }
  for (const { repo, user } of orgUserPerms(rq, o.id)) {
    const m = dict.get(user.username);
    if (m) m.repositories.push(repo.name);
  }
  return ok({ members: [...dict.values()] });
}

function getMember(rq: Rq): Reply {
  const name = rq.params.org;
  const p = rq.perms;
  if (!(p.administerOrg(name) || p.isGlobalReadonlySuperuser() || p.fullAccess())) throw unauthorized(rq);
  const member = rq.st.getUser(rq.params.member);
  if (!member) throw notFound();
  const org = rq.st.getNamespace(name);
  if (!org) throw notFound();
  const teams = rq.st.memberTeams(member.id, org.id);
  if (!teams.length) {
    if (member.kind !== "robot") throw notFound();
    if (member.username.split("+")[0] !== name) throw notFound();
  }
  const repos = rq.st.perms.filter((x) => x.userId === member.id).map((x) => rq.st.repoById(x.repoId)).filter((r) => r && r.nsId === org.id);
  return ok({
    name: member.username,
    kind: member.kind === "robot" ? "robot" : "user",
    avatar: userAvatar(member),
    teams: teams.map((t) => ({ name: t.name, avatar: teamAvatar(t) })),
    repositories: repos.map((r) => r!.name),
  });
}

function removeMember(rq: Rq): Reply {
  const name = rq.params.org;
  if (!(rq.perms.administerOrg(name) || rq.perms.fullAccess())) throw unauthorized(rq);
  const user = rq.st.getNonRobotUser(rq.params.member);
  if (!user) throw notFound();
  const o = orgOr404(rq, name);
  // data/model/organization.remove_organization_member
  const adminTeams = rq.st.teamsOf(o.id).filter((t) => t.role === "admin");
  const otherAdmins = new Set<number>();
  for (const t of adminTeams) for (const m of t.members) if (m !== user.id) otherAdmins.add(m);
  if (adminTeams.some((t) => t.members.includes(user.id)) && otherAdmins.size === 0) {
    throw modelError(`User ${user.username} cannot be removed from ${o.username} as they are the only admin`);
  }
  for (const t of rq.st.teamsOf(o.id)) t.members = t.members.filter((m) => m !== user.id);
  const repoIds = new Set(rq.st.repos.filter((r) => r.nsId === o.id).map((r) => r.id));
  rq.st.perms = rq.st.perms.filter((x) => !(x.userId === user.id && repoIds.has(x.repoId)));
  return noContent();
}

// ---- OAuth applications
function orgAdminOrRead(rq: Rq, name: string): void {
  const p = rq.perms;
  if (!(p.administerOrg(name) || p.isGlobalReadonlySuperuser() || p.fullAccess())) throw unauthorized(rq);
}
function orgAdmin(rq: Rq, name: string): void {
  if (!(rq.perms.administerOrg(name) || rq.perms.fullAccess())) throw unauthorized(rq);
}
function lookupApp(rq: Rq, org: Entity, clientId: string) {
  const app = rq.st.apps.find((a) => a.nsId === org.id && a.clientId === clientId);
  if (!app) throw notFound();
  return app;
}

function listApps(rq: Rq): Reply {
  orgAdminOrRead(rq, rq.params.org);
  const o = orgOr404(rq, rq.params.org);
  return ok({ applications: rq.st.apps.filter((a) => a.nsId === o.id).map((a) => appView(rq, a)) });
}

function createApp(rq: Rq): Reply {
  rq.validateJson(NEW_APP);
  orgAdmin(rq, rq.params.org);
  const o = orgOr404(rq, rq.params.org);
  const d = rq.data;
  if (d.name === "__quay_bootstrap_app") throw invalidRequest("Application name is reserved for bootstrap token provisioning");
  const app = createApplication(rq.core, o, String(d.name), (d.application_uri as string) ?? "", (d.redirect_uri as string) ?? "", {
    description: (d.description as string) ?? "",
    avatarEmail: (d.avatar_email as string) ?? null,
  });
  return ok(appView(rq, app));
}

function getApp(rq: Rq): Reply {
  orgAdminOrRead(rq, rq.params.org);
  const o = orgOr404(rq, rq.params.org);
  return ok(appView(rq, lookupApp(rq, o, rq.params.client_id)));
}

function updateApp(rq: Rq): Reply {
  rq.validateJson(UPDATE_APP);
  orgAdmin(rq, rq.params.org);
  const o = orgOr404(rq, rq.params.org);
  const app = lookupApp(rq, o, rq.params.client_id);
  const d = rq.data;
  if (d.name === "__quay_bootstrap_app") throw invalidRequest("Application name is reserved for bootstrap token provisioning");
  app.name = String(d.name);
  app.applicationUri = String(d.application_uri);
  app.redirectUri = String(d.redirect_uri);
  app.description = (d.description as string) ?? "";
  app.avatarEmail = (d.avatar_email as string) ?? null;
  return ok(appView(rq, app));
}

function deleteApp(rq: Rq): Reply {
  orgAdmin(rq, rq.params.org);
  const o = orgOr404(rq, rq.params.org);
  const app = lookupApp(rq, o, rq.params.client_id);
  rq.st.apps = rq.st.apps.filter((a) => a.id !== app.id);
  rq.st.tokens = rq.st.tokens.filter((t) => t.appId !== app.id);
  return noContent();
}

function canMintScope(rq: Rq, org: string, scope: string): boolean {
  const cur = rq.ctx.token;
  if (cur && !isSubsetString(cur.scope, scope)) return false;
  const p = rq.perms;
  const user = rq.ctx.user!;
  for (const s of scopesFromString(scope)) {
    const okScope =
      s === "repo:read" ? p.readRepo(org, "") :
      s === "repo:write" ? p.modifyRepo(org, "") :
      s === "repo:admin" ? p.adminRepo(org, "") :
      s === "repo:create" ? p.createRepo(org) :
      s === "user:read" ? p.userRead(user.username) :
      s === "user:admin" ? p.userAdmin(user.username) :
      s === "org:admin" ? p.administerOrg(org) :
      s === "super:user" ? p.superUser() : false;
    if (!okScope) return false;
  }
  return true;
}

function listTokens(rq: Rq): Reply {
  orgAdminOrRead(rq, rq.params.org);
  const o = orgOr404(rq, rq.params.org);
  const app = lookupApp(rq, o, rq.params.client_id);
  const now = rq.core.now();
  const tokens = rq.st.tokens.filter((t) => t.appId === app.id && t.expiresAt.getTime() > now).sort((a, b) => b.id - a.id);
  return ok({ tokens: tokens.slice(0, 50).map((t) => tokenView(rq, t)) });
}

function mintToken(rq: Rq): Reply {
  rq.validateJson(NEW_TOKEN);
  const org = rq.params.org;
  orgAdmin(rq, org);
  const o = orgOr404(rq, org);
  const app = lookupApp(rq, o, rq.params.client_id);
  const d = rq.data;
  const displayName = String(d.name).trim();
  if (!displayName) return ok({ message: "'name' must not be empty" }, 400);
  const scopeString = String(d.scope);
  const normalized = [...new Set(scopeString.replace(/,/g, " ").split(/\s+/).filter(Boolean))].join(" ");
  if (scopesFromString(normalized).size === 0) return ok({ message: `Invalid scope: ${scopeString}` }, 400);
  if (!rq.ctx.user) throw unauthorized(rq);
  if (!canMintScope(rq, org, normalized)) throw unauthorized(rq);
  const exp = "expiration" in d ? Math.min(Math.max(Math.trunc(d.expiration as number), 1), DEFAULT_TOKEN_EXPIRATION_SECONDS) : DEFAULT_TOKEN_EXPIRATION_SECONDS;
  const max = rq.cfg.get<number | null>("OAUTH_APPLICATION_MAXIMUM_TOKEN_COUNT");
  if (max !== null && max !== undefined) {
    const active = rq.st.tokens.filter((t) => t.appId === app.id && t.expiresAt.getTime() > rq.core.now()).length;
    if (active >= Number(max)) return ok({ message: `Token limit reached: maximum ${Number(max)} non-expired tokens per application` }, 400);
  }
  const t = createAccessToken(rq.core, app, rq.ctx.user, normalized, exp, "api", displayName);
  return ok(tokenView(rq, t, t.token));
}

function revokeToken(rq: Rq): Reply {
  orgAdmin(rq, rq.params.org);
  const o = orgOr404(rq, rq.params.org);
  const app = lookupApp(rq, o, rq.params.client_id);
  const t = rq.st.tokens.find((x) => x.appId === app.id && x.uuid === rq.params.token_uuid);
  if (!t) throw notFound();
  rq.st.tokens = rq.st.tokens.filter((x) => x.id !== t.id);
  return noContent();
}

// ---- proxy cache
const proxyView = (c?: { upstreamRegistry: string; expirationS: number; insecure: boolean }) => ({
  upstream_registry: c ? c.upstreamRegistry : "",
  expiration_s: c ? c.expirationS : "",
  insecure: c ? c.insecure : "",
});

function proxyConfig(rq: Rq, orgName: string) {
  const o = rq.st.getOrg(orgName);
  return o ? rq.st.proxyCaches.find((c) => c.orgId === o.id) : undefined;
}

const BLOCKED_V4: [string, number][] = [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24],
  ["224.0.0.0", 4], ["240.0.0.0", 4], ["255.255.255.255", 32],
];
const v4 = (ip: string) => ip.split(".").reduce((a, b) => a * 256 + Number(b), 0);
const isV4 = (s: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && s.split(".").every((x) => Number(x) <= 255);
function inCidr(ip: string, cidr: string): boolean {
  const [net, bitsS] = cidr.split("/");
  if (!isV4(net)) return false;
  const bits = bitsS === undefined ? 32 : Number(bitsS);
  const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
  return (v4(ip) & mask) >>> 0 === (v4(net) & mask) >>> 0;
}
const BLOCKED_NAMES = new Set(["localhost", "metadata.google.internal", "metadata.azure.internal", "metadata", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "kubernetes.default", "kubernetes"]);

/** organization.py _validate_upstream_registry (util/security/ssrf.py, without DNS resolution). */
function validateUpstream(rq: Rq, upstream: string, insecure: boolean): void {
  const host = upstream.split("/", 1)[0];
  const url = `${insecure ? "http" : "https"}://${host}`;
  let hostname: string;
  try {
    const u = new URL(url);
    if (u.username || u.password) throw invalidRequest("URLs with embedded credentials are not allowed");
    hostname = u.hostname.replace(/^\[|\]$/g, "");
  } catch (e) {
    if (e instanceof Error && "status" in e) throw e;
    throw invalidRequest("URL must include a hostname");
  }
  if (!hostname) throw invalidRequest("URL must include a hostname");
  const allowed = (rq.cfg.get<string[]>("SSRF_ALLOWED_HOSTS") ?? []).map(String);
  const isAllowed = () => allowed.some((entry) => entry.toLowerCase() === hostname.toLowerCase() || (isV4(hostname) && (entry.includes("/") || isV4(entry)) && inCidr(hostname, entry)));
  if (isV4(hostname)) {
    if (BLOCKED_V4.some(([n, b]) => inCidr(hostname, `${n}/${b}`)) && !isAllowed()) throw invalidRequest("The provided registry URL is not allowed");
    return;
  }
  if (hostname.includes(":")) {
    // IPv6 literal: everything but global unicast is blocked; keep it simple: loopback/ULA/link-local/doc.
    if (/^(::1|f[cd]|fe[89ab]|2001:db8|::ffff:|64:ff9b::)/i.test(hostname) && !isAllowed()) throw invalidRequest("The provided registry URL is not allowed");
    return;
  }
  const lower = hostname.toLowerCase();
  const blockedByName = BLOCKED_NAMES.has(lower) || lower.endsWith(".internal") || lower.endsWith(".local");
  const nameAllowed = isAllowed();
  // DNS is not consulted: "localhost" resolves to loopback (blocked), names under the reserved TLDs
  // of RFC 6761 do not resolve, every other name resolves to a public address.
  if (lower === "localhost" || lower.endsWith(".localhost")) {
    if (!nameAllowed) throw invalidRequest("The provided registry URL is not allowed");
    return;
  }
  const denied = rq.core.unresolvableHosts.some((h) => (h.startsWith(".") ? lower.endsWith(h) : lower === h));
  if (denied || /\.(invalid|test|example)$/.test(lower) || lower === "invalid" || lower === "test" || lower === "example") {
    throw invalidRequest(`Cannot resolve hostname '${hostname}'`);
  }
  if (blockedByName && !nameAllowed) throw invalidRequest("The provided registry URL is not allowed");
}

function getProxy(rq: Rq): Reply {
  const name = rq.params.org;
  const p = rq.perms;
  if (!p.orgMember(name) && !p.isGlobalReadonlySuperuser() && !(rq.cfg.feature("SUPERUSERS_FULL_ACCESS") && p.superUser())) throw unauthorized(rq);
  return ok(proxyView(proxyConfig(rq, name)));
}

function createProxy(rq: Rq): Reply {
  rq.validateJson(NEW_PROXY);
  const name = rq.params.org;
  orgAdmin(rq, name);
  if (proxyConfig(rq, name)) throw invalidRequest("Proxy Cache Configuration already exists");
  const d = rq.data;
  validateUpstream(rq, (d.upstream_registry as string) ?? "", !!d.insecure);
  const o = rq.st.getOrg(name);
  if (!o) throw invalidRequest("Error while creating Proxy cache configuration");
  rq.st.proxyCaches.push({
    orgId: o.id,
    upstreamRegistry: String(d.upstream_registry),
    username: (d.upstream_registry_username as string) ?? null,
    password: (d.upstream_registry_password as string) ?? null,
    expirationS: "expiration_s" in d ? (d.expiration_s as number) : 86400,
    insecure: "insecure" in d ? !!d.insecure : false,
  });
  return ok("Created", 201);
}

function deleteProxy(rq: Rq): Reply {
  const name = rq.params.org;
  orgAdmin(rq, name);
  const c = proxyConfig(rq, name);
  if (!c) throw notFound();
  rq.st.proxyCaches = rq.st.proxyCaches.filter((x) => x !== c);
  return ok("Deleted", 201);
}

async function validateProxy(rq: Rq): Promise<Reply> {
  rq.validateJson(NEW_PROXY);
  const name = rq.params.org;
  orgAdmin(rq, name);
  if (proxyConfig(rq, name)) throw invalidRequest("Proxy Cache Configuration already exists");
  const d = Object.fromEntries(Object.entries(rq.data).filter(([, v]) => v !== null));
  validateUpstream(rq, (d.upstream_registry as string) ?? "", !!d.insecure);
  const result = await probeUpstream(String(d.upstream_registry ?? ""), !!d.insecure, (d.upstream_registry_username as string) ?? null, (d.upstream_registry_password as string) ?? null);
  if (result === "failed") throw invalidRequest("Failed login to remote registry. Please verify entered details and try again.");
  return ok(result, 202);
}

const FAILED_LOGIN = "failed" as const;

/**
 * proxy.Proxy(config, validation=True) + GET /v2/. Loopback upstreams (allowlisted in SSRF_ALLOWED_HOSTS,
 * e.g. a fake registry a test runs) are really called; other IP literals count as unreachable (the
 * emulator has no route to them); other host names are stubbed: credentials -> "Valid", none ->
 * "Anonymous", password "invalid" -> failed login.
 */
async function probeUpstream(upstream: string, insecure: boolean, username: string | null, password: string | null): Promise<"Valid" | "Anonymous" | "failed"> {
  const first = upstream.split("/", 1)[0];
  const hostport = first === "docker.io" ? "registry-1.docker.io" : first;
  let hostname: string;
  try {
    hostname = new URL(`http://${hostport}`).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return FAILED_LOGIN;
  }
  const loopback = hostname === "localhost" || hostname === "::1" || (isV4(hostname) && hostname.startsWith("127."));
  if (!loopback) {
    if (isV4(hostname) || hostname.includes(":")) return FAILED_LOGIN;
    if (password === "invalid") return FAILED_LOGIN;
    return username ? "Valid" : "Anonymous";
  }
  const base = `${insecure ? "http" : "https"}://${hostport}`;
  const creds = username !== null && password !== null ? "Basic " + Buffer.from(`${username}:${password}`).toString("base64") : null;
  const get = async (url: string, auth: string | null) => {
    try {
      return await fetch(url, { headers: auth ? { Authorization: auth } : {}, signal: AbortSignal.timeout(5000), redirect: "follow" });
    } catch {
      return null;
    }
  };
  // _authorize(force_renewal=True)
  let authHeader: string | null = null;
  const first401 = await get(`${base}/v2/`, null);
  if (!first401) return FAILED_LOGIN;
  if (first401.status !== 200) {
    const www = first401.headers.get("www-authenticate") ?? "";
    const scheme = www.split(" ", 1)[0];
    const params = Object.fromEntries([...www.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (scheme.toLowerCase() === "basic" && creds) authHeader = creds;
    else {
      const q = params.service !== undefined ? `?service=${encodeURIComponent(params.service)}` : "";
      const tr = await get(`${params.realm}${q}`, creds);
      if (!tr) return FAILED_LOGIN;
      if ((tr.status === 401 || tr.status === 403) && !creds) authHeader = null;
      else {
        if (!tr.ok) return FAILED_LOGIN;
        const j = (await tr.json().catch(() => ({}))) as { token?: string; access_token?: string };
        const tok = j.token ?? j.access_token;
        if (!tok) return FAILED_LOGIN;
        authHeader = `${scheme} ${tok}`;
      }
    }
  }
  // proxy.get(f"{base_url}/v2/")
  const resp = await get(`${base}/v2/`, authHeader);
  if (!resp) return FAILED_LOGIN;
  if (resp.status === 200) return "Valid";
  if (resp.status === 401) return "Anonymous";
  return FAILED_LOGIN;
}

export function register(r: Router, proxyCache: boolean): void {
  r.add("POST", "/api/v1/organization/", createOrg);
  r.add("GET", "/api/v1/organization/{org}", getOrg);
  r.add("PUT", "/api/v1/organization/{org}", putOrg);
  r.add("DELETE", "/api/v1/organization/{org}", deleteOrg);
  r.add("GET", "/api/v1/organization/{org}/collaborators", collaborators);
  r.add("GET", "/api/v1/organization/{org}/members", members);
  r.add("GET", "/api/v1/organization/{org}/members/{member}", getMember);
  r.add("DELETE", "/api/v1/organization/{org}/members/{member}", removeMember);
  r.add("GET", "/api/v1/organization/{org}/applications", listApps);
  r.add("POST", "/api/v1/organization/{org}/applications", createApp);
  r.add("GET", "/api/v1/organization/{org}/applications/{client_id}", getApp);
  r.add("PUT", "/api/v1/organization/{org}/applications/{client_id}", updateApp);
  r.add("DELETE", "/api/v1/organization/{org}/applications/{client_id}", deleteApp);
  r.add("GET", "/api/v1/organization/{org}/applications/{client_id}/tokens", listTokens);
  r.add("POST", "/api/v1/organization/{org}/applications/{client_id}/tokens", mintToken);
  r.add("DELETE", "/api/v1/organization/{org}/applications/{client_id}/tokens/{token_uuid}", revokeToken);
  if (proxyCache) {
    r.add("GET", "/api/v1/organization/{org}/proxycache", getProxy);
    r.add("POST", "/api/v1/organization/{org}/proxycache", createProxy);
    r.add("DELETE", "/api/v1/organization/{org}/proxycache", deleteProxy);
    r.add("POST", "/api/v1/organization/{org}/validateproxycache", validateProxy);
  }
}

export { orgAvatar };
