// Discovery and the access model, asked the way a registry client asks: GET /v2/ (401 with Quay's
// WWW-Authenticate), GET /api/v1/discovery, and Quay's token endpoint /v2/auth with Basic credentials, whose
// JWT `access` claim is exactly what Quay's authorization decided (the actions it grants on the scope). A
// token request writes nothing; repositories are listed with the stack's API token (GET).
import fetch from "node-fetch";
import { QuayClient } from "../../providers/quay/client";
import { listNamespaceRepositories } from "../../providers/quay/listing";
import { CheckLine, errorText, fail, ok, skip } from "./report";

export interface Credential {
  username: string;
  password: string;
}

const base = (url: string) => url.replace(/\/+$/, "");

/** The actions Quay grants `credential` on `repository` (`ns/name`) when asked for `actions`. */
export async function grantedActions(endpoint: string, service: string, credential: Credential, repository: string, actions: ("pull" | "push")[]): Promise<string[]> {
  const url = `${base(endpoint)}/v2/auth?service=${encodeURIComponent(service)}&scope=${encodeURIComponent(`repository:${repository}:${actions.join(",")}`)}`;
  const res = await fetch(url, { headers: { Authorization: `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString("base64")}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /v2/auth as ${credential.username} for ${repository}: ${res.status} ${text.slice(0, 200)}`);
  const { token } = JSON.parse(text) as { token: string };
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { access?: Array<{ type: string; name: string; actions: string[] }> };
  return (payload.access ?? []).filter((a) => a.type === "repository" && a.name === repository).flatMap((a) => a.actions).sort();
}

/** Credentials for one registry host from a dockerconfigjson; undefined when it has none. */
export function credentialFromDockerConfig(json: string, registry: string): Credential | undefined {
  const auth = (JSON.parse(json) as { auths?: Record<string, { auth?: string }> }).auths?.[registry]?.auth;
  if (!auth) return undefined;
  const decoded = Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** GET <url>/api/v1/discovery answers 200 with Quay's API description. */
export async function checkDiscovery(what: string, url: string): Promise<CheckLine> {
  try {
    const res = await fetch(`${base(url)}/api/v1/discovery`);
    if (res.status !== 200) return fail(what, `GET ${base(url)}/api/v1/discovery answered ${res.status}`);
    const body = (await res.json()) as { paths?: unknown; swagger?: unknown };
    return body && typeof body === "object" && "paths" in body ? ok(what) : fail(what, "the answer is not Quay's API discovery document");
  } catch (e) {
    return fail(what, `GET ${base(url)}/api/v1/discovery: ${errorText(e)}`);
  }
}

/** GET <url>/v2/ answers 401 with `WWW-Authenticate: Bearer realm=".../v2/auth",service="<hostname>"`. */
export async function checkRegistryRoot(what: string, url: string, hostname: string): Promise<CheckLine> {
  try {
    const res = await fetch(`${base(url)}/v2/`);
    const challenge = res.headers.get("www-authenticate") ?? "";
    if (res.status !== 401) return fail(what, `GET /v2/ answered ${res.status}, not 401 (a registry asks clients to authenticate)`);
    if (!/^Bearer\s/i.test(challenge) || !/realm="[^"]*\/v2\/auth"/.test(challenge)) return fail(what, `GET /v2/ answered 401 without Quay's Bearer challenge (WWW-Authenticate: ${JSON.stringify(challenge)})`);
    const service = /service="([^"]*)"/.exec(challenge)?.[1];
    if (service !== hostname) return fail(what, `Quay names itself ${JSON.stringify(service)}, not ${hostname} (SERVER_HOSTNAME) — clients would ask tokens for the wrong service`);
    return ok(what);
  } catch (e) {
    return fail(what, `GET ${base(url)}/v2/: ${errorText(e)}`);
  }
}

function sample(items: string[], max = 5): string {
  return items.slice(0, max).join(", ") + (items.length > max ? `, … (${items.length - max} more)` : "");
}

async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

export interface AccessInputs {
  /** Where clients reach the registry (its /v2/auth). */
  registryUrl: string;
  /** The token service name: the registry hostname. */
  service: string;
  /** A client with the stack's API token, to list repositories. */
  admin: QuayClient;
  /** Every organization of the model. */
  organizations: string[];
  /** Mirror robots (`org+name`) with their credentials (undefined: the stack has no credential for it). */
  mirrorRobots: { name: string; credential?: Credential }[];
  /** The cluster-pull user's credential (from the pullSecret output) and its namespaces. */
  pullUser?: { username: string; credential?: Credential; namespaces: string[] };
}

/**
 * Each mirror robot: push granted on every repository of its namespace, denied on one existing repository of
 * every other organization. Never a name that does not exist: Quay's /v2/auth creates the repository when it
 * grants push on one. The pull user: pull granted on every repository of each of its namespaces.
 */
export async function checkAccess(a: AccessInputs): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const repos = new Map<string, string[]>();
  const list = async (ns: string) => {
    if (!repos.has(ns)) repos.set(ns, await listNamespaceRepositories(a.admin, ns, 0));
    return repos.get(ns)!;
  };
  const grants = (c: Credential, repo: string, actions: ("pull" | "push")[]) => grantedActions(a.registryUrl, a.service, c, repo, actions);

  for (const robot of a.mirrorRobots) {
    const ns = robot.name.split("+")[0]!;
    const own = `access: mirror robot ${robot.name} may push to ${ns}`;
    const others = `access: mirror robot ${robot.name} may not push outside ${ns}`;
    if (!robot.credential) {
      lines.push(fail(own, "the stack's robotCredentials output has no token for it — fix: bash scripts/pulumi.sh up"), fail(others, "no credential to ask with"));
      continue;
    }
    const cred = robot.credential;
    try {
      const targets = await list(ns);
      if (!targets.length) {
        // Asking for push on a repository that does not exist makes Quay create it: verify writes nothing.
        lines.push(skip(own, `${ns} has no repository yet (asking for push on a new one would create it)`));
      } else {
        const denied = (await pool(targets, 8, async (r) => ((await grants(cred, r, ["pull", "push"])).includes("push") ? undefined : r))).filter((r): r is string => !!r);
        lines.push(denied.length ? fail(own, `push denied on ${denied.length} of ${targets.length}: ${sample(denied)}`) : ok(own, `push granted on all ${targets.length} repositories`));
      }
    } catch (e) {
      lines.push(fail(own, errorText(e)));
    }
    try {
      const foreign = a.organizations.filter((o) => o !== ns);
      // One existing repository of each other organization (never a new name: see above).
      const probes = (await Promise.all(foreign.map(async (o) => (await list(o))[0]))).filter((r): r is string => !!r);
      const allowed = (await pool(probes, 8, async (r) => ((await grants(cred, r, ["push"])).includes("push") ? r : undefined))).filter((r): r is string => !!r);
      lines.push(
        allowed.length
          ? fail(others, `push GRANTED on ${allowed.join(", ")} — fix: remove the grant (a mirror robot writes only its own namespace)`)
          : ok(others, `push denied in ${probes.length} other organization${probes.length === 1 ? "" : "s"}${probes.length < foreign.length ? ` (${foreign.length - probes.length} without repositories not asked)` : ""}`),
      );
    } catch (e) {
      lines.push(fail(others, errorText(e)));
    }
  }

  if (a.pullUser) {
    for (const ns of a.pullUser.namespaces) {
      const what = `access: pull user ${a.pullUser.username} may pull every repository of ${ns}`;
      const cred = a.pullUser.credential;
      if (!cred) {
        lines.push(fail(what, "the stack's pullSecret output has no credential for the registry hostname — fix: bash scripts/pulumi.sh up"));
        continue;
      }
      try {
        const targets = await list(ns);
        const denied = (await pool(targets, 8, async (r) => ((await grants(cred, r, ["pull"])).includes("pull") ? undefined : r))).filter((r): r is string => !!r);
        lines.push(denied.length ? fail(what, `pull denied on ${denied.length} of ${targets.length}: ${sample(denied)}`) : ok(what, `${targets.length} repositories`));
      } catch (e) {
        lines.push(fail(what, errorText(e)));
      }
    }
  }
  return lines;
}
