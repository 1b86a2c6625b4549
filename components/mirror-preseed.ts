// MirrorPreseed: declares every destination repository of oc-mirror's dry-run mapping before the real
// push, so a reviewer sees each new repository in `preview` before it exists.
import * as pulumi from "@pulumi/pulumi";
import { DestinationRepository } from "../config/mapping";
import { QuayConnectionArgs } from "../providers/quay/common";
import { Repository } from "../providers/quay/repository";

export interface MirrorPreseedArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /** Destination repositories (from config/mapping.ts `destinationRepositories`). */
  repositories: DestinationRepository[];
  /** Full names (`org/name`) already declared elsewhere (e.g. by the model): not declared twice. */
  exclude?: Set<string>;
  /** Resources the repositories must be created after: the namespaces' default permissions. */
  after?: pulumi.Input<pulumi.Resource>[];
  /**
   * Per organization, resources its repositories must be created after (its default permissions): a
   * repository depends only on its own namespace's, which keeps every repository's stored dependency
   * list short (the state is rewritten after every step; see docs/performance.md).
   */
  afterByOrganization?: Record<string, pulumi.Input<pulumi.Resource>[]>;
  adopt?: boolean;
}

export class MirrorPreseed extends pulumi.ComponentResource {
  readonly repositories: Repository[];
  /** How many repositories it declares per organization. */
  readonly counts: Record<string, number>;

  constructor(name: string, args: MirrorPreseedArgs, opts?: pulumi.ComponentResourceOptions) {
    super("quay-mirror:registry:MirrorPreseed", name, {}, opts);
    const wanted = args.repositories.filter((r) => !args.exclude?.has(`${r.organization}/${r.name}`));
    this.counts = {};
    this.repositories = wanted.map((r) => {
      this.counts[r.organization] = (this.counts[r.organization] ?? 0) + 1;
      return new Repository(
        `${name}-${r.organization}/${r.name}`,
        { connection: args.connection, namespace: r.organization, name: r.name, visibility: "private", description: "", adopt: args.adopt },
        { parent: this, dependsOn: [...(args.after ?? []), ...(args.afterByOrganization?.[r.organization] ?? [])] },
      );
    });
    for (const [org, count] of Object.entries(this.counts)) {
      void pulumi.log.info(`mirror pre-seed: ${count} destination repositories in ${org}`, this);
    }
    this.registerOutputs({ counts: this.counts });
  }
}
