// Issue 14 point 6, what docs/pull-request-previews.md says about a read-only Quay token: an OAuth token with
// only `repo:read user:read` cannot make the reads a refresh of this program makes. Against the emulator, which
// caps roles by scope as auth/permissions.py does (tests/emulator/auth.ts).
import { QuayClient, apiPath } from "../../providers/quay/client";
import { QuayFixture, startQuay, uniqueName } from "../support/quay";

describe("a Quay token with read scopes only", () => {
  let quay: QuayFixture;
  let org: string;
  let readOnly: QuayClient;

  beforeAll(async () => {
    quay = await startQuay();
    org = uniqueName("ro");
    await quay.admin.post("/api/v1/organization/", { name: org });
    await quay.admin.put(`/api/v1/organization/${org}/robots/ocp_mirror`, { description: "" });
    await quay.admin.put(`/api/v1/organization/${org}/team/mirror-creators`, { role: "creator" });
    await quay.admin.post(`/api/v1/organization/${org}/prototypes`, { role: "write", delegate: { kind: "user", name: `${org}+ocp_mirror` } });
    await quay.admin.post("/api/v1/repository", { namespace: org, repository: "openshift/release", visibility: "private", description: "" });
    // The token a read-only preview would get: the organization's OAuth application, scopes repo:read and user:read.
    const app = await quay.admin.post<{ client_id: string }>(`/api/v1/organization/${org}/applications`, { name: "preview" });
    const minted = await quay.admin.post<{ token: string }>(`/api/v1/organization/${org}/applications/${app.body.client_id}/tokens`, { name: "preview", scope: "repo:read user:read" });
    readOnly = new QuayClient({ endpoint: quay.emulator.url, token: minted.body.token, retries: 0 });
  });
  afterAll(async () => quay.close());

  const status = (p: Promise<unknown>) => p.then(() => 200, (e: { status?: number }) => e.status);

  it("reads repositories, but is refused the permission, robot, team and prototype reads the program's refresh makes", async () => {
    // What it may read: the repository itself and the namespace's repository listing.
    expect(await status(readOnly.get(`/api/v1/repository/${org}/openshift/release`))).toBe(200);
    expect(await status(readOnly.get("/api/v1/repository", { query: { namespace: org } }))).toBe(200);
    // What the refresh needs and it may not (each answered for the full token below).
    const needed = [
      apiPath`/organization/${org}/robots/${"ocp_mirror"}/permissions`, // NamespaceReadGrant (robot): user:admin + org admin
      apiPath`/organization/${org}/robots/${"ocp_mirror"}`, // RobotAccount: org admin
      apiPath`/organization/${org}/prototypes`, // DefaultPermission: org:admin
      apiPath`/organization/${org}/collaborators`, // NamespaceReadGrant (user): org admin
      apiPath`/organization/${org}/team/${"mirror-creators"}/members`, // Team: org admin
      `/api/v1/repository/${org}/openshift/release/permissions/user/`, // repository permissions: repo:admin
      apiPath`/superuser/users/${"quayadmin"}`, // User: super:user
    ];
    const refused: Record<string, number | undefined> = {};
    for (const path of needed) refused[path] = await status(readOnly.get(path));
    expect(Object.values(refused).every((s) => s === 403 || s === 401)).toBe(true);
    // The full token reads every one of them (the refusals are the scopes, not the paths).
    for (const path of needed) expect({ path, status: await status(quay.admin.get(path)) }).toEqual({ path, status: 200 });
  });
});
