// Everything the program reads before it declares a single resource: stack config, the model, the
// oc-mirror mappings and pull secrets — parsed and cross-checked here, so bad input fails the preview
// with the file, the JSON path and the fix, and nothing reaches Quay or the host.
import * as fs from "fs";
import * as path from "path";
import { DestinationRepository, destinationRepositories, loadMapping } from "./mapping";
import { ConfigError } from "./errors";
import { RegistryModel, loadRegistryModel, repositoryFullName } from "./model";
import { DockerConfig, parseDockerConfig } from "./pull-secret";
import { StackConfig, parseStackConfig } from "./stack";

export interface ProgramInputs {
  stackFile: string;
  config: StackConfig;
  model: RegistryModel;
  /** Per mirror mapping: the destination repositories to pre-seed (not already in the model). */
  mirrorRepositories: DestinationRepository[];
  /** Upstream credentials for proxy caches (treat as secret). */
  proxyPullSecret?: DockerConfig;
  /** An existing pull secret merged into the `pullSecret` output (treat as secret). */
  pullSecretBase?: DockerConfig;
}

/**
 * `quay-mirror:*` values from the engine's config map, JSON-decoded where they are JSON (objects, lists,
 * numbers, booleans). Secret keys are left out: the program reads them with requireSecret.
 */
export function rawStackConfig(all: Record<string, string>, namespace = "quay-mirror", secretKeys: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    if (!key.startsWith(`${namespace}:`)) continue;
    const name = key.slice(namespace.length + 1);
    if (secretKeys.includes(name)) continue;
    try {
      out[name] = JSON.parse(value);
    } catch {
      out[name] = value;
    }
  }
  return out;
}

function readJsonFile(file: string, what: string): DockerConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, [{ path: [], message: `cannot read the ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, fix: "check the path in the stack config" }]);
  }
  return parseDockerConfig(text, file);
}

/** Loads and validates every input of the program. Relative paths are relative to `projectDir`. */
export function loadProgramInputs(raw: Record<string, unknown>, projectDir: string, stackFile: string): ProgramInputs {
  const config = parseStackConfig(raw, stackFile);
  const resolve = (p: string) => (path.isAbsolute(p) ? p : path.join(projectDir, p));
  const model = loadRegistryModel(resolve(config.modelFile));

  const declared = new Set(model.repositories.map(repositoryFullName));
  const known = new Set(model.organizations.map((o) => o.name));
  const mirrorRepositories: DestinationRepository[] = [];
  config.mirrorMappings.forEach((m, i) => {
    if (!known.has(m.organization)) {
      throw new ConfigError(stackFile, [
        { path: ["quay-mirror:mirrorMappings", i, "organization"], message: `"${m.organization}" is not an organization of the model`, fix: `add it to ${config.modelFile} or use one of ${[...known].join(", ")}` },
      ]);
    }
    const file = resolve(m.file);
    const { repositories } = destinationRepositories(loadMapping(file), config.registryHostname, m.organization, file);
    for (const r of repositories) {
      const full = `${r.organization}/${r.name}`;
      if (!declared.has(full)) {
        declared.add(full);
        mirrorRepositories.push(r);
      }
    }
  });

  return {
    stackFile,
    config,
    model,
    mirrorRepositories,
    proxyPullSecret: config.proxyCaches?.pullSecretFile ? readJsonFile(resolve(config.proxyCaches.pullSecretFile), "proxy-cache pull secret") : undefined,
    pullSecretBase: config.pullSecretMergeFile ? readJsonFile(resolve(config.pullSecretMergeFile), "pull secret to merge") : undefined,
  };
}
