// User: a MinIO user (access key + secret key), its status, and the exact set of canned policies attached
// to it. `read` reports the live attachment and status, and whether the stored secret key still signs
// requests, so a policy attached by hand, a disabled user or a secret changed by hand shows as drift after
// a refresh and the next `up` puts it back.
//
// The secret key reaches MinIO only on mc's stdin (`mc admin user add ALIAS ACCESSKEY` reads it there),
// never on argv.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { lazyProvider } from "../lazy";
import { checkWith, compact, isUnknown, partialCreate } from "../quay/common";
import { MinioConnection, at, hasCode, runMc } from "./client";
import { IAM_NAME_RE, MinioConnectionArgs, connectionSchema, minioDiff } from "./common";

export interface UserArgs {
  connection: pulumi.Input<MinioConnectionArgs>;
  /** The user's access key (its name; a change replaces the user). */
  accessKey: pulumi.Input<string>;
  /** The user's secret key (a secret, at least 8 characters). */
  secretKey: pulumi.Input<string>;
  /** Names of canned policies attached to the user: exactly these, no others. Default []. */
  policies?: pulumi.Input<pulumi.Input<string>[]>;
  /** Default true. */
  enabled?: pulumi.Input<boolean>;
  /** Take over a user that already exists (its secret and policies are reset) instead of failing. */
  adopt?: pulumi.Input<boolean>;
}

export interface UserProps {
  connection: MinioConnection;
  accessKey: string;
  secretKey: string;
  policies: string[];
  enabled: boolean;
  adopt?: boolean;
}

/** What `read` stores as the secret key when the stored one no longer authenticates: the next `up` resets it. */
export const SECRET_CHANGED_OUTSIDE = "(secret key changed outside Pulumi)";

interface UserInfo {
  policies: string[];
  enabled: boolean;
}

const sorted = (names: string[]): string[] => [...new Set(names)].sort();

/** The user's attached policies and status, or undefined when there is no such user. */
async function readUser(connection: MinioConnection, accessKey: string): Promise<UserInfo | undefined> {
  try {
    const [line] = await runMc(connection, ["admin", "user", "info", at(), accessKey]);
    const policyName = typeof line?.policyName === "string" ? line.policyName : "";
    return { policies: sorted(policyName.split(",").map((p) => p.trim()).filter(Boolean)), enabled: line?.userStatus !== "disabled" };
  } catch (e) {
    if (hasCode(e, "XMinioAdminNoSuchUser")) return undefined;
    throw e;
  }
}

/** False when MinIO rejects the key pair's signature (the secret was changed outside Pulumi). */
async function secretWorks(connection: MinioConnection, accessKey: string, secretKey: string): Promise<boolean> {
  try {
    await runMc(connection, ["ls", "self"], { aliases: { self: { accessKey, secretKey } } });
    return true;
  } catch (e) {
    // A user without list rights is refused with AccessDenied: the key pair itself is fine.
    return !hasCode(e, "SignatureDoesNotMatch", "InvalidAccessKeyId");
  }
}

async function setSecret(connection: MinioConnection, accessKey: string, secretKey: string): Promise<void> {
  await runMc(connection, ["admin", "user", "add", at(), accessKey], { stdin: `${secretKey}\n`, secrets: [secretKey] });
}

/** Attaches and detaches so that exactly `wanted` is attached, and sets the status. */
async function converge(props: UserProps, current: UserInfo): Promise<void> {
  const wanted = sorted(props.policies);
  const attach = wanted.filter((p) => !current.policies.includes(p));
  const detach = current.policies.filter((p) => !wanted.includes(p));
  if (attach.length) await runMc(props.connection, ["admin", "policy", "attach", at(), ...attach, "--user", props.accessKey]);
  if (detach.length) await runMc(props.connection, ["admin", "policy", "detach", at(), ...detach, "--user", props.accessKey]);
  if (current.enabled !== props.enabled) await runMc(props.connection, ["admin", "user", props.enabled ? "enable" : "disable", at(), props.accessKey]);
}

export class UserProvider implements pulumi.dynamic.ResourceProvider<UserProps, UserProps> {
  static readonly instance = new UserProvider();

  async check(_olds: UserProps, news: UserProps): Promise<pulumi.dynamic.CheckResult<UserProps>> {
    const schema = z.object({
      connection: connectionSchema(),
      accessKey: z.string().regex(IAM_NAME_RE, "must be 2–128 of letters, digits and . _ @ = + - (no spaces or commas)").min(3, "must be at least 3 characters"),
      secretKey: z.string().min(8, "must be at least 8 characters").max(40, "must be at most 40 characters (MinIO's limit)").regex(/^[^\s]+$/, "must not contain whitespace"),
      policies: z.array(z.string().regex(IAM_NAME_RE, "must be a policy name: letters, digits and . _ @ = + - (no spaces or commas)")).default([]),
      enabled: z.boolean().default(true),
      adopt: z.boolean().optional(),
    });
    const result = checkWith(schema, news, "minio:User");
    if (result.failures?.length || !result.inputs || !Array.isArray(result.inputs.policies) || result.inputs.policies.some(isUnknown)) return result;
    return { inputs: { ...result.inputs, policies: sorted(result.inputs.policies) } };
  }

  async diff(_id: string, olds: UserProps, news: UserProps): Promise<pulumi.dynamic.DiffResult> {
    return minioDiff({ ...olds, policies: sorted(olds.policies ?? []) }, { ...news, policies: sorted(news.policies ?? []) }, ["secretKey", "policies", "enabled"], ["accessKey"], {
      enabled: true,
    });
  }

  async create(inputs: UserProps): Promise<pulumi.dynamic.CreateResult<UserProps>> {
    const props = this.props(inputs);
    const existing = await readUser(props.connection, props.accessKey);
    if (existing && !props.adopt) {
      throw new Error(
        `MinIO user "${props.accessKey}" already exists at ${props.connection.endpoint}. To manage it with Pulumi (its secret key and policies ` +
          "will be reset to the program's), set `adopt: true` on this resource and run `pulumi up`.",
      );
    }
    await setSecret(props.connection, props.accessKey, props.secretKey);
    try {
      await converge(props, existing ?? { policies: [], enabled: true });
    } catch (e) {
      // The user exists now: record it (the next `up` updates it) rather than leave it unowned.
      throw partialCreate(props.accessKey, { ...inputs, ...props }, e);
    }
    return { id: props.accessKey, outs: props };
  }

  async read(id: string, props?: UserProps): Promise<pulumi.dynamic.ReadResult<UserProps>> {
    if (!props) throw new Error("minio:User cannot be imported; use `adopt: true` instead");
    const accessKey = props.accessKey ?? id;
    const info = await readUser(props.connection, accessKey);
    if (!info) return {};
    const secretOk = !info.enabled || (await secretWorks(props.connection, accessKey, props.secretKey));
    const actual = compact({ ...props, accessKey, policies: info.policies, enabled: info.enabled, secretKey: secretOk ? props.secretKey : SECRET_CHANGED_OUTSIDE });
    return { id, props: actual, inputs: actual };
  }

  async update(_id: string, olds: UserProps, news: UserProps): Promise<pulumi.dynamic.UpdateResult<UserProps>> {
    const props = this.props(news);
    const current = await readUser(props.connection, props.accessKey);
    if (!current || olds.secretKey !== props.secretKey || !(await secretWorks(props.connection, props.accessKey, props.secretKey))) {
      await setSecret(props.connection, props.accessKey, props.secretKey);
    }
    await converge(props, current ?? { policies: [], enabled: true });
    return { outs: props };
  }

  async delete(id: string, props: UserProps): Promise<void> {
    try {
      await runMc(props.connection, ["admin", "user", "remove", at(), props.accessKey ?? id]);
    } catch (e) {
      if (!hasCode(e, "XMinioAdminNoSuchUser")) throw e;
    }
  }

  private props(inputs: UserProps): UserProps {
    return compact({
      connection: inputs.connection,
      accessKey: inputs.accessKey,
      secretKey: inputs.secretKey,
      policies: sorted(inputs.policies ?? []),
      enabled: inputs.enabled ?? true,
      adopt: inputs.adopt,
    });
  }
}

// What each resource stores as its provider: a small shim that loads UserProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/minio/user", "UserProvider");

/** A MinIO user with exactly the given policies. Type token `pulumi-nodejs:dynamic/minio:User`. `secretKey` is a secret output. */
export class User extends pulumi.dynamic.Resource {
  declare readonly accessKey: pulumi.Output<string>;
  declare readonly secretKey: pulumi.Output<string>;
  declare readonly policies: pulumi.Output<string[]>;
  declare readonly enabled: pulumi.Output<boolean>;

  constructor(name: string, args: UserArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      {
        connection: pulumi.secret(args.connection),
        accessKey: args.accessKey,
        secretKey: pulumi.secret(args.secretKey),
        policies: args.policies ?? [],
        enabled: args.enabled ?? true,
        adopt: args.adopt,
      },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["secretKey"] }),
      "minio",
      "User",
    );
  }
}
