// oc-mirror's dry-run mapping.txt: which destination repositories the real run will push to.
import { QUAY_REPOSITORY_PATTERN } from "../providers/quay/names";
import { ConfigError, ConfigIssue } from "./errors";
import { readTextFile } from "./text-file";

export interface MappingEntry {
  line: number;
  source: string;
  destination: string;
}

/** A destination repository on this registry: organization + nested repository name. */
export interface DestinationRepository {
  organization: string;
  name: string;
}

const stripTransport = (ref: string) => ref.replace(/^(docker|oci|dir|file):\/\//, "");

/**
 * Parses `docker://src=docker://dst` lines (oc-mirror v2) and the older `src=dst` form. Comments and blank
 * lines are ignored; every malformed line is reported with its number.
 */
export function parseMapping(text: string, file: string): MappingEntry[] {
  const entries: MappingEntry[] = [];
  const issues: ConfigIssue[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    const number = index + 1;
    if (line === "" || line.startsWith("#")) return;
    const parts = line.split("=");
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      issues.push({ path: [`line ${number}`], message: `expected <source>=<destination>, got ${JSON.stringify(line.slice(0, 120))}`, fix: "one mapping per line, source and destination separated by a single '='" });
      return;
    }
    const source = stripTransport(parts[0].trim());
    const destination = stripTransport(parts[1].trim());
    if (!/^[^\s/]+\/\S+$/.test(destination)) {
      issues.push({ path: [`line ${number}`], message: `destination ${JSON.stringify(destination)} is not <registry>/<repository>[:tag|@digest]`, fix: "check the line; oc-mirror writes docker://<registry>/<org>/<repo>:<tag>" });
      return;
    }
    entries.push({ line: number, source, destination });
  });
  if (issues.length) throw new ConfigError(file, issues);
  return entries;
}

/** `registry/org/a/b:tag` or `…@sha256:…` → { registry, repository: "org/a/b" }. */
export function splitReference(ref: string): { registry: string; repository: string } {
  const slash = ref.indexOf("/");
  const registry = ref.slice(0, slash);
  let repository = ref.slice(slash + 1);
  const at = repository.indexOf("@");
  if (at >= 0) repository = repository.slice(0, at);
  const colon = repository.lastIndexOf(":");
  if (colon > repository.lastIndexOf("/")) repository = repository.slice(0, colon);
  return { registry, repository };
}

/**
 * The distinct destination repositories on `registryHostname` inside `organization`, sorted — what the mirror
 * pre-seed declares. Destinations on other registries or organizations are left out (and counted).
 */
export function destinationRepositories(entries: MappingEntry[], registryHostname: string, organization: string, file = "mapping"): { repositories: DestinationRepository[]; skipped: number } {
  const names = new Set<string>();
  const issues: ConfigIssue[] = [];
  const valid = new RegExp(QUAY_REPOSITORY_PATTERN);
  let skipped = 0;
  const otherHosts = new Set<string>();
  for (const e of entries) {
    const { registry, repository } = splitReference(e.destination);
    const [org, ...rest] = repository.split("/");
    if (registry.toLowerCase() !== registryHostname.toLowerCase()) otherHosts.add(registry);
    if (registry.toLowerCase() !== registryHostname.toLowerCase() || org !== organization || rest.length === 0) {
      skipped++;
      continue;
    }
    const name = rest.join("/");
    if (name.length > 255) {
      issues.push({ path: [`line ${e.line}`], message: `repository name is ${name.length} characters long; Quay allows at most 255 (util/names.py)`, fix: "shorten the destination path (oc-mirror's --dest, or the image's nesting)" });
      continue;
    }
    if (!valid.test(name)) {
      issues.push({ path: [`line ${e.line}`], message: `repository name ${JSON.stringify(name)} is not valid in Quay`, fix: "lowercase path segments of [a-z0-9._-] separated by '/'" });
      continue;
    }
    names.add(name);
  }
  if (issues.length) throw new ConfigError(file, issues);
  // A mapping that pre-seeds nothing is a mistake (wrong file, wrong registry or organization), not a no-op.
  if (names.size === 0) {
    const message =
      entries.length === 0
        ? "the mapping has no mapping lines: it would pre-seed nothing"
        : entries.every((e) => splitReference(e.destination).registry.toLowerCase() !== registryHostname.toLowerCase())
          ? `none of its ${entries.length} destinations is on ${registryHostname} (they are on ${[...otherHosts].slice(0, 3).join(", ")}): it would pre-seed nothing`
          : `none of its ${entries.length} destinations is in organization ${organization} on ${registryHostname}: it would pre-seed nothing`;
    throw new ConfigError(file, [
      {
        path: [entries.length ? `line ${entries[0].line}` : "line 1"],
        message,
        fix: `give the dry-run mapping of an oc-mirror run with --dest docker://${registryHostname}/${organization} (mapping.txt of \`oc-mirror --dry-run\`), or correct quay-mirror:registryHostname / the mapping's organization in the stack config`,
      },
    ]);
  }
  return { repositories: [...names].sort().map((name) => ({ organization, name })), skipped };
}

export function loadMapping(file: string): MappingEntry[] {
  return parseMapping(readTextFile(file, "mapping file", "check quay-mirror:mirrorMappings in the stack config"), file);
}
