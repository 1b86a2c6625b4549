// NamespaceReadGrant: a user, robot or team holds a role on every repository of some namespaces — including
// repositories that appeared since the last `up` (an oc-mirror pass). Its `check` lists each namespace
// (one paginated list + one reachability call per namespace), so `preview` shows the repositories that
// lack the grant by name, and `up` grants exactly those. Both reads are shared within an operation
// (listing.ts): with the RepositorySet of the namespace and, for users, with the other user grantees.
//
// For a robot the reachability call is the robot's own permission list, which carries roles: a robot that
// holds another role than the declared one on some repository is drift too (`wrongRoles`). This is how a
// mirror robot's `admin` shows: Quay makes the creator of a repository its admin, so every repository
// oc-mirror creates by pushing as the robot gives the robot admin; `preview --refresh` names them and `up`
// sets them back to the declared role (`write`). A team's reachability call is the team's permission list
// (`/organization/{org}/team/{team}/permissions`), which carries roles too; a team is granted through
// `/repository/{repo}/permissions/team/{team}`.
//
// What is stored is only the drift: `missingGrants` and `wrongRoles`, both empty while the grant holds
// everywhere. The repository list itself is not stored (it changes with every oc-mirror pass although nothing
// drifted), and a refresh that finds nothing lacking returns the stored state untouched, so a refresh of an
// unchanged grant shows no change (a no-op preview with refresh must be a no-op: docs/performance.md).
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";
import { QuayProvider } from "./base";
import { z } from "zod";
import { encodeSegment, repoPath } from "./client";
import { CommonProps, QuayConnectionArgs, checkWith, compact, clientFor, commonShape, isGone, isUnknown, organizationGone, sameValue } from "./common";
import { RepositoryRole, forgetNamespacePermissions, heldRoles, listNamespaceRepositories, reachableRepositories } from "./listing";
import { namespaceName, repositoryRole, robotFullName, teamName, userName } from "./names";

export interface NamespaceReadGrantArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /**
   * `user` (e.g. the cluster-pull user), `robot` (`namespace+name`; robots only reach their own namespace) or
   * `team` (a team of the one organization listed in `namespaces`).
   */
  granteeKind: pulumi.Input<GranteeKind>;
  /** Username, robot full name or team name. */
  grantee: pulumi.Input<string>;
  /** Namespaces whose every repository gets the role. */
  namespaces: pulumi.Input<pulumi.Input<string>[]>;
  /** `read` (default); `write` for a mirror robot. */
  role?: pulumi.Input<"read" | "write" | "admin">;
}

export type GranteeKind = "user" | "robot" | "team";

export interface NamespaceReadGrantProps extends CommonProps {
  granteeKind: GranteeKind;
  grantee: string;
  namespaces: string[];
  role: "read" | "write" | "admin";
  /**
   * Kept in the type because existing stacks' state may hold every repository of the namespaces here (README,
   * "Upgrading"). It is not computed or read: a refresh that finds nothing lacking leaves it as it was, and the
   * next update of the grant drops it.
   */
  repositories?: string[];
  /** Computed by `check`: the repositories that lack the grant, as of this plan (what `up` will grant). */
  missingGrants?: string[];
  /**
   * Computed by `check` (robots and teams): repositories on which the grantee holds another role than `role`, with
   * the role it holds, e.g. `{"mirror/openshift/release": "admin"}` for a repository the mirror robot created
   * by pushing. `up` sets the declared role on them.
   */
  wrongRoles?: Record<string, RepositoryRole>;
  /**
   * Set by `read` (refresh) in the stored inputs when it found drift: what lacks the grant or holds another
   * role (missingGrants and the keys of wrongRoles). It makes the next `check` plan live (its own stored
   * `missingGrants` may be a stale plan that `up` already carried out). A refresh that finds no drift leaves
   * the stored inputs as they are.
   */
  missingAtRefresh?: string[];
}

export interface GrantPlan {
  /** Every repository of the namespaces (not stored: it changes without drift). */
  repositories: string[];
  missingGrants: string[];
  wrongRoles: Record<string, RepositoryRole>;
}

/** A robot that does not exist yet (created in the same up) holds nothing; a missing team is a 404. */
const ROBOT_GONE = [/could not find robot/i];

/** Lists the namespaces and finds the repositories the grantee cannot reach yet or holds with another role. */
export async function planGrants(props: NamespaceReadGrantProps, overrideToken?: string): Promise<GrantPlan> {
  const client = clientFor(props.connection, overrideToken);
  const perNamespace = await Promise.all(
    props.namespaces.map(async (namespace) => {
      // Reachability first: it needs admin rights, so a rejected token fails (or falls back to an override)
      // here, before the listing, which Quay would otherwise answer anonymously with public repositories only.
      const held = await heldRoles(client, namespace, props.granteeKind, props.grantee).catch(async (e) => {
        // A namespace that does not exist yet (a first preview: the organization is created in the same
        // up) has no repositories to grant; Quay says 403, not 404, for a missing organization's lists.
        if (isGone(e, ROBOT_GONE) || (await organizationGone(client, namespace, e))) return new Map<string, RepositoryRole | undefined>();
        throw e;
      });
      const repos = await listNamespaceRepositories(client, namespace);
      // Only repositories that exist count (a robot's permission list may name one being deleted).
      const wrong = repos.flatMap((r) => {
        const role = held.get(r);
        return role !== undefined && role !== (props.role ?? "read") ? [[r, role] as const] : [];
      });
      return { repos, missing: repos.filter((r) => !held.has(r)), wrong };
    }),
  );
  return {
    repositories: perNamespace.flatMap((n) => n.repos).sort(),
    missingGrants: perNamespace.flatMap((n) => n.missing).sort(),
    wrongRoles: Object.fromEntries(perNamespace.flatMap((n) => n.wrong).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
}

/** The repositories `up` sets the declared role on: those lacking it and those holding another role. */
export function plannedTargets(plan: { missingGrants?: string[]; wrongRoles?: Record<string, string> }): string[] {
  return [...new Set([...(plan.missingGrants ?? []), ...Object.keys(plan.wrongRoles ?? {})])].sort();
}

/** The stored plan (what `check` returns): the drift only, never the volatile repository list. */
export function storedPlan(plan: { missingGrants: string[]; wrongRoles: Record<string, RepositoryRole> }): Pick<NamespaceReadGrantProps, "missingGrants" | "wrongRoles"> {
  return { missingGrants: plan.missingGrants, wrongRoles: plan.wrongRoles };
}

/**
 * What a refresh reports, from the stored outputs and the live plan. With nothing lacking, the stored
 * outputs stand as they are and no inputs are returned (the engine keeps the stored ones), so a refresh of
 * an unchanged grant shows no change — also for a stack whose outputs still hold the repository list older
 * versions stored. Outputs that recorded drift an earlier refresh found are cleared. With drift, the
 * outputs name it and the inputs carry `missingAtRefresh` so the next `check` plans live.
 */
export function refreshResult(
  stored: NamespaceReadGrantProps,
  plan: { missingGrants: string[]; wrongRoles: Record<string, RepositoryRole> },
): { props: NamespaceReadGrantProps; inputs?: NamespaceReadGrantProps } {
  const targets = plannedTargets(plan);
  if (targets.length === 0) {
    if (plannedTargets(stored).length === 0 && (stored.missingAtRefresh ?? []).length === 0) return { props: stored };
    const cleared = compact({ ...stored, missingGrants: [], wrongRoles: {}, missingAtRefresh: undefined });
    return { props: cleared, inputs: cleared };
  }
  const drifted = compact({ ...stored, repositories: undefined, missingAtRefresh: undefined, ...storedPlan(plan) });
  return { props: drifted, inputs: compact({ ...drifted, missingAtRefresh: targets }) };
}

/** Whether the plan stored by the last check or refresh still stands for these inputs (no API call needed). */
export function planStillStands(olds: Partial<NamespaceReadGrantProps> | undefined, news: NamespaceReadGrantProps): boolean {
  return (
    // A plan was made (stacks of every version store missingGrants with it).
    Array.isArray(olds?.missingGrants) &&
    (olds!.missingAtRefresh ?? []).length === 0 &&
    olds!.granteeKind === news.granteeKind &&
    olds!.grantee === news.grantee &&
    (olds!.role ?? "read") === (news.role ?? "read") &&
    sameValue([...(olds!.namespaces ?? [])].sort(), [...news.namespaces].sort())
  );
}

/** Quay's repository permission of a user or robot (`permissions/user/…`) or of a team (`permissions/team/…`). */
export function permissionPath(fullRepo: string, kind: GranteeKind, grantee: string): string {
  const slash = fullRepo.indexOf("/");
  return `/api/v1/repository/${repoPath(fullRepo.slice(0, slash), fullRepo.slice(slash + 1))}/permissions/${kind === "team" ? "team" : "user"}/${encodeSegment(grantee)}`;
}

export class NamespaceReadGrantProvider extends QuayProvider implements pulumi.dynamic.ResourceProvider<NamespaceReadGrantProps, NamespaceReadGrantProps> {
  static readonly instance = new NamespaceReadGrantProvider();

  async check(olds: NamespaceReadGrantProps, news: NamespaceReadGrantProps): Promise<pulumi.dynamic.CheckResult<NamespaceReadGrantProps>> {
    const schema = z
      .object({
        ...commonShape(),
        granteeKind: z.enum(["user", "robot", "team"], { message: "granteeKind must be user, robot or team" }),
        grantee: z.string(),
        namespaces: z.array(namespaceName()).min(1, "list at least one namespace"),
        role: repositoryRole().default("read"),
      })
      .superRefine((v, ctx) => {
        // In preview the grantee or the namespaces may not be known yet: nothing to cross-check then.
        if (isUnknown(v.grantee) || isUnknown(v.namespaces)) return;
        const rule = v.granteeKind === "robot" ? robotFullName() : v.granteeKind === "team" ? teamName() : userName();
        const parsed = rule.safeParse(v.grantee);
        if (!parsed.success) ctx.addIssue({ code: "custom", path: ["grantee"], message: parsed.error.issues[0].message });
        if (v.granteeKind === "team" && v.namespaces.length !== 1) {
          ctx.addIssue({ code: "custom", path: ["namespaces"], message: `team ${v.grantee} belongs to one organization: list only that organization (got ${v.namespaces.join(", ")})` });
        }
        if (v.granteeKind === "robot") {
          const ns = v.grantee.split("+")[0];
          const foreign = v.namespaces.filter((n) => n !== ns);
          if (foreign.length) ctx.addIssue({ code: "custom", path: ["namespaces"], message: `robot ${v.grantee} can only be granted repositories of ${ns}, not ${foreign.join(", ")}` });
        }
      });
    const checked = checkWith(schema, news, "quay:NamespaceReadGrant");
    if (checked.failures?.length || isUnknown(news)) return checked;
    const inputs = checked.inputs as NamespaceReadGrantProps;
    // A preview or up with nothing to do costs no API call: the last plan stands while the grant is the same
    // and nothing was found missing since. Repositories created later get the role from the namespace's
    // default permission; one that lacks it anyway shows after a refresh (read plans again, below), and the
    // next check then plans live and the update grants it.
    if (planStillStands(olds, inputs)) return { inputs: compact({ ...inputs, repositories: undefined, missingGrants: [], wrongRoles: {}, missingAtRefresh: undefined }) };
    // The live part of the plan: which repositories lack the grant or hold another role.
    const plan = await planGrants(inputs, this.overrideToken);
    return { inputs: compact({ ...inputs, repositories: undefined, ...storedPlan(plan), missingAtRefresh: undefined }) };
  }

  async diff(_id: string, olds: NamespaceReadGrantProps, news: NamespaceReadGrantProps): Promise<pulumi.dynamic.DiffResult> {
    const replaces = ["granteeKind", "grantee"].filter((k) => !sameValue((olds as never)[k], (news as never)[k]));
    const changed =
      replaces.length > 0 ||
      !sameValue(olds.role, news.role) ||
      !sameValue([...olds.namespaces].sort(), [...(news.namespaces ?? [])].sort()) ||
      !sameValue(olds.connection, news.connection) ||
      isUnknown(news.missingGrants) ||
      (news.missingGrants ?? []).length > 0 ||
      Object.keys(news.wrongRoles ?? {}).length > 0;
    return { changes: changed, replaces: replaces.length ? replaces : undefined };
  }

  async create(inputs: NamespaceReadGrantProps): Promise<pulumi.dynamic.CreateResult<NamespaceReadGrantProps>> {
    const id = `${inputs.granteeKind}:${inputs.grantee}:${[...inputs.namespaces].sort().join(",")}`;
    return { id, outs: await this.grantMissing(inputs) };
  }

  async read(id: string, props?: NamespaceReadGrantProps): Promise<pulumi.dynamic.ReadResult<NamespaceReadGrantProps>> {
    if (!props) throw new Error("quay:NamespaceReadGrant cannot be imported; declare it instead");
    const plan = await planGrants(props, this.overrideToken);
    // Drift goes into the inputs too, so the next check sees what this refresh found missing; no drift
    // changes nothing stored.
    const { props: refreshed, inputs } = refreshResult(props, plan);
    return inputs ? { id, props: refreshed, inputs } : { id, props: refreshed };
  }

  async update(_id: string, olds: NamespaceReadGrantProps, news: NamespaceReadGrantProps): Promise<pulumi.dynamic.UpdateResult<NamespaceReadGrantProps>> {
    // A role change re-grants everything; otherwise only what `check` found missing or holding another role.
    const regrantAll = olds.role !== news.role;
    return { outs: await this.grantMissing(news, regrantAll) };
  }

  async delete(_id: string, props: NamespaceReadGrantProps): Promise<void> {
    const client = clientFor(props.connection, this.overrideToken);
    for (const namespace of props.namespaces) {
      let reachable: Set<string>;
      try {
        reachable = await reachableRepositories(client, namespace, props.granteeKind, props.grantee);
      } catch (e) {
        if (isGone(e, ROBOT_GONE)) continue;
        throw e;
      }
      await Promise.all(
        [...reachable].map(async (repo) => {
          try {
            await client.delete(permissionPath(repo, props.granteeKind, props.grantee), { idempotent: true });
          } catch (e) {
            if (!isGone(e, [/does not have permission/i])) throw e;
          }
        }),
      );
      forgetNamespacePermissions(client, namespace);
    }
  }

  /**
   * Sets the role on every repository that lacks it or holds another one (re-planning when the plan is not
   * at hand). A PUT replaces the grantee's role, so a robot's `admin` becomes the declared `write`.
   */
  private async grantMissing(props: NamespaceReadGrantProps, everything = false): Promise<NamespaceReadGrantProps> {
    const atHand = Array.isArray(props.missingGrants) && !isUnknown(props.missingGrants) && !isUnknown(props.wrongRoles);
    // Everything (a role change): the repository list, which is not stored (one listing, shared in the process).
    const targets = everything
      ? (await planGrants(props, this.overrideToken)).repositories
      : plannedTargets(atHand ? { missingGrants: props.missingGrants, wrongRoles: props.wrongRoles ?? {} } : await planGrants(props, this.overrideToken));
    const client = clientFor(props.connection, this.overrideToken);
    await Promise.all(
      targets.map(async (repo) => {
        try {
          // Permission PUT is an upsert: safe to repeat.
          await client.put(permissionPath(repo, props.granteeKind, props.grantee), { role: props.role }, { idempotent: true });
        } catch (e) {
          // A repository deleted since the plan was made has nothing to grant.
          if (!isGone(e)) throw e;
        }
      }),
    );
    if (targets.length) for (const namespace of props.namespaces) forgetNamespacePermissions(client, namespace);
    return compact({ ...props, repositories: undefined, missingAtRefresh: undefined, missingGrants: [], wrongRoles: {} });
  }
}

// What each resource stores as its provider: a small shim that loads NamespaceReadGrantProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/quay/namespace-grant", "NamespaceReadGrantProvider");

/**
 * Gives a user, robot or team a role on every repository of some namespaces. Type token
 * `pulumi-nodejs:dynamic/quay:NamespaceReadGrant`. Pair it with a DefaultPermission per namespace so
 * repositories created later are covered at once; this resource repairs the ones that predate it.
 */
export class NamespaceReadGrant extends pulumi.dynamic.Resource {
  declare readonly grantee: pulumi.Output<string>;
  declare readonly namespaces: pulumi.Output<string[]>;
  declare readonly role: pulumi.Output<string>;
  declare readonly missingGrants: pulumi.Output<string[]>;
  declare readonly wrongRoles: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: NamespaceReadGrantArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      { ...args, connection: pulumi.secret(args.connection), role: args.role, missingGrants: undefined, wrongRoles: undefined },
      opts,
      "quay",
      "NamespaceReadGrant",
    );
  }
}
