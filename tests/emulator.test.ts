// Focused checks of Quay behaviour (read from Quay's source) that the conformance transcript does not show,
// plus the emulator's own test-support features.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { QuayEmulator, startQuayEmulator } from "./emulator";

const BASE_CONFIG = {
  AUTHENTICATION_TYPE: "Database",
  FEATURE_USER_INITIALIZE: true,
  SUPER_USERS: ["quayadmin"],
  FEATURE_MAILING: false,
  FEATURE_PROXY_CACHE: true,
  SSRF_ALLOWED_HOSTS: ["192.0.2.10"],
};

interface Res {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  headers: Headers;
}

function client(base: string, token?: string, extra: Record<string, string> = {}) {
  return async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> => {
    const h: Record<string, string> = { ...extra, ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      h["Content-Type"] = h["Content-Type"] ?? "application/json";
      payload = typeof body === "string" ? body : JSON.stringify(body);
    }
    const r = await fetch(base + p, { method, headers: h, body: payload, redirect: "manual" });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : "";
    } catch {
      /* text */
    }
    return { status: r.status, body: parsed, text, headers: r.headers };
  };
}

async function setup(config: Record<string, unknown> = BASE_CONFIG, opts: Record<string, unknown> = {}) {
  const emu = await startQuayEmulator({ config, ...opts });
  const { token } = await emu.initialize("quayadmin", "password-123");
  const api = client(emu.url, token);
  return { emu, token, api };
}

/** Mints a token with the given scope for the caller through an org application (Quay 3.18). */
async function mint(api: ReturnType<typeof client>, org: string, scope: string): Promise<string> {
  const app = await api("POST", `/api/v1/organization/${org}/applications`, { name: `app-${scope.replace(/\W/g, "")}` });
  expect(app.status).toBe(200);
  const t = await api("POST", `/api/v1/organization/${org}/applications/${app.body.client_id}/tokens`, { name: "t", scope });
  expect(t.status).toBe(200);
  return t.body.token;
}

/** Signs a user in through GET /csrf_token + POST /api/v1/signin; returns a session client. */
async function signin(base: string, username: string, password: string) {
  const r1 = await fetch(`${base}/csrf_token`);
  const cookie = (r1.headers.get("set-cookie") ?? "").split(";")[0];
  const csrf = ((await r1.json()) as { csrf_token: string }).csrf_token;
  const r2 = await fetch(`${base}/api/v1/signin`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Cookie: cookie, "X-CSRF-Token": csrf },
    body: JSON.stringify({ username, password }),
  });
  expect(r2.status).toBe(200);
  const next = r2.headers.get("x-next-csrf-token") ?? "";
  return { cookie, csrf: next, api: client(base, undefined, { Cookie: cookie, "X-CSRF-Token": next }) };
}

describe("quay emulator: authentication and scopes", () => {
  let emu: QuayEmulator;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    ({ emu, api } = await setup());
    expect((await api("POST", "/api/v1/organization/", { name: "acme", email: "acme@example.com" })).status).toBe(201);
  });
  afterAll(() => emu.close());

  it("an expired initialize token: writes get 403 CSRF, reads run anonymously (401)", async () => {
    // The initialize token lives 9000 s; the emulator's admin clock moves time forward.
    const e2 = await startQuayEmulator({ config: BASE_CONFIG });
    try {
      const init = await e2.initialize();
      const c = client(e2.url, init.token);
      expect((await c("GET", "/api/v1/user/")).status).toBe(200);
      await fetch(`${e2.url}/__emulator/clock`, { method: "POST", body: JSON.stringify({ advanceMs: 9001 * 1000 }) });
      const w = await c("POST", "/api/v1/organization/", { name: "late", email: "late@example.com" });
      expect(w.status).toBe(403);
      expect(w.body).toEqual({ error: "CSRF token was invalid or missing." });
      const r = await c("GET", "/api/v1/user/");
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ error_type: "invalid_token", session_required: false, detail: "Requires authentication" });
      const robots = await c("GET", "/api/v1/organization/late/robots");
      expect(robots.status).toBe(401);
    } finally {
      await e2.close();
    }
  });

  it("a repo:read token cannot create an organization (403 insufficient_scope)", async () => {
    const t = await mint(api, "acme", "repo:read");
    const r = await client(emu.url, t)("POST", "/api/v1/organization/", { name: "nope", email: "nope@example.com" });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error_type: "insufficient_scope", detail: "Unauthorized", status: 403 });
    expect(r.body.type).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/error\/insufficient_scope$/);
  });

  it("org:admin alone creates repositories but cannot administer them", async () => {
    const t = client(emu.url, await mint(api, "acme", "org:admin"));
    expect((await t("POST", "/api/v1/repository", { namespace: "acme", repository: "oa", visibility: "private", description: "" })).status).toBe(201);
    expect((await t("POST", "/api/v1/repository/acme/oa/changevisibility", { visibility: "public" })).status).toBe(403);
    expect((await t("GET", "/api/v1/repository/acme/oa/permissions/user/")).status).toBe(403);
    expect((await t("GET", "/api/v1/repository/acme/oa")).status).toBe(403);
    // org routes work
    expect((await t("PUT", "/api/v1/organization/acme/robots/viaorgadmin", {})).status).toBe(201);
  });

  it("a token cannot mint scopes it does not hold", async () => {
    const limited = client(emu.url, await mint(api, "acme", "org:admin"));
    const apps = await api("GET", "/api/v1/organization/acme/applications");
    const cid = apps.body.applications[0].client_id;
    const r = await limited("POST", `/api/v1/organization/acme/applications/${cid}/tokens`, { name: "x", scope: "super:user" });
    expect(r.status).toBe(403);
    const bad = await api("POST", `/api/v1/organization/acme/applications/${cid}/tokens`, { name: "x", scope: "repo:bogus" });
    expect(bad).toMatchObject({ status: 400, body: { message: "Invalid scope: repo:bogus" } });
    const list = await api("GET", `/api/v1/organization/acme/applications/${cid}/tokens`);
    expect(list.status).toBe(200);
    expect(list.body.tokens[0]).not.toHaveProperty("token");
    expect((await api("DELETE", `/api/v1/organization/acme/applications/${cid}/tokens/00000000-0000-0000-0000-000000000000`)).status).toBe(404);
  });

  it("anonymous callers: 401 on a private repository, 200 on a public one, 403 CSRF on writes", async () => {
    const anon = client(emu.url);
    await api("POST", "/api/v1/repository", { namespace: "acme", repository: "priv", visibility: "private", description: "" });
    await api("POST", "/api/v1/repository", { namespace: "acme", repository: "pub", visibility: "public", description: "" });
    const p = await anon("GET", "/api/v1/repository/acme/priv");
    expect(p.status).toBe(401);
    expect(p.body.error_type).toBe("invalid_token");
    expect((await anon("GET", "/api/v1/repository/acme/pub")).status).toBe(200);
    expect((await anon("GET", "/api/v1/repository/acme/missing")).status).toBe(401);
    const org = await anon("GET", "/api/v1/organization/acme");
    expect(org.body).toEqual(expect.objectContaining({ name: "acme", email: "", is_admin: false, is_member: false }));
    expect(org.body).not.toHaveProperty("teams");
    const list = await anon("GET", "/api/v1/repository?public=true");
    expect(list.body.repositories.map((r: { name: string }) => r.name)).toContain("pub");
    expect(list.body.repositories[0]).not.toHaveProperty("is_starred");
    expect((await anon("GET", "/api/v1/repository")).body.detail).toBe("namespace, starred or public are required for this API call");
  });

  it("sessions: csrf_token + signin, writes need X-CSRF-Token", async () => {
    const created = await api("POST", "/api/v1/superuser/users/", { username: "sess", email: "sess@example.com" });
    expect(created.status).toBe(200);
    expect(created.body.password).toMatch(/^[A-Z0-9]{32}$/);
    const s = await signin(emu.url, "sess", created.body.password);
    expect((await s.api("GET", "/api/v1/user/")).body.username).toBe("sess");
    expect((await s.api("POST", "/api/v1/organization/", { name: "sessorg", email: "s@example.com" })).status).toBe(201);
    const noCsrf = await client(emu.url, undefined, { Cookie: s.cookie })("POST", "/api/v1/organization/", { name: "sessorg2" });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body).toEqual({ error: "CSRF token was invalid or missing. (authorized: user sess)" });
    const bad = await fetch(`${emu.url}/api/v1/signin`, { method: "POST", headers: { "Content-Type": "application/json", Cookie: s.cookie, "X-CSRF-Token": s.csrf }, body: JSON.stringify({ username: "sess", password: "wrong-password" }) });
    expect(bad.status).toBe(403);
    expect(await bad.json()).toEqual({ needsEmailVerification: false, invalidCredentials: true, message: "Invalid Username or Password" });
  });
});

describe("quay emulator: superuser full access", () => {
  async function withFullAccess(full: boolean) {
    const { emu, api } = await setup({ ...BASE_CONFIG, FEATURE_SUPERUSERS_FULL_ACCESS: full });
    const u = await api("POST", "/api/v1/superuser/users/", { username: "owner", email: "owner@example.com" });
    const s = await signin(emu.url, "owner", u.body.password);
    expect((await s.api("POST", "/api/v1/organization/", { name: "theirs", email: "t@example.com" })).status).toBe(201);
    await s.api("POST", "/api/v1/repository", { namespace: "theirs", repository: "r", visibility: "private", description: "" });
    return { emu, api };
  }

  it("without FULL_ACCESS a superuser outside the org is refused", async () => {
    const { emu, api } = await withFullAccess(false);
    try {
      expect((await api("PUT", "/api/v1/organization/theirs/robots/xx", {})).status).toBe(403);
      expect((await api("GET", "/api/v1/repository/theirs/r")).status).toBe(403);
      expect((await api("GET", "/api/v1/repository/theirs/missing")).status).toBe(403);
      expect((await api("GET", "/api/v1/organization/theirs")).body).not.toHaveProperty("teams");
      expect((await api("POST", "/api/v1/repository", { namespace: "theirs", repository: "x", visibility: "private", description: "" })).status).toBe(403);
    } finally {
      await emu.close();
    }
  });

  it("with FULL_ACCESS the superuser bypasses org and repo permissions", async () => {
    const { emu, api } = await withFullAccess(true);
    try {
      expect((await api("PUT", "/api/v1/organization/theirs/robots/xx", {})).status).toBe(201);
      const repo = await api("GET", "/api/v1/repository/theirs/r");
      expect(repo.status).toBe(200);
      expect(repo.body).toMatchObject({ can_admin: true, can_write: true });
      expect((await api("GET", "/api/v1/repository/theirs/missing")).status).toBe(404);
      expect((await api("GET", "/api/v1/organization/theirs")).body.ordered_teams).toEqual(["owners"]);
      // remove_team: a FULL_ACCESS superuser in no admin team deleting an admin-role team -> IndexError -> 500
      expect((await api("DELETE", "/api/v1/organization/theirs/team/owners")).status).toBe(500);
    } finally {
      await emu.close();
    }
  });
});

describe("quay emulator: quirks of the object routes", () => {
  let emu: QuayEmulator;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    ({ emu, api } = await setup(BASE_CONFIG, { orgNameLockMs: 300 }));
    await api("POST", "/api/v1/organization/", { name: "rel", email: "rel@example.com" });
    await api("POST", "/api/v1/superuser/users/", { username: "pull", email: "pull@example.com" });
  });
  afterAll(() => emu.close());

  it("robots: missing robot DELETE/GET/regenerate are 400 B; list with permissions", async () => {
    const b = { status: 400, body: { message: "Could not find robot with specified username" } };
    expect(await api("DELETE", "/api/v1/organization/rel/robots/nosuch")).toMatchObject(b);
    expect(await api("POST", "/api/v1/organization/rel/robots/nosuch/regenerate")).toMatchObject(b);
    await api("PUT", "/api/v1/organization/rel/robots/mirror", { description: "m" });
    await api("PUT", "/api/v1/organization/rel/team/creators", { role: "creator" });
    await api("PUT", "/api/v1/organization/rel/team/creators/members/rel+mirror");
    await api("POST", "/api/v1/repository", { namespace: "rel", repository: "a/b", visibility: "private", description: "" });
    await api("PUT", "/api/v1/repository/rel/a/b/permissions/user/rel+mirror", { role: "write" });
    const list = await api("GET", "/api/v1/organization/rel/robots?permissions=true&token=false");
    const m = list.body.robots.find((r: { name: string }) => r.name === "rel+mirror");
    expect(m).toEqual({
      name: "rel+mirror",
      created: expect.stringMatching(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} -0000$/),
      last_accessed: null,
      description: "m",
      teams: [{ name: "creators", avatar: expect.objectContaining({ kind: "team", name: "creators" }) }],
      repositories: ["a/b"],
    });
    const perms = await api("GET", "/api/v1/organization/rel/robots/mirror/permissions");
    expect(perms.body).toEqual({ permissions: [{ repository: { name: "a/b", is_public: false }, role: "write" }] });
    const limited = await api("GET", "/api/v1/organization/rel/robots?limit=0");
    expect(limited.body.robots).toEqual([]);
    const getIt = await api("GET", "/api/v1/organization/rel/robots/mirror");
    expect(getIt.body.unstructured_metadata).toEqual({});
    expect(getIt.body.token).toMatch(/^[A-Z0-9]{64}$/);
  });

  it("teams: members DELETE of a non-member is 400 B, unknown user 404, dup 400 B, owners protection", async () => {
    await api("PUT", "/api/v1/organization/rel/team/readers", { role: "member" });
    expect(await api("DELETE", "/api/v1/organization/rel/team/readers/members/pull")).toMatchObject({ status: 400, body: { message: "User pull does not belong to team readers" } });
    expect((await api("DELETE", "/api/v1/organization/rel/team/readers/members/ghost")).status).toBe(404);
    expect((await api("PUT", "/api/v1/organization/rel/team/readers/members/ghost")).body.detail).toBe("Unknown user");
    expect((await api("PUT", "/api/v1/organization/rel/team/nosuch/members/pull")).status).toBe(404);
    expect(await api("DELETE", "/api/v1/organization/rel/team/nosuch")).toMatchObject({ status: 400, body: { message: "Team 'nosuch' is not a team in org 'rel'" } });
    expect(await api("PUT", "/api/v1/organization/rel/team/owners", { role: "member" })).toMatchObject({
      status: 400,
      body: { message: "Cannot remove admin from team 'owners' because calling user would no longer have admin on org 'rel'" },
    });
    expect(await api("DELETE", "/api/v1/organization/rel/team/owners")).toMatchObject({
      status: 400,
      body: { message: "Deleting team 'owners' would remove admin ability for user 'quayadmin' in organization 'rel'" },
    });
  });

  it("prototypes: no uniqueness check, the odd team tuple message, and application at creation", async () => {
    const p = { role: "read", delegate: { name: "pull", kind: "user" } };
    expect((await api("POST", "/api/v1/organization/rel/prototypes", p)).status).toBe(200);
    expect((await api("POST", "/api/v1/organization/rel/prototypes", p)).status).toBe(200);
    const list = await api("GET", "/api/v1/organization/rel/prototypes");
    expect(list.body.prototypes.filter((x: { delegate: { name: string } }) => x.delegate.name === "pull")).toHaveLength(2);
    expect(await api("POST", "/api/v1/organization/rel/prototypes", { role: "read", delegate: { name: "ghosts", kind: "team" } })).toMatchObject({
      status: 400,
      body: { message: "('Team does not exist: %s/%s', 'rel', 'ghosts')" },
    });
    expect((await api("POST", "/api/v1/organization/rel/prototypes", { role: "bogus", delegate: { name: "pull", kind: "user" } })).body.detail).toMatch(
      /^'bogus' is not one of \['read', 'write', 'admin'\]/,
    );
    await api("POST", "/api/v1/repository", { namespace: "rel", repository: "protod", visibility: "private", description: "" });
    const perms = await api("GET", "/api/v1/repository/rel/protod/permissions/user/");
    expect(Object.keys(perms.body.permissions).sort()).toEqual(["pull", "quayadmin"]);
    expect(perms.body.permissions.pull).toMatchObject({ role: "read", is_org_member: false });
    for (const proto of list.body.prototypes) expect((await api("DELETE", `/api/v1/organization/rel/prototypes/${proto.id}`)).status).toBe(204);
    expect((await api("DELETE", `/api/v1/organization/rel/prototypes/${list.body.prototypes[0].id}`)).status).toBe(404);
  });

  it("repositories: missing-repo quirks and user permission 400s", async () => {
    expect(await api("POST", "/api/v1/repository/rel/ghost/changevisibility", { visibility: "public" })).toMatchObject({ status: 200, body: null });
    expect((await api("DELETE", "/api/v1/repository/rel/ghost")).status).toBe(204);
    expect(await api("GET", "/api/v1/repository/rel/ghost/permissions/user/")).toMatchObject({ status: 200, body: { permissions: {} } });
    await api("POST", "/api/v1/repository", { namespace: "rel", repository: "perm", visibility: "private", description: "" });
    expect(await api("GET", "/api/v1/repository/rel/perm/permissions/user/pull")).toMatchObject({ status: 400, body: { message: "User does not have permission for repo." } });
    expect(await api("GET", "/api/v1/repository/rel/perm/permissions/team/owners")).toMatchObject({ status: 400, body: { message: "Team does not have permission for repo." } });
    expect((await api("PUT", "/api/v1/repository/rel/perm/permissions/team/nosuch", { role: "read" })).body.detail).toBe("No team nosuch in organization rel");
    await api("POST", "/api/v1/organization/", { name: "other", email: "other@example.com" });
    await api("PUT", "/api/v1/organization/other/robots/bot", {});
    expect((await api("PUT", "/api/v1/repository/rel/perm/permissions/user/other+bot", { role: "read" })).body.detail).toBe("Cannot add robot other+bot under namespace rel");
    expect((await api("PUT", "/api/v1/repository/rel/perm/permissions/user/pull", { role: "owner" })).status).toBe(400);
    expect((await api("POST", "/api/v1/repository", { namespace: "rel", repository: "x" })).body.detail).toMatch(/^'visibility' is a required property/);
    // schema validation runs before the permission check on POST /repository
    const anonWrite = await client(emu.url, await mint(api, "rel", "repo:read"))("POST", "/api/v1/repository", { namespace: "rel" });
    expect(anonWrite.status).toBe(400);
    // deleted repository names can be reused at once
    expect((await api("DELETE", "/api/v1/repository/rel/perm")).status).toBe(204);
    expect((await api("POST", "/api/v1/repository", { namespace: "rel", repository: "perm", visibility: "private", description: "" })).status).toBe(201);
  });

  it("collaborators and members", async () => {
    await api("POST", "/api/v1/repository", { namespace: "rel", repository: "collab", visibility: "private", description: "" });
    await api("PUT", "/api/v1/repository/rel/collab/permissions/user/pull", { role: "read" });
    const c = await api("GET", "/api/v1/organization/rel/collaborators");
    expect(c.body.collaborators).toEqual([
      { kind: "user", name: "pull", avatar: expect.objectContaining({ kind: "user", name: "pull" }), repositories: expect.arrayContaining(["collab", "protod"]) },
    ]);
    const m = await api("GET", "/api/v1/organization/rel/members");
    expect(m.body.members).toHaveLength(1);
    expect(m.body.members[0]).toMatchObject({ name: "quayadmin", kind: "user", teams: [{ name: "owners", avatar: expect.anything() }] });
    expect(m.body.members[0].repositories).toEqual(expect.arrayContaining(["collab", "protod"]));
  });

  it("org name lock after DELETE follows orgNameLockMs", async () => {
    await api("POST", "/api/v1/organization/", { name: "tmp", email: "tmp@example.com" });
    expect((await api("DELETE", "/api/v1/organization/tmp")).status).toBe(204);
    expect((await api("GET", "/api/v1/organization/tmp")).status).toBe(404);
    expect((await api("POST", "/api/v1/organization/", { name: "tmp", email: "tmp@example.com" })).body.detail).toBe("Username is not available");
    await new Promise((r) => setTimeout(r, 350));
    expect((await api("POST", "/api/v1/organization/", { name: "tmp", email: "tmp@example.com" })).status).toBe(201);
  });

  it("a deleted organization: its objects answer 403, its name stays locked; the lock and DNS are settable (issue 15)", async () => {
    const previous = process.env.QUAY_EMULATOR_ORG_NAME_LOCK_MS;
    process.env.QUAY_EMULATOR_ORG_NAME_LOCK_MS = "250";
    const other = await setup(BASE_CONFIG).finally(() => {
      if (previous === undefined) delete process.env.QUAY_EMULATOR_ORG_NAME_LOCK_MS;
      else process.env.QUAY_EMULATOR_ORG_NAME_LOCK_MS = previous;
    });
    const { api: a2, emu: e2 } = other;
    try {
      await a2("POST", "/api/v1/organization/", { name: "acme-apps" });
      await a2("PUT", "/api/v1/organization/acme-apps/robots/deployer", { description: "" });
      await a2("PUT", "/api/v1/organization/acme-apps/team/devs", { role: "member" });
      await a2("POST", "/api/v1/repository", { namespace: "acme-apps", repository: "app", visibility: "private", description: "" });
      expect((await a2("DELETE", "/api/v1/organization/acme-apps")).status).toBe(204);
      // As the recorded Quay: everything of the missing namespace is 403, only the organization says 404.
      for (const p of ["/api/v1/organization/acme-apps/robots/deployer", "/api/v1/organization/acme-apps/team/devs/members", "/api/v1/organization/acme-apps/prototypes", "/api/v1/repository/acme-apps/app", "/api/v1/organization/acme-apps/proxycache"]) {
        expect({ p, status: (await a2("GET", p)).status }).toEqual({ p, status: 403 });
      }
      expect((await a2("GET", "/api/v1/organization/acme-apps")).status).toBe(404);
      // The lock came from QUAY_EMULATOR_ORG_NAME_LOCK_MS (250 ms), not the 60 s default.
      expect((await a2("POST", "/api/v1/organization/", { name: "acme-apps" })).body.detail).toBe("Username is not available");
      await new Promise((r) => setTimeout(r, 300));
      expect((await a2("POST", "/api/v1/organization/", { name: "acme-apps" })).status).toBe(201);

      // /__emulator/settings changes the lock of later deletes and the hosts the Quay host cannot resolve.
      const set = await fetch(`${e2.url}/__emulator/settings`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ orgNameLockMs: 60_000, unresolvableHosts: [".corp.example.net"] }) });
      expect(await set.json()).toMatchObject({ orgNameLockMs: 60_000, unresolvableHosts: [".corp.example.net"] });
      const proxy = (upstream: string) => a2("POST", "/api/v1/organization/acme-apps/proxycache", { org_name: "acme-apps", upstream_registry: upstream, expiration_s: 86400, insecure: false });
      expect(await proxy("registry.corp.example.net/lib")).toMatchObject({ status: 400, body: { detail: "Cannot resolve hostname 'registry.corp.example.net'" } });
      expect(await proxy("mirror.invalid")).toMatchObject({ status: 400, body: { detail: "Cannot resolve hostname 'mirror.invalid'" } });
      expect((await proxy("registry.example.org")).status).toBe(201);
      expect((await a2("DELETE", "/api/v1/organization/acme-apps")).status).toBe(204);
      await new Promise((r) => setTimeout(r, 300));
      expect((await a2("POST", "/api/v1/organization/", { name: "acme-apps" })).body.detail).toBe("Username is not available");
    } finally {
      await e2.close();
    }
  });

  it("organization updates: tag expiration options and email validation", async () => {
    expect(await api("PUT", "/api/v1/organization/rel", { tag_expiration_s: 5 })).toMatchObject({ status: 400, body: { message: "Invalid tag expiration option" } });
    expect((await api("PUT", "/api/v1/organization/rel", { tag_expiration_s: 86400 })).body.tag_expiration_s).toBe(86400);
    expect((await api("PUT", "/api/v1/organization/rel", { email: "not-an-email" })).body.detail).toBe("Invalid email address");
    expect((await api("PUT", "/api/v1/organization/rel", { tag_expiration_s: -1 })).body.detail).toMatch(/^-1 is less than the minimum of 0/);
  });

  it("superuser user management", async () => {
    expect((await api("GET", "/api/v1/superuser/users/?limit=101")).body.detail).toBe("Page limit cannot be above 100");
    const all = await api("GET", "/api/v1/superuser/users/");
    expect(all.body.users.map((u: { username: string }) => u.username)).toEqual(expect.arrayContaining(["quayadmin", "pull"]));
    const page = await api("GET", "/api/v1/superuser/users/?limit=1");
    expect(page.body.users).toHaveLength(1);
    expect(page.body.next_page).toBeDefined();
    expect((await api("PUT", "/api/v1/superuser/users/quayadmin", { password: "another-pass-1" })).body.detail).toBe("Cannot update a superuser");
    expect((await api("DELETE", "/api/v1/superuser/users/quayadmin")).body.detail).toBe("Cannot delete a superuser");
    expect(await api("PUT", "/api/v1/superuser/users/pull", { password: "short" })).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^Invalid password/) } });
    expect((await api("GET", "/api/v1/superuser/users/ghost")).status).toBe(404);
    await api("POST", "/api/v1/organization/", { name: "susorg" });
    expect((await api("GET", "/api/v1/superuser/organizations/")).body.organizations.map((o: { name: string }) => o.name)).toContain("susorg");
    expect((await api("PUT", "/api/v1/superuser/organizations/susorg", { name: "susorg2" })).body.name).toBe("susorg2");
    expect((await api("DELETE", "/api/v1/superuser/organizations/susorg2")).status).toBe(204);
    expect((await api("DELETE", "/api/v1/superuser/organizations/susorg2")).status).toBe(404);
    // deleting a user: the name is locked, its permissions linger under a UUID name until the GC runs
    await api("POST", "/api/v1/superuser/users/", { username: "leaver", email: "leaver@example.com" });
    await api("POST", "/api/v1/repository", { namespace: "rel", repository: "leaving", visibility: "private", description: "" });
    await api("PUT", "/api/v1/repository/rel/leaving/permissions/user/leaver", { role: "read" });
    expect((await api("DELETE", "/api/v1/superuser/users/leaver")).status).toBe(204);
    expect((await api("GET", "/api/v1/superuser/users/leaver")).status).toBe(404);
    const lingering = await api("GET", "/api/v1/repository/rel/leaving/permissions/user/");
    expect(Object.keys(lingering.body.permissions).filter((k) => k !== "quayadmin")).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    expect((await api("POST", "/api/v1/superuser/users/", { username: "leaver", email: "leaver2@example.com" })).body.message).toBe("Username is not available");
  });

  it("proxy cache: SSRF check, validate, 404 on delete without config", async () => {
    await api("POST", "/api/v1/organization/", { name: "proxied", email: "p@example.com" });
    expect((await api("POST", "/api/v1/organization/proxied/proxycache", { upstream_registry: "127.0.0.1:5000" })).body.detail).toBe("The provided registry URL is not allowed");
    expect((await api("POST", "/api/v1/organization/proxied/validateproxycache", { upstream_registry: "quay.io" }))).toMatchObject({ status: 202, body: "Anonymous" });
    expect((await api("DELETE", "/api/v1/organization/proxied/proxycache")).status).toBe(404);
    expect((await api("POST", "/api/v1/organization/proxied/proxycache", { upstream_registry: "quay.io/library" })).status).toBe(201);
    expect((await api("POST", "/api/v1/organization/proxied/proxycache", { upstream_registry: "quay.io" })).body.detail).toBe("Proxy Cache Configuration already exists");
  });

  it("validateproxycache calls a loopback upstream for real and treats unroutable addresses as unreachable", async () => {
    const http = await import("node:http");
    const upstream = http.createServer((req, res): void => {
      if (req.url?.startsWith("/token")) {
        res.writeHead(req.headers.authorization ? 200 : 401, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ token: "abc" }));
      } else if (req.headers.authorization === "Bearer abc") res.writeHead(200).end("{}");
      else res.writeHead(401, { "WWW-Authenticate": `Bearer realm="http://127.0.0.1:${(upstream.address() as { port: number }).port}/token",service="fake"` }).end();
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    const port = (upstream.address() as { port: number }).port;
    const e2 = await startQuayEmulator({ config: { ...BASE_CONFIG, SSRF_ALLOWED_HOSTS: ["127.0.0.1", "192.0.2.10"] } });
    try {
      const c = client(e2.url, (await e2.initialize()).token);
      await c("POST", "/api/v1/organization/", { name: "pc" });
      const body = { upstream_registry: `127.0.0.1:${port}`, insecure: true };
      expect(await c("POST", "/api/v1/organization/pc/validateproxycache", body)).toMatchObject({ status: 202, body: "Anonymous" });
      expect(await c("POST", "/api/v1/organization/pc/validateproxycache", { ...body, upstream_registry_username: "u", upstream_registry_password: "p" })).toMatchObject({ status: 202, body: "Valid" });
      expect((await c("POST", "/api/v1/organization/pc/validateproxycache", { upstream_registry: "192.0.2.10" })).body.detail).toBe(
        "Failed login to remote registry. Please verify entered details and try again.",
      );
    } finally {
      await e2.close();
      upstream.close();
    }
  });

  it("routing: unknown routes 404 like Flask, wrong methods 405, slash-less list routes redirect", async () => {
    const r404 = await api("GET", "/api/v1/nosuch");
    expect(r404.status).toBe(404);
    expect(r404.text).toContain("<title>404 Not Found</title>");
    expect(await api("PATCH", "/api/v1/organization/rel")).toMatchObject({ status: 405, body: { message: "The method is not allowed for the requested URL." } });
    const browser = await api("GET", "/api/v1/user/", undefined, { "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0" });
    expect(browser).toMatchObject({ status: 400, body: { error: "API calls must be invoked with an X-Requested-With header if called from a browser" } });
    const xhr = await api("GET", "/api/v1/user/", undefined, { "User-Agent": "Mozilla/5.0 Firefox/120.0", "X-Requested-With": "XMLHttpRequest" });
    expect(xhr.status).toBe(200);
    const redir = await api("POST", "/api/v1/organization", { name: "x" });
    expect(redir.status).toBe(308);
    expect(redir.headers.get("location")).toMatch(/\/api\/v1\/organization\/$/);
  });
});

describe("quay emulator: pagination", () => {
  it("lists 250 repositories 100 at a time with an opaque next_page", async () => {
    const { emu, api } = await setup();
    try {
      await api("POST", "/api/v1/organization/", { name: "many", email: "m@example.com" });
      for (let i = 0; i < 250; i++) await api("POST", "/api/v1/repository", { namespace: "many", repository: `r${String(i).padStart(3, "0")}`, visibility: "private", description: "" });
      const names: string[] = [];
      let next: string | undefined;
      const sizes: number[] = [];
      do {
        const r = await api("GET", `/api/v1/repository?namespace=many${next ? `&next_page=${encodeURIComponent(next)}` : ""}`);
        sizes.push(r.body.repositories.length);
        names.push(...r.body.repositories.map((x: { name: string }) => x.name));
        next = r.body.next_page;
      } while (next);
      expect(sizes).toEqual([100, 100, 50]);
      expect(new Set(names).size).toBe(250);
      const bogus = await api("GET", "/api/v1/repository?namespace=many&next_page=garbage");
      expect(bogus.body.repositories[0].name).toBe("r000");
    } finally {
      await emu.close();
    }
  });
});

describe("quay emulator: /v2/auth", () => {
  let emu: QuayEmulator;
  let api: ReturnType<typeof client>;
  let robotToken: string;
  const decode = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
  const basic = (u: string, p: string) => ({ Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}` });
  const auth = async (scope: string, headers: Record<string, string> = {}) => {
    const r = await fetch(`${emu.url}/v2/auth?service=localhost:5000&scope=${encodeURIComponent(scope)}`, { headers });
    return { status: r.status, body: (await r.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    ({ emu, api } = await setup());
    await api("POST", "/api/v1/organization/", { name: "mir", email: "mir@example.com" });
    robotToken = (await api("PUT", "/api/v1/organization/mir/robots/ocp_mirror", {})).body.token;
    await api("PUT", "/api/v1/organization/mir/team/mirror-creators", { role: "creator" });
    await api("PUT", "/api/v1/organization/mir/team/mirror-creators/members/mir+ocp_mirror");
    await api("POST", "/api/v1/repository", { namespace: "mir", repository: "preexisting", visibility: "private", description: "" });
    await api("POST", "/api/v1/repository", { namespace: "mir", repository: "public", visibility: "public", description: "" });
  });
  afterAll(() => emu.close());

  it("a push scope by a creator robot creates the repository (private, robot admin)", async () => {
    const r = await auth("repository:mir/openshift/release:pull,push", basic("mir+ocp_mirror", robotToken));
    expect(r.status).toBe(200);
    expect(decode(r.body.token).access).toEqual([{ type: "repository", name: "mir/openshift/release", actions: ["push", "pull"] }]);
    const repo = await api("GET", "/api/v1/repository/mir/openshift/release");
    expect(repo.body.is_public).toBe(false);
    const perms = await api("GET", "/api/v1/repository/mir/openshift/release/permissions/user/");
    expect(perms.body.permissions["mir+ocp_mirror"]).toMatchObject({ role: "admin", is_robot: true });
  });

  it("a creator robot gets nothing on repositories others created", async () => {
    const r = await auth("repository:mir/preexisting:pull,push", basic("mir+ocp_mirror", robotToken));
    expect(decode(r.body.token).access[0].actions).toEqual([]);
    await api("PUT", "/api/v1/repository/mir/preexisting/permissions/user/mir+ocp_mirror", { role: "read" });
    const r2 = await auth("repository:mir/preexisting:pull,push", basic("mir+ocp_mirror", robotToken));
    expect(decode(r2.body.token).access[0].actions).toEqual(["pull"]);
  });

  it("anonymous: pull on public, nothing on private; bad credentials 401", async () => {
    expect(decode((await auth("repository:mir/public:pull")).body.token).access[0].actions).toEqual(["pull"]);
    const priv = await auth("repository:mir/preexisting:pull");
    expect(priv.status).toBe(200);
    expect(decode(priv.body.token).access[0].actions).toEqual([]);
    const bad = await auth("repository:mir/public:pull", basic("quayadmin", "wrong"));
    expect(bad).toEqual({ status: 401, body: { errors: [{ code: "UNAUTHORIZED", detail: {}, message: "Invalid Username or Password" }] } });
    const user = await auth("repository:mir/preexisting:pull,push", basic("quayadmin", "password-123"));
    expect(decode(user.body.token)).toMatchObject({ sub: "quayadmin", aud: "localhost:5000", access: [{ actions: ["push", "pull"] }] });
  });
});

describe("quay emulator: faults, counters, latency, concurrency", () => {
  let emu: QuayEmulator;
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    ({ emu, api } = await setup(BASE_CONFIG, { seed: 42 }));
  });
  afterAll(() => emu.close());

  it("injects a status for the next `count` matching requests, then answers normally", async () => {
    emu.faults.add({ method: "POST", path: "/api/v1/organization/", status: 503, count: 1 });
    expect((await api("POST", "/api/v1/organization/", { name: "flaky", email: "f@example.com" })).status).toBe(503);
    expect((await api("POST", "/api/v1/organization/", { name: "flaky", email: "f@example.com" })).status).toBe(201);
    emu.faults.add({ path: "PUT /x", status: 500 });
    emu.faults.clear();
    emu.faults.add({ path: "/api/v1/organization/{org}/robots/{robot}", status: 500, count: 1 });
    expect((await api("PUT", "/api/v1/organization/flaky/robots/bb", {})).status).toBe(500);
    expect((await api("PUT", "/api/v1/organization/flaky/robots/bb", {})).status).toBe(201);
  });

  it("drops connections with `reset`", async () => {
    emu.faults.add({ path: /^\/api\/v1\/user\/$/, reset: true, count: 1 });
    await expect(api("GET", "/api/v1/user/")).rejects.toThrow();
    expect((await api("GET", "/api/v1/user/")).status).toBe(200);
  });

  it("a seeded fraction fails some but not all requests", async () => {
    emu.faults.add({ method: "GET", path: "/health/instance", status: 502, fraction: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await fetch(`${emu.url}/health/instance`)).status);
    emu.faults.clear();
    const failed = statuses.filter((s) => s === 502).length;
    expect(failed).toBeGreaterThan(5);
    expect(failed).toBeLessThan(35);
  });

  it("counts requests per route template, writes and totals, also over HTTP", async () => {
    emu.counter.reset();
    await api("PUT", "/api/v1/organization/flaky/robots/cc", {});
    await api("GET", "/api/v1/organization/flaky/robots/cc");
    await api("GET", "/api/v1/organization/flaky/robots/cc");
    expect(emu.counter.snapshot()).toEqual({
      "GET /api/v1/organization/{org}/robots/{robot}": 2,
      "PUT /api/v1/organization/{org}/robots/{robot}": 1,
    });
    expect(emu.counter.writes()).toBe(1);
    expect(emu.counter.total()).toBe(3);
    const http = (await (await fetch(`${emu.url}/__emulator/counters?reset=1`)).json()) as { total: number; writes: number };
    expect(http).toMatchObject({ total: 3, writes: 1 });
    expect(emu.counter.total()).toBe(0);
    await fetch(`${emu.url}/__emulator/faults`, { method: "POST", body: JSON.stringify({ path: "/api/v1/discovery", status: 429, count: 1 }) });
    expect((await api("GET", "/api/v1/discovery")).status).toBe(429);
    expect((await api("GET", "/api/v1/discovery")).status).toBe(200);
  });

  it("adds latency and queues requests above maxConcurrent", async () => {
    const slow = await startQuayEmulator({ config: BASE_CONFIG, latencyMs: 100, maxConcurrent: 1 });
    try {
      const t0 = Date.now();
      await Promise.all([1, 2, 3].map(() => fetch(`${slow.url}/health/instance`)));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    } finally {
      await slow.close();
    }
  });
});

describe("quay emulator: config defaults", () => {
  it("Quay defaults apply to keys left out: initialize is off, proxy cache routes absent, mailing requires email", async () => {
    const emu = await startQuayEmulator({ config: { SUPER_USERS: ["quayadmin"] } });
    try {
      const r = await fetch(`${emu.url}/api/v1/user/initialize`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
      expect(r.status).toBe(404);
      expect(await r.json()).toEqual({ error: "Not Found" });
      expect((await fetch(`${emu.url}/api/v1/organization/x/proxycache`)).status).toBe(404);
    } finally {
      await emu.close();
    }
    const m = await startQuayEmulator({ config: { FEATURE_USER_INITIALIZE: true, SUPER_USERS: ["quayadmin"] } });
    try {
      const bad = await fetch(`${m.url}/api/v1/user/initialize`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: "quayadmin", password: "password-123" }) });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ message: "Failed to initialize user: Invalid email address: None" });
      const { token } = await m.initialize();
      const api = client(m.url, token);
      // 3.18+: organizations need no email even with FEATURE_MAILING, but it must not be a user's
      expect((await api("POST", "/api/v1/organization/", { name: "noemail" })).status).toBe(201);
      expect((await api("POST", "/api/v1/organization/", { name: "usermail", email: "quayadmin@example.com" })).body.detail).toBe("Email has already been used: quayadmin@example.com");
      await api("POST", "/api/v1/organization/", { name: "mailorg", email: "mailorg@example.com" });
      await api("POST", "/api/v1/superuser/users/", { username: "outsider", email: "outsider@example.com" }).then((r) => expect(r.status).toBe(400));
      // invite path: the user is outside the org, so Quay creates an invite and then fails to send the email.
      const inv = await api("PUT", "/api/v1/organization/mailorg/team/owners/members/outsider");
      expect(inv).toMatchObject({ status: 400, body: { message: "Could not send email. Please contact an administrator and report this problem." } });
      const pending = await api("GET", "/api/v1/organization/mailorg/team/owners/members?includePending=true");
      expect(pending.body.members.find((x: { name: string }) => x.name === "outsider")).toMatchObject({ invited: true });
    } finally {
      await m.close();
    }
  });
});

describe("quay emulator: CLI", () => {
  it("prints its URL, serves, and exits cleanly on SIGTERM", async () => {
    const root = path.join(__dirname, "..");
    execFileSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(root, "tests", "emulator", "tsconfig.json")], { cwd: root });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quay-emu-"));
    const cfg = path.join(dir, "config.yaml");
    fs.writeFileSync(cfg, "FEATURE_USER_INITIALIZE: true\nFEATURE_MAILING: false\nSUPER_USERS:\n  - quayadmin\nSERVER_HOSTNAME: quay.lab.test\n");
    const child = spawn(process.execPath, [path.join(root, "bin", "tests", "emulator", "cli.js"), "--port", "0", "--config", cfg, "--latency-ms", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve(out.trim());
      });
      child.on("exit", (code) => reject(new Error(`exited ${code}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/api/v1/user/initialize`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: "quayadmin", password: "password-123", access_token: true }) });
    expect(res.status).toBe(200);
    const code = await new Promise<number | null>((resolve) => {
      child.on("exit", (c) => resolve(c));
      child.kill("SIGTERM");
    });
    expect(code).toBe(0);
  }, 180_000);
});
