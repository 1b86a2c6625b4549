// ProxyCacheOrgs: one pull-through cache organization per upstream registry (`cache_<host>`), with upstream
// credentials from a pull secret where it has them and anonymous access where it does not.
import * as pulumi from "@pulumi/pulumi";
import { DockerConfig, credentialFor } from "../config/pull-secret";
import { cacheOrganizationName } from "../config/stack";
import { QuayConnectionArgs } from "../providers/quay/common";
import { Organization } from "../providers/quay/organization";
import { ProxyCache } from "../providers/quay/proxy-cache";

export interface ProxyCacheOrgsArgs {
  connection: pulumi.Input<QuayConnectionArgs>;
  /** The registry clients pull from, to name the mirrors. */
  registryHostname: string;
  /** Upstream registries, e.g. quay.io, registry.redhat.io. */
  upstreams: string[];
  /** Upstream credentials: a parsed pull secret (its passwords become secret inputs). */
  pullSecret?: DockerConfig;
  expirationSeconds: number;
  insecure?: boolean;
  adopt?: boolean;
}

export interface ProxyCacheMirror {
  upstream: string;
  organization: string;
  /** Where clients pull the upstream's images through the cache. */
  mirror: string;
}

export class ProxyCacheOrgs extends pulumi.ComponentResource {
  readonly mirrors: ProxyCacheMirror[];

  constructor(name: string, args: ProxyCacheOrgsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("quay-mirror:registry:ProxyCacheOrgs", name, {}, opts);
    this.mirrors = args.upstreams.map((upstream) => {
      const organization = cacheOrganizationName(upstream);
      const org = new Organization(`${name}-${organization}`, { connection: args.connection, name: organization, adopt: args.adopt }, { parent: this });
      const credential = args.pullSecret ? credentialFor(args.pullSecret, upstream.split("/")[0]) : undefined;
      new ProxyCache(
        `${name}-${organization}-cache`,
        {
          connection: args.connection,
          organization: org.name,
          upstreamRegistry: upstream,
          upstreamUsername: credential?.username,
          upstreamPassword: credential ? pulumi.secret(credential.password) : undefined,
          expirationSeconds: args.expirationSeconds,
          insecure: args.insecure ?? false,
          adopt: args.adopt,
        },
        // Deleted with its organization (and the organization's delete sees it is a cache: providers/quay/organization.ts).
        { parent: this, deletedWith: org },
      );
      return { upstream, organization, mirror: `${args.registryHostname}/${organization}` };
    });
    this.registerOutputs({ mirrors: this.mirrors });
  }
}
