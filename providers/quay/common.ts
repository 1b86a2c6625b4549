// Building blocks shared by every Quay dynamic provider: the connection input, token overrides,
// preview-tolerant validation, pure diffs, and the "look before you write again" helpers.
//
// Providers load this module from bin/ (providers/lazy.ts); it is not serialized into state.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { QuayApiError, QuayClient, encodeSegment, isQuayApiError } from "./client";

/** How a resource reaches Quay. Pass the token as a secret; it is stored encrypted with the resource. */
export interface QuayConnectionArgs {
  /** Base URL of Quay, e.g. `https://quay.example.com`. */
  endpoint: pulumi.Input<string>;
  /** OAuth access token with the scopes the resource needs. */
  token: pulumi.Input<string>;
}

export interface QuayConnection {
  endpoint: string;
  token: string;
}

/** Inputs every Quay resource takes. */
export interface CommonProps {
  connection: QuayConnection;
  /** Take over an object that already exists (registries seeded by the old scripts) instead of failing. */
  adopt?: boolean;
}

/**
 * Drops `undefined` values (deeply). The dynamic-provider host encodes results with protobuf's
 * Struct.fromJavaScript, which throws "Unexpected struct type" on an explicit undefined.
 */
export function compact<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : compact(v))) as unknown as T;
  if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (v !== undefined) out[k] = compact(v);
    return out as T;
  }
  return value;
}

/** The value the engine sends for inputs that are not known yet during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(isUnknown);
  if (value && typeof value === "object") return Object.values(value as Record<string, unknown>).some(isUnknown);
  return false;
}

/** True when the value at `path` (or one of its parents) is not known yet. */
function unknownAt(root: unknown, path: PropertyKey[]): boolean {
  let cursor: unknown = root;
  if (cursor === UNKNOWN) return true;
  for (const key of path) {
    if (cursor === null || typeof cursor !== "object") return false;
    cursor = (cursor as Record<PropertyKey, unknown>)[key];
    if (cursor === UNKNOWN) return true;
  }
  return isUnknown(cursor);
}

/** The zod schema of the connection input, shared by every resource's `check`. */
export function connectionSchema() {
  return z.object({
    endpoint: z
      .string()
      .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, "must be an http(s) URL such as https://quay.example.com"),
    token: z.string().min(1, "must not be empty"),
  });
}

export function commonShape() {
  return { connection: connectionSchema(), adopt: z.boolean().optional() };
}

/**
 * `check` for every provider: validates with zod, ignores failures on values still unknown in preview,
 * names the property that failed, and returns the inputs with zod's defaults filled in.
 */
export function checkWith<T extends object>(schema: z.ZodType, news: T, resourceType: string): pulumi.dynamic.CheckResult<T> {
  const result = schema.safeParse(news);
  if (result.success) {
    return { inputs: compact({ ...news, ...(result.data as object) }) as T };
  }
  const failures = result.error.issues
    .filter((issue) => !unknownAt(news, issue.path as PropertyKey[]))
    .map((issue) => ({
      property: issue.path.length ? issue.path.map(String).join(".") : "(inputs)",
      reason: `${resourceType}: ${issue.path.length ? issue.path.map(String).join(".") + ": " : ""}${issue.message}`,
    }));
  return failures.length ? { inputs: compact(news), failures } : { inputs: compact(news) };
}

/** Canonical JSON for comparisons: object keys sorted, undefined dropped. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  });
}

export function sameValue(a: unknown, b: unknown): boolean {
  return canonical(a ?? null) === canonical(b ?? null);
}

export interface DiffSpec {
  /** Identity: a change replaces the object. */
  replaceOn: string[];
  /** Updated in place. */
  updateOn: string[];
  /** Values the server fills in when the input is absent, so `undefined` and the default compare equal. */
  defaults?: Record<string, unknown>;
  /** Replacement must delete first (the name cannot exist twice). */
  deleteBeforeReplace?: boolean;
}

/**
 * A pure diff of old outputs against new inputs. A change of connection (endpoint or rotated token) is an
 * in-place update that stores the new connection without calling Quay, so it never replaces anything.
 */
export function diffProps(oldProps: object, newProps: object, spec: DiffSpec): pulumi.dynamic.DiffResult {
  const olds = oldProps as Record<string, unknown>;
  const news = newProps as Record<string, unknown>;
  const value = (props: Record<string, unknown>, key: string) => props[key] ?? spec.defaults?.[key];
  const replaces = spec.replaceOn.filter((k) => !sameValue(value(olds, k), value(news, k)));
  const updates = spec.updateOn.filter((k) => !sameValue(value(olds, k), value(news, k)));
  const connectionChanged = !sameValue(olds.connection, news.connection);
  const changes = replaces.length > 0 || updates.length > 0 || connectionChanged;
  return {
    changes,
    replaces: replaces.length ? replaces : undefined,
    deleteBeforeReplace: replaces.length && spec.deleteBeforeReplace ? true : undefined,
  };
}

/**
 * What `read` returns as the resource's inputs: the live values when they differ from the stored ones
 * (drift), else undefined (the stored inputs stay, and a refresh of an unchanged object shows no change).
 * Why: the Node.js dynamic provider host sends the engine no detailed diff (it forwards only changes,
 * replaces and deleteBeforeReplace), so the engine shows a planned update as a diff of the old and new
 * inputs. With the stored (desired) inputs kept after a refresh found drift, `preview --refresh --diff`
 * showed an update that marked no property; with the live values as the old inputs it shows
 * `~ role: "creator" => "member"`. Only for providers whose outputs are their inputs (no computed or
 * secret-only outputs): `live` becomes the stored inputs.
 */
export function driftedInputs<T extends object>(stored: T, live: T): T | undefined {
  return sameValue(stored, live) ? undefined : live;
}

/** Which of the listed keys differ between old outputs and new inputs. */
export function changedKeys(oldProps: object, newProps: object, keys: string[], defaults: Record<string, unknown> = {}): string[] {
  const olds = oldProps as Record<string, unknown>;
  const news = newProps as Record<string, unknown>;
  return keys.filter((k) => !sameValue(olds[k] ?? defaults[k], news[k] ?? defaults[k]));
}

/** Tokens that may rescue a call when the stored one was revoked: `QUAY_TOKEN`, then the stack's `quay:token`. */
export function overrideTokens(configured?: string): string[] {
  return [process.env.QUAY_TOKEN, configured].filter((t): t is string => !!t);
}

/**
 * A client for one provider call. Limits come from env so benchmarks and users can tune them.
 * `preferredTokens` (optional) are tried before the connection's token, e.g. the token an ApiToken
 * resource minted itself, which outlives the bootstrap token that created it.
 */
export function clientFor(connection: QuayConnection, configuredToken?: string, preferredTokens: string[] = []): QuayClient {
  const num = (name: string) => (process.env[name] && /^\d+$/.test(process.env[name] as string) ? Number(process.env[name]) : undefined);
  const [first, ...rest] = [...preferredTokens.filter((t) => !!t), connection.token];
  return new QuayClient({
    endpoint: connection.endpoint,
    token: first,
    fallbackTokens: [...rest, ...overrideTokens(configuredToken)],
    maxConcurrent: num("QUAY_MAX_CONCURRENCY"),
    retries: num("QUAY_RETRIES"),
    timeoutMs: num("QUAY_TIMEOUT_MS"),
    log: (message) => {
      void pulumi.log.debug(message);
    },
  });
}

/** Reads the stack's `quay:token` in a provider's `configure`. */
export function configuredToken(req: pulumi.dynamic.ConfigureRequest): string | undefined {
  try {
    return req.config.get("quay:token") || undefined;
  } catch {
    return undefined;
  }
}

export function statusOf(e: unknown): number | undefined {
  return isQuayApiError(e) ? e.status : undefined;
}

/**
 * True for Quay's "it does not exist" answers: 404, and a 400 whose message is one of `goneMessages`. Some
 * endpoints raise InvalidRequest (400) rather than NotFound for a missing object (e.g. endpoints/api/team.py
 * and endpoints/api/permission.py in github.com/quay/quay), so each provider names the messages of its own.
 */
export function isGone(e: unknown, goneMessages: RegExp[] = []): boolean {
  if (!isQuayApiError(e)) return false;
  if (e.status === 404) return true;
  return e.status === 400 && goneMessages.some((re) => re.test(e.quayMessage));
}

/**
 * True when `e` is a 403 for something inside an organization that no longer exists. Quay checks admin
 * rights before existence, so a deleted organization's robots, teams, prototypes, repositories and proxy
 * cache answer 403 to anyone but a FULL_ACCESS superuser; only the organization's own GET (anonymous reads
 * allowed) says 404. A 403 while the organization exists is a refused token and stays an error.
 * The lookup is made once per organization and process (every read of one refresh shares it).
 */
export async function organizationGone(client: QuayClient, organization: string, e: unknown): Promise<boolean> {
  if (!isForbidden(e)) return false;
  return lookupMissing(client, `/api/v1/organization/${encodeSegment(organization)}`);
}

/**
 * organizationGone for a repository namespace, which may also be a user: gone when neither an organization
 * nor a user of that name exists (the user is looked up only when the organization is missing).
 */
export async function namespaceGone(client: QuayClient, namespace: string, e: unknown): Promise<boolean> {
  if (!(await organizationGone(client, namespace, e))) return false;
  return lookupMissing(client, `/api/v1/users/${encodeSegment(namespace)}`);
}

/** A 403 that is not Quay's rejection of the token itself (which the client already fell back from). */
function isForbidden(e: unknown): boolean {
  return statusOf(e) === 403 && !/CSRF token was invalid or missing/i.test((e as QuayApiError).quayMessage ?? "");
}

interface MissingLookup {
  expires: number;
  value: Promise<boolean>;
}

/** Process-wide (the engine starts one provider process per operation, so: per preview/up/refresh). */
function missingLookups(): Map<string, MissingLookup> {
  const key = Symbol.for("quay-mirror.common.missing-lookups");
  const g = globalThis as unknown as Record<symbol, Map<string, MissingLookup> | undefined>;
  return g[key] ?? (g[key] = new Map<string, MissingLookup>());
}

/** Whether GET `path` answers 404 (any other failure: not known to be missing), cached for 10 minutes. */
function lookupMissing(client: QuayClient, path: string): Promise<boolean> {
  const entries = missingLookups();
  const key = `${client.endpoint} ${path}`;
  const hit = entries.get(key);
  if (hit && hit.expires > Date.now()) return hit.value;
  const entry: MissingLookup = { expires: Date.now() + 10 * 60_000, value: Promise.resolve(false) };
  entry.value = client.get(path).then(
    () => false,
    (lookup) => {
      // Only an answer is remembered: after a network failure the next caller asks again.
      if (!isGone(lookup) && entries.get(key) === entry) entries.delete(key);
      return isGone(lookup);
    },
  );
  entries.set(key, entry);
  return entry.value;
}

/**
 * Forgets cached existence lookups: of one organization (after this process created or deleted it), or of
 * everything (what a new engine operation starts with; tests call it between cases).
 */
export function forgetOrganizationLookups(endpoint?: string, organization?: string): void {
  const entries = missingLookups();
  if (endpoint === undefined || organization === undefined) {
    entries.clear();
    return;
  }
  const base = endpoint.replace(/\/+$/, "");
  for (const path of [`/api/v1/organization/${encodeSegment(organization)}`, `/api/v1/users/${encodeSegment(organization)}`]) entries.delete(`${base} ${path}`);
}

/** Quay's answer to creating a name whose namespace was deleted but not yet purged (data/model/user.py). */
export function isNameLocked(e: unknown): boolean {
  return statusOf(e) === 400 && /Username is not available/i.test((e as QuayApiError).quayMessage ?? "");
}

/**
 * How long a create waits for Quay's lock on a deleted namespace's name: QUAY_NAME_LOCK_WAIT_SECONDS
 * (or the older QUAY_ORG_NAME_LOCK_WAIT_SECONDS), default 120 s; 0 fails at once. Quay's namespace GC
 * worker frees the name 50-70 s after the delete (it polls every 60 s), and never when the worker is off.
 */
export function nameLockWaitMs(): number {
  for (const name of ["QUAY_NAME_LOCK_WAIT_SECONDS", "QUAY_ORG_NAME_LOCK_WAIT_SECONDS"]) {
    const raw = process.env[name];
    if (raw !== undefined && /^\d+(\.\d+)?$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  }
  return 120_000;
}

/**
 * Runs a create of a namespace (organization or user) and, while Quay answers 400 "Username is not
 * available", tries again every few seconds for at most `waitMs`, logging progress. Then fails with an
 * error that says what the lock is and to run `up` again later, instead of Quay's bare message.
 */
export async function retryWhileNameLocked<T>(kind: "organization" | "user", name: string, create: () => Promise<T>, waitMs = nameLockWaitMs()): Promise<T> {
  const started = Date.now();
  for (let pause = 2_000; ; pause = Math.min(pause * 2, 10_000)) {
    try {
      return await create();
    } catch (e) {
      if (!isNameLocked(e)) throw e;
      const waited = Date.now() - started;
      if (waited + pause > waitMs) {
        throw new Error(
          `quay:${kind === "organization" ? "Organization" : "User"} "${name}" cannot be created yet: Quay still locks the name because ` +
            `a namespace of that name was deleted and Quay's garbage collection of the deleted ${kind} has not purged it ` +
            `(the namespace GC worker frees it about a minute after the delete; never if the worker is not running). ` +
            `Waited ${Math.round(waited / 1000)} s (limit QUAY_NAME_LOCK_WAIT_SECONDS=${Math.round(waitMs / 1000)}). ` +
            `Run \`pulumi up\` again later. (Quay answered: ${(e as QuayApiError).message})`,
        );
      }
      void pulumi.log.info(
        `${kind} "${name}": Quay still locks the name of the deleted ${kind} until its garbage collection runs; ` +
          `waited ${Math.round(waited / 1000)} s of at most ${Math.round(waitMs / 1000)} s, trying again in ${pause / 1000} s`,
      );
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

/** True when a write may have been applied although no success was seen: look before writing again. */
export function isAmbiguous(e: unknown): boolean {
  return isQuayApiError(e) && e.ambiguous;
}

/**
 * Runs a non-idempotent write. When its outcome is unknown (timeout, reset, 5xx), looks for the object
 * before writing again, so a retried create never makes a duplicate.
 */
export async function writeOnce<T>(write: () => Promise<T>, lookup: () => Promise<T | undefined>, attempts = 4): Promise<T> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await write();
    } catch (e) {
      if (!isAmbiguous(e)) throw e;
      lastError = e;
      await new Promise((r) => setTimeout(r, 100 * 2 ** i));
      const found = await lookup();
      if (found !== undefined) return found;
    }
  }
  throw lastError;
}

/** The error for an object that already exists when `adopt` was not asked for. */
export function alreadyExists(kind: string, name: string): Error {
  return new Error(
    `${kind} "${name}" already exists in Quay. To manage the existing object with Pulumi, set \`adopt: true\` on this resource ` +
      `(pulumi import does not work for dynamic resources), run \`pulumi up\`, then remove the flag if you like.`,
  );
}

/**
 * An error for a create whose object exists in Quay although a follow-up step failed: the engine records
 * the resource (with this id and these outputs) as created-but-failed and updates it on the next `up`.
 */
export function partialCreate(id: string, props: Record<string, unknown>, cause: unknown): Error {
  const err = new Error(`created ${id}, but a follow-up step failed: ${(cause as Error)?.message ?? String(cause)}`) as Error & {
    id: string;
    properties: Record<string, unknown>;
    reasons: string[];
  };
  err.id = id;
  // Must hold the create inputs (with __provider, so a later delete can load the provider) and no undefined.
  err.properties = compact(props);
  err.reasons = [(cause as Error)?.message ?? String(cause)];
  return err;
}

/**
 * A salted scrypt hash of a write-only secret (a password Quay never gives back), stored as
 * `scrypt$<salt>$<hash>` so that `diff` can tell whether the secret changed without keeping it.
 */
export function hashSecret(secret: string, salt?: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require("crypto") as typeof import("crypto");
  const s = salt ?? crypto.randomBytes(16).toString("base64");
  return `scrypt$${s}$${crypto.scryptSync(secret, s, 32).toString("base64")}`;
}

/** Whether `secret` is the one `stored` (from hashSecret) was made from; false for a missing or malformed hash. */
export function secretMatches(secret: string | undefined, stored: string | undefined): boolean {
  if (typeof secret !== "string" || typeof stored !== "string") return false;
  const parts = stored.split("$");
  if (parts.length !== 3 || parts[0] !== "scrypt" || !parts[1]) return false;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crypto = require("crypto") as typeof import("crypto");
  const a = Buffer.from(hashSecret(secret, parts[1]));
  const b = Buffer.from(stored);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export { QuayApiError, QuayClient };
