// Everything the program reads before it declares a single resource: stack config, the model, the
// oc-mirror mappings and pull secrets — parsed and cross-checked here, so bad input fails the preview
// with the file, the JSON path and the fix, and nothing reaches Quay or the host.
import * as fs from "fs";
import * as path from "path";
import { DestinationRepository, destinationRepositories, loadMapping } from "./mapping";
import { ConfigError, ConfigIssue } from "./errors";
import { RegistryModelSpec, loadRegistryModel, repositoryFullName } from "./model";
import { ImageDigestSource, loadImageDigestSources, loadTrustBundle } from "./install-config";
import { DockerConfig, parseDockerConfig } from "./pull-secret";
import { StackConfig, cacheOrganizationName, parseStackConfig } from "./stack";
import { readTextFile } from "./text-file";

export interface ProgramInputs {
  stackFile: string;
  config: StackConfig;
  model: RegistryModelSpec;
  /** Per mirror mapping: the destination repositories to pre-seed (not already in the model). */
  mirrorRepositories: DestinationRepository[];
  /** Upstream credentials for proxy caches (treat as secret). */
  proxyPullSecret?: DockerConfig;
  /** An existing pull secret merged into the `pullSecret` output (treat as secret). */
  pullSecretBase?: DockerConfig;
  /** `quay-mirror:idmsFile` converted to install-config's `imageDigestSources`. */
  imageDigestSources?: ImageDigestSource[];
  /** The PEM certificates of `quay-mirror:additionalTrustBundleFile`. */
  additionalTrustBundle?: string;
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
  return parseDockerConfig(readTextFile(file, what, "check the path in the stack config"), file);
}

/**
 * A file the stack config names must exist: otherwise the stack file is at fault, so the error names it and
 * the key (not a path the user never wrote).
 */
function requireFile(stackFile: string, key: (string | number)[], given: string, resolved: string, what: string): void {
  let problem: string | undefined;
  try {
    if (!fs.statSync(resolved).isFile()) problem = "is not a file";
  } catch {
    problem = "does not exist";
  }
  if (problem) {
    throw new ConfigError(stackFile, [
      {
        path: key,
        message: `the ${what} ${JSON.stringify(given)} ${problem}${given === resolved ? "" : ` (looked for ${resolved})`}`,
        fix: "correct the path (a relative path is relative to the project directory, where Pulumi.yaml is)",
      },
    ]);
  }
}

/**
 * Checks between the stack config and the model: every mirror mapping's organization is in the model, and no
 * organization of the model is one the proxy caches create (cache_<upstream>): both would declare it.
 */
export function crossCheckStackAndModel(config: StackConfig, model: RegistryModelSpec, stackFile: string, modelFile: string): ConfigIssue[] {
  const known = new Set(model.organizations.map((o) => o.name));
  const issues: ConfigIssue[] = [];
  config.mirrorMappings.forEach((m, i) => {
    if (!known.has(m.organization)) {
      issues.push({ path: ["quay-mirror:mirrorMappings", i, "organization"], message: `"${m.organization}" is not an organization of the model`, fix: `add it to ${config.modelFile} or use one of ${[...known].join(", ")}` });
    }
  });
  config.proxyCaches?.upstreams.forEach((u, i) => {
    const cache = cacheOrganizationName(u);
    const at = model.organizations.findIndex((o) => o.name === cache);
    if (at >= 0) {
      issues.push({
        path: ["quay-mirror:proxyCaches", "upstreams", i],
        message: `the proxy cache of "${u}" is organization "${cache}", which ${modelFile} also declares (organizations[${at}]): the two would fight over it`,
        fix: `remove organizations[${at}] from the model (the proxy cache creates and owns it) or remove the upstream`,
      });
    }
  });
  return issues;
}

/** Loads and validates every input of the program. Relative paths are relative to `projectDir`. */
export function loadProgramInputs(raw: Record<string, unknown>, projectDir: string, stackFile: string): ProgramInputs {
  const config = parseStackConfig(raw, stackFile);
  const resolve = (p: string) => (path.isAbsolute(p) ? p : path.join(projectDir, p));
  requireFile(stackFile, ["quay-mirror:modelFile"], config.modelFile, resolve(config.modelFile), "model file");
  config.mirrorMappings.forEach((m, i) => requireFile(stackFile, ["quay-mirror:mirrorMappings", i, "file"], m.file, resolve(m.file), "mapping file"));
  if (config.proxyCaches?.pullSecretFile) requireFile(stackFile, ["quay-mirror:proxyCaches", "pullSecretFile"], config.proxyCaches.pullSecretFile, resolve(config.proxyCaches.pullSecretFile), "pull secret");
  if (config.pullSecretMergeFile) requireFile(stackFile, ["quay-mirror:pullSecretMergeFile"], config.pullSecretMergeFile, resolve(config.pullSecretMergeFile), "pull secret");
  if (config.idmsFile) requireFile(stackFile, ["quay-mirror:idmsFile"], config.idmsFile, resolve(config.idmsFile), "ImageDigestMirrorSet file (oc-mirror's idms-oc-mirror.yaml)");
  if (config.additionalTrustBundleFile) requireFile(stackFile, ["quay-mirror:additionalTrustBundleFile"], config.additionalTrustBundleFile, resolve(config.additionalTrustBundleFile), "trust bundle");
  const model = loadRegistryModel(resolve(config.modelFile));
  const cross = crossCheckStackAndModel(config, model, stackFile, config.modelFile);
  if (cross.length) throw new ConfigError(stackFile, cross);

  const declared = new Set(model.repositories.map(repositoryFullName));
  const mirrorRepositories: DestinationRepository[] = [];
  config.mirrorMappings.forEach((m, i) => {
    const file = resolve(m.file);
    const { repositories } = destinationRepositories(loadMapping(file), config.registryHostname, m.organization, `${file} (quay-mirror:mirrorMappings[${i}] of ${stackFile})`);
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
    imageDigestSources: config.idmsFile ? loadImageDigestSources(resolve(config.idmsFile)) : undefined,
    additionalTrustBundle: config.additionalTrustBundleFile ? loadTrustBundle(resolve(config.additionalTrustBundleFile)) : undefined,
  };
}
