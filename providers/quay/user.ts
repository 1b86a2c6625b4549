// User: a normal Quay user created through the superuser API (the cluster-pull identity).
//
// Quay never gives a password back, so the password is write-only: the outputs keep a salted scrypt hash
// of it (`passwordHash`, secret) and `diff` compares the new input against that hash.
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
  hashSecret,
  isGone,
  isUnknown,
  partialCreate,
  retryWhileNameLocked,
  secretMatches,
  writeOnce,
} from "./common";
import { password, userName } from "./names";

export interface UserArgs {
  /** A superuser's connection (the token needs the `super:user` scope). */
  connection: pulumi.Input<QuayConnectionArgs>;
  /** Username (Quay's namespace rules: lowercase letters, digits, `._-` separators, 2–255 chars). */
  username: pulumi.Input<string>;
  /** Email address. Leave unset for registries with FEATURE_MAILING off; Quay then stores none. */
  email?: pulumi.Input<string>;
  /** The user's password (≥ 8 characters, no whitespace). Write-only: never stored in outputs. Pass it as a secret. */
  password: pulumi.Input<string>;
  /** Whether the user may sign in. Default true. */
  enabled?: pulumi.Input<boolean>;
  /** Take over a user that already exists (its password is set to `password`) instead of failing. */
  adopt?: pulumi.Input<boolean>;
}

export interface UserProps extends CommonProps {
  username: string;
  email?: string;
  password: string;
  enabled: boolean;
}

/** What the state keeps: the inputs without the password, plus the password's salted hash. */
export interface UserOutputs extends CommonProps {
  username: string;
  email?: string;
  enabled: boolean;
  /** `scrypt$<salt>$<hash>` of the password last set. Secret. */
  passwordHash: string;
}

interface SuperUserView {
  username?: string;
  email?: string | null;
  enabled?: boolean;
  super_user?: boolean;
}

/** Quay refuses every superuser PUT on a superuser; say what that means for this resource. */
function superuserRefusal(username: string, e: unknown): Error | undefined {
  if (!/Cannot update a superuser/i.test((e as { quayMessage?: string })?.quayMessage ?? "")) return undefined;
  return new Error(
    `quay:User ${username}: "${username}" is a Quay superuser (listed in SUPER_USERS), and Quay's superuser API refuses to change ` +
      `a superuser's password, email or enabled flag. Manage a normal user with this resource, or remove "${username}" from SUPER_USERS.`,
  );
}

function outputsOf(inputs: UserProps, passwordHash: string): UserOutputs {
  // The password itself never reaches the outputs.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { password: _password, ...rest } = inputs;
  return { ...rest, passwordHash };
}

export class UserProvider extends QuayProvider implements pulumi.dynamic.ResourceProvider<UserProps, UserOutputs> {
  static readonly instance = new UserProvider();

  async check(_olds: UserProps, news: UserProps): Promise<pulumi.dynamic.CheckResult<UserProps>> {
    const schema = z.object({
      ...commonShape(),
      username: userName(),
      email: z.string().email("must be an email address").max(254, "must be at most 254 characters").optional(),
      password: password(),
      enabled: z.boolean().default(true),
    });
    return checkWith(schema, news, "quay:User");
  }

  async diff(_id: string, olds: UserOutputs, news: UserProps): Promise<pulumi.dynamic.DiffResult> {
    const replaces = olds.username !== news.username ? ["username"] : [];
    const emailChanged = news.email !== undefined && news.email !== olds.email;
    const enabledChanged = (news.enabled ?? true) !== (olds.enabled ?? true);
    // An unknown password (preview) may differ; a known one is compared against the stored hash.
    const passwordChanged = isUnknown(news.password) || !secretMatches(news.password, olds.passwordHash);
    const connectionChanged = JSON.stringify(olds.connection) !== JSON.stringify(news.connection);
    return {
      changes: replaces.length > 0 || emailChanged || enabledChanged || passwordChanged || connectionChanged,
      replaces: replaces.length ? replaces : undefined,
    };
  }

  async create(inputs: UserProps): Promise<pulumi.dynamic.CreateResult<UserOutputs>> {
    const client = clientFor(inputs.connection, this.overrideToken);
    const username = inputs.username;
    const path = apiPath`/superuser/users/${username}`;
    const lookup = async (): Promise<SuperUserView | undefined> => {
      try {
        return (await client.get<SuperUserView>(path)).body;
      } catch (e) {
        if (isGone(e)) return undefined;
        throw e;
      }
    };

    const body: Record<string, unknown> = { username };
    if (inputs.email) body.email = inputs.email;
    // Quay keeps a deleted user's name until its namespace GC worker runs: wait for it, bounded.
    const outcome = await retryWhileNameLocked("user", username, async () => {
      try {
        // POST is not idempotent (400 "already been taken" the second time): after an unclear outcome, look first.
        return await writeOnce(async () => {
          await client.post("/api/v1/superuser/users/", body);
          return "created" as const;
        }, async () => ((await lookup()) ? ("created" as const) : undefined));
      } catch (e) {
        const message = (e as { quayMessage?: string }).quayMessage ?? "";
        if (/already been taken by an organization/i.test(message)) {
          throw new Error(`quay:User ${username}: the name "${username}" belongs to an organization, not a user; choose another username`);
        }
        if (/already been taken/i.test(message)) return "exists" as const;
        throw e;
      }
    });

    if (outcome === "exists") {
      if (!inputs.adopt) throw alreadyExists("user", username);
      const existing = await lookup();
      if (existing?.super_user) throw superuserRefusal(username, { quayMessage: "Cannot update a superuser" })!;
    }

    // Quay generated a password; replace it with ours (and apply what the POST cannot set).
    const update: Record<string, unknown> = { password: inputs.password };
    if (inputs.enabled === false || outcome === "exists") update.enabled = inputs.enabled ?? true;
    if (outcome === "exists" && inputs.email) update.email = inputs.email;
    const passwordHash = hashSecret(inputs.password);
    try {
      await client.put(path, update, { idempotent: true });
    } catch (e) {
      const cause = superuserRefusal(username, e) ?? e;
      // The user exists now: record it (without a password hash, so the next `up` sets the password).
      if (outcome === "created") throw partialCreate(username, { ...outputsOf(inputs, ""), passwordHash: "" }, cause);
      throw cause;
    }
    return { id: username, outs: outputsOf(inputs, passwordHash) };
  }

  async read(id: string, props?: UserOutputs): Promise<pulumi.dynamic.ReadResult<UserOutputs>> {
    if (!props) throw new Error("quay:User cannot be imported; use `adopt: true` instead");
    const client = clientFor(props.connection, this.overrideToken);
    try {
      const { body } = await client.get<SuperUserView>(apiPath`/superuser/users/${id}`);
      return {
        id,
        props: {
          ...props,
          username: id,
          // Only track what the program manages: an unset email stays unset.
          email: props.email === undefined ? undefined : body.email || undefined,
          enabled: typeof body.enabled === "boolean" ? body.enabled : props.enabled,
        },
      };
    } catch (e) {
      if (isGone(e)) return {};
      throw e;
    }
  }

  async update(id: string, olds: UserOutputs, news: UserProps): Promise<pulumi.dynamic.UpdateResult<UserOutputs>> {
    const body: Record<string, unknown> = {};
    let passwordHash = olds.passwordHash;
    if (!secretMatches(news.password, olds.passwordHash)) {
      body.password = news.password;
      passwordHash = hashSecret(news.password);
    }
    if (news.email !== undefined && news.email !== olds.email) body.email = news.email;
    if ((news.enabled ?? true) !== (olds.enabled ?? true)) body.enabled = news.enabled ?? true;
    if (Object.keys(body).length > 0) {
      try {
        await clientFor(news.connection, this.overrideToken).put(apiPath`/superuser/users/${id}`, body, { idempotent: true });
      } catch (e) {
        throw superuserRefusal(id, e) ?? e;
      }
    }
    return { outs: outputsOf(news, passwordHash) };
  }

  async delete(id: string, props: UserOutputs): Promise<void> {
    try {
      await clientFor(props.connection, this.overrideToken).delete(apiPath`/superuser/users/${id}`, { idempotent: true });
    } catch (e) {
      if (isGone(e)) return;
      if (/Cannot delete a superuser/i.test((e as { quayMessage?: string }).quayMessage ?? "")) {
        throw new Error(`quay:User ${id}: Quay refuses to delete a superuser; remove "${id}" from SUPER_USERS first`);
      }
      throw e;
    }
  }
}

// What each resource stores as its provider: a small shim that loads UserProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/quay/user", "UserProvider");

/**
 * A normal Quay user, created through the superuser API. Type token `pulumi-nodejs:dynamic/quay:User`.
 * The password is write-only; `passwordHash` (secret) records which password was set last.
 */
export class User extends pulumi.dynamic.Resource {
  declare readonly username: pulumi.Output<string>;
  declare readonly email: pulumi.Output<string | undefined>;
  declare readonly enabled: pulumi.Output<boolean>;
  declare readonly passwordHash: pulumi.Output<string>;

  constructor(name: string, args: UserArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      {
        ...args,
        connection: pulumi.secret(args.connection),
        password: pulumi.secret(args.password),
        email: args.email,
        enabled: args.enabled,
        adopt: args.adopt,
        passwordHash: undefined,
      },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["passwordHash"] }),
      "quay",
      "User",
    );
  }
}
