// Namespace-wide reads: a few calls per namespace instead of one per repository (quay-api.md §18).
import { QuayClient, apiPath } from "./client";

/** A repository's full name, `namespace/name` (nested names keep their slashes). */
export type RepositoryFullName = string;

interface ListedRepository {
  namespace: string;
  name: string;
}

interface CacheEntry {
  expires: number;
  value: Promise<RepositoryFullName[]>;
}

/** Lists every repository of a namespace (100 per page) — cached briefly per process, so the grants of one
 * preview share a namespace's listing instead of each paginating it again. */
export async function listNamespaceRepositories(client: QuayClient, namespace: string, maxAgeMs = 10_000): Promise<RepositoryFullName[]> {
  const key = Symbol.for("quay-mirror.listing.cache");
  const g = globalThis as unknown as Record<symbol, Map<string, CacheEntry> | undefined>;
  const cache = g[key] ?? (g[key] = new Map<string, CacheEntry>());
  const cacheKey = `${client.endpoint} ${namespace}`;
  const hit = cache.get(cacheKey);
  if (hit && hit.expires > Date.now()) return hit.value;
  const value = client
    .paginate<ListedRepository>("/api/v1/repository", "repositories", { namespace })
    .then((repos) => repos.map((r) => `${r.namespace}/${r.name}`).sort());
  cache.set(cacheKey, { expires: Date.now() + maxAgeMs, value });
  value.catch(() => cache.delete(cacheKey));
  return value;
}

/** Forgets cached listings (after this process created or deleted repositories). */
export function forgetNamespaceListings(): void {
  const g = globalThis as unknown as Record<symbol, Map<string, CacheEntry> | undefined>;
  g[Symbol.for("quay-mirror.listing.cache")]?.clear();
}

/**
 * The repositories of `namespace` on which a user or robot holds a direct permission, in one call:
 * users from `/organization/{org}/collaborators`, robots from `/organization/{org}/robots?permissions=true`.
 * Roles are not part of these answers; the grant is present when the name is listed.
 */
export async function reachableRepositories(client: QuayClient, namespace: string, kind: "user" | "robot", grantee: string): Promise<Set<RepositoryFullName>> {
  if (kind === "user") {
    const { body } = await client.get<{ collaborators?: Array<{ name: string; repositories?: string[] }> }>(apiPath`/organization/${namespace}/collaborators`);
    const me = (body.collaborators ?? []).find((c) => c.name === grantee);
    return new Set((me?.repositories ?? []).map((r) => `${namespace}/${r}`));
  }
  const { body } = await client.get<{ robots?: Array<{ name: string; repositories?: string[] }> }>(apiPath`/organization/${namespace}/robots`, {
    query: { permissions: "true", token: "false" },
  });
  const robot = (body.robots ?? []).find((r) => r.name === grantee);
  return new Set((robot?.repositories ?? []).map((r) => `${namespace}/${r}`));
}
