// Pull secrets (dockerconfigjson): read upstream credentials from one, and build the one clusters use.
import { z } from "zod";
import { ConfigError, issuesFromZod } from "./errors";
import { parseJsonText } from "./text-file";

export const dockerConfigSchema = z.object({
  auths: z.record(
    z.string(),
    z
      .object({
        auth: z.string().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
        email: z.string().optional(),
      })
      .passthrough(),
  ),
});

export type DockerConfig = z.infer<typeof dockerConfigSchema>;

export interface RegistryCredential {
  username: string;
  password: string;
}

/** Parses a pull secret; the error names the file but never echoes its content. */
export function parseDockerConfig(text: string, file: string): DockerConfig {
  const raw = parseJsonText(text, file, "pull secret", "use the pull secret exactly as downloaded (a dockerconfigjson document)", true);
  const parsed = dockerConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(file, issuesFromZod(parsed.error));
  return parsed.data;
}

/** The credential a pull secret holds for `registry` (exact host match), or undefined for anonymous. */
export function credentialFor(config: DockerConfig, registry: string): RegistryCredential | undefined {
  const entry = config.auths[registry];
  if (!entry) return undefined;
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A dockerconfigjson for the given registries; `base` (e.g. Red Hat's pull secret) is kept, ours win. */
export function buildDockerConfig(credentials: Record<string, RegistryCredential>, base?: DockerConfig): DockerConfig {
  const auths: DockerConfig["auths"] = { ...(base?.auths ?? {}) };
  for (const [registry, c] of Object.entries(credentials)) {
    auths[registry] = { auth: Buffer.from(`${c.username}:${c.password}`, "utf8").toString("base64") };
  }
  return { auths };
}
