// MirrorPreseed: declares every destination repository of oc-mirror's dry-run mapping before the real
// push, so a reviewer sees each new repository in `preview --diff` before it exists.
//
// One RepositorySet per organization, not one resource per repository: at mirror scale the engine's cost per
// resource (it rewrites the whole checkpoint after every step) dominated everything else
// (docs/performance.md). The set's diff still names each repository entering or leaving it.
//
// Upgrading a stack that holds the earlier per-repository pre-seed (Repository resources under this
// component): run scripts/migrate-preseed.sh BEFORE the first `up` with this version. It drops those
// resources from the state without touching Quay; the sets then take the repositories over. Without it,
// `up` would delete them (and their images) as resources that left the program.
import * as pulumi from "@pulumi/pulumi";
import { DestinationRepository } from "../config/mapping";
import { QuayConnectionArgs } from "../providers/quay/common";
import { RepositorySet } from "../providers/quay/repository-set";

export interface MirrorPreseedArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /** Destination repositories (from config/mapping.ts `destinationRepositories`). */
  repositories: DestinationRepository[];
  /** Full names (`org/name`) already declared elsewhere (e.g. by the model): not declared twice. */
  exclude?: Set<string>;
  /**
   * Per organization, what its repositories must be created after: its default permissions, so that Quay
   * applies them (the cluster-pull user's read, the mirror robot's write) when it creates each repository.
   */
  afterByOrganization?: Record<string, pulumi.Input<pulumi.Resource>[]>;
  /** Delete a repository from Quay when it leaves the mapping. Default false (it stays; a warning says so). */
  deleteRemoved?: boolean;
  /** Delete an organization's pre-seeded repositories when its set leaves the stack. Default false. */
  deleteOnDestroy?: boolean;
}

/** Destination names per organization, without the excluded ones; organizations in first-seen order. Pure. */
export function namesByOrganization(repositories: DestinationRepository[], exclude?: Set<string>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of repositories) {
    if (exclude?.has(`${r.organization}/${r.name}`)) continue;
    (out[r.organization] ??= []).push(r.name);
  }
  return out;
}

export class MirrorPreseed extends pulumi.ComponentResource {
  /** The set of each organization that has destinations. */
  readonly sets: Record<string, RepositorySet>;
  /** How many repositories it declares per organization. */
  readonly counts: Record<string, number>;

  constructor(name: string, args: MirrorPreseedArgs, opts?: pulumi.ComponentResourceOptions) {
    super("quay-mirror:registry:MirrorPreseed", name, {}, opts);
    const byOrg = namesByOrganization(args.repositories, args.exclude);
    this.counts = {};
    this.sets = {};
    for (const [org, names] of Object.entries(byOrg)) {
      this.counts[org] = new Set(names).size;
      this.sets[org] = new RepositorySet(
        `${name}-${org}`,
        { connection: args.connection, namespace: org, repositories: names, visibility: "private", deleteRemoved: args.deleteRemoved, deleteOnDestroy: args.deleteOnDestroy },
        { parent: this, dependsOn: args.afterByOrganization?.[org] ?? [] },
      );
      void pulumi.log.info(`mirror pre-seed: ${this.counts[org]} destination repositories in ${org}`, this);
    }
    this.registerOutputs({ counts: this.counts });
  }
}

// ---------------------------------------------------------------------------------------------------
// Upgrade from the per-repository pre-seed (scripts/migrate-preseed.sh calls this through node).

interface StateResource {
  urn: string;
  type: string;
  parent?: string;
  dependencies?: string[];
  propertyDependencies?: Record<string, string[]>;
  deletedWith?: string;
}

interface DeploymentExport {
  version: number;
  deployment: { resources?: StateResource[]; pending_operations?: { resource: { urn: string } }[] } & Record<string, unknown>;
}

const PRESEED_TYPE = "quay-mirror:registry:MirrorPreseed";
const REPOSITORY_TYPE = "pulumi-nodejs:dynamic/quay:Repository";

/**
 * The state without the earlier version's per-repository pre-seed: every `quay:Repository` whose parent is a
 * MirrorPreseed. Pure; refuses (throws) when anything left in the state still refers to one of them or an
 * operation on one is pending, since dropping it would then corrupt the state.
 */
export function dropLegacyPreseed(exported: DeploymentExport): { state: DeploymentExport; removed: string[] } {
  const resources = exported.deployment.resources ?? [];
  const preseeds = new Set(resources.filter((r) => r.type === PRESEED_TYPE).map((r) => r.urn));
  const legacy = new Set(resources.filter((r) => r.type === REPOSITORY_TYPE && r.parent && preseeds.has(r.parent)).map((r) => r.urn));
  const kept = resources.filter((r) => !legacy.has(r.urn));
  const problems: string[] = [];
  for (const r of kept) {
    const refs = [r.parent, r.deletedWith, ...(r.dependencies ?? []), ...Object.values(r.propertyDependencies ?? {}).flat()];
    const hit = refs.find((u) => u && legacy.has(u));
    if (hit) problems.push(`${r.urn} refers to ${hit}`);
  }
  for (const op of exported.deployment.pending_operations ?? []) {
    if (legacy.has(op.resource.urn)) problems.push(`a pending operation on ${op.resource.urn} (run \`pulumi refresh\` or \`pulumi cancel\` first)`);
  }
  if (problems.length) throw new Error(`cannot drop the per-repository pre-seed from the state:\n  ${problems.slice(0, 10).join("\n  ")}`);
  return { state: { ...exported, deployment: { ...exported.deployment, resources: kept } }, removed: [...legacy] };
}
