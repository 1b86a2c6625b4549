// The stack settings file people edit (Pulumi.<stack>.yaml, or the file QM_STACK_CONFIG names): checked before
// the engine runs (scripts/lab-stack.ts merge-config) and again by the program for what only it can see
// (which keys the engine holds as secrets, the decrypted secret values).
import * as path from "path";
import { ConfigError, ConfigIssue } from "./errors";
import { sshPrivateKeyProblem } from "./quay-host";
import { decodeText, parseYamlText } from "./text-file";

/** Config keys that hold secrets: they must be set with `config set --secret` (a `secure:` value), never in plain text. */
export const SECRET_CONFIG_KEYS = [
  "quay-mirror:sshPrivateKey",
  "quay-mirror:storageSecretKey",
  "quay-mirror:minioAdminSecretKey",
  "quay-mirror:backupPassphrase",
  "quay-mirror:tlsPrivateKey",
  "quay:token",
];

/** The stack settings file the user wrote: `$QM_STACK_CONFIG` when set (as scripts/lib-stack.sh uses it), else Pulumi.<stack>.yaml. */
export function stackSettingsFile(projectDir: string, stack: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = env.QM_STACK_CONFIG;
  return path.resolve(projectDir, given && given.trim() !== "" ? given : `Pulumi.${stack}.yaml`);
}

const setSecretFix = (key: string) =>
  `delete the line from the file (and from git history if it was pushed: the secret is exposed, so rotate it), then set it encrypted: \`scripts/pulumi.sh config set --secret ${key} < file-holding-the-value\``;

/** A plain-text secret in the settings' `config:` map (a value that is not `{ secure: … }`). */
export function plaintextSecretIssues(config: Record<string, unknown>): ConfigIssue[] {
  return SECRET_CONFIG_KEYS.filter((k) => k in config && !(typeof config[k] === "object" && config[k] !== null && "secure" in (config[k] as object))).map((k) => ({
    path: ["config", k],
    message: `${k} is a secret written in plain text (committed with the file, readable by anyone with the repository)`,
    fix: setSecretFix(k),
  }));
}

/**
 * The same, from what the engine hands the program: a secret key set, but not among the keys it holds as
 * secrets. `isSecret` is the SDK's runtime check.
 */
export function plaintextSecretKeys(all: Record<string, string>, isSecret: (key: string) => boolean): ConfigIssue[] {
  return SECRET_CONFIG_KEYS.filter((k) => k in all && !isSecret(k)).map((k) => ({
    path: ["config", k],
    message: `${k} is a secret but its value is in plain text in the stack settings`,
    fix: setSecretFix(k),
  }));
}

/** Shape checks of decrypted secret values (an SSH public key given as the private key, …); never echoes a value. */
export function secretValueIssues(get: (key: string) => string | undefined): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const key = get("quay-mirror:sshPrivateKey");
  if (key !== undefined) {
    const problem = sshPrivateKeyProblem(key);
    if (problem) {
      const [message, fix] = problem.split(" — fix: ");
      issues.push({ path: ["config", "quay-mirror:sshPrivateKey"], message: message.replace(/^privateKey/, "quay-mirror:sshPrivateKey"), fix });
    }
  }
  return issues;
}

export interface StackSettings {
  config: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * Parses a stack settings file's bytes: UTF-8 without BOM, YAML without syntax errors, a mapping whose
 * `config` is a mapping, no secret in plain text. Throws a ConfigError naming the file and the line or key.
 */
export function parseStackSettings(bytes: Buffer, file: string): StackSettings {
  const text = decodeText(bytes, file, "stack settings file");
  const doc = parseYamlText(text, file, "stack settings file") ?? {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(file, [{ path: [], message: "is not a Pulumi stack settings file (a YAML mapping with a `config:` key)", fix: "start from the committed Pulumi.lab.yaml" }]);
  }
  const settings = doc as Record<string, unknown>;
  const config = settings.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new ConfigError(file, [{ path: ["config"], message: "must be a mapping of keys such as quay-mirror:mode", fix: "indent the keys under `config:`" }]);
  }
  const issues = plaintextSecretIssues(config as Record<string, unknown>);
  if (issues.length) throw new ConfigError(file, issues);
  return { ...settings, config: config as Record<string, unknown> };
}

/**
 * The program's check of what the engine hands it (`all`: every config value, decrypted; `isSecret`: whether
 * the engine holds a key as a secret). Throws a ConfigError naming the stack file and the key; never a value.
 */
export function checkEngineConfig(all: Record<string, string>, isSecret: ((key: string) => boolean) | undefined, stackFile: string): void {
  const issues = [...(isSecret ? plaintextSecretKeys(all, isSecret) : []), ...secretValueIssues((k) => all[k])];
  if (issues.length) throw new ConfigError(stackFile, issues);
}
