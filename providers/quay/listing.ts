// Namespace-wide reads: a few calls per namespace instead of one per repository, so that a refresh of
// thousands of repositories costs a few listing pages (docs/performance.md). The endpoints:
// `GET /repository?namespace=` (endpoints/api/repository.py RepositoryList), `…/collaborators`
// (endpoints/api/organization.py OrganizationCollaboratorList), `…/robots/{short}/permissions` (endpoints/api/robot.py).
//
// Both reads are cached per process, keyed by endpoint and namespace, so that every resource of one
// engine operation that needs a namespace's listing (its RepositorySet, the NamespaceReadGrants of its
// grantees) shares ONE paginated listing, and the grants of one namespace share one permission listing.
// The engine starts a fresh dynamic-provider process for every operation, so "per process" is "per
// preview/up/refresh"; a long-lived process (tests) calls forgetNamespaceListings() where a new operation
// would start. Writers keep the cache true: RepositorySet notes what it created or deleted
// (noteNamespaceRepositories), grants drop the permission listings of a namespace they changed.
import { QuayClient, apiPath } from "./client";

/** A repository's full name, `namespace/name` (nested names keep their slashes). */
export type RepositoryFullName = string;

interface ListedRepository {
  namespace: string;
  name: string;
}

interface CacheEntry<T> {
  expires: number;
  value: Promise<T>;
}

/** Long enough for one engine operation at mirror scale; a bound for processes that live longer. */
const MAX_AGE_MS = 30 * 60_000;

function cache<T>(name: string): Map<string, CacheEntry<T>> {
  const key = Symbol.for(`quay-mirror.listing.${name}`);
  const g = globalThis as unknown as Record<symbol, Map<string, CacheEntry<T>> | undefined>;
  return g[key] ?? (g[key] = new Map<string, CacheEntry<T>>());
}

function cached<T>(name: string, key: string, maxAgeMs: number, load: () => Promise<T>): Promise<T> {
  const entries = cache<T>(name);
  const hit = entries.get(key);
  if (hit && hit.expires > Date.now()) return hit.value;
  const value = load();
  const entry = { expires: Date.now() + maxAgeMs, value };
  entries.set(key, entry);
  // A failed read is not remembered (the next caller tries again).
  value.catch(() => {
    if (entries.get(key) === entry) entries.delete(key);
  });
  return value;
}

/** Lists every repository of a namespace (100 per page), sorted; one listing per namespace and process. */
export async function listNamespaceRepositories(client: QuayClient, namespace: string, maxAgeMs = MAX_AGE_MS): Promise<RepositoryFullName[]> {
  return cached("repositories", `${client.endpoint} ${namespace}`, maxAgeMs, () =>
    client
      .paginate<ListedRepository>("/api/v1/repository", "repositories", { namespace })
      .then((repos) => repos.map((r) => `${r.namespace}/${r.name}`).sort()),
  );
}

/**
 * Records repositories this process created or deleted in the cached listing of `namespace` (when there
 * is one), so later readers in the same operation see Quay as it is without listing again.
 */
export function noteNamespaceRepositories(client: QuayClient, namespace: string, change: { added?: string[]; removed?: string[] }): void {
  const entries = cache<RepositoryFullName[]>("repositories");
  const key = `${client.endpoint} ${namespace}`;
  const hit = entries.get(key);
  if (!hit || (!change.added?.length && !change.removed?.length)) return;
  const added = (change.added ?? []).map((n) => `${namespace}/${n}`);
  const removed = new Set((change.removed ?? []).map((n) => `${namespace}/${n}`));
  hit.value = hit.value.then((list) => [...new Set([...list.filter((r) => !removed.has(r)), ...added])].sort());
}

/** Forgets every cached listing (what a new engine operation, a new provider process, starts with). */
export function forgetNamespaceListings(): void {
  cache("repositories").clear();
  cache("permissions").clear();
}

/** Forgets the cached permission listings of `namespace` (after this process granted or revoked there). */
export function forgetNamespacePermissions(client: QuayClient, namespace: string): void {
  const prefix = `${client.endpoint} ${namespace} `;
  const entries = cache("permissions");
  for (const key of [...entries.keys()]) if (key.startsWith(prefix)) entries.delete(key);
}

type Holders = Array<{ name: string; repositories?: string[] }>;
/** A robot's or a team's permission list: each repository with the role held there. */
type RobotPermissions = Array<{ repository: { name: string }; role: RepositoryRole }>;

export type RepositoryRole = "read" | "write" | "admin";

/**
 * The repositories of `namespace` on which a user or robot holds a direct permission, in one call per
 * namespace and grantee kind or robot:
 * - users from `/organization/{org}/collaborators` (cached, shared by every user grantee of the namespace);
 *   Quay shows no roles there, so a user's role is `undefined` (held, role not known);
 * - a robot from `/organization/{org}/robots/{short}/permissions`, which lists each repository WITH the
 *   robot's role. The role matters for robots: Quay makes the creator of a repository its admin
 *   (data/model/repository.py:create_repository), so every repository a mirror robot creates by pushing
 *   gives that robot `admin`, which a grant of `write` must see to take back;
 * - a team from `/organization/{org}/team/{team}/permissions` (endpoints/api/team.py TeamPermissions), which
 *   lists each repository with the team's role, like a robot's.
 */
export async function heldRoles(client: QuayClient, namespace: string, kind: "user" | "robot" | "team", grantee: string): Promise<Map<RepositoryFullName, RepositoryRole | undefined>> {
  if (kind === "team") {
    const perms = await cached<RobotPermissions>("permissions", `${client.endpoint} ${namespace} team ${grantee}`, MAX_AGE_MS, async () => {
      const { body } = await client.get<{ permissions?: RobotPermissions }>(apiPath`/organization/${namespace}/team/${grantee}/permissions`);
      return body.permissions ?? [];
    });
    return new Map(perms.map((p) => [`${namespace}/${p.repository.name}`, p.role]));
  }
  if (kind === "robot") {
    const short = grantee.slice(grantee.indexOf("+") + 1);
    const perms = await cached<RobotPermissions>("permissions", `${client.endpoint} ${namespace} robot ${grantee}`, MAX_AGE_MS, async () => {
      const { body } = await client.get<{ permissions?: RobotPermissions }>(apiPath`/organization/${namespace}/robots/${short}/permissions`);
      return body.permissions ?? [];
    });
    return new Map(perms.map((p) => [`${namespace}/${p.repository.name}`, p.role]));
  }
  const holders = await cached<Holders>("permissions", `${client.endpoint} ${namespace} user`, MAX_AGE_MS, async () => {
    const { body } = await client.get<{ collaborators?: Holders }>(apiPath`/organization/${namespace}/collaborators`);
    return body.collaborators ?? [];
  });
  const me = holders.find((h) => h.name === grantee);
  return new Map((me?.repositories ?? []).map((r) => [`${namespace}/${r}`, undefined]));
}

/** The repositories of `namespace` on which a user, robot or team holds a direct permission (any role). */
export async function reachableRepositories(client: QuayClient, namespace: string, kind: "user" | "robot" | "team", grantee: string): Promise<Set<RepositoryFullName>> {
  return new Set((await heldRoles(client, namespace, kind, grantee)).keys());
}
