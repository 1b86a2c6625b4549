// Issue 15: an organization deleted by hand in Quay. Quay answers 403 (not 404) for every object of a missing
// namespace (admin rights are checked before existence), so each provider's `read` must tell "the organization
// is gone" (one GET /api/v1/organization/{org} answering 404, cached per organization and process) from a token
// that is genuinely refused (403 while the organization exists), and drop the object so the next `up`
// re-creates it.
import { QuayClient, apiPath } from "../../providers/quay/client";
import { forgetOrganizationLookups } from "../../providers/quay/common";
import { DefaultPermissionProvider } from "../../providers/quay/default-permission";
import { NamespaceReadGrantProvider } from "../../providers/quay/namespace-grant";
import { OrganizationProvider } from "../../providers/quay/organization";
import { ProxyCacheProvider } from "../../providers/quay/proxy-cache";
import { RepositoryPermissionProvider } from "../../providers/quay/repository-permission";
import { RepositoryProvider } from "../../providers/quay/repository";
import { RepositorySetProvider } from "../../providers/quay/repository-set";
import { RobotAccountProvider } from "../../providers/quay/robot";
import { TeamProvider } from "../../providers/quay/team";
import { forgetNamespaceListings } from "../../providers/quay/listing";
import { QuayFixture, startQuay, uniqueName } from "../support/quay";

const ORG_GET = "GET /api/v1/organization/{org}";

describe("reads of objects whose organization was deleted behind Pulumi's back", () => {
  let quay: QuayFixture;

  beforeAll(async () => {
    quay = await startQuay({ orgNameLockMs: 200 });
  });
  afterAll(async () => quay.close());
  beforeEach(() => {
    forgetOrganizationLookups();
    forgetNamespaceListings();
    quay.emulator.counter.reset();
  });

  /** An organization with one of everything, as the program's resources store them. */
  async function seed(org: string) {
    const c = quay.connection;
    await quay.admin.post("/api/v1/organization/", { name: org });
    await quay.admin.put(apiPath`/organization/${org}/robots/${"deployer"}`, { description: "" });
    await quay.admin.put(apiPath`/organization/${org}/team/${"mirror-creators"}`, { role: "creator" });
    await quay.admin.post("/api/v1/repository", { namespace: org, repository: "openshift/release", visibility: "private", description: "" });
    await quay.admin.put(`/api/v1/repository/${org}/openshift/release/permissions/user/${org}+deployer`, { role: "write" });
    const proto = await quay.admin.post<{ id: string }>(apiPath`/organization/${org}/prototypes`, { role: "write", delegate: { kind: "user", name: `${org}+deployer` } });
    await quay.admin.post(apiPath`/organization/${org}/proxycache`, { org_name: org, upstream_registry: "registry.example.org/library", expiration_s: 86400, insecure: false });
    const robot = `${org}+deployer`;
    return {
      organization: { id: org, props: { connection: c, name: org } },
      robot: { id: robot, props: { connection: c, namespace: org, name: "deployer", description: "", fullName: robot, token: "t" } },
      team: { id: `${org}/mirror-creators`, props: { connection: c, organization: org, name: "mirror-creators", role: "creator", description: "", members: [] } },
      repository: { id: `${org}/openshift/release`, props: { connection: c, namespace: org, name: "openshift/release", description: "", visibility: "private" } },
      repositorySet: { id: org, props: { connection: c, namespace: org, repositories: { "openshift/release": "private" } } },
      repositoryPermission: {
        id: `${org}/openshift/release/user/${robot}`,
        props: { connection: c, namespace: org, repository: "openshift/release", kind: "user", name: robot, role: "write" },
      },
      defaultPermission: { id: proto.body.id, props: { connection: c, organization: org, delegateKind: "user", delegateName: robot, role: "write" } },
      namespaceGrant: {
        id: `${robot}@${org}`,
        props: { connection: c, granteeKind: "robot", grantee: robot, namespaces: [org], role: "read", missingGrants: [], wrongRoles: {} },
      },
      proxyCache: {
        id: org,
        props: { connection: c, organization: org, upstreamRegistry: "registry.example.org/library", expirationSeconds: 86400, insecure: false },
      },
    };
  }

  type Seeded = Awaited<ReturnType<typeof seed>>;
  const readers: Array<[keyof Seeded, { read(id: string, props?: never): Promise<{ id?: string; props?: unknown }> }]> = [
    ["robot", RobotAccountProvider.instance as never],
    ["repository", RepositoryProvider.instance as never],
    ["repositoryPermission", RepositoryPermissionProvider.instance as never],
    ["defaultPermission", DefaultPermissionProvider.instance as never],
    ["proxyCache", ProxyCacheProvider.instance as never],
  ];

  it("drops every object of the deleted organization, with one extra GET of the organization for all of them", async () => {
    const org = uniqueName("gone");
    const seeded = await seed(org);
    await quay.admin.delete(apiPath`/organization/${org}`);
    // What the refresh met before: a 403, not a 404, for the organization's objects.
    await expect(quay.admin.get(apiPath`/organization/${org}/robots/${"deployer"}`)).rejects.toMatchObject({ status: 403 });

    quay.emulator.counter.reset();
    for (const [kind, provider] of readers) {
      const { id, props } = seeded[kind];
      const read = await provider.read(id, props as never);
      expect({ kind, id: read.id }).toEqual({ kind, id: undefined });
    }
    // Each object's own GET, and ONE lookup of the organization shared by all of them.
    expect(quay.emulator.counter.snapshot()[ORG_GET]).toBe(1);
    expect(quay.emulator.counter.writes()).toBe(0);

    // The organization itself, its team (read through the organization) and the namespace-wide resources.
    expect((await OrganizationProvider.instance.read(org, seeded.organization.props as never)).id).toBeUndefined();
    expect((await TeamProvider.instance.read(seeded.team.id, seeded.team.props as never)).id).toBeUndefined();
    const set = await RepositorySetProvider.instance.read(seeded.repositorySet.id, seeded.repositorySet.props as never);
    expect((set.props as { repositories?: Record<string, string> } | undefined)?.repositories ?? {}).toEqual({});
    const grant = await NamespaceReadGrantProvider.instance.read(seeded.namespaceGrant.id, seeded.namespaceGrant.props as never);
    // Nothing lacks the grant in a namespace that has no repositories: the stored state stands (no change).
    expect(grant.props).toEqual(seeded.namespaceGrant.props);
    expect(grant.inputs).toBeUndefined();
    expect(quay.emulator.counter.writes()).toBe(0);
  });

  it("still fails with the 403 when the organization exists and the token is refused", async () => {
    const org = uniqueName("kept");
    const seeded = await seed(org);
    // A token of the same superuser with read scopes only: the organization's objects answer it 403.
    const app = await quay.admin.post<{ client_id: string }>(apiPath`/organization/${org}/applications`, { name: "ro" });
    const minted = await quay.admin.post<{ token: string }>(apiPath`/organization/${org}/applications/${app.body.client_id}/tokens`, { name: "ro", scope: "repo:read user:read" });
    const readOnly = { endpoint: quay.emulator.url, token: minted.body.token };
    const probe = new QuayClient({ ...readOnly, retries: 0 });
    await expect(probe.get(apiPath`/organization/${org}/robots/${"deployer"}`)).rejects.toMatchObject({ status: 403 });

    for (const [kind, provider] of readers.filter(([k]) => k !== "repository")) {
      const { id, props } = seeded[kind];
      await expect(provider.read(id, { ...(props as object), connection: readOnly } as never)).rejects.toMatchObject({ status: 403 });
      void kind;
    }
  });
});
