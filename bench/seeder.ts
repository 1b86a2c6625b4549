// The baseline: the lab's way (seed-quay-internal-model.sh, seed-oc-mirror-repositories-from-mapping.sh,
// ensure-quay-cluster-pull-user.sh). One request at a time; every object is looked up and created only
// when missing, so a second run only reads. Same model, same mapping, same end state as the program:
// organizations, robots, teams and their members, default permissions, the cluster-pull user, every
// repository, and each namespace grantee's permission on every repository of its namespace.
import { QuayClient, apiPath, repoPath, encodeSegment } from "../providers/quay/client";
import { RegistryModelSpec, granteeOf, joinRobotName } from "../config/model";

export interface SeedResult {
  created: number;
  calls: number;
}

export async function seedSequentially(endpoint: string, token: string, model: RegistryModelSpec, mirrorRepos: { organization: string; name: string }[]): Promise<SeedResult> {
  // Retries on, concurrency 1: this client is the only one in the process while the baseline runs.
  const client = new QuayClient({ endpoint, token, maxConcurrent: 1 });
  let created = 0;
  let calls = 0;
  const exists = async (path: string): Promise<boolean> => {
    calls++;
    try {
      await client.get(path);
      return true;
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 404 || status === 400) return false;
      throw e;
    }
  };
  const write = async (method: "POST" | "PUT", path: string, body?: unknown) => {
    calls++;
    created++;
    return client.request(method, path, { body });
  };

  for (const org of model.organizations) {
    if (!(await exists(apiPath`/organization/${org.name}`))) await write("POST", "/api/v1/organization/", { name: org.name });
  }
  for (const robot of model.robots) {
    if (!(await exists(apiPath`/organization/${robot.organization}/robots/${robot.name}`))) {
      await write("PUT", apiPath`/organization/${robot.organization}/robots/${robot.name}`, { description: robot.description ?? "" });
    }
  }
  for (const team of model.teams) {
    calls++;
    const { body } = await client.get<{ teams?: Record<string, unknown> }>(apiPath`/organization/${team.organization}`);
    if (!body.teams?.[team.name]) {
      await write("PUT", apiPath`/organization/${team.organization}/team/${team.name}`, { role: team.role, description: team.description ?? "" });
    }
    calls++;
    const members = (await client.get<{ members?: { name: string }[] }>(apiPath`/organization/${team.organization}/team/${team.name}/members`)).body.members ?? [];
    for (const m of team.members) {
      if (!members.some((x) => x.name === m)) await write("PUT", apiPath`/organization/${team.organization}/team/${team.name}/members/${m}`);
    }
  }
  // Default permissions: the robots' namespace permissions and the cluster-pull user's read.
  const prototypes: { org: string; kind: "user" | "team"; name: string; role: string }[] = [];
  for (const p of model.namespacePermissions) {
    const g = granteeOf(p)!;
    prototypes.push({ org: p.organization, kind: g.kind === "team" ? "team" : "user", name: g.name, role: p.role });
  }
  const pull = model.clusterPullUser;
  if (pull) {
    if (!(await exists(apiPath`/superuser/users/${pull.username}`))) {
      await write("POST", "/api/v1/superuser/users/", { username: pull.username });
      await write("PUT", apiPath`/superuser/users/${pull.username}`, { password: "bench-cluster-pull-password-0123456789" });
    }
    for (const ns of pull.namespaces) prototypes.push({ org: ns, kind: "user", name: pull.username, role: "read" });
  }
  for (const org of new Set(prototypes.map((p) => p.org))) {
    calls++;
    const existing = (await client.get<{ prototypes?: { delegate?: { name?: string }; role?: string }[] }>(apiPath`/organization/${org}/prototypes`)).body.prototypes ?? [];
    for (const p of prototypes.filter((x) => x.org === org)) {
      if (!existing.some((e) => e.delegate?.name === p.name)) {
        await write("POST", apiPath`/organization/${org}/prototypes`, { role: p.role, delegate: { kind: p.kind, name: p.name } });
      }
    }
  }
  // Repositories: the model's, then the mapping's (seed-oc-mirror-repositories-from-mapping.sh).
  const repos = [...model.repositories.map((r) => ({ organization: r.organization, name: r.name, description: r.description ?? "" })), ...mirrorRepos.map((r) => ({ ...r, description: "" }))];
  for (const r of repos) {
    if (!(await exists(`/api/v1/repository/${repoPath(r.organization, r.name)}`))) {
      await write("POST", "/api/v1/repository", { namespace: r.organization, repository: r.name, visibility: "private", description: r.description, repo_kind: "image" });
    }
  }
  // Grants (ensure-quay-cluster-pull-user.sh and the robots' namespace permissions): each grantee on each
  // repository of its namespace, looked up first.
  const grantees: { org: string; name: string; role: string }[] = model.namespacePermissions
    .map((p) => ({ p, g: granteeOf(p)! }))
    .filter(({ g }) => g.kind !== "team")
    .map(({ p, g }) => ({ org: p.organization, name: g.name, role: p.role }));
  if (pull) for (const ns of pull.namespaces) grantees.push({ org: ns, name: pull.username, role: "read" });
  for (const r of repos) {
    for (const g of grantees.filter((x) => x.org === r.organization)) {
      const path = `/api/v1/repository/${repoPath(r.organization, r.name)}/permissions/user/${encodeSegment(g.name)}`;
      if (!(await exists(path))) await write("PUT", path, { role: g.role });
    }
  }
  void joinRobotName;
  return { created, calls };
}
