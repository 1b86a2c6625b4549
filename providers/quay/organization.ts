// Organization: a Quay namespace that holds repositories, robots and teams.
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";
import { QuayProvider } from "./base";
import { z } from "zod";
import { apiPath } from "./client";
import {
  CommonProps,
  QuayConnectionArgs,
  alreadyExists,
  checkWith,
  clientFor,
  commonShape,
  compact,
  diffProps,
  driftedInputs,
  forgetOrganizationLookups,
  isGone,
  organizationGone,
  retryWhileNameLocked,
  writeOnce,
} from "./common";
import { listNamespaceRepositories } from "./listing";
import { namespaceName, tagExpirationSeconds } from "./names";

export interface OrganizationArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /** Organization name (Quay's namespace rules: lowercase letters, digits, `._-` separators, 2–255 chars). */
  name: pulumi.Input<string>;
  /** Contact email. Leave unset for registries with FEATURE_MAILING off; Quay then stores none. */
  email?: pulumi.Input<string>;
  /** Default tag expiration in seconds; must be one of Quay's TAG_EXPIRATION_OPTIONS (default 0/1d/1w/2w/4w). */
  tagExpirationSeconds?: pulumi.Input<number>;
  /** Take over an organization that already exists instead of failing. */
  adopt?: pulumi.Input<boolean>;
}

export interface OrganizationProps extends CommonProps {
  name: string;
  email?: string;
  tagExpirationSeconds?: number;
}

export class OrganizationProvider extends QuayProvider implements pulumi.dynamic.ResourceProvider<OrganizationProps, OrganizationProps> {
  static readonly instance = new OrganizationProvider();

  async check(_olds: OrganizationProps, news: OrganizationProps): Promise<pulumi.dynamic.CheckResult<OrganizationProps>> {
    const schema = z.object({
      ...commonShape(),
      name: namespaceName(),
      email: z.string().email("must be an email address").max(254).optional(),
      tagExpirationSeconds: tagExpirationSeconds().optional(),
    });
    return checkWith(schema, news, "quay:Organization");
  }

  async diff(_id: string, olds: OrganizationProps, news: OrganizationProps): Promise<pulumi.dynamic.DiffResult> {
    return diffProps(olds, news, { replaceOn: ["name"], updateOn: ["email", "tagExpirationSeconds"] });
  }

  async create(inputs: OrganizationProps): Promise<pulumi.dynamic.CreateResult<OrganizationProps>> {
    const client = clientFor(inputs.connection, this.overrideToken);
    const path = apiPath`/organization/${inputs.name}`;
    const body: Record<string, unknown> = { name: inputs.name };
    if (inputs.email) body.email = inputs.email;

    const lookup = async () => {
      try {
        await client.get(path);
        return "exists" as const;
      } catch (e) {
        if (isGone(e)) return undefined;
        throw e;
      }
    };

    // Quay keeps a deleted organization's name until its namespace GC worker runs: wait for it, bounded.
    const outcome = await retryWhileNameLocked("organization", inputs.name, async () => {
      try {
        return await writeOnce(async () => {
          await client.post("/api/v1/organization/", body);
          return "created" as const;
        }, lookup);
      } catch (e) {
        if (/already exists/i.test((e as { quayMessage?: string }).quayMessage ?? "")) return "exists" as const;
        throw e;
      }
    });
    // Reads later in this process must not trust an earlier "the organization is gone".
    forgetOrganizationLookups(client.endpoint, inputs.name);

    if (outcome === "exists" && !inputs.adopt) throw alreadyExists("organization", inputs.name);
    const update: Record<string, unknown> = {};
    if (inputs.tagExpirationSeconds !== undefined) update.tag_expiration_s = inputs.tagExpirationSeconds;
    if (outcome === "exists" && inputs.email) update.email = inputs.email;
    if (Object.keys(update).length > 0) await client.put(path, update, { idempotent: true });
    return { id: inputs.name, outs: compact({ ...inputs }) };
  }

  async read(id: string, props?: OrganizationProps): Promise<pulumi.dynamic.ReadResult<OrganizationProps>> {
    if (!props) throw new Error("quay:Organization cannot be imported; use `adopt: true` instead");
    const client = clientFor(props.connection, this.overrideToken);
    try {
      const path = apiPath`/organization/${id}`;
      let { body } = await client.get<{ email?: string; tag_expiration_s?: number; is_admin?: boolean }>(path);
      if (body.is_admin !== true) {
        // Quay answers organization GETs anonymously when the token is invalid: the public view, which
        // lacks what we manage. Make the token prove itself (this falls back to QUAY_TOKEN/quay:token, or
        // fails saying the token was rejected), then read again.
        await client.get("/api/v1/user/");
        body = (await client.get<typeof body>(path)).body;
        if (body.is_admin !== true) {
          throw new Error(`quay:Organization ${id}: the token cannot administer this organization (Quay answered with its public view); use a token of an organization admin with the org:admin scope`);
        }
      }
      const found = compact({
        ...props,
        name: id,
        // Only track what the program manages: an unset email stays unset.
        email: props.email === undefined ? undefined : body.email || undefined,
        tagExpirationSeconds: props.tagExpirationSeconds === undefined ? undefined : body.tag_expiration_s,
      });
      // Drift becomes the old inputs, so the plan after a refresh marks the property that drifted.
      return { id, props: found, inputs: driftedInputs(compact({ ...props }), found) };
    } catch (e) {
      if (isGone(e)) return {};
      throw e;
    }
  }

  async update(id: string, olds: OrganizationProps, news: OrganizationProps): Promise<pulumi.dynamic.UpdateResult<OrganizationProps>> {
    const body: Record<string, unknown> = {};
    if (news.email !== olds.email && news.email !== undefined) body.email = news.email;
    if (news.tagExpirationSeconds !== olds.tagExpirationSeconds && news.tagExpirationSeconds !== undefined) body.tag_expiration_s = news.tagExpirationSeconds;
    if (Object.keys(body).length > 0) {
      await clientFor(news.connection, this.overrideToken).put(apiPath`/organization/${id}`, body, { idempotent: true });
    }
    return { outs: compact({ ...news }) };
  }

  async delete(id: string, props: OrganizationProps): Promise<void> {
    const client = clientFor(props.connection, this.overrideToken);
    await this.guardRepositories(client, id);
    try {
      await client.delete(apiPath`/organization/${id}`, { idempotent: true });
    } catch (e) {
      if (isGone(e) || (await organizationGone(client, id, e))) return;
      throw e;
    }
  }

  /**
   * Deleting an organization deletes every repository in it, with its images. By the time the engine
   * deletes an organization, the repositories the stack declares one by one are deleted already; what is
   * left was pushed by oc-mirror or anyone else, or pre-seeded by a RepositorySet that keeps its
   * repositories (deleteOnDestroy false). Refuse unless DELETE_REPOSITORIES_ENV names the organization
   * (or is `*`), or the organization is a proxy cache (its repositories are copies Quay fetches again).
   */
  private async guardRepositories(client: ReturnType<typeof clientFor>, org: string): Promise<void> {
    let held: string[];
    try {
      // A fresh listing: repositories deleted earlier in this run must not count.
      held = await listNamespaceRepositories(client, org, 0);
    } catch (e) {
      if (isGone(e) || (await organizationGone(client, org, e))) return;
      throw e;
    }
    if (held.length === 0) return;
    const what = `${held.length} ${held.length === 1 ? "repository" : "repositories"} (${sampleNames(held)})`;
    if (allowsRepositoryDeletion(org, process.env[DELETE_REPOSITORIES_ENV])) {
      void pulumi.log.warn(`quay:Organization ${org}: deleting it deletes the ${what} it holds, with their images (${DELETE_REPOSITORIES_ENV} names it)`);
      return;
    }
    if (await isProxyCacheOrganization(client, org)) {
      void pulumi.log.info(`quay:Organization ${org}: a proxy cache; the ${what} it holds are cached copies, deleted with it`);
      return;
    }
    throw new Error(
      `quay:Organization ${org}: not deleted, because deleting an organization deletes every repository in it and ${org} still holds ${what} ` +
        `that this stack does not delete one by one (pushed by oc-mirror or by hand, or pre-seeded with deleteOnDestroy false). ` +
        `The organization and those repositories are untouched. To delete them with it, run the same command again with ${DELETE_REPOSITORIES_ENV} naming it, ` +
        `e.g. ${DELETE_REPOSITORIES_ENV}=${org} bash scripts/pulumi.sh destroy ` +
        `(a comma-separated list of organizations, or *). To keep the organization and its repositories, drop it from the stack instead: ` +
        `bash scripts/pulumi.sh state delete --target-dependents '<its URN>' (pulumi stack --show-urns lists it).`,
    );
  }
}

/** The environment variable that lets `destroy` delete organizations that still hold repositories. */
export const DELETE_REPOSITORIES_ENV = "QUAY_MIRROR_DELETE_REPOSITORIES";

/** Whether the value of DELETE_REPOSITORIES_ENV (comma-separated organization names, or `*`) names `org`. Pure. */
export function allowsRepositoryDeletion(org: string, value: string | undefined): boolean {
  const names = (value ?? "").split(",").map((n) => n.trim()).filter((n) => n !== "");
  return names.includes("*") || names.includes(org);
}

/** Up to five names, then how many more. Pure. */
export function sampleNames(names: string[]): string {
  const shown = names.slice(0, 5).join(", ");
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

/** Whether the organization is a proxy cache (Quay answers its proxycache config with an upstream). */
async function isProxyCacheOrganization(client: ReturnType<typeof clientFor>, org: string): Promise<boolean> {
  try {
    const { body } = await client.get<{ upstream_registry?: string | null }>(apiPath`/organization/${org}/proxycache`);
    return typeof body?.upstream_registry === "string" && body.upstream_registry !== "";
  } catch (e) {
    if (isGone(e)) return false;
    throw e;
  }
}

// What each resource stores as its provider: a small shim that loads OrganizationProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/quay/organization", "OrganizationProvider");

/** A Quay organization. Type token `pulumi-nodejs:dynamic/quay:Organization`. */
export class Organization extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly email: pulumi.Output<string | undefined>;
  declare readonly tagExpirationSeconds: pulumi.Output<number | undefined>;

  constructor(name: string, args: OrganizationArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      { ...args, connection: pulumi.secret(args.connection), email: args.email, tagExpirationSeconds: args.tagExpirationSeconds, adopt: args.adopt },
      opts,
      "quay",
      "Organization",
    );
  }
}
