// ApiToken: a long-lived Quay API token, minted through an organization's OAuth application (Quay ≥ 3.18,
// `POST /api/v1/organization/{org}/applications/{client_id}/tokens`, endpoints/api/organization_application_tokens.py
// in github.com/quay/quay). An OAuth application's token is not tied to a user's session or password.
//
// Rotation is a replacement: a change of scopes or lifetime, or an expiry closer than `rotateBefore`,
// makes `diff` return `replaces`, so Pulumi's default create-before-delete order mints the new token first,
// updates every dependant, and revokes the old token last. The OAuth application is looked up by name and
// created when missing, and never deleted here (other tokens may hang off it).
import * as pulumi from "@pulumi/pulumi";
import { lazyProvider } from "../lazy";
import { QuayProvider } from "./base";
import { z } from "zod";
import { QuayClient, apiPath } from "./client";
import {
  CommonProps,
  QuayConnectionArgs,
  checkWith,
  clientFor,
  commonShape,
  isAmbiguous,
  isGone,
  forgetOrganizationLookups,
  organizationGone,
  retryWhileNameLocked,
  sameValue,
  statusOf,
  writeOnce,
} from "./common";
import { namespaceName } from "./names";

// What each resource stores as its provider: a small shim that loads ApiTokenProvider from the project (providers/lazy.ts).
const providerShim = lazyProvider("providers/quay/api-token", "ApiTokenProvider");

/** Every scope a Quay OAuth token can carry (auth/scopes.py, without the internal `direct_user_login`). */
export function allApiTokenScopes(): ApiTokenScope[] {
  return ["org:admin", "repo:admin", "repo:create", "repo:read", "repo:write", "super:user", "user:admin", "user:read"];
}

export type ApiTokenScope = "org:admin" | "repo:admin" | "repo:create" | "repo:read" | "repo:write" | "super:user" | "user:admin" | "user:read";

export interface ApiTokenArgs {
  /**
   * A connection whose token administers the organization and already holds every requested scope
   * (Quay refuses to mint a scope the caller's token lacks), e.g. the initialize token. Refresh and delete
   * use the minted token first; a rotation mints the successor with the token being replaced (when it
   * holds every scope asked for), so an expired bootstrap token here does not block either. Otherwise set
   * `QUAY_TOKEN` or `pulumi config set --secret quay:token < token-file`.
   */
  connection: pulumi.Input<QuayConnectionArgs>;
  /** The organization that owns the OAuth application. */
  organization: pulumi.Input<string>;
  /** Name of the organization's OAuth application (found by name, created when missing). Default "quay-mirror". */
  applicationName?: pulumi.Input<string>;
  /** The token's display name in Quay. */
  name: pulumi.Input<string>;
  /** Scopes. Default: all eight. A change mints a new token (replacement). */
  scopes?: pulumi.Input<pulumi.Input<ApiTokenScope>[]>;
  /** Lifetime in seconds. Default one year (Quay caps it at 10 years). A change mints a new token (replacement). */
  expiresInSeconds?: pulumi.Input<number>;
  /** Mint a new token once the current one expires in less than this many seconds. Default 30 days. */
  rotateBefore?: pulumi.Input<number>;
  /**
   * Create the organization when it does not exist (the bootstrap token needs `user:admin`). The
   * organization is not deleted with the token. Default false.
   */
  createOrganization?: pulumi.Input<boolean>;
}

export interface ApiTokenProps extends CommonProps {
  organization: string;
  applicationName: string;
  name: string;
  scopes: string[];
  expiresInSeconds: number;
  rotateBefore: number;
  createOrganization?: boolean;
}

export interface ApiTokenOutputs extends ApiTokenProps {
  /** The bearer token. Secret; Quay shows it only once, in the mint response. */
  token: string;
  /** Quay's id of the token (also the resource id). */
  tokenUuid: string;
  /** The OAuth application's client id. */
  clientId: string;
  /** When the token expires (ISO 8601, UTC). */
  expiresAt: string;
}

interface AppView {
  name?: string;
  client_id?: string;
}

interface TokenView {
  uuid: string;
  name?: string | null;
  scope?: string;
  expires_at?: string | null;
  token?: string;
}

const DEFAULT_APPLICATION = "quay-mirror";
const DEFAULT_EXPIRES_IN = 365 * 24 * 3600;
const DEFAULT_ROTATE_BEFORE = 30 * 24 * 3600;
/** data/model/oauth.py MAX_TOKEN_EXPIRATION_SECONDS (10 years). */
const MAX_EXPIRES_IN = Math.trunc(60 * 60 * 24 * 365.25 * 10);

/** Quay's timestamps carry microseconds (`…T05:31:35.123456Z`): keep milliseconds, answer ISO 8601. */
function normalizeTime(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const trimmed = value.replace(/(\.\d{3})\d+/, "$1");
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(trimmed) ? trimmed : `${trimmed}Z`);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

function scopeList(scope: string | undefined, fallback: string[]): string[] {
  const list = (scope ?? "").split(/[\s,]+/).filter((s) => !!s);
  return list.length ? [...new Set(list)] : fallback;
}

function sameScopes(a: unknown, b: unknown): boolean {
  const norm = (v: unknown) => (Array.isArray(v) ? [...new Set(v.map(String))].sort() : v);
  return sameValue(norm(a), norm(b));
}

/** Whether the token stored in `olds` should be replaced now, given the (new) rotation window. */
function rotationDue(olds: ApiTokenOutputs, rotateBefore: unknown, now: number): boolean {
  const expiresAt = Date.parse(olds.expiresAt ?? "");
  if (!Number.isFinite(expiresAt)) return false;
  const window = typeof rotateBefore === "number" ? rotateBefore : (olds.rotateBefore ?? DEFAULT_ROTATE_BEFORE);
  return now > expiresAt - window * 1000;
}

interface StashedToken {
  token: string;
  scopes: string[];
}

/**
 * Process-wide hand-over from `diff` to `create` during a rotation. The engine runs a replacement's diff
 * and create in the same provider process, but `create` only sees the new inputs, whose connection is often
 * the long-expired bootstrap token; the token being replaced is still valid then (it is revoked last), so
 * `create` may mint its successor with it.
 */
function rotationStash(): Map<string, StashedToken> {
  const key = Symbol.for("quay-mirror.api-token.rotation");
  const g = globalThis as unknown as Record<symbol, Map<string, StashedToken> | undefined>;
  let stash = g[key];
  if (!stash) {
    stash = new Map();
    g[key] = stash;
  }
  return stash;
}

function stashKey(props: { connection?: { endpoint?: string }; organization: string; applicationName?: string; name: string }): string {
  return JSON.stringify([props.connection?.endpoint ?? "", props.organization, props.applicationName ?? DEFAULT_APPLICATION, props.name]);
}

function versionError(method: string, path: string, status: number): Error {
  return new Error(
    `quay:ApiToken: Quay answered ${status} to ${method} ${path}: this Quay has no API for minting tokens. ` +
      `ApiToken needs Quay 3.18 or later; on an older Quay, create a token in the UI (organization → OAuth application → ` +
      `Generate token) and pass it as the connection token instead.`,
  );
}

export class ApiTokenProvider extends QuayProvider implements pulumi.dynamic.ResourceProvider<ApiTokenProps, ApiTokenOutputs> {
  static readonly instance = new ApiTokenProvider();

  async check(_olds: ApiTokenProps, news: ApiTokenProps): Promise<pulumi.dynamic.CheckResult<ApiTokenProps>> {
    const schema = z
      .object({
        ...commonShape(),
        organization: namespaceName(),
        applicationName: z
          .string()
          .min(1, "must not be empty")
          .max(255, "must be at most 255 characters")
          .refine((v) => v !== "__quay_bootstrap_app", "is reserved by Quay for bootstrap token provisioning")
          .default(DEFAULT_APPLICATION),
        name: z
          .string()
          .min(1, "must not be empty")
          .max(255, "must be at most 255 characters")
          .refine((v) => v.trim() === v && v.length > 0, "must not start or end with whitespace (Quay trims it)"),
        scopes: z
          .array(z.enum(allApiTokenScopes() as [ApiTokenScope, ...ApiTokenScope[]], { message: `each scope must be one of ${allApiTokenScopes().join(", ")}` }))
          .min(1, "must list at least one scope")
          .transform((list) => [...new Set(list)])
          .default(allApiTokenScopes()),
        expiresInSeconds: z
          .number()
          .int("must be a whole number of seconds")
          .min(1, "must be at least 1 second")
          .max(MAX_EXPIRES_IN, `must be at most ${MAX_EXPIRES_IN} seconds (10 years, Quay's maximum)`)
          .default(DEFAULT_EXPIRES_IN),
        rotateBefore: z.number().int("must be a whole number of seconds").min(0, "must be 0 or more seconds").default(DEFAULT_ROTATE_BEFORE),
        createOrganization: z.boolean().optional(),
      })
      .superRefine((v, ctx) => {
        if (v.rotateBefore >= v.expiresInSeconds) {
          ctx.addIssue({
            code: "custom",
            path: ["rotateBefore"],
            message: `must be less than expiresInSeconds (${v.expiresInSeconds}); otherwise every run would mint a new token`,
          });
        }
      });
    return checkWith(schema, news, "quay:ApiToken");
  }

  async diff(_id: string, olds: ApiTokenOutputs, news: ApiTokenProps): Promise<pulumi.dynamic.DiffResult> {
    const replaces: string[] = [];
    if (olds.organization !== news.organization) replaces.push("organization");
    if ((olds.applicationName ?? DEFAULT_APPLICATION) !== (news.applicationName ?? DEFAULT_APPLICATION)) replaces.push("applicationName");
    if (olds.name !== news.name) replaces.push("name");
    if (!sameScopes(olds.scopes, news.scopes ?? allApiTokenScopes())) replaces.push("scopes");
    if ((olds.expiresInSeconds ?? DEFAULT_EXPIRES_IN) !== (news.expiresInSeconds ?? DEFAULT_EXPIRES_IN)) replaces.push("expiresInSeconds");
    // Rotation: the stored expiry is within the rotation window (so `preview` shows it too).
    if (rotationDue(olds, news.rotateBefore, Date.now())) replaces.push("expiresAt");
    const sameHome = olds.organization === news.organization && olds.connection?.endpoint === news.connection?.endpoint;
    if (replaces.length > 0 && sameHome && olds.token && Array.isArray(olds.scopes)) {
      rotationStash().set(stashKey(news), { token: olds.token, scopes: olds.scopes });
    }
    const updates = (olds.rotateBefore ?? DEFAULT_ROTATE_BEFORE) !== (news.rotateBefore ?? DEFAULT_ROTATE_BEFORE) || !sameValue(olds.connection, news.connection);
    return { changes: replaces.length > 0 || updates, replaces: replaces.length ? replaces : undefined };
  }

  async create(inputs: ApiTokenProps): Promise<pulumi.dynamic.CreateResult<ApiTokenOutputs>> {
    const applicationName = inputs.applicationName ?? DEFAULT_APPLICATION;
    const scopes = inputs.scopes ?? allApiTokenScopes();
    // During a rotation, the token being replaced can mint its successor when it holds every scope asked for.
    const stashed = rotationStash().get(stashKey(inputs));
    const predecessor = stashed && stashed.scopes.includes("org:admin") && scopes.every((s) => stashed.scopes.includes(s)) ? [stashed.token] : [];
    const client = clientFor(inputs.connection, this.overrideToken, predecessor);
    const expiresInSeconds = inputs.expiresInSeconds ?? DEFAULT_EXPIRES_IN;
    if (inputs.createOrganization) await this.ensureOrganization(client, inputs.organization);
    const clientId = await this.ensureApplication(client, inputs.organization, applicationName);
    const minted = await this.mint(client, inputs.organization, clientId, inputs.name, scopes, expiresInSeconds);
    const outs: ApiTokenOutputs = {
      ...inputs,
      applicationName,
      scopes: scopeList(minted.scope, scopes),
      expiresInSeconds,
      rotateBefore: inputs.rotateBefore ?? DEFAULT_ROTATE_BEFORE,
      token: minted.token as string,
      tokenUuid: minted.uuid,
      clientId,
      expiresAt: normalizeTime(minted.expires_at) ?? new Date(Date.now() + expiresInSeconds * 1000).toISOString(),
    };
    rotationStash().delete(stashKey(inputs));
    return { id: minted.uuid, outs };
  }

  async read(id: string, props?: ApiTokenOutputs): Promise<pulumi.dynamic.ReadResult<ApiTokenOutputs>> {
    if (!props) throw new Error("quay:ApiToken cannot be imported: Quay shows a token's secret only when it is minted");
    const client = this.ownClient(props);
    const path = apiPath`/organization/${props.organization}/applications/${props.clientId}/tokens`;
    let tokens: TokenView[];
    try {
      tokens = await client.paginate<TokenView>(path, "tokens");
    } catch (e) {
      if (statusOf(e) === 405) throw versionError("GET", path, 405);
      // The application or the organization is gone, and with it every token.
      if (isGone(e) || (await organizationGone(client, props.organization, e))) return {};
      throw e;
    }
    // Quay lists only tokens that have not expired: an expired or revoked token is gone.
    const token = tokens.find((t) => t.uuid === id);
    if (!token) return {};
    return {
      id,
      props: {
        ...props,
        name: token.name ?? props.name,
        scopes: scopeList(token.scope, props.scopes),
        expiresAt: normalizeTime(token.expires_at) ?? props.expiresAt,
      },
    };
  }

  async update(_id: string, olds: ApiTokenOutputs, news: ApiTokenProps): Promise<pulumi.dynamic.UpdateResult<ApiTokenOutputs>> {
    // Everything that needs Quay is a replacement; an update only stores a new rotation window or connection.
    return {
      outs: {
        ...news,
        applicationName: olds.applicationName,
        scopes: olds.scopes,
        expiresInSeconds: olds.expiresInSeconds,
        rotateBefore: news.rotateBefore ?? DEFAULT_ROTATE_BEFORE,
        token: olds.token,
        tokenUuid: olds.tokenUuid,
        clientId: olds.clientId,
        expiresAt: olds.expiresAt,
      },
    };
  }

  async delete(id: string, props: ApiTokenOutputs): Promise<void> {
    const client = this.ownClient(props);
    try {
      await client.delete(apiPath`/organization/${props.organization}/applications/${props.clientId}/tokens/${id}`, { idempotent: true });
    } catch (e) {
      if (isGone(e) || (await organizationGone(client, props.organization, e))) return;
      throw e;
    }
  }

  /**
   * A client that authenticates with the token this resource minted (when it may administer the org),
   * then the connection's token, then the overrides: the bootstrap token that created the resource is
   * usually expired by the time it is refreshed or deleted.
   */
  /** Creates the organization when it is missing (look first: org POST is not idempotent). */
  private async ensureOrganization(client: QuayClient, organization: string): Promise<void> {
    const path = apiPath`/organization/${organization}`;
    const exists = await client.get(path).then(() => true, (e) => {
      if (isGone(e)) return false;
      throw e;
    });
    if (exists) return;
    // A just-deleted organization's name stays locked until Quay's namespace GC runs: wait for it, bounded.
    await retryWhileNameLocked("organization", organization, () =>
      writeOnce(
        async () => {
          await client.post("/api/v1/organization/", { name: organization });
          return true;
        },
        async () => (await client.get(path).then(() => true, () => undefined)),
      ).catch((e) => {
        if (!/already exists/i.test((e as { quayMessage?: string }).quayMessage ?? "")) throw e;
        return true;
      }),
    );
    forgetOrganizationLookups(client.endpoint, organization);
  }

  private ownClient(props: ApiTokenOutputs): QuayClient {
    const own = props.token && Array.isArray(props.scopes) && props.scopes.includes("org:admin") ? [props.token] : [];
    return clientFor(props.connection, this.overrideToken, own);
  }

  /** The client id of the organization's application called `name`, created when there is none. */
  private async ensureApplication(client: QuayClient, organization: string, name: string): Promise<string> {
    const path = apiPath`/organization/${organization}/applications`;
    const find = async (): Promise<string | undefined> => {
      const { body } = await client.get<{ applications?: AppView[] }>(path);
      return (body.applications ?? []).find((a) => a.name === name && a.client_id)?.client_id;
    };
    const existing = await find();
    if (existing) return existing;
    // Application POST creates duplicates: after an unclear outcome, look before posting again.
    return writeOnce(async () => {
      const { body } = await client.post<AppView>(path, { name, description: "API tokens minted by quay-mirror (Pulumi)" });
      if (!body?.client_id) throw new Error(`quay:ApiToken: creating application "${name}" in ${organization} returned no client_id`);
      return body.client_id;
    }, find);
  }

  /**
   * Mints one token. Its secret exists only in the answer, so after an unclear outcome (timeout, reset,
   * 5xx) any token of this name that appeared meanwhile is revoked before minting again: nothing orphaned,
   * nothing duplicated.
   */
  private async mint(client: QuayClient, organization: string, clientId: string, name: string, scopes: string[], expiration: number): Promise<TokenView> {
    const path = apiPath`/organization/${organization}/applications/${clientId}/tokens`;
    const ours = async () => (await client.paginate<TokenView>(path, "tokens")).filter((t) => t.name === name).map((t) => t.uuid);
    let before: Set<string>;
    try {
      before = new Set(await ours());
    } catch (e) {
      throw await this.explainMintFailure(client, organization, clientId, "GET", path, e, scopes);
    }
    const attempts = 4;
    for (let attempt = 1; ; attempt++) {
      try {
        const { body } = await client.post<TokenView>(path, { name, scope: scopes.join(" "), expiration });
        if (!body?.token || !body.uuid) throw new Error(`quay:ApiToken: Quay minted no token for "${name}" (unexpected answer)`);
        return body;
      } catch (e) {
        if (!isAmbiguous(e) || attempt >= attempts) throw await this.explainMintFailure(client, organization, clientId, "POST", path, e, scopes);
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        for (const uuid of (await ours()).filter((u) => !before.has(u))) {
          try {
            await client.delete(`${path}/${encodeURIComponent(uuid)}`, { idempotent: true });
          } catch (inner) {
            if (!isGone(inner)) throw inner;
          }
        }
      }
    }
  }

  /** Turns Quay's answer into a message that says what to do (old Quay, missing scopes); never includes a token. */
  private async explainMintFailure(client: QuayClient, organization: string, clientId: string, method: string, path: string, e: unknown, scopes: string[]): Promise<Error> {
    const status = statusOf(e);
    if (status === 405) return versionError(method, path, 405);
    if (status === 404) {
      // A 404 for a route Quay does not have, or for an application that vanished: the application tells.
      try {
        await client.get(apiPath`/organization/${organization}/applications/${clientId}`);
        return versionError(method, path, 404);
      } catch {
        return e as Error;
      }
    }
    if (status === 403) {
      const err = new Error(
        `quay:ApiToken: Quay refused ${method} ${path} (403): the connection's token must belong to an administrator of ` +
          `"${organization}" and already hold every requested scope (${scopes.join(" ")}). ${(e as Error).message}`,
      );
      return err;
    }
    return e as Error;
  }

}

/**
 * A long-lived Quay API token (Quay ≥ 3.18). Type token `pulumi-nodejs:dynamic/quay:ApiToken`; `token` is a
 * secret output. Rotation (scopes, lifetime, or expiry within `rotateBefore`) replaces the resource:
 * the new token is minted first and the old one revoked last.
 */
export class ApiToken extends pulumi.dynamic.Resource {
  declare readonly organization: pulumi.Output<string>;
  declare readonly applicationName: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly scopes: pulumi.Output<string[]>;
  declare readonly expiresInSeconds: pulumi.Output<number>;
  declare readonly rotateBefore: pulumi.Output<number>;
  declare readonly token: pulumi.Output<string>;
  declare readonly tokenUuid: pulumi.Output<string>;
  declare readonly clientId: pulumi.Output<string>;
  declare readonly expiresAt: pulumi.Output<string>;

  constructor(name: string, args: ApiTokenArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim,
      name,
      {
        ...args,
        connection: pulumi.secret(args.connection),
        applicationName: args.applicationName,
        scopes: args.scopes,
        expiresInSeconds: args.expiresInSeconds,
        rotateBefore: args.rotateBefore,
        token: undefined,
        tokenUuid: undefined,
        clientId: undefined,
        expiresAt: undefined,
      },
      pulumi.mergeOptions(opts, { additionalSecretOutputs: ["token"] }),
      "quay",
      "ApiToken",
    );
  }
}
