// "The model applied": every Quay object the stack declares is read back from Quay with its provider's own
// `read` (the code `pulumi refresh` runs, providers/quay/*), and compared with what the stack's state records.
// Reads only: each provider's read is GET requests (the emulator's write counter proves it in
// tests/e2e/verify.test.ts).
import { canonical } from "../../providers/quay/common";
import { ApiTokenProvider } from "../../providers/quay/api-token";
import { DefaultPermissionProvider } from "../../providers/quay/default-permission";
import { NamespaceReadGrantProvider } from "../../providers/quay/namespace-grant";
import { OrganizationProvider } from "../../providers/quay/organization";
import { ProxyCacheProvider } from "../../providers/quay/proxy-cache";
import { RepositoryPermissionProvider } from "../../providers/quay/repository-permission";
import { RepositorySetProvider } from "../../providers/quay/repository-set";
import { RepositoryProvider } from "../../providers/quay/repository";
import { RobotAccountProvider } from "../../providers/quay/robot";
import { TeamProvider } from "../../providers/quay/team";
import { UserProvider } from "../../providers/quay/user";
import { CheckLine, errorText, fail, ok } from "./report";

/** A resource of `pulumi stack export --show-secrets`, its secrets decoded (decodeSecrets). */
export interface StateResource {
  urn: string;
  type: string;
  id?: string;
  outputs?: Record<string, unknown>;
  delete?: boolean;
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Replaces the engine's secret envelopes (`{<sig>: …, plaintext: "<json>"}`) by their values. */
export function decodeSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeSecrets);
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (SECRET_SIG in o) {
      if (typeof o.plaintext === "string") return decodeSecrets(JSON.parse(o.plaintext));
      if ("value" in o) return decodeSecrets(o.value);
      throw new Error("the state holds an encrypted secret: export it with --show-secrets (and the stack's passphrase)");
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, decodeSecrets(v)]));
  }
  return value;
}

type Props = Record<string, unknown>;
interface Reader {
  read(id: string, props?: never): Promise<{ id?: string; props?: object }>;
}

interface Kind {
  provider: () => Reader;
  /** How the line names the object. */
  label: (p: Props) => string;
  /** What may differ between the state and Quay, and how it is said (never a secret's value). */
  differences: (stored: Props, live: Props) => string[];
}

const s = (v: unknown) => String(v);
/** A team's members as the state keeps them: a list, or (newer state) a map name → kind. */
const memberNames = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v && typeof v === "object" ? Object.keys(v) : []).sort();
/** The keys whose values differ; `secret` keys are named without their values. */
function changed(stored: Props, live: Props, keys: string[], secret: string[] = []): string[] {
  return keys.flatMap((k) => {
    const a = stored[k];
    const b = live[k];
    const norm = (v: unknown) => canonical(Array.isArray(v) ? [...v].map(String).sort() : v ?? null);
    if (norm(a) === norm(b)) return [];
    return secret.includes(k) ? [`${k} differs from the stack's (changed outside Pulumi)`] : [`${k} is ${JSON.stringify(b ?? null)}, the stack declares ${JSON.stringify(a ?? null)}`];
  });
}

const KINDS: Record<string, Kind> = {
  Organization: { provider: () => new OrganizationProvider(), label: (p) => `organization ${s(p.name)}`, differences: (a, b) => changed(a, b, ["email", "tagExpirationSeconds"]) },
  RobotAccount: {
    provider: () => new RobotAccountProvider(),
    label: (p) => `robot ${s(p.fullName ?? `${s(p.namespace)}+${s(p.name)}`)}`,
    differences: (a, b) => changed(a, b, ["description", "token"], ["token"]),
  },
  Team: {
    provider: () => new TeamProvider(),
    label: (p) => `team ${s(p.organization)}/${s(p.name)} (${s(p.role)}; members ${memberNames(p.members).join(", ") || "none"})`,
    differences: (a, b) => {
      const out = changed(a, b, ["role", "description"]);
      const want = new Set(memberNames(a.members));
      const have = new Set(memberNames(b.members));
      const missing = [...want].filter((m) => !have.has(m));
      const extra = [...have].filter((m) => !want.has(m));
      if (missing.length) out.push(`member${missing.length > 1 ? "s" : ""} ${missing.join(", ")} missing`);
      if (extra.length) out.push(`undeclared member${extra.length > 1 ? "s" : ""} ${extra.join(", ")}`);
      return out;
    },
  },
  Repository: { provider: () => new RepositoryProvider(), label: (p) => `repository ${s(p.namespace)}/${s(p.name)} (${s(p.visibility)})`, differences: (a, b) => changed(a, b, ["visibility", "description"]) },
  RepositoryPermission: {
    provider: () => new RepositoryPermissionProvider(),
    label: (p) => `permission ${s(p.kind)} ${s(p.name)} ${s(p.role)} on ${s(p.namespace)}/${s(p.repository)}`,
    differences: (a, b) => changed(a, b, ["role"]),
  },
  DefaultPermission: {
    provider: () => new DefaultPermissionProvider(),
    label: (p) => `default permission ${s(p.delegateKind)} ${s(p.delegateName)} ${s(p.role)} in ${s(p.organization)}`,
    differences: (a, b) => changed(a, b, ["role"]),
  },
  NamespaceReadGrant: {
    provider: () => new NamespaceReadGrantProvider(),
    label: (p) => `grant ${s(p.granteeKind)} ${s(p.grantee)} ${s(p.role)} on every repository of ${(Array.isArray(p.namespaces) ? p.namespaces : []).join(", ")}`,
    differences: (_a, b) => {
      const missing = (b.missingGrants as string[] | undefined) ?? [];
      const wrong = Object.entries((b.wrongRoles as Record<string, string> | undefined) ?? {});
      return [
        ...(missing.length ? [`lacking on ${missing.length} repositor${missing.length > 1 ? "ies" : "y"}: ${sample(missing)}`] : []),
        ...(wrong.length ? [`another role on ${wrong.map(([r, role]) => `${r} (${role})`).slice(0, 5).join(", ")}`] : []),
      ];
    },
  },
  RepositorySet: {
    provider: () => new RepositorySetProvider(),
    label: (p) => `pre-seeded repositories of ${s(p.namespace)} (${Object.keys((p.repositories as Props) ?? {}).length})`,
    differences: (a, b) => {
      const have = new Set(Object.keys((b.repositories as Props) ?? {}));
      const missing = Object.keys((a.repositories as Props) ?? {}).filter((r) => !have.has(r));
      return missing.length ? [`${missing.length} missing: ${sample(missing)}`] : [];
    },
  },
  ProxyCache: {
    provider: () => new ProxyCacheProvider(),
    label: (p) => `proxy cache ${s(p.organization)} → ${s(p.upstreamRegistry)}`,
    differences: (a, b) => changed(a, b, ["upstreamRegistry", "expirationSeconds", "insecure"]),
  },
  User: { provider: () => new UserProvider(), label: (p) => `user ${s(p.username)}`, differences: (a, b) => changed(a, b, ["enabled", "email"]) },
  ApiToken: { provider: () => new ApiTokenProvider(), label: (p) => `API token ${s(p.name)} of ${s(p.organization)}`, differences: () => [] },
};

function sample(items: string[], max = 5): string {
  return items.slice(0, max).join(", ") + (items.length > max ? `, … (${items.length - max} more)` : "");
}

const QUAY_TYPE = "pulumi-nodejs:dynamic/quay:";

/** Drift made outside Pulumi: the state still records the object as declared, so `up` alone sees nothing to do. */
const DRIFT_FIX = "fix: bash scripts/pulumi.sh refresh, then bash scripts/pulumi.sh up";

/** The Quay resources of a state (decoded), in the state's order (dependencies first). */
export function quayResources(resources: StateResource[]): StateResource[] {
  return resources.filter((r) => r.type.startsWith(QUAY_TYPE) && !r.delete && r.id);
}

/** One line per Quay object the state records: present and as declared, or what is wrong. */
export async function checkModel(resources: StateResource[], concurrency = 8): Promise<CheckLine[]> {
  const quay = quayResources(resources);
  const lines: CheckLine[] = new Array(quay.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < quay.length; i = next++) lines[i] = await checkOne(quay[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, quay.length) }, worker));
  // Grouped by kind (organizations first, grants last), then by name: the same order on every run.
  const rank = (r: StateResource) => {
    const i = KIND_ORDER.indexOf(r.type.slice(QUAY_TYPE.length));
    return i < 0 ? KIND_ORDER.length : i;
  };
  const order = quay.map((r, i) => i).sort((a, b) => rank(quay[a]!) - rank(quay[b]!) || lines[a]!.what.localeCompare(lines[b]!.what));
  return order.map((i) => lines[i]!);
}

const KIND_ORDER = ["Organization", "ProxyCache", "RobotAccount", "Team", "User", "Repository", "RepositorySet", "RepositoryPermission", "DefaultPermission", "NamespaceReadGrant", "ApiToken"];

async function checkOne(r: StateResource): Promise<CheckLine> {
  const typeName = r.type.slice(QUAY_TYPE.length);
  const kind = KINDS[typeName];
  const stored = r.outputs ?? {};
  if (!kind) return fail(`model: ${typeName} ${r.id}`, "verify does not know this resource type — fix: teach scripts/verify/model.ts to read it");
  let what = `model: ${typeName} ${r.id}`;
  try {
    what = `model: ${kind.label(stored)}`;
    const live = await kind.provider().read(r.id!, stored as never);
    if (!live.id || !live.props) return fail(what, `missing in Quay (deleted outside Pulumi) — ${DRIFT_FIX}`);
    const diffs = kind.differences(stored, live.props as Props);
    return diffs.length ? fail(what, `${diffs.join("; ")} — ${DRIFT_FIX}`) : ok(what);
  } catch (e) {
    return fail(what, `cannot read it: ${errorText(e)}`);
  }
}
