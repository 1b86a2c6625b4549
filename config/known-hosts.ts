// A host's key from an OpenSSH known_hosts file, read at program time, as the one pinned `hostKey`
// (authorized_keys format) the command plugin gets. pulumi-command's connection has only `hostKey`, so the
// file never reaches the plugin.
//
// Understood: `host`, `[host]:port` (port ≠ 22), comma-separated patterns with `*`/`?` wildcards and `!`
// negation, hashed names (`|1|salt|hash`, as `ssh-keyscan -H` / HashKnownHosts write them), `@revoked` (the
// key is never chosen), `@cert-authority` lines (skipped: certificates are not supported).
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Preference when the file holds several keys for the host (the plugin then asks for that key type). */
const KEY_PREFERENCE = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"];

/** `~/x` and relative paths (against the working directory: the project directory under the engine). */
export function knownHostsPath(file: string): string {
  if (file === "~" || file.startsWith("~/")) return path.join(os.homedir(), file.slice(1));
  return path.resolve(file);
}

/** The name a known_hosts line uses for host:port. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return re.test(name);
}

function hashedMatch(entry: string, name: string): boolean {
  const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(entry);
  if (!m) return false;
  const mac = crypto.createHmac("sha1", Buffer.from(m[1]!, "base64")).update(name).digest();
  const want = Buffer.from(m[2]!, "base64");
  return want.length === mac.length && crypto.timingSafeEqual(mac, want);
}

/** OpenSSH's rule: a negated pattern that matches wins; otherwise any positive match. */
function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith("|")) return hashedMatch(patterns, name);
  let matched = false;
  for (const p of patterns.split(",")) {
    if (p.startsWith("!")) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** SHA256 fingerprint as ssh-keygen -l prints it (`SHA256:` + unpadded base64). */
export function sshFingerprint(authorizedKey: string): string {
  const blob = Buffer.from(authorizedKey.trim().split(/\s+/)[1] ?? "", "base64");
  return "SHA256:" + crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

export type KnownHostsResult = { key: string } | { problem: string };

/**
 * The key to pin for host:port from the known_hosts text, or the problem (naming the file, never a secret:
 * a known_hosts file holds none).
 */
export function hostKeyFromKnownHostsText(text: string, file: string, host: string, port: number): KnownHostsResult {
  const name = knownHostsName(host, port);
  const found: string[] = [];
  const revoked = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    let fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0]!.startsWith("@")) {
      marker = fields[0];
      fields = fields.slice(1);
    }
    if (fields.length < 3 || !hostMatches(fields[0]!, name)) continue;
    const key = `${fields[1]} ${fields[2]}`;
    if (marker === "@revoked") revoked.add(key);
    else if (marker === undefined) found.push(key);
  }
  const usable = found.filter((k) => !revoked.has(k));
  if (usable.length === 0) {
    const why = found.length > 0 ? `only @revoked keys for ${name}` : `no key for ${name}`;
    return {
      problem: `${file} has ${why} — fix: add the host's key (\`ssh-keyscan -t ed25519${port === 22 ? "" : ` -p ${port}`} ${host} >> ${file}\`, then check its fingerprint \`ssh-keygen -lf ${file}\` against \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the host's console)`,
    };
  }
  const rank = (k: string) => {
    const i = KEY_PREFERENCE.indexOf(k.split(" ")[0]!);
    return i < 0 ? KEY_PREFERENCE.length : i;
  };
  const key = [...usable].sort((a, b) => rank(a) - rank(b))[0]!;
  return { key };
}

/** hostKeyFromKnownHostsText on the file's contents; an unreadable file is a problem naming it. */
export function hostKeyFromKnownHosts(file: string, host: string, port: number): KnownHostsResult {
  const resolved = knownHostsPath(file);
  let text: string;
  try {
    text = fs.readFileSync(resolved, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      problem: `cannot read ${resolved} (${code ?? (e as Error).message}) — fix: create it with \`ssh-keyscan -t ed25519${port === 22 ? "" : ` -p ${port}`} ${host} > ${file}\` and check the fingerprint (\`ssh-keygen -lf ${file}\`) against the host's console, or pin hostKey instead`,
    };
  }
  return hostKeyFromKnownHostsText(text, resolved, host, port);
}

// ---- the committed example's placeholder -------------------------------------------------------------

/**
 * A committed stack file that cannot know the real key (the lab VM is not reachable from where it is
 * written) holds `REPLACE-ME …` as hostKey: the schema refuses it with the fix, and only the offline
 * preview (scripts/preview-lab.sh, through fillHostKeyPlaceholders) swaps in a throwaway key.
 */
export const HOST_KEY_PLACEHOLDER = "REPLACE-ME";

export function isHostKeyPlaceholder(v: unknown): boolean {
  return typeof v === "string" && v.trim().startsWith(HOST_KEY_PLACEHOLDER);
}

/** A freshly generated ed25519 public key in authorized_keys format: pins nothing that exists. */
export function throwawayHostKey(comment = "THROWAWAY-PREVIEW-KEY"): string {
  const spki = crypto.generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" });
  const raw = spki.subarray(spki.length - 32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]).toString("base64")} ${comment}`;
}

/**
 * The `quay-mirror:host` value (an object, or its JSON text) with every placeholder hostKey (connection and
 * bastion) replaced by a throwaway key; `replaced` lists their paths. For previews only.
 */
export function fillHostKeyPlaceholders<T>(host: T): { host: T; replaced: string[] } {
  const asText = typeof host === "string";
  const value = asText ? (JSON.parse(host as string) as unknown) : structuredClone(host);
  const replaced: string[] = [];
  const conn = (value as { connection?: Record<string, unknown> } | null)?.connection;
  if (conn && typeof conn === "object") {
    if (isHostKeyPlaceholder(conn.hostKey)) {
      conn.hostKey = throwawayHostKey();
      replaced.push("connection.hostKey");
    }
    const bastion = conn.bastion as Record<string, unknown> | undefined;
    if (bastion && typeof bastion === "object" && isHostKeyPlaceholder(bastion.hostKey)) {
      bastion.hostKey = throwawayHostKey();
      replaced.push("connection.bastion.hostKey");
    }
  }
  return { host: (asText ? JSON.stringify(value) : value) as T, replaced };
}
