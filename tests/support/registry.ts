// What a registry client (podman, oc-mirror) is granted: asks Quay's token endpoint `/v2/auth` with Basic
// credentials and reads the JWT's `access` claim — Quay answers 200 even when it grants nothing.
import fetch from "node-fetch";

export interface Credential {
  username: string;
  password: string;
}

export class RegistryAuthError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The actions Quay grants `credential` on `repository` (`ns/name`) for the requested actions. */
export async function grantedActions(
  endpoint: string,
  service: string,
  credential: Credential | undefined,
  repository: string,
  actions: ("pull" | "push")[] = ["pull", "push"],
): Promise<string[]> {
  const url = `${endpoint.replace(/\/+$/, "")}/v2/auth?service=${encodeURIComponent(service)}&scope=${encodeURIComponent(`repository:${repository}:${actions.join(",")}`)}`;
  const headers: Record<string, string> = {};
  if (credential) headers.Authorization = `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString("base64")}`;
  const res = await fetch(url, { headers });
  const text = await res.text();
  if (res.status !== 200) throw new RegistryAuthError(res.status, `GET /v2/auth for ${repository}: ${res.status} ${text.slice(0, 200)}`);
  const { token } = JSON.parse(text) as { token: string };
  const payload = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8")) as { access?: Array<{ type: string; name: string; actions: string[] }> };
  return (payload.access ?? []).filter((a) => a.type === "repository" && a.name === repository).flatMap((a) => a.actions).sort();
}

/** Credentials from a dockerconfigjson for one registry host. */
export function credentialFromDockerConfig(json: string, registry: string): Credential {
  const auth = (JSON.parse(json) as { auths: Record<string, { auth: string }> }).auths[registry]?.auth;
  if (!auth) throw new Error(`no credential for ${registry} in the docker config`);
  const decoded = Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
