// The guardrails of the policy pack, as pure functions over a resource's properties: what a mirror
// registry must never be given (docs/policy.md). index.ts wires them into @pulumi/policy.
//
// Every rule runs twice. Per resource (validateResource), before the engine creates or updates it, with
// the values it knows. During a preview some values are still unknown (a robot's full name is computed by
// Quay); the stack check (validateStack) then reads them from the resources they come from
// (propertyDependencies: a RobotAccount's namespace+name, a User's username, an Organization's name) and
// reports only what the per-resource check could not decide, so nothing is reported twice.
import { PolicyResource, UnknownValueError } from "@pulumi/policy";

export const QUAY = (type: string) => `pulumi-nodejs:dynamic/quay:${type}`;
export const TYPES = {
  repository: QUAY("Repository"),
  repositorySet: QUAY("RepositorySet"),
  robot: QUAY("RobotAccount"),
  team: QUAY("Team"),
  repositoryPermission: QUAY("RepositoryPermission"),
  defaultPermission: QUAY("DefaultPermission"),
  namespaceGrant: QUAY("NamespaceReadGrant"),
  proxyCache: QUAY("ProxyCache"),
  user: QUAY("User"),
  organization: QUAY("Organization"),
  bucket: "pulumi-nodejs:dynamic/minio:Bucket",
} as const;

/** Policy configuration (`--policy-pack-config`), every key optional; defaults are the lab's model. */
export interface Settings {
  /** Organizations oc-mirror writes into: private only, and every robot in them is a mirror robot. */
  mirrorNamespaces: string[];
  /** Mirror robots by full name (`<org>+<name>`), in addition to every robot of a mirror namespace. */
  mirrorRobots: string[];
  /** The cluster-pull user: read, nothing more. */
  clusterPullUser: string;
  /** The bucket that holds Quay's blobs: no lifecycle rule may ever expire them. */
  blobBucket: string;
  /** SSH connections may say hostKey "trust-on-first-use" (our command plugin's explicit opt-in). */
  allowTrustOnFirstUse: boolean;
}

// The same values as data/quay/bootstrap-model.json (organizations and robots marked "mirror": true,
// clusterPullUser) and the seeds' blob bucket.
export const DEFAULTS: Settings = {
  mirrorNamespaces: ["openshift-release", "openshift-operators"],
  mirrorRobots: ["openshift-release+ocp_mirror", "openshift-operators+ocp_mirror"],
  clusterPullUser: "ocp_cluster_pull",
  blobBucket: "quay-storage",
  allowTrustOnFirstUse: false,
};

/** Fills what a policy's config leaves out; rejects values of the wrong shape with the key and the fix. */
export function settingsFrom(config: Record<string, unknown>): Settings {
  const s: Settings = { ...DEFAULTS };
  const strings = (key: "mirrorNamespaces" | "mirrorRobots") => {
    const v = config[key];
    if (v === undefined) return;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
      throw new Error(`policy config "${key}" must be an array of strings (got ${JSON.stringify(v)}); fix it in the --policy-pack-config file`);
    }
    s[key] = v as string[];
  };
  const string = (key: "clusterPullUser" | "blobBucket") => {
    const v = config[key];
    if (v === undefined) return;
    if (typeof v !== "string" || v === "") {
      throw new Error(`policy config "${key}" must be a non-empty string (got ${JSON.stringify(v)}); fix it in the --policy-pack-config file`);
    }
    s[key] = v;
  };
  if (config.allowTrustOnFirstUse !== undefined) {
    if (typeof config.allowTrustOnFirstUse !== "boolean") {
      throw new Error(`policy config "allowTrustOnFirstUse" must be true or false (got ${JSON.stringify(config.allowTrustOnFirstUse)}); fix it in the --policy-pack-config file`);
    }
    s.allowTrustOnFirstUse = config.allowTrustOnFirstUse;
  }
  strings("mirrorNamespaces");
  strings("mirrorRobots");
  string("clusterPullUser");
  string("blobBucket");
  return s;
}

/** A value as a rule sees it: unknown (preview), or known and maybe derived from a dependency. */
export type Known<T> = { known: true; value: T; derived: boolean } | { known: false };
const unknown: Known<never> = { known: false };

/** Reads a property; the policy SDK's proxy throws UnknownValueError for values unknown in a preview. */
function peek(obj: any, key: string | number): { unknown: true } | { unknown: false; value: unknown } {
  try {
    return { unknown: false, value: obj?.[key] };
  } catch (e) {
    if (e instanceof UnknownValueError) return { unknown: true };
    throw e;
  }
}

/** What a dependency says a value is: a robot's full name, a user's username, an organization's name. */
export function identityOf(dep: PolicyResource): string | undefined {
  const str = (key: string) => {
    const p = peek(dep.props, key);
    return !p.unknown && typeof p.value === "string" ? p.value : undefined;
  };
  switch (dep.type) {
    case TYPES.robot: {
      const ns = str("namespace");
      const name = str("name");
      return ns && name ? `${ns}+${name}` : undefined;
    }
    case TYPES.user:
      return str("username");
    case TYPES.organization:
      return str("name");
    default:
      return undefined;
  }
}

/** Access to one resource's properties; `deps` is only there in the stack check. */
export class View {
  constructor(
    readonly type: string,
    readonly urn: string,
    private readonly props: Record<string, any>,
    private readonly deps?: Record<string, PolicyResource[]>,
  ) {}

  private fromDeps(key: string): string[] | undefined {
    if (!this.deps) return undefined;
    const ids = (this.deps[key] ?? []).map(identityOf);
    return ids.every((id): id is string => id !== undefined) && ids.length > 0 ? ids : undefined;
  }

  /** A string property, or when unknown the one name its single dependency gives it. */
  str(key: string): Known<string | undefined> {
    const p = peek(this.props, key);
    if (!p.unknown) return { known: true, value: typeof p.value === "string" ? p.value : undefined, derived: false };
    const ids = this.fromDeps(key);
    return ids && ids.length === 1 ? { known: true, value: ids[0], derived: true } : unknown;
  }

  /**
   * A string-array property; unknown elements are replaced by the names of all its dependencies. A set stored
   * as a map (a team's members after its `check`: name → kind) gives its keys.
   */
  strs(key: string): Known<string[]> {
    const p = peek(this.props, key);
    if (p.unknown) {
      const ids = this.fromDeps(key);
      return ids ? { known: true, value: ids, derived: true } : unknown;
    }
    if (p.value && typeof p.value === "object" && !Array.isArray(p.value)) return { known: true, value: Object.keys(p.value).sort(), derived: false };
    if (!Array.isArray(p.value)) return { known: true, value: [], derived: false };
    const arr = p.value;
    const known: string[] = [];
    let missing = false;
    for (let i = 0; i < arr.length; i++) {
      const e = peek(arr, i);
      if (e.unknown) missing = true;
      else if (typeof e.value === "string") known.push(e.value);
    }
    if (!missing) return { known: true, value: known, derived: false };
    const ids = this.fromDeps(key);
    return ids ? { known: true, value: [...new Set([...known, ...ids])], derived: true } : unknown;
  }

  /** Any property as it is, or unknown. */
  any(key: string): Known<unknown> {
    const p = peek(this.props, key);
    return p.unknown ? unknown : { known: true, value: p.value, derived: false };
  }
}

/** A violation; `derived` when a value it rests on came from a dependency (stack check only). */
export interface Finding {
  message: string;
  derived: boolean;
}

export function isMirrorRobot(fullName: string, s: Settings): boolean {
  return s.mirrorRobots.includes(fullName) || s.mirrorNamespaces.includes(fullName.split("+")[0]) && fullName.includes("+");
}

/**
 * Evaluates `check` when every listed value is known; the finding is derived if any value was. A value
 * unknown deeper inside (an element of a map, say) makes the check undecided, never an error: in the stack
 * check one such error would silence the policy for every resource.
 */
function when<T extends Known<unknown>[]>(values: [...T], check: (...v: { [K in keyof T]: T[K] extends Known<infer U> ? U : never }) => string | undefined): Finding[] {
  if (values.some((v) => !v.known)) return [];
  let message: string | undefined;
  try {
    message = check(...(values.map((v) => (v as { value: unknown }).value) as any));
  } catch (e) {
    if (e instanceof UnknownValueError) return [];
    throw e;
  }
  return message ? [{ message, derived: values.some((v) => (v as { derived: boolean }).derived) }] : [];
}

const NO_ADMIN_FIX = `give mirror robots "write" (pushes) and team role "creator" (new repositories); oc-mirror never needs admin`;

/** Rule 1: no mirror robot with admin, directly or as member of an admin team of a mirror namespace. */
export function mirrorRobotAdmin(r: View, s: Settings): Finding[] {
  switch (r.type) {
    case TYPES.repositoryPermission:
      return when([r.str("kind"), r.str("name"), r.str("role"), r.str("namespace"), r.str("repository")], (kind, name, role, ns, repo) =>
        kind === "robot" && name && role === "admin" && isMirrorRobot(name, s)
          ? `mirror robot "${name}" is given role admin on repository "${ns}/${repo}": set role "write"; ${NO_ADMIN_FIX}`
          : undefined,
      );
    case TYPES.defaultPermission:
      return when([r.str("delegateKind"), r.str("delegateName"), r.str("role"), r.str("organization")], (kind, name, role, org) =>
        kind === "robot" && name && role === "admin" && isMirrorRobot(name, s)
          ? `mirror robot "${name}" is given admin by a default permission of "${org}" (every new repository): set role "write"; ${NO_ADMIN_FIX}`
          : undefined,
      );
    case TYPES.namespaceGrant:
      return when([r.str("granteeKind"), r.str("grantee"), r.str("role")], (kind, name, role) =>
        kind === "robot" && name && role === "admin" && isMirrorRobot(name, s)
          ? `mirror robot "${name}" is granted admin on every repository of its namespace: set role "write"; ${NO_ADMIN_FIX}`
          : undefined,
      );
    case TYPES.team:
      return when([r.str("role"), r.str("organization"), r.str("name"), r.strs("members")], (role, org, name, members) => {
        if (role !== "admin") return undefined;
        const mirrorMembers = members.filter((m) => isMirrorRobot(m, s));
        if (mirrorMembers.length > 0) {
          return `team "${org}/${name}" has role admin and holds mirror robot ${mirrorMembers.map((m) => `"${m}"`).join(", ")}: set the team's role to "creator" (or take the robots out); ${NO_ADMIN_FIX}`;
        }
        if (org && s.mirrorNamespaces.includes(org)) {
          return `team "${org}/${name}" has role admin in mirror namespace "${org}": set its role to "creator"; ${NO_ADMIN_FIX}`;
        }
        return undefined;
      });
    default:
      return [];
  }
}

/** Rule 2: repositories of a mirror namespace stay private (Repository and RepositorySet). */
export function mirrorRepositoryPublic(r: View, s: Settings): Finding[] {
  if (r.type === TYPES.repository) {
    return when([r.str("namespace"), r.str("name"), r.str("visibility")], (ns, name, visibility) =>
      visibility === "public" && ns && s.mirrorNamespaces.includes(ns)
        ? `repository "${ns}/${name}" is public in mirror namespace "${ns}": set visibility "private" (mirror content is pulled with the cluster-pull user's credential, never anonymously)`
        : undefined,
    );
  }
  if (r.type === TYPES.repositorySet) {
    // Stored as a map name → visibility (providers/quay/repository-set.ts); the list-plus-visibility shape of
    // its arguments is accepted too.
    return when([r.str("namespace"), r.any("visibility"), r.any("repositories")], (ns, visibility, repos) => {
      if (!ns || !s.mirrorNamespaces.includes(ns)) return undefined;
      const names = Array.isArray(repos)
        ? visibility === "public"
          ? repos.map(String)
          : []
        : repos && typeof repos === "object"
          ? Object.entries(repos as Record<string, unknown>).filter(([, v]) => v === "public").map(([n]) => n)
          : [];
      if (names.length === 0) return undefined;
      const shown = names.length <= 5 ? names.join(", ") : `${names.slice(0, 5).join(", ")} and ${names.length - 5} more`;
      return `repository set of mirror namespace "${ns}" makes ${names.length} ${names.length === 1 ? "repository" : "repositories"} public (${shown}): set visibility "private" (mirror content is pulled with the cluster-pull user's credential, never anonymously)`;
    });
  }
  return [];
}

/** Rule 3: no lifecycle (expiry) rule on the bucket that holds Quay's blobs. */
export function blobBucketLifecycle(r: View, s: Settings): Finding[] {
  if (r.type !== TYPES.bucket) return [];
  return when([r.str("name"), r.any("lifecycleRules")], (name, rules) =>
    name === s.blobBucket && Array.isArray(rules) && rules.length > 0
      ? `bucket "${name}" holds Quay's blobs and has ${rules.length} lifecycle rule(s): remove every lifecycle rule (set lifecycleRules to []); an expired blob breaks every manifest that references it. Lifecycle belongs on the backup bucket, never on "${name}"`
      : undefined,
  );
}

/** Rule 4: a proxy cache's cached tags expire (expirationSeconds 0 means never). */
export function proxyCacheExpiration(r: View, _s: Settings): Finding[] {
  if (r.type !== TYPES.proxyCache) return [];
  return when([r.str("organization"), r.any("expirationSeconds")], (org, seconds) =>
    seconds !== undefined && !(typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0)
      ? `proxy cache "${org}" has expirationSeconds ${JSON.stringify(seconds)}: cached tags would never expire; set expirationSeconds to a positive number of seconds (e.g. 86400, the default) or leave it unset`
      : undefined,
  );
}

/** pulumi-command's remote resources (Command, CopyToRemote, CopyFile): each opens an SSH connection. */
export const REMOTE_COMMAND_PREFIX = "command:remote:";
export const TRUST_ON_FIRST_USE = "trust-on-first-use";

const hostKeyFix = (host: string, port: number) =>
  `pin the host's key: \`ssh-keyscan${port === 22 ? "" : ` -p ${port}`} -t ed25519 ${host}\`, its fingerprint (\`| ssh-keygen -lf -\`) checked against \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the host's console, as hostKey in authorized_keys format (QuayHost: connection.hostKey or knownHostsFile; README "SSH host key")`;

/**
 * Rule 6: every SSH connection of a command:remote:* resource, and its proxy (bastion), pins the host's key.
 * Without it pulumi-command accepts any key, and the step's stdin (config.yaml with the database password)
 * goes to whatever answers at that address. "trust-on-first-use" only with allowTrustOnFirstUse.
 */
export function sshHostKeyPinned(r: View, s: Settings): Finding[] {
  if (!r.type.startsWith(REMOTE_COMMAND_PREFIX)) return [];
  return when([r.any("connection")], (connection) => {
    const problems: string[] = [];
    const check = (c: unknown, what: string) => {
      if (c === null || typeof c !== "object") {
        problems.push(`${what} is missing`);
        return;
      }
      const o = c as Record<string, unknown>;
      const host = typeof o.host === "string" ? o.host : "<host>";
      const port = typeof o.port === "number" ? o.port : 22;
      const where = `${what} ${host}:${port}`;
      const key = o.hostKey;
      if (typeof key !== "string" || key.trim() === "") {
        problems.push(`${where} has no hostKey: its key would not be checked (pulumi-command accepts any), so whatever answers at that address gets the step's stdin and secrets — ${hostKeyFix(host, port)}`);
      } else if (key.trim() === TRUST_ON_FIRST_USE && !s.allowTrustOnFirstUse) {
        problems.push(`${where} has hostKey "${TRUST_ON_FIRST_USE}": the first key offered is trusted unverified — ${hostKeyFix(host, port)}; or, knowingly, allow it for this stack with {"ssh-host-key-pinned": {"allowTrustOnFirstUse": true}} in the --policy-pack-config file`);
      }
    };
    check(connection, "SSH connection to");
    const proxy = (connection as Record<string, unknown> | null)?.proxy;
    if (proxy !== undefined && proxy !== null) check(proxy, "SSH proxy (bastion)");
    return problems.length > 0 ? problems.join("; ") : undefined;
  });
}

const PULL_FIX = `the cluster-pull user only pulls: give it role "read" (NamespaceReadGrant and default permissions do), never write or admin`;

/** Rule 5: the cluster-pull user gets read and nothing more. */
export function clusterPullUserBeyondRead(r: View, s: Settings): Finding[] {
  const user = s.clusterPullUser;
  switch (r.type) {
    case TYPES.repositoryPermission:
      return when([r.str("kind"), r.str("name"), r.str("role"), r.str("namespace"), r.str("repository")], (kind, name, role, ns, repo) =>
        kind === "user" && name === user && role !== "read"
          ? `cluster-pull user "${user}" is given role ${role} on repository "${ns}/${repo}": set role "read"; ${PULL_FIX}`
          : undefined,
      );
    case TYPES.defaultPermission:
      return when([r.str("delegateKind"), r.str("delegateName"), r.str("role"), r.str("organization")], (kind, name, role, org) =>
        kind === "user" && name === user && role !== "read"
          ? `cluster-pull user "${user}" is given ${role} by a default permission of "${org}": set role "read"; ${PULL_FIX}`
          : undefined,
      );
    case TYPES.namespaceGrant:
      return when([r.str("granteeKind"), r.str("grantee"), r.any("role")], (kind, name, role) =>
        kind === "user" && name === user && role !== undefined && role !== "read"
          ? `cluster-pull user "${user}" is granted ${String(role)} on whole namespaces: set role "read"; ${PULL_FIX}`
          : undefined,
      );
    case TYPES.team:
      return when([r.str("role"), r.str("organization"), r.str("name"), r.strs("members")], (role, org, name, members) =>
        members.includes(user) && role !== "member"
          ? `cluster-pull user "${user}" is a member of team "${org}/${name}" with role ${role}: take it out of the team; ${PULL_FIX}`
          : undefined,
      );
    default:
      return [];
  }
}

/**
 * Stack-only part of rules 1 and 5: a team's members inherit what the team is given, so a team holding a
 * mirror robot must not get admin, and a team holding the cluster-pull user must not get write or admin.
 */
export function teamGrants(resources: PolicyResource[], s: Settings): { urn: string; message: string; rule: "mirror" | "pull" }[] {
  const teams = new Map<string, { members: string[] }>();
  for (const t of resources.filter((x) => x.type === TYPES.team)) {
    const v = new View(t.type, t.urn, t.props, t.propertyDependencies);
    const org = v.str("organization");
    const name = v.str("name");
    const members = v.strs("members");
    if (org.known && name.known && members.known) teams.set(`${org.value}/${name.value}`, { members: members.value });
  }
  const out: { urn: string; message: string; rule: "mirror" | "pull" }[] = [];
  for (const g of resources) {
    const v = new View(g.type, g.urn, g.props, g.propertyDependencies);
    let team: string | undefined;
    let role: string | undefined;
    let where = "";
    if (g.type === TYPES.repositoryPermission) {
      const [kind, name, r, ns, repo] = [v.str("kind"), v.str("name"), v.str("role"), v.str("namespace"), v.str("repository")];
      if (!kind.known || kind.value !== "team" || !name.known || !r.known || !ns.known || !repo.known) continue;
      team = `${ns.value}/${name.value}`;
      role = r.value;
      where = `on repository "${ns.value}/${repo.value}"`;
    } else if (g.type === TYPES.defaultPermission) {
      const [kind, name, r, org] = [v.str("delegateKind"), v.str("delegateName"), v.str("role"), v.str("organization")];
      if (!kind.known || kind.value !== "team" || !name.known || !r.known || !org.known) continue;
      team = `${org.value}/${name.value}`;
      role = r.value;
      where = `by a default permission of "${org.value}"`;
    } else if (g.type === TYPES.namespaceGrant) {
      // A team's NamespaceReadGrant: the role on every repository of the team's organization.
      const [kind, name, r, namespaces] = [v.str("granteeKind"), v.str("grantee"), v.str("role"), v.strs("namespaces")];
      if (!kind.known || kind.value !== "team" || !name.known || !r.known || !namespaces.known || namespaces.value.length !== 1) continue;
      team = `${namespaces.value[0]}/${name.value}`;
      role = r.value;
      where = `on every repository of "${namespaces.value[0]}"`;
    } else {
      continue;
    }
    const members = teams.get(team)?.members ?? [];
    const mirror = members.filter((m) => isMirrorRobot(m, s));
    if (role === "admin" && mirror.length > 0) {
      out.push({
        urn: g.urn,
        rule: "mirror",
        message: `team "${team}" holds mirror robot ${mirror.map((m) => `"${m}"`).join(", ")} and is given admin ${where}: set role "write" or take the robots out of the team; ${NO_ADMIN_FIX}`,
      });
    }
    if (role !== "read" && members.includes(s.clusterPullUser)) {
      out.push({
        urn: g.urn,
        rule: "pull",
        message: `team "${team}" holds cluster-pull user "${s.clusterPullUser}" and is given ${role} ${where}: take the user out of the team or give the team "read"; ${PULL_FIX}`,
      });
    }
  }
  return out;
}
