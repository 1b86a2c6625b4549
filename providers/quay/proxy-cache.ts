// ProxyCache: an organization's proxy-cache configuration (pull-through cache of an upstream registry).
//
// Quay has no PUT for it (endpoints/api/organization.py, OrganizationProxyCacheConfig: GET, POST and
// DELETE only), so a change deletes the configuration and creates it again,
// inside one `update`. Quay never gives the upstream credentials back, so the password is write-only:
// the outputs keep a salted hash of it (`upstreamPasswordHash`, secret).
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";
import { QuayProvider } from "./base";
import { z } from "zod";
import { QuayClient, apiPath } from "./client";
import {
  CommonProps,
  QuayConnectionArgs,
  alreadyExists,
  checkWith,
  clientFor,
  commonShape,
  hashSecret,
  isGone,
  isUnknown,
  organizationGone,
  secretMatches,
  writeOnce,
} from "./common";
import { namespaceName } from "./names";

export interface ProxyCacheArgs {
  /** A connection whose token administers the organization (`org:admin`). */
  connection: pulumi.Input<QuayConnectionArgs>;
  /** The organization that becomes a proxy cache (it must exist; Quay needs FEATURE_PROXY_CACHE). */
  organization: pulumi.Input<string>;
  /** Upstream registry as `host[:port][/namespace…]`, no scheme: `quay.io`, `docker.io/library`, `registry.lab:5000`. */
  upstreamRegistry: pulumi.Input<string>;
  /** Username for the upstream registry (set together with `upstreamPassword`, or neither for anonymous pulls). */
  upstreamUsername?: pulumi.Input<string | undefined>;
  /** Password for the upstream registry. Write-only: never stored in outputs. Pass it as a secret. */
  upstreamPassword?: pulumi.Input<string | undefined>;
  /** Lifetime of cached tags in seconds. Default 86400; 0 means cached tags never expire. */
  expirationSeconds?: pulumi.Input<number>;
  /** Talk plain HTTP (and skip TLS checks) to the upstream. Default false. */
  insecure?: pulumi.Input<boolean>;
  /** Replace a configuration that already exists with this one instead of failing. */
  adopt?: pulumi.Input<boolean>;
}

export interface ProxyCacheProps extends CommonProps {
  organization: string;
  upstreamRegistry: string;
  upstreamUsername?: string;
  upstreamPassword?: string;
  expirationSeconds: number;
  insecure: boolean;
}

export interface ProxyCacheOutputs extends CommonProps {
  organization: string;
  upstreamRegistry: string;
  upstreamUsername?: string;
  expirationSeconds: number;
  insecure: boolean;
  /** `scrypt$<salt>$<hash>` of the upstream password, or "" when there is none. Secret. */
  upstreamPasswordHash: string;
}

interface ProxyCacheView {
  upstream_registry?: string;
  expiration_s?: number | string;
  insecure?: boolean | string;
}

const DEFAULT_EXPIRATION = 86400;
/** Quay stores expiration_s in an integer column. */
const MAX_EXPIRATION = 2147483647;

/** `host[:port][/path]`: a DNS name, IPv4 or [IPv6] host, an optional port, optional lowercase path segments. */
function upstreamPattern(): RegExp {
  const label = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?";
  return new RegExp(`^(?:${label}(?:\\.${label})*|\\[[0-9A-Fa-f:.]+\\])(?::\\d{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`);
}

function outputsOf(inputs: ProxyCacheProps, upstreamPasswordHash: string): ProxyCacheOutputs {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { upstreamPassword: _password, ...rest } = inputs;
  return {
    ...rest,
    upstreamUsername: inputs.upstreamUsername,
    expirationSeconds: inputs.expirationSeconds ?? DEFAULT_EXPIRATION,
    insecure: inputs.insecure ?? false,
    upstreamPasswordHash,
  };
}

function passwordHashOf(password: string | undefined): string {
  return password ? hashSecret(password) : "";
}

function samePassword(password: string | undefined, storedHash: string | undefined): boolean {
  if (!password) return !storedHash;
  return secretMatches(password, storedHash);
}

export class ProxyCacheProvider extends QuayProvider implements pulumi.dynamic.ResourceProvider<ProxyCacheProps, ProxyCacheOutputs> {
  static readonly instance = new ProxyCacheProvider();

  async check(_olds: ProxyCacheProps, news: ProxyCacheProps): Promise<pulumi.dynamic.CheckResult<ProxyCacheProps>> {
    const schema = z
      .object({
        ...commonShape(),
        organization: namespaceName(),
        upstreamRegistry: z
          .string()
          .min(1, "must not be empty")
          .refine((v) => !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(v), "must not include a scheme (http:// or https://): give host[:port][/path], and set insecure: true for plain HTTP")
          .refine((v) => upstreamPattern().test(v), "must be a registry host[:port][/namespace] without a scheme, e.g. quay.io or docker.io/library"),
        upstreamUsername: z.string().min(1, "must not be empty (leave it unset for anonymous pulls)").optional(),
        upstreamPassword: z.string().min(1, "must not be empty (leave it unset for anonymous pulls)").optional(),
        expirationSeconds: z
          .number()
          .int("must be a whole number of seconds")
          .min(0, "must be 0 (never expire) or more seconds")
          .max(MAX_EXPIRATION, `must be at most ${MAX_EXPIRATION} seconds`)
          .default(DEFAULT_EXPIRATION),
        insecure: z.boolean().default(false),
      })
      .superRefine((v, ctx) => {
        if (v.upstreamUsername !== undefined && v.upstreamPassword === undefined) {
          ctx.addIssue({ code: "custom", path: ["upstreamPassword"], message: "must be set when upstreamUsername is set (both or neither)" });
        }
        if (v.upstreamPassword !== undefined && v.upstreamUsername === undefined) {
          ctx.addIssue({ code: "custom", path: ["upstreamUsername"], message: "must be set when upstreamPassword is set (both or neither)" });
        }
      });
    return checkWith(schema, news, "quay:ProxyCache");
  }

  async diff(_id: string, olds: ProxyCacheOutputs, news: ProxyCacheProps): Promise<pulumi.dynamic.DiffResult> {
    const replaces = olds.organization !== news.organization ? ["organization"] : [];
    const configChanged =
      olds.upstreamRegistry !== news.upstreamRegistry ||
      (olds.upstreamUsername ?? "") !== (news.upstreamUsername ?? "") ||
      (olds.expirationSeconds ?? DEFAULT_EXPIRATION) !== (news.expirationSeconds ?? DEFAULT_EXPIRATION) ||
      (olds.insecure ?? false) !== (news.insecure ?? false) ||
      isUnknown(news.upstreamPassword) ||
      !samePassword(news.upstreamPassword, olds.upstreamPasswordHash);
    const connectionChanged = JSON.stringify(olds.connection) !== JSON.stringify(news.connection);
    return {
      changes: replaces.length > 0 || configChanged || connectionChanged,
      replaces: replaces.length ? replaces : undefined,
    };
  }

  async create(inputs: ProxyCacheProps): Promise<pulumi.dynamic.CreateResult<ProxyCacheOutputs>> {
    const client = clientFor(inputs.connection, this.overrideToken);
    try {
      await this.post(client, inputs);
    } catch (e) {
      if (!/already exists/i.test((e as { quayMessage?: string }).quayMessage ?? "")) throw e;
      if (!inputs.adopt) throw alreadyExists("proxy cache configuration of organization", inputs.organization);
      // Quay never gives the upstream credentials back, so adopting means replacing the config with ours.
      void pulumi.log.info(`proxy cache of "${inputs.organization}": adopting the existing configuration by replacing it with the declared one`);
      await this.remove(client, inputs.organization);
      await this.post(client, inputs);
    }
    return { id: inputs.organization, outs: outputsOf(inputs, passwordHashOf(inputs.upstreamPassword)) };
  }

  async read(id: string, props?: ProxyCacheOutputs): Promise<pulumi.dynamic.ReadResult<ProxyCacheOutputs>> {
    if (!props) throw new Error("quay:ProxyCache cannot be imported; use `adopt: true` instead");
    const client = clientFor(props.connection, this.overrideToken);
    const view = await this.get(client, id);
    if (!view) return {};
    return {
      id,
      props: {
        ...props,
        organization: id,
        upstreamRegistry: String(view.upstream_registry),
        expirationSeconds: typeof view.expiration_s === "number" ? view.expiration_s : props.expirationSeconds,
        insecure: typeof view.insecure === "boolean" ? view.insecure : props.insecure,
      },
    };
  }

  async update(id: string, olds: ProxyCacheOutputs, news: ProxyCacheProps): Promise<pulumi.dynamic.UpdateResult<ProxyCacheOutputs>> {
    const configChanged =
      olds.upstreamRegistry !== news.upstreamRegistry ||
      (olds.upstreamUsername ?? "") !== (news.upstreamUsername ?? "") ||
      (olds.expirationSeconds ?? DEFAULT_EXPIRATION) !== (news.expirationSeconds ?? DEFAULT_EXPIRATION) ||
      (olds.insecure ?? false) !== (news.insecure ?? false) ||
      !samePassword(news.upstreamPassword, olds.upstreamPasswordHash);
    if (!configChanged) {
      // Only the connection changed: store it, call nothing.
      return { outs: outputsOf(news, olds.upstreamPasswordHash ?? "") };
    }
    void pulumi.log.info(`proxy cache of "${id}": Quay cannot edit a proxy cache configuration, so it is deleted and created again`);
    const client = clientFor(news.connection, this.overrideToken);
    await this.remove(client, id);
    await this.post(client, news);
    return { outs: outputsOf(news, passwordHashOf(news.upstreamPassword)) };
  }

  async delete(id: string, props: ProxyCacheOutputs): Promise<void> {
    await this.remove(clientFor(props.connection, this.overrideToken), id);
  }

  /** The configuration, or undefined when there is none (Quay answers all fields "") or the org is gone. */
  private async get(client: QuayClient, organization: string): Promise<ProxyCacheView | undefined> {
    try {
      const { body } = await client.get<ProxyCacheView>(apiPath`/organization/${organization}/proxycache`);
      return body && typeof body.upstream_registry === "string" && body.upstream_registry !== "" ? body : undefined;
    } catch (e) {
      if (isGone(e) || (await organizationGone(client, organization, e))) return undefined;
      throw e;
    }
  }

  /** POST once; after an unclear outcome look before posting again, so nothing is configured twice. */
  private async post(client: QuayClient, inputs: ProxyCacheProps): Promise<void> {
    const body: Record<string, unknown> = {
      upstream_registry: inputs.upstreamRegistry,
      expiration_s: inputs.expirationSeconds ?? DEFAULT_EXPIRATION,
      insecure: inputs.insecure ?? false,
    };
    if (inputs.upstreamUsername) body.upstream_registry_username = inputs.upstreamUsername;
    if (inputs.upstreamPassword) body.upstream_registry_password = inputs.upstreamPassword;
    try {
      await writeOnce(
        async () => {
          await client.post(apiPath`/organization/${inputs.organization}/proxycache`, body);
          return true;
        },
        async () => ((await this.get(client, inputs.organization)) ? true : undefined),
      );
    } catch (e) {
      // Quay resolves the upstream's name itself (util/security/ssrf.py) before it stores anything.
      if (/Cannot resolve hostname/i.test((e as { quayMessage?: string }).quayMessage ?? "")) {
        const host = inputs.upstreamRegistry.split("/", 1)[0];
        throw new Error(
          `quay:ProxyCache ${inputs.organization}: ${(e as Error).message}: the Quay host must resolve the upstream registry's name "${host}" ` +
            `(give the Quay VM a DNS server that knows it, or an /etc/hosts entry), then run \`pulumi up\` again; nothing was configured`,
        );
      }
      throw e;
    }
  }

  /** DELETE (Quay answers 201 "Deleted"); no configuration, or no organization, is already the goal. */
  private async remove(client: QuayClient, organization: string): Promise<void> {
    try {
      await client.delete(apiPath`/organization/${organization}/proxycache`, { idempotent: true });
    } catch (e) {
      if (isGone(e) || (await organizationGone(client, organization, e))) return;
      throw e;
    }
  }

}

// What each resource stores as its provider: a small shim that loads ProxyCacheProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/quay/proxy-cache", "ProxyCacheProvider");

/**
 * An organization's proxy-cache configuration. Type token `pulumi-nodejs:dynamic/quay:ProxyCache`.
 * Any change other than the organization is applied by deleting and re-creating the configuration.
 */
export class ProxyCache extends pulumi.dynamic.Resource {
  declare readonly organization: pulumi.Output<string>;
  declare readonly upstreamRegistry: pulumi.Output<string>;
  declare readonly upstreamUsername: pulumi.Output<string | undefined>;
  declare readonly expirationSeconds: pulumi.Output<number>;
  declare readonly insecure: pulumi.Output<boolean>;
  declare readonly upstreamPasswordHash: pulumi.Output<string>;

  constructor(name: string, args: ProxyCacheArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      {
        ...args,
        connection: pulumi.secret(args.connection),
        upstreamPassword: args.upstreamPassword === undefined ? undefined : pulumi.secret(args.upstreamPassword),
        upstreamUsername: args.upstreamUsername,
        expirationSeconds: args.expirationSeconds,
        insecure: args.insecure,
        adopt: args.adopt,
        upstreamPasswordHash: undefined,
      },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["upstreamPasswordHash"] }),
      "quay",
      "ProxyCache",
    );
  }
}
