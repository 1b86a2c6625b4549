// RepositorySet: the repositories one namespace must hold (the mirror pre-seed of an oc-mirror mapping), as
// ONE resource instead of one per repository. At mirror scale (thousands of destinations) one resource per
// repository made the engine the bottleneck: the file backend rewrites the whole checkpoint after every step
// (docs/performance.md). One resource per namespace costs one paginated listing per operation, and one
// POST per repository that is missing.
//
// Decisions (docs/performance.md "Repository sets"):
// - `repositories` is stored as a map name → visibility, not as a list: the engine renders a map's diff per
//   key (`+ redhat/op00042/bundle: "private"`), so `preview --diff` shows each repository that will appear or
//   leave; a sorted list would be diffed by index and an insertion would show as every later entry changing.
// - A repository that already exists is what the set wants: it is taken over as it is (oc-mirror may have
//   pushed it concurrently; an earlier run may have created it before failing; a stack upgraded from the
//   per-repository pre-seed holds them all). Nothing about an existing repository is changed.
// - Removing a repository from the set (or the set itself) leaves it in Quay unless `deleteRemoved`
//   (resp. `deleteOnDestroy`) is true: mirrored images are not deleted because a mapping line went away.
// - A partial failure never loses track: create/update report the repositories that exist as the
//   resource's state (ErrorResourceInitFailed) and fail; the next `up` lists again and creates the rest.
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";
import { QuayProvider } from "./base";
import { z } from "zod";
import { QuayClient, repoPath } from "./client";
import { CommonProps, QuayConnectionArgs, checkWith, clientFor, compact, commonShape, isGone, isUnknown, sameValue, statusOf, writeOnce } from "./common";
import { listNamespaceRepositories, noteNamespaceRepositories } from "./listing";
import { DELETE_REPOSITORIES_ENV } from "./organization";
import { namespaceName, repositoryName, visibility } from "./names";

export type Visibility = "private" | "public";

export interface RepositorySetArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /** The organization that holds the repositories. */
  namespace: pulumi.Input<string>;
  /** Repository names inside the namespace (`/` nests); order and duplicates do not matter. */
  repositories: pulumi.Input<pulumi.Input<string>[]>;
  /** Visibility of the repositories the set creates. Default `private`. */
  visibility?: pulumi.Input<Visibility>;
  /** Delete a repository from Quay when it leaves the set. Default false: it stays, with a warning. */
  deleteRemoved?: pulumi.Input<boolean>;
  /** Delete the set's repositories when the set itself is deleted. Default false: they stay, with a warning. */
  deleteOnDestroy?: pulumi.Input<boolean>;
}

export interface RepositorySetProps extends CommonProps {
  namespace: string;
  /** Name → the visibility it is created with. In outputs: the ones that exist (as far as the last run saw). */
  repositories: Record<string, Visibility>;
  deleteRemoved?: boolean;
  deleteOnDestroy?: boolean;
}

/** `names` as the stored map: unique, sorted, each with `visibility`. Pure. */
export function repositoryMap(names: readonly string[], vis: Visibility = "private"): Record<string, Visibility> {
  return Object.fromEntries([...new Set(names)].sort().map((n) => [n, vis]));
}

/** What a change of the set means: repositories to create, to drop from the set. Pure. */
export function setChanges(olds: Record<string, unknown> | undefined, news: Record<string, unknown>): { added: string[]; removed: string[] } {
  const before = olds ?? {};
  return {
    added: Object.keys(news).filter((n) => !(n in before)).sort(),
    removed: Object.keys(before).filter((n) => !(n in news)).sort(),
  };
}

/** Keeps of `wanted` the names present in a namespace listing (full names `ns/name`). Pure. */
export function presentOf(namespace: string, wanted: Record<string, Visibility>, listed: Iterable<string>): Record<string, Visibility> {
  const have = new Set(listed);
  return Object.fromEntries(Object.entries(wanted).filter(([n]) => have.has(`${namespace}/${n}`)));
}

/** One line that names at most `max` items and counts the rest. Pure. */
export function sample(items: string[], max = 5): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

/**
 * Runs `work` for every item, as many at a time as the client sends (QUAY_MAX_CONCURRENCY, as in
 * clientFor): no thousands of queued promises, and a stop decided on one answer holds back the rest.
 */
async function inPool<T>(items: T[], work: (item: T) => Promise<void>, size = Number(process.env.QUAY_MAX_CONCURRENCY) || 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
}

interface Failure {
  name: string;
  message: string;
}

/** Errors that will repeat for every repository of the namespace: stop sending more of the same. */
function repeatsForAll(e: unknown): boolean {
  const s = statusOf(e);
  return s === 401 || s === 403 || s === 404;
}

/**
 * Creates `names` in `namespace` concurrently (the client's process-wide limiter bounds how many are in
 * flight). "Already exists" is success (oc-mirror got there first). Never throws: returns what failed.
 */
async function createAll(client: QuayClient, namespace: string, names: string[], wanted: Record<string, Visibility>): Promise<{ created: string[]; failed: Failure[] }> {
  const created: string[] = [];
  const failed: Failure[] = [];
  let stop: string | undefined;
  await inPool(names, async (name) => {
    if (stop) {
      failed.push({ name, message: `not attempted: ${stop}` });
      return;
    }
    const path = `/api/v1/repository/${repoPath(namespace, name)}`;
    const lookup = () => client.get(path).then(() => true, (e) => (isGone(e) ? undefined : Promise.reject(e)));
    try {
      await writeOnce(async () => {
        await client.post("/api/v1/repository", { namespace, repository: name, visibility: wanted[name], description: "", repo_kind: "image" });
        return true;
      }, lookup);
      created.push(name);
    } catch (e) {
      if (/Repository already exists/i.test((e as { quayMessage?: string }).quayMessage ?? "")) {
        created.push(name);
        return;
      }
      const message = (e as Error)?.message ?? String(e);
      if (repeatsForAll(e)) stop = message;
      failed.push({ name, message });
    }
  });
  return { created, failed };
}

/** Deletes `names` from `namespace`; a repository already gone is fine. Returns what failed. */
async function deleteAll(client: QuayClient, namespace: string, names: string[]): Promise<{ deleted: string[]; failed: Failure[] }> {
  const deleted: string[] = [];
  const failed: Failure[] = [];
  await inPool(names, async (name) => {
    try {
      await client.delete(`/api/v1/repository/${repoPath(namespace, name)}`, { idempotent: true });
      deleted.push(name);
    } catch (e) {
      if (isGone(e)) deleted.push(name);
      else failed.push({ name, message: (e as Error)?.message ?? String(e) });
    }
  });
  return { deleted, failed };
}

/**
 * The error for a create or update that did part of its work: the engine records `props` (the repositories
 * that exist now) as the resource's state, so the next `up` sees the rest as still to be created.
 */
function partialFailure(namespace: string, verb: string, failed: Failure[], props: RepositorySetProps): Error {
  const lines = failed.slice(0, 5).map((f) => `  ${namespace}/${f.name}: ${f.message}`);
  const more = failed.length > 5 ? [`  … and ${failed.length - 5} more`] : [];
  const message =
    `quay:RepositorySet ${namespace}: ${failed.length} ${failed.length === 1 ? "repository" : "repositories"} could not be ${verb}:\n` +
    [...lines, ...more].join("\n") +
    `\nThe ${Object.keys(props.repositories).length} that exist are recorded; run \`pulumi up\` again to finish (existing repositories are taken over).`;
  const err = new Error(message) as Error & { id: string; properties: Record<string, unknown>; reasons: string[] };
  err.id = namespace;
  err.properties = compact({ ...props }) as unknown as Record<string, unknown>;
  err.reasons = [message];
  return err;
}

export class RepositorySetProvider extends QuayProvider implements pulumi.dynamic.ResourceProvider<RepositorySetProps, RepositorySetProps> {
  static readonly instance = new RepositorySetProvider();

  /** Validation only: no API call, so a preview with nothing to do costs nothing for the set. */
  async check(_olds: RepositorySetProps, news: RepositorySetProps): Promise<pulumi.dynamic.CheckResult<RepositorySetProps>> {
    const schema = z.object({
      ...commonShape(),
      namespace: namespaceName(),
      // Each name checked on its own, so a failure names the repository and Quay's rule.
      repositories: z.record(z.string(), visibility()).superRefine((repos, ctx) => {
        for (const name of Object.keys(repos)) {
          const parsed = repositoryName().safeParse(name);
          if (!parsed.success) ctx.addIssue({ code: "custom", path: [name], message: parsed.error.issues[0].message });
        }
      }),
      deleteRemoved: z.boolean().default(false),
      deleteOnDestroy: z.boolean().default(false),
    });
    const checked = checkWith(schema, news, "quay:RepositorySet");
    if (checked.failures?.length || isUnknown(news.repositories) || !checked.inputs) return checked;
    // Sorted keys: the stored map (and its diff) reads in order.
    const repositories = Object.fromEntries(Object.entries(checked.inputs.repositories).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return { inputs: { ...checked.inputs, repositories } };
  }

  /** Pure: the engine renders the per-repository changes from the stored and new `repositories` maps. */
  async diff(_id: string, olds: RepositorySetProps, news: RepositorySetProps): Promise<pulumi.dynamic.DiffResult> {
    const replaces = sameValue(olds.namespace, news.namespace) ? [] : ["namespace"];
    const changes =
      replaces.length > 0 ||
      !sameValue(olds.repositories, news.repositories) ||
      !!olds.deleteRemoved !== !!news.deleteRemoved ||
      !!olds.deleteOnDestroy !== !!news.deleteOnDestroy ||
      !sameValue(olds.connection, news.connection);
    return { changes, replaces: replaces.length ? replaces : undefined };
  }

  async create(inputs: RepositorySetProps): Promise<pulumi.dynamic.CreateResult<RepositorySetProps>> {
    const outs = await this.converge(inputs, {});
    return { id: inputs.namespace, outs };
  }

  async update(_id: string, olds: RepositorySetProps, news: RepositorySetProps): Promise<pulumi.dynamic.UpdateResult<RepositorySetProps>> {
    return { outs: await this.converge(news, olds.repositories ?? {}) };
  }

  /** One listing: the wanted repositories that exist. One deleted behind Pulumi's back drops out (drift). */
  async read(id: string, props?: RepositorySetProps): Promise<pulumi.dynamic.ReadResult<RepositorySetProps>> {
    if (!props) throw new Error("quay:RepositorySet cannot be imported; declare it instead (existing repositories are taken over)");
    const client = clientFor(props.connection, this.overrideToken);
    const listed = await listNamespaceRepositories(client, props.namespace);
    const live = compact({ ...props, repositories: presentOf(props.namespace, props.repositories ?? {}, listed) });
    // The live set as the inputs too (the outputs are the inputs here): the next plan then shows each missing
    // repository as `+ name` against what Quay holds.
    return { id, props: live, inputs: live };
  }

  async delete(_id: string, props: RepositorySetProps): Promise<void> {
    const names = Object.keys(props.repositories ?? {});
    if (!props.deleteOnDestroy) {
      if (names.length) {
        // What happens to them next depends on their organization: deleting it would delete them, so the
        // organization's own delete refuses while they are there (providers/quay/organization.ts).
        void pulumi.log.warn(
          `quay:RepositorySet ${props.namespace}: the set is gone from the stack; its ${names.length} repositories are not deleted with it (deleteOnDestroy is false): ${sample(names)}. ` +
            `They stay in Quay as long as organization ${props.namespace} does: if this run also deletes the organization, that delete refuses while it holds repositories, ` +
            `unless ${DELETE_REPOSITORIES_ENV} names it (then they are deleted with it).`,
        );
      }
      return;
    }
    const client = clientFor(props.connection, this.overrideToken);
    const { deleted, failed } = await deleteAll(client, props.namespace, names);
    noteNamespaceRepositories(client, props.namespace, { removed: deleted });
    if (failed.length) {
      throw new Error(`quay:RepositorySet ${props.namespace}: ${failed.length} repositories could not be deleted:\n${failed.slice(0, 5).map((f) => `  ${f.name}: ${f.message}`).join("\n")}`);
    }
  }

  /**
   * Brings Quay to `desired` with one listing: creates what is missing, and for names that left the set
   * (`previous` minus `desired`) deletes them or leaves them, as `deleteRemoved` says.
   */
  private async converge(desired: RepositorySetProps, previous: Record<string, Visibility>): Promise<RepositorySetProps> {
    const client = clientFor(desired.connection, this.overrideToken);
    const ns = desired.namespace;
    const listed = new Set(await listNamespaceRepositories(client, ns));
    const missing = Object.keys(desired.repositories).filter((n) => !listed.has(`${ns}/${n}`));
    const { created, failed } = await createAll(client, ns, missing, desired.repositories);
    noteNamespaceRepositories(client, ns, { added: created });

    const { removed } = setChanges(previous, desired.repositories);
    const gone: Failure[] = [];
    if (removed.length && desired.deleteRemoved) {
      const { deleted, failed: notDeleted } = await deleteAll(client, ns, removed.filter((n) => listed.has(`${ns}/${n}`)));
      noteNamespaceRepositories(client, ns, { removed: deleted });
      gone.push(...notDeleted);
    } else if (removed.length) {
      void pulumi.log.warn(`quay:RepositorySet ${ns}: ${removed.length} repositories left the set and stay in Quay (deleteRemoved is false): ${sample(removed)}`);
    }

    const failedNames = new Set(failed.map((f) => f.name));
    const present = Object.fromEntries(Object.entries(desired.repositories).filter(([n]) => !failedNames.has(n)));
    if (failed.length) throw partialFailure(ns, "created", failed, { ...desired, repositories: present });
    if (gone.length) {
      // The ones that could not be deleted are still in Quay, and the next run has to try again: they stay in
      // the recorded state (so they still show as leaving the set).
      const kept = Object.fromEntries(gone.map((f) => [f.name, previous[f.name]]));
      throw partialFailure(ns, "deleted", gone, { ...desired, repositories: { ...desired.repositories, ...kept } });
    }
    return compact({ ...desired });
  }
}

// What each resource stores as its provider: a small shim that loads RepositorySetProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/quay/repository-set", "RepositorySetProvider");

/**
 * The repositories a namespace must hold, as one resource. Type token `pulumi-nodejs:dynamic/quay:RepositorySet`.
 * `preview --diff` lists each repository entering or leaving the set.
 */
export class RepositorySet extends pulumi.dynamic.Resource {
  declare readonly namespace: pulumi.Output<string>;
  declare readonly repositories: pulumi.Output<Record<string, Visibility>>;

  constructor(name: string, args: RepositorySetArgs, opts?: pulumi.CustomResourceOptions) {
    const repositories = pulumi
      .all([args.repositories, args.visibility])
      .apply(([names, vis]) => repositoryMap(names as string[], (vis ?? "private") as Visibility));
    super(
      providerShim,
      name,
      {
        connection: pulumi.secret(args.connection),
        namespace: args.namespace,
        repositories,
        deleteRemoved: args.deleteRemoved ?? false,
        deleteOnDestroy: args.deleteOnDestroy ?? false,
      },
      opts,
      "quay",
      "RepositorySet",
    );
  }
}
