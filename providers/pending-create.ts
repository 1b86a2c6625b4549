// Ids of pending creates (README, "A run was killed"): an `up` killed while a create was in flight leaves the resource in the
// state's `pending_operations` (type "creating") with its inputs but no id: the engine does not know whether
// the object came to exist. Every Quay and MinIO object here has an identity that follows from its inputs
// alone, so the wrapper (scripts/recover.ts) can record it as this stack's own — with the id its provider's
// `create` would have returned — and let the provider's `read` say whether it exists and what it holds.
// Nothing here talks to an API: pure functions of the inputs, one per kind, each the formula of that
// provider's `create` (tests/providers/pending-create.test.ts proves each against the provider itself).

/** Inputs as stored in the state (secrets are opaque objects; no id formula reads one). */
export type StoredInputs = Record<string, unknown>;

export interface PendingCreateIdentity {
  /** The id the provider's create returns for these inputs. */
  id: string;
  /**
   * The outputs to record until the provider's read fills them: the inputs, plus what create derives from them,
   * minus inputs that never reach the outputs (passwords: recorded without their hash, so the next `up` sets
   * the password, as a create that stopped half-way does).
   */
  outputs: StoredInputs;
}

/**
 * Id prefix for an object whose id Quay chooses (a default permission's uuid): the provider's read looks the
 * object up by its inputs and answers with the real id.
 */
export const LOOKUP_ID_PREFIX = "pending-create-lookup:";

const str = (inputs: StoredInputs, key: string): string => {
  const v = inputs[key];
  if (typeof v !== "string" || v === "") throw new Error(`input "${key}" is not a plain string`);
  return v;
};

const without = (inputs: StoredInputs, ...keys: string[]): StoredInputs => {
  const out = { ...inputs };
  for (const k of keys) delete out[k];
  return out;
};

const DYN = "pulumi-nodejs:dynamic/";

/** Per type token: the identity of a pending create from its stored inputs. */
export const PENDING_CREATE_IDENTITY: Record<string, (inputs: StoredInputs) => PendingCreateIdentity> = {
  [`${DYN}quay:Organization`]: (i) => ({ id: str(i, "name"), outputs: { ...i } }),
  [`${DYN}quay:Repository`]: (i) => ({ id: `${str(i, "namespace")}/${str(i, "name")}`, outputs: { ...i } }),
  [`${DYN}quay:RobotAccount`]: (i) => {
    const fullName = `${str(i, "namespace")}+${str(i, "name")}`;
    // The token comes from the read (Quay answers a robot's GET with its token).
    return { id: fullName, outputs: { ...i, fullName } };
  },
  [`${DYN}quay:Team`]: (i) => ({ id: `${str(i, "organization")}/${str(i, "name")}`, outputs: { ...i } }),
  [`${DYN}quay:User`]: (i) => ({ id: str(i, "username"), outputs: { ...without(i, "password"), passwordHash: "" } }),
  [`${DYN}quay:RepositorySet`]: (i) => ({ id: str(i, "namespace"), outputs: { ...i } }),
  [`${DYN}quay:RepositoryPermission`]: (i) => ({
    id: `${str(i, "namespace")}/${str(i, "repository")}:${str(i, "kind")}/${str(i, "name")}`,
    outputs: { ...i },
  }),
  [`${DYN}quay:NamespaceReadGrant`]: (i) => {
    const namespaces = i.namespaces;
    if (!Array.isArray(namespaces) || !namespaces.every((n) => typeof n === "string")) throw new Error('input "namespaces" is not a list of names');
    return { id: `${str(i, "granteeKind")}:${str(i, "grantee")}:${[...(namespaces as string[])].sort().join(",")}`, outputs: { ...i } };
  },
  [`${DYN}quay:ProxyCache`]: (i) => ({ id: str(i, "organization"), outputs: { ...without(i, "upstreamPassword"), upstreamPasswordHash: "" } }),
  [`${DYN}quay:DefaultPermission`]: (i) => ({
    id: `${LOOKUP_ID_PREFIX}${str(i, "organization")}/${str(i, "delegateKind")}/${str(i, "delegateName")}`,
    outputs: { ...i },
  }),
  [`${DYN}minio:Bucket`]: (i) => ({ id: str(i, "name"), outputs: { ...i } }),
  [`${DYN}minio:Policy`]: (i) => ({ id: str(i, "name"), outputs: { ...i } }),
  [`${DYN}minio:User`]: (i) => ({ id: str(i, "accessKey"), outputs: { ...i } }),
};

/**
 * Kinds whose pending create is dropped and simply runs again: nothing in them can be found again by its
 * inputs, and running them again is what they are for.
 * - command:remote:Command: the host's steps are idempotent scripts (components/quay-host); `up` re-runs them.
 * - local:RandomSecret: a value generated in the provider process, never stored anywhere else; a new one is
 *   drawn (the objects that use it were not created yet: they depend on it).
 * - quay:ApiToken: Quay chooses the token's uuid and shows the token once; a token minted by the killed run
 *   cannot be recovered and stays unused in Quay (revoke it in the application's page); `up` mints another.
 */
export const RERUN_KINDS: Record<string, string> = {
  "command:remote:Command": "a host step: up runs it again (the steps are idempotent)",
  "pulumi-nodejs:dynamic/local:RandomSecret": "a generated value never stored elsewhere: up draws a new one",
  [`${DYN}quay:ApiToken`]: "Quay shows a token once: up mints another (a token the killed run minted stays unused in Quay's application)",
};

/** The identity of a pending create, or undefined when its kind has no id that follows from its inputs. */
export function pendingCreateIdentity(type: string, inputs: StoredInputs): PendingCreateIdentity | undefined {
  const f = PENDING_CREATE_IDENTITY[type];
  return f ? f(inputs) : undefined;
}
