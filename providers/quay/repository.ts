// Repository: an image repository, nested names allowed (`openshift/release-images`).
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";
import { QuayProvider } from "./base";
import { z } from "zod";
import { repoPath } from "./client";
import {
  CommonProps,
  QuayConnectionArgs,
  alreadyExists,
  checkWith,
  compact,
  clientFor,
  commonShape,
  diffProps,
  driftedInputs,
  isGone,
  namespaceGone,
  writeOnce,
} from "./common";
import { namespaceName, repositoryName, visibility } from "./names";

export interface RepositoryArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /** Organization (or user namespace) that holds the repository. */
  namespace: pulumi.Input<string>;
  /** Repository name inside the namespace; `/` nests (needs FEATURE_EXTENDED_REPOSITORY_NAMES). */
  name: pulumi.Input<string>;
  /** Markdown description. Default "". */
  description?: pulumi.Input<string>;
  /** `private` (default) or `public`. */
  visibility?: pulumi.Input<"private" | "public">;
  /** Take over a repository that already exists instead of failing. */
  adopt?: pulumi.Input<boolean>;
}

export interface RepositoryProps extends CommonProps {
  namespace: string;
  name: string;
  description: string;
  visibility: "private" | "public";
}

interface RepositoryView {
  description?: string | null;
  is_public?: boolean;
}

export class RepositoryProvider extends QuayProvider implements pulumi.dynamic.ResourceProvider<RepositoryProps, RepositoryProps> {
  static readonly instance = new RepositoryProvider();

  async check(_olds: RepositoryProps, news: RepositoryProps): Promise<pulumi.dynamic.CheckResult<RepositoryProps>> {
    const schema = z.object({
      ...commonShape(),
      namespace: namespaceName(),
      name: repositoryName(),
      description: z.string().default(""),
      visibility: visibility().default("private"),
    });
    return checkWith(schema, news, "quay:Repository");
  }

  async diff(_id: string, olds: RepositoryProps, news: RepositoryProps): Promise<pulumi.dynamic.DiffResult> {
    return diffProps(olds, news, {
      replaceOn: ["namespace", "name"],
      updateOn: ["description", "visibility"],
      defaults: { description: "", visibility: "private" },
    });
  }

  async create(inputs: RepositoryProps): Promise<pulumi.dynamic.CreateResult<RepositoryProps>> {
    const client = clientFor(inputs.connection, this.overrideToken);
    const id = `${inputs.namespace}/${inputs.name}`;
    const path = `/api/v1/repository/${repoPath(inputs.namespace, inputs.name)}`;
    const lookup = async (): Promise<RepositoryView | undefined> => {
      try {
        return (await client.get<RepositoryView>(path)).body;
      } catch (e) {
        if (isGone(e)) return undefined;
        throw e;
      }
    };

    let existing: RepositoryView | undefined;
    try {
      await writeOnce(async () => {
        await client.post("/api/v1/repository", {
          namespace: inputs.namespace,
          repository: inputs.name,
          visibility: inputs.visibility,
          description: inputs.description,
          repo_kind: "image",
        });
        return {} as RepositoryView;
      }, lookup);
    } catch (e) {
      if (!/Repository already exists/i.test((e as { quayMessage?: string }).quayMessage ?? "")) throw e;
      if (!inputs.adopt) throw alreadyExists("repository", id);
      existing = await lookup();
    }
    if (existing) await this.converge(client, path, existing, inputs);
    return { id, outs: compact({ ...inputs }) };
  }

  async read(id: string, props?: RepositoryProps): Promise<pulumi.dynamic.ReadResult<RepositoryProps>> {
    if (!props) throw new Error("quay:Repository cannot be imported; use `adopt: true` instead");
    const client = clientFor(props.connection, this.overrideToken);
    try {
      const { body } = await client.get<RepositoryView>(`/api/v1/repository/${repoPath(props.namespace, props.name)}`);
      const found = compact({ ...props, description: body.description ?? "", visibility: body.is_public ? ("public" as const) : ("private" as const) });
      // Drift becomes the old inputs, so the plan after a refresh marks the property that drifted.
      return { id, props: found, inputs: driftedInputs(compact({ ...props }), found) };
    } catch (e) {
      // A deleted namespace's repositories answer 403: the repository is gone with it.
      if (isGone(e) || (await namespaceGone(client, props.namespace, e))) return {};
      throw e;
    }
  }

  async update(_id: string, olds: RepositoryProps, news: RepositoryProps): Promise<pulumi.dynamic.UpdateResult<RepositoryProps>> {
    const client = clientFor(news.connection, this.overrideToken);
    const path = `/api/v1/repository/${repoPath(news.namespace, news.name)}`;
    await this.converge(client, path, { description: olds.description, is_public: olds.visibility === "public" }, news);
    return { outs: compact({ ...news }) };
  }

  async delete(_id: string, props: RepositoryProps): Promise<void> {
    // Quay answers 204 for a repository that is already gone.
    const client = clientFor(props.connection, this.overrideToken);
    try {
      await client.delete(`/api/v1/repository/${repoPath(props.namespace, props.name)}`, { idempotent: true });
    } catch (e) {
      if (!(isGone(e) || (await namespaceGone(client, props.namespace, e)))) throw e;
    }
  }

  /** Brings description and visibility to the desired values with at most one call each. */
  private async converge(client: ReturnType<typeof clientFor>, path: string, current: RepositoryView, desired: RepositoryProps): Promise<void> {
    if ((current.description ?? "") !== desired.description) {
      await client.put(path, { description: desired.description }, { idempotent: true });
    }
    if (!!current.is_public !== (desired.visibility === "public")) {
      await client.post(`${path}/changevisibility`, { visibility: desired.visibility }, { idempotent: true });
    }
  }
}

// What each resource stores as its provider: a small shim that loads RepositoryProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/quay/repository", "RepositoryProvider");

/** A Quay repository. Type token `pulumi-nodejs:dynamic/quay:Repository`. */
export class Repository extends pulumi.dynamic.Resource {
  declare readonly namespace: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly description: pulumi.Output<string>;
  declare readonly visibility: pulumi.Output<"private" | "public">;

  constructor(name: string, args: RepositoryArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      { ...args, connection: pulumi.secret(args.connection), description: args.description, visibility: args.visibility, adopt: args.adopt },
      opts,
      "quay",
      "Repository",
    );
  }
}

