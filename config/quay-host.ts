// The QuayHost component's arguments: one zod schema that parses, cross-checks and defaults them.
//
// Rule for every string: where a value cannot legitimately contain shell or YAML metacharacters (host
// names, user names, paths, image references, versions), the schema rejects anything outside a narrow
// alphabet, so a hostile value never reaches a template. Where a value may legitimately contain anything
// (storage keys, free-text config values), it is accepted as is and travels to the host only inside
// config.yaml (serialized by the `yaml` library) or on stdin — never on a command line.
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { quayNameSetting } from "../providers/quay/names";
import { jsonPath } from "./errors";
import { hostKeyFromKnownHosts, isHostKeyPlaceholder } from "./known-hosts";
import { SECURITY_POSTURE } from "./quay-posture";

/** Quay ≥ 3.18 mints long-lived tokens through the API; the component's bootstrap path relies on it. */
export const DEFAULT_QUAY_VERSION = "v3.18.0";
export const QUAY_IMAGE_REPOSITORY = "quay.io/projectquay/quay";
export const MIN_QUAY_VERSION: readonly [number, number] = [3, 18];

/** Keys github.com/quay/quay `util/config/schema.py` lists as required: Quay's config validation fails without them. The overlay can never unset them. */
export const QUAY_REQUIRED_KEYS = [
  "PREFERRED_URL_SCHEME",
  "SERVER_HOSTNAME",
  "DB_URI",
  "AUTHENTICATION_TYPE",
  "DISTRIBUTED_STORAGE_CONFIG",
  "BUILDLOGS_REDIS",
  "USER_EVENTS_REDIS",
  "DISTRIBUTED_STORAGE_PREFERENCE",
  "DEFAULT_TAG_EXPIRATION",
  "TAG_EXPIRATION_OPTIONS",
] as const;

/**
 * config.yaml keys the component owns. The overlay may not set them; each entry says which input to use.
 */
export const COMPONENT_OWNED_KEYS: Readonly<Record<string, string>> = {
  DB_URI: "it points at the PostgreSQL the component installs, with a generated password",
  BUILDLOGS_REDIS: "it points at the Redis the component installs, with a generated password",
  USER_EVENTS_REDIS: "it points at the Redis the component installs, with a generated password",
  SECRET_KEY: "it is generated once by the component and never rotated",
  DATABASE_SECRET_KEY: "it is generated once by the component and never rotated (Quay encrypts robot tokens with it)",
  DISTRIBUTED_STORAGE_CONFIG: "set the `storage` input instead",
  DISTRIBUTED_STORAGE_PREFERENCE: "set the `storage` input instead",
  SERVER_HOSTNAME: "set the `serverHostname` input instead",
  SETUP_COMPLETE: "the component always sets it to true",
  AUTHENTICATION_TYPE: "it must stay Database: the first superuser is created through /api/v1/user/initialize",
  TESTING: "the component always sets it to false (Quay's own default is true: TESTING mode turns e-mail off and skips production code paths)",
  FEATURE_PROXY_STORAGE: "set `storage.directDownloads` instead (false, the default, sends blob downloads through Quay)",
  HEALTH_CHECKER: "the component makes /health/instance check Redis and storage as well as the database (LocalHealthCheck without instance_skips), so the health step fails when one of them is unreachable",
};

/** The widest proxyAddress network accepted without allowWideProxyNetwork: IPv4 /16, IPv6 /48. */
export const WIDEST_PROXY_PREFIX = { 4: 16, 6: 48 } as const;

// ---- value rules ---------------------------------------------------------------------------------

const NO_SHELL = "no spaces, quotes, '$', backticks, ';', '&', '|', globs or newlines";
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const SSH_USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
const IMAGE_TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// registry[:port]/path[:tag][@sha256:digest], lowercase path components (the distribution reference grammar, narrowed).
const IMAGE_REF_RE =
  /^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const LOCAL_PATH_RE = /^[A-Za-z0-9._/@+,=~-]+$/;
const STORAGE_PATH_RE = /^\/(?:[A-Za-z0-9._-]+\/?)*$/;
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const DURATION_RE = /^[0-9]+[smhdw]$/;
const HOST_KEY_RE =
  /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}(?: [\x20-\x7e]*)?$/;
const EMAIL_RE = /^[A-Za-z0-9.!#%&*+=?^_{}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const APP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A string that may also be a Pulumi Output (secrets, or values produced by other resources). */
export type StringInput = string | pulumi.Output<string>;

const isOutput = (v: unknown): v is pulumi.Output<string> => pulumi.Output.isInstance(v);

/** A plain string checked now, or an Output whose value is checked when it resolves (see `checkLater`). */
function stringOrOutput(plain: z.ZodType<string>) {
  return z.union([plain, z.custom<pulumi.Output<string>>(isOutput, { message: "must be a string or a pulumi Output<string>" })]);
}

export const hostnameOrIp = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .refine((v) => HOSTNAME_RE.test(v) || net.isIP(v) !== 0, {
      message: `${what} must be a DNS name or an IP address — fix: use letters, digits, '-' and '.' only (${NO_SHELL})`,
    });

const port = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int(`${what} must be an integer — fix: use a TCP port number`)
    .min(1, `${what} must be between 1 and 65535 — fix: use a TCP port number`)
    .max(65535, `${what} must be between 1 and 65535 — fix: use a TCP port number`);


const sshUser = z
  .string({ error: "user must be a string" })
  .regex(SSH_USER_RE, `user must be a POSIX login name — fix: lowercase letters, digits, '_' and '-', starting with a letter or '_' (${NO_SHELL})`);

/**
 * Why a value is not an SSH private key, or undefined. Never includes the value (it may be the real key).
 * A public key (`ssh-ed25519 AAAA…`, the contents of id_*.pub, or a PEM "PUBLIC KEY") is the usual mix-up.
 */
export function sshPrivateKeyProblem(v: string): string | undefined {
  const t = v.trim();
  if (t === "") return "privateKey must not be empty — fix: pass the PEM text of the SSH private key (as a secret)";
  if (/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-[a-z0-9]+|sk-(ssh-ed25519|ecdsa-sha2-[a-z0-9]+)@openssh\.com)(-cert-v01@openssh\.com)? AAAA/.test(t) || /-----BEGIN (SSH2 |RSA |EC )?PUBLIC KEY-----/.test(t)) {
    return "privateKey is an SSH PUBLIC key (the contents of a .pub file), not the private key — fix: set the private key file, the one without .pub: `scripts/pulumi.sh config set --secret quay-mirror:sshPrivateKey < ~/.ssh/id_ed25519`";
  }
  if (!t.includes("-----BEGIN ") || !/PRIVATE KEY-----/.test(t)) {
    return "privateKey must be the PEM text of an SSH private key (it begins with -----BEGIN … PRIVATE KEY-----) — fix: pass the key's contents, not its path: `scripts/pulumi.sh config set --secret quay-mirror:sshPrivateKey < ~/.ssh/id_ed25519`";
  }
  return undefined;
}

const privateKeyText = z.string().superRefine((v, ctx) => {
  const problem = sshPrivateKeyProblem(v);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const privateKey = stringOrOutput(privateKeyText);

// A unix socket's path: the kernel's sun_path holds 107 bytes and a NUL.
const AGENT_SOCKET_MAX = 107;
const agentSocketPath = z
  .string({ error: "agentSocketPath must be a string" })
  .regex(/^\/[A-Za-z0-9._/@+,=~-]+$/, `agentSocketPath must be an absolute path of letters, digits and . _ / @ + , = ~ - — fix: give the fixed path the SSH agent listens on, e.g. /run/quay-mirror/ssh-agent.sock (start it with \`ssh-agent -a <path>\`; ${NO_SHELL})`)
  .refine((p) => !p.split("/").includes(".."), { message: "agentSocketPath must not contain '..' — fix: give the socket's plain absolute path, e.g. /run/quay-mirror/ssh-agent.sock" })
  .max(AGENT_SOCKET_MAX, `agentSocketPath must be at most ${AGENT_SOCKET_MAX} characters (a unix socket's path limit) — fix: use a shorter path, e.g. /run/quay-mirror/ssh-agent.sock`);

/** How the SSH key reaches the plugin: exactly one of the two on a connection; at most one on a bastion. */
const AUTH_FIX =
  "fix: set agentSocketPath to the path of an SSH agent that holds the key (the key then never enters the program or the stack state; the recommended way for CI: README \"SSH key through an agent\"), " +
  "or pass the key's PEM text as privateKey (the program's secret quay-mirror:sshPrivateKey)";

const hostKey = z
  .string()
  .refine((v) => !isHostKeyPlaceholder(v), {
    message: "hostKey is still the placeholder of the committed example — fix: replace it with the host's key: `ssh-keyscan -t ed25519 <host>`, its fingerprint (`| ssh-keygen -lf -`) checked against `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the VM's console (README: \"SSH host key\")",
    abort: true,
  })
  .regex(HOST_KEY_RE, "hostKey must be one public key in authorized_keys format (`ssh-ed25519 AAAA… [comment]`) — fix: copy one line of `ssh-keyscan -t ed25519 <host>` without the host name");

/** The value of pulumi-command's `hostKey` that opts in to trust-on-first-use (our command plugin only). */
export const TRUST_ON_FIRST_USE = "trust-on-first-use";

const knownHostsFile = z
  .string({ error: "knownHostsFile must be a string" })
  .regex(LOCAL_PATH_RE, `knownHostsFile must be a local file path of letters, digits and . _ / @ + , = ~ - — fix: give the path of a known_hosts file that has the host, e.g. ~/.ssh/known_hosts (${NO_SHELL})`);

const hostKeyPolicy = z.enum(["strict", TRUST_ON_FIRST_USE], {
  error: `hostKeyPolicy must be "strict" or "${TRUST_ON_FIRST_USE}" — fix: leave it out (strict: hostKey or knownHostsFile pins the key) or opt in to "${TRUST_ON_FIRST_USE}"`,
});

/** How to get a host's key: every "hostKey is required" message carries it. */
export function hostKeyFix(host: string, port: number): string {
  const p = port === 22 ? "" : ` -p ${port}`;
  return (
    `fix: pin the key: run \`ssh-keyscan${p} -t ed25519 ${host}\`, compare its fingerprint (\`ssh-keyscan${p} -t ed25519 ${host} | ssh-keygen -lf -\`) ` +
    "with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the VM's console (or the fingerprint cloud-init prints to the console on first boot), " +
    `and set hostKey to the \`ssh-ed25519 AAAA…\` part; or set knownHostsFile to a known_hosts file that has ${p ? `[${host}]:${port}` : host}; ` +
    `or, knowingly, hostKeyPolicy: ${TRUST_ON_FIRST_USE} (the first key the host offers is trusted, logged and pinned in the stack)`
  );
}

/** The SSH host-key fields, on the connection and on the bastion. */
const hostKeyFields = { hostKey: hostKey.optional(), knownHostsFile: knownHostsFile.optional(), hostKeyPolicy: hostKeyPolicy.default("strict") };

type HostKeySource = { hostKey?: string; knownHostsFile?: string; hostKeyPolicy: "strict" | typeof TRUST_ON_FIRST_USE };

/**
 * Checks that exactly one of hostKey, knownHostsFile and hostKeyPolicy: trust-on-first-use says how the host's
 * key is checked, and resolves a known_hosts file now when the host name is known (else resolveHostKey does
 * it when the name resolves).
 */
function checkHostKeySource(c: HostKeySource, host: StringInput, port: number, ctx: z.core.$RefinementCtx, at: PropertyKey[]) {
  const tofu = c.hostKeyPolicy === TRUST_ON_FIRST_USE;
  const given = [c.hostKey !== undefined && "hostKey", c.knownHostsFile !== undefined && "knownHostsFile", tofu && `hostKeyPolicy: ${TRUST_ON_FIRST_USE}`].filter(Boolean);
  const shownHost = isOutput(host) ? "<host>" : host;
  if (given.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: [...at, "hostKey"],
      message: `hostKey is required: without it the host's identity is not checked, and whatever answers at that address receives the steps' secrets (config.yaml with the database password) — ${hostKeyFix(shownHost, port)}`,
    });
  } else if (given.length > 1) {
    ctx.addIssue({ code: "custom", path: [...at, tofu ? "hostKeyPolicy" : "knownHostsFile"], message: `${given.join(" and ")} are alternatives — fix: keep one of them` });
  } else if (c.knownHostsFile !== undefined && !isOutput(host)) {
    const r = hostKeyFromKnownHosts(c.knownHostsFile, host, port);
    if ("problem" in r) ctx.addIssue({ code: "custom", path: [...at, "knownHostsFile"], message: `knownHostsFile: ${r.problem}` });
    else if (!HOST_KEY_RE.test(r.key)) ctx.addIssue({ code: "custom", path: [...at, "knownHostsFile"], message: `knownHostsFile: the key for ${host} in ${c.knownHostsFile} is of an unsupported type — fix: add its ed25519 key (ssh-keyscan -t ed25519 ${host})` });
  }
}

const bastionSchema = z
  .object({
    host: hostnameOrIp("bastion host"),
    port: port("bastion port").default(22),
    user: sshUser.default("root"),
    privateKey: privateKey.optional(),
    agentSocketPath: agentSocketPath.optional(),
    ...hostKeyFields,
  })
  .strict();

export const connectionSchema = z
  .object({
    host: stringOrOutput(hostnameOrIp("host")),
    port: port("port").default(22),
    user: sshUser.default("root"),
    privateKey: privateKey.optional(),
    privateKeyPassword: stringOrOutput(z.string().min(1, "privateKeyPassword must not be empty — fix: omit it for an unencrypted key")).optional(),
    agentSocketPath: agentSocketPath.optional(),
    ...hostKeyFields,
    bastion: bastionSchema.optional(),
    dialErrorLimit: z.number().int().min(1).max(1000).default(10),
    perDialTimeout: z.number().int().min(1).max(600).default(15),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.privateKey === undefined && c.agentSocketPath === undefined) {
      ctx.addIssue({ code: "custom", path: ["privateKey"], message: `one of privateKey and agentSocketPath is required: the plugin has no other way to authenticate — ${AUTH_FIX}` });
    } else if (c.privateKey !== undefined && c.agentSocketPath !== undefined) {
      ctx.addIssue({ code: "custom", path: ["agentSocketPath"], message: "privateKey and agentSocketPath are alternatives — fix: keep one of them (agentSocketPath keeps the key out of the program and the stack state)" });
    } else if (c.agentSocketPath !== undefined && c.privateKeyPassword !== undefined) {
      ctx.addIssue({ code: "custom", path: ["privateKeyPassword"], message: "privateKeyPassword goes with privateKey, and agentSocketPath is set — fix: remove privateKeyPassword (ssh-add asks for the passphrase when it loads the key into the agent)" });
    }
    if (c.bastion?.privateKey !== undefined && c.bastion.agentSocketPath !== undefined) {
      ctx.addIssue({ code: "custom", path: ["bastion", "agentSocketPath"], message: "privateKey and agentSocketPath are alternatives — fix: keep one of them, or neither (the bastion then uses the connection's)" });
    }
    checkHostKeySource(c, c.host, c.port, ctx, []);
    if (c.bastion) checkHostKeySource(c.bastion, c.bastion.host, c.bastion.port, ctx, ["bastion"]);
  });

/**
 * The `hostKey` pulumi-command gets for a connection or bastion whose settings passed the schema: the pinned
 * key, the key from the known_hosts file (resolved when the host name is an Output, failing with the JSON
 * path), or TRUST_ON_FIRST_USE.
 */
export function resolveHostKey(c: HostKeySource, host: StringInput, port: number, at: readonly PropertyKey[]): string | pulumi.Output<string> {
  if (c.hostKeyPolicy === TRUST_ON_FIRST_USE) return TRUST_ON_FIRST_USE;
  if (c.hostKey !== undefined) return c.hostKey;
  const file = c.knownHostsFile!;
  const lookup = (h: string) => {
    const r = hostKeyFromKnownHosts(file, h, port);
    if ("problem" in r) throw new QuayHostConfigError([{ path: jsonPath([...at, "knownHostsFile"]), message: `knownHostsFile: ${r.problem}` }]);
    return r.key;
  };
  return isOutput(host) ? host.apply(lookup) : lookup(host);
}

export const storageSchema = z
  .object({
    hostname: hostnameOrIp("storage hostname"),
    port: port("storage port").default(9000),
    bucket: z.string().regex(BUCKET_RE, "bucket must be an S3 bucket name — fix: 3 to 63 lowercase letters, digits, '.' and '-'"),
    accessKey: stringOrOutput(z.string().min(1, "accessKey must not be empty — fix: give the storage user's access key")),
    secretKey: stringOrOutput(z.string().min(1, "secretKey must not be empty — fix: pass it as a secret (pulumi config set --secret)")),
    isSecure: z.boolean().default(false),
    storagePath: z
      .string()
      .regex(STORAGE_PATH_RE, "storagePath must be an absolute path of letters, digits, '.', '_', '-' and '/' — fix: e.g. /datastorage/registry")
      .refine((p) => !p.split("/").includes(".."), { message: "storagePath must not contain '..' — fix: e.g. /datastorage/registry" })
      .default("/datastorage/registry"),
    signatureVersion: z.enum(["v4", "v2"]).default("v4"),
    regionName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "regionName must be lowercase letters, digits and '-', starting with a letter or digit — fix: e.g. us-east-1")
      .optional(),
    serverSideAssembly: z.boolean({ error: "serverSideAssembly must be true or false — fix: see README, chunked uploads" }).default(true),
    directDownloads: z.boolean({ error: "directDownloads must be true or false — fix: false sends blob downloads through Quay" }).default(false),
  })
  .strict();

const proxyAddress = z.string().superRefine((v, ctx) => {
  const problem = proxyAddressProblem(v);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** Why `v` is not an IP address or a CIDR network UFW accepts unchanged, or undefined when it is fine. */
export function proxyAddressProblem(v: string): string | undefined {
  const fix = `— fix: give one IPv4/IPv6 address or network such as 30.30.200.102 or 10.0.0.0/24 (${NO_SHELL})`;
  const [addr, prefix, ...rest] = v.split("/");
  const family = net.isIP(addr ?? "");
  if (rest.length > 0 || family === 0) return `proxyAddress must be an IP address or CIDR network ${fix}`;
  if (prefix !== undefined) {
    const max = family === 4 ? 32 : 128;
    if (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > max) return `proxyAddress has an invalid prefix length /${prefix} ${fix}`;
    const bits = ipToBigInt(addr!);
    const hostBits = BigInt(max - Number(prefix));
    if (hostBits > 0n && bits % (1n << hostBits) !== 0n) return `proxyAddress ${v} has host bits set — fix: use the network address (UFW would rewrite it, and the firewall step compares rules exactly)`;
  }
  if (family === 6 && canonicalIp(addr!) !== addr) return `proxyAddress ${addr} is not in canonical IPv6 form — fix: write it as ${canonicalIp(addr!)}${prefix !== undefined ? "/" + prefix : ""}`;
  return undefined;
}

/**
 * Why `v` (a valid proxyAddress) admits more than the TLS proxy's own network — wider than IPv4 /16 or IPv6
 * /48 — or undefined. UFW would open Quay's port 8080 to all of it.
 */
export function proxyNetworkTooWide(v: string): string | undefined {
  const [addr, prefix] = v.split("/");
  if (prefix === undefined) return undefined;
  const family = net.isIP(addr ?? "") as 4 | 6;
  const limit = WIDEST_PROXY_PREFIX[family];
  const bits = Number(prefix);
  if (bits >= limit) return undefined;
  const hostBits = (family === 4 ? 32 : 128) - bits;
  const count = family === 4 ? String(2 ** hostBits) : `2^${hostBits}`;
  return `proxyAddress ${v} opens Quay's port 8080 to ${count} addresses (wider than /${limit}) — fix: give the TLS proxy's address (or its network, /${limit} or narrower), or set allowWideProxyNetwork: true if every address in ${v} may reach Quay directly`;
}

function ipToBigInt(addr: string): bigint {
  if (net.isIPv4(addr)) return addr.split(".").reduce((acc, o) => (acc << 8n) + BigInt(Number(o)), 0n);
  const canonical = canonicalIp(addr);
  const [head, tail] = canonical.includes("::") ? canonical.split("::") : [canonical, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || "0", 16)), 0n);
}

/** IPv6 in the compressed lowercase form (RFC 5952, as WHATWG URL serializes it); IPv4 unchanged. */
export function canonicalIp(addr: string): string {
  if (!net.isIPv6(addr)) return addr;
  return new URL(`http://[${addr}]/`).hostname.slice(1, -1);
}

/** Tags that move: an upgrade would happen whenever the host pulls, not when someone runs the procedure. */
const MOVING_TAG_RE = /^(latest|stable|main|master|nightly|edge|next|dev|devel|current|release)$/i;

const quayVersion = z
  .string()
  .regex(IMAGE_TAG_RE, `quayVersion must be an image tag — fix: e.g. ${DEFAULT_QUAY_VERSION} (${NO_SHELL})`)
  .refine((v) => !MOVING_TAG_RE.test(v), {
    message: `quayVersion is a moving tag: the image behind it changes without a change to the stack, which defeats the upgrade procedure (an upgrade must be a reviewed change of the stack file, made after a backup) — fix: pin a release tag such as ${DEFAULT_QUAY_VERSION} (or set quayImage to <repository>@sha256:<digest>)`,
    abort: true,
  })
  .superRefine((v, ctx) => {
    const m = /^v?([0-9]+)\.([0-9]+)(?:\.[0-9]+)?(?:[-.].*)?$/.exec(v);
    if (!m) return; // a non-semver tag (e.g. a nightly): cannot check the version
    const [major, minor] = [Number(m[1]), Number(m[2])];
    const [minMajor, minMinor] = MIN_QUAY_VERSION;
    if (major < minMajor || (major === minMajor && minor < minMinor)) {
      ctx.addIssue({
        code: "custom",
        message: `quayVersion ${v} is older than 3.18: the bootstrap token path mints tokens through /api/v1/organization/{org}/applications/{id}/tokens, which exists from 3.18 on — fix: use ${DEFAULT_QUAY_VERSION} or later`,
      });
    }
  });

// ---- the config.yaml overlay ---------------------------------------------------------------------

const duration = z.string().regex(DURATION_RE, "must be a duration such as 2w, 1d, 0s — fix: a number followed by s, m, h, d or w");

/** Known Quay keys the overlay may set, with their types. Unknown upper-case keys are allowed too. */
export const KNOWN_OVERLAY_KEYS = {
  FEATURE_EXTENDED_REPOSITORY_NAMES: z.literal(true, {
    error: "FEATURE_EXTENDED_REPOSITORY_NAMES must stay true — fix: remove it; oc-mirror v2 pushes nested repository paths that Quay refuses without it",
  }),
  FEATURE_USER_INITIALIZE: z.literal(true, {
    error: "FEATURE_USER_INITIALIZE must stay true — fix: remove it; the component creates the first superuser through /api/v1/user/initialize",
  }),
  FEATURE_DIRECT_LOGIN: z.literal(true, {
    error: "FEATURE_DIRECT_LOGIN must stay true — fix: remove it; a re-run that finds the superuser already created signs in (POST /api/v1/signin) to mint its token",
  }),
  CREATE_NAMESPACE_ON_PUSH: z.boolean(),
  EXTERNAL_TLS_TERMINATION: z.boolean(),
  PREFERRED_URL_SCHEME: z.enum(["http", "https"]),
  SESSION_COOKIE_SECURE: z.boolean(),
  FEATURE_MAILING: z.boolean(),
  FEATURE_PROXY_CACHE: z.boolean(),
  FEATURE_SUPER_USERS: z.literal(true, { error: "FEATURE_SUPER_USERS must stay true — fix: remove it; the bootstrap user is a superuser" }),
  FEATURE_SUPERUSERS_FULL_ACCESS: z.boolean(),
  FEATURE_SUPERUSERS_ORG_CREATION_ONLY: z.boolean(),
  FEATURE_USER_CREATION: z.boolean(),
  FEATURE_INVITE_ONLY_USER_CREATION: z.boolean(),
  FEATURE_ANONYMOUS_ACCESS: z.boolean(),
  FEATURE_REQUIRE_TEAM_INVITE: z.boolean(),
  FEATURE_CHANGE_TAG_EXPIRATION: z.boolean(),
  FEATURE_REPO_MIRROR: z.boolean(),
  FEATURE_QUOTA_MANAGEMENT: z.boolean(),
  FEATURE_RATE_LIMITS: z.boolean(),
  FEATURE_SECURITY_SCANNER: z.boolean(),
  FEATURE_BUILD_SUPPORT: z.boolean(),
  FEATURE_ORG_SHARED_EMAIL: z.boolean(),
  FEATURE_GARBAGE_COLLECTION: z.boolean(),
  CREATE_PRIVATE_REPO_ON_PUSH: z.boolean(),
  BROWSER_API_CALLS_XHR_ONLY: z.boolean(),
  DEFAULT_TAG_EXPIRATION: duration,
  TAG_EXPIRATION_OPTIONS: z.array(duration).min(1, "TAG_EXPIRATION_OPTIONS must list at least one duration"),
  SUPER_USERS: z.array(quayNameSetting("SUPER_USERS entry")),
  SSRF_ALLOWED_HOSTS: z.array(z.string().min(1)),
  REGISTRY_TITLE: z.string(),
  REGISTRY_TITLE_SHORT: z.string(),
  OAUTH_APPLICATION_MAXIMUM_TOKEN_COUNT: z.number().int().positive(),
  USER_EVENTS_REDIS_TIMEOUT: z.number().positive(),
} as const;

/** Why `value` cannot be written to config.yaml faithfully, or undefined. Walks nested values. */
export function jsonProblem(value: unknown, seen: Set<unknown> = new Set()): string | undefined {
  if (value === null) return undefined;
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : "is not a finite number (NaN and Infinity have no JSON form)";
    case "object": {
      if (pulumi.Output.isInstance(value)) return "is a pulumi Output — fix: overlay values must be plain values known at preview (they feed the config hash)";
      if (seen.has(value)) return "contains a cycle";
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            const p = jsonProblem(value[i], seen);
            if (p) return `[${i}] ${p}`;
          }
          return undefined;
        }
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) return `is a ${proto?.constructor?.name ?? "non-plain"} object — fix: use plain JSON objects, arrays, strings, numbers and booleans`;
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          const p = jsonProblem(v, seen);
          if (p) return `.${k} ${p}`;
        }
        return undefined;
      } finally {
        seen.delete(value);
      }
    }
    default:
      return `is a ${typeof value}, which has no JSON form — fix: use plain JSON values`;
  }
}

export const extraConfigSchema = z.record(z.string(), z.unknown()).superRefine((overlay, ctx) => {
  for (const [key, value] of Object.entries(overlay)) {
    const path = [key];
    if (key in COMPONENT_OWNED_KEYS) {
      ctx.addIssue({ code: "custom", path, message: `${key} cannot be set in extraConfig: ${COMPONENT_OWNED_KEYS[key]} — fix: remove it from extraConfig` });
      continue;
    }
    if (value === null || value === undefined) {
      const required = (QUAY_REQUIRED_KEYS as readonly string[]).includes(key);
      ctx.addIssue({
        code: "custom",
        path,
        message: `${key} is ${value === null ? "null" : "undefined"}: the overlay can set keys, not unset them${required ? ` (and ${key} is required by Quay)` : ""} — fix: remove it from extraConfig`,
      });
      continue;
    }
    if (!/^[A-Z][A-Z0-9_]*$/.test(key)) {
      ctx.addIssue({ code: "custom", path, message: `"${key}" is not a Quay config key — fix: Quay's keys are UPPER_SNAKE_CASE (check the spelling)` });
      continue;
    }
    const problem = jsonProblem(value);
    if (problem) {
      ctx.addIssue({ code: "custom", path, message: `${key} ${problem}` });
      continue;
    }
    const known = (KNOWN_OVERLAY_KEYS as Record<string, z.ZodType>)[key];
    if (known) {
      const r = known.safeParse(value);
      if (!r.success) {
        for (const issue of r.error.issues) {
          ctx.addIssue({ code: "custom", path: [key, ...(issue.path as (string | number)[])], message: issue.message.startsWith(key) ? issue.message : `${key} ${issue.message}` });
        }
      }
    }
  }
});

// ---- the whole argument object -------------------------------------------------------------------

export const quayHostArgsSchema = z
  .object({
    connection: connectionSchema,
    serverHostname: z.string().superRefine((v, ctx) => {
      const [host, p, ...rest] = v.split(":");
      const okPort = p === undefined || (/^[0-9]{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535);
      if (rest.length > 0 || !host || !HOSTNAME_RE.test(host) || !okPort) {
        ctx.addIssue({
          code: "custom",
          message: `serverHostname must be a DNS name with an optional :port and no scheme (Quay's SERVER_HOSTNAME) — fix: e.g. quay.example.com (${NO_SHELL})`,
        });
      }
    }),
    quayVersion: quayVersion.default(DEFAULT_QUAY_VERSION),
    quayImage: z
      .string()
      .regex(IMAGE_REF_RE, `quayImage must be an image reference such as ${QUAY_IMAGE_REPOSITORY}:${DEFAULT_QUAY_VERSION} — fix: registry/path:tag or @sha256:digest (${NO_SHELL})`)
      .refine((v) => /:[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(v.replace(/@sha256:[a-f0-9]{64}$/, "")) || /@sha256:/.test(v), {
        message: "quayImage must name a tag or a digest — fix: append :<tag> (e.g. :v3.18.0) or @sha256:<digest>; an untagged reference means :latest, which moves",
        abort: true,
      })
      .refine((v) => /@sha256:/.test(v) || !MOVING_TAG_RE.test(v.slice(v.lastIndexOf(":") + 1)), {
        message: "quayImage names a moving tag: the image behind it changes without a change to the stack, which defeats the upgrade procedure — fix: pin a release tag (e.g. :v3.18.0) or a digest (@sha256:…)",
      })
      .optional(),
    imageArchive: z
      .string()
      .regex(LOCAL_PATH_RE, `imageArchive must be a local file path of letters, digits and . _ / @ + , = ~ - — fix: rename or link the archive (${NO_SHELL})`)
      .refine((v) => !v.startsWith("-"), { message: "imageArchive must not start with '-' — fix: prefix it with ./" })
      .optional(),
    proxyAddress,
    allowWideProxyNetwork: z.boolean().default(false),
    storage: storageSchema,
    superuserName: quayNameSetting("superuserName").default("quayadmin"),
    superuserEmail: z.string().max(254).regex(EMAIL_RE, "superuserEmail must be an email address such as admin@example.com").optional(),
    proxyCache: z.boolean().default(false),
    extraConfig: extraConfigSchema.default({}),
    postureOverrides: z.array(z.string()).default([]),
    tools: z
      .object({
        mcBinary: z
          .string({ error: "tools.mcBinary must be a string" })
          .regex(LOCAL_PATH_RE, `tools.mcBinary must be a local file path of letters, digits and . _ / @ + , = ~ - — fix: rename or link the binary (${NO_SHELL})`)
          .refine((v) => !v.startsWith("-"), { message: "tools.mcBinary must not start with '-' — fix: prefix it with ./" }),
      })
      .strict()
      .optional(),
    storagePreflight: z.boolean().optional(),
    purgeOnDestroy: z.boolean().default(false),
    healthTimeoutSeconds: z.number().int().min(30, "healthTimeoutSeconds must be at least 30").max(86400, "healthTimeoutSeconds must be at most 86400").default(600),
    bootTimeoutSeconds: z.number().int().min(10).max(7200).default(900),
    /**
     * Resources Quay's first start waits for besides the host's own steps, as a list or a promise of one
     * (QuayBackups' restore step: the database is restored before Quay ever starts). Default none.
     */
    startAfter: z
      .custom<pulumi.Resource[] | Promise<pulumi.Resource[]>>(
        (v) => (Array.isArray(v) && v.every((r) => pulumi.Resource.isInstance(r))) || v instanceof Promise,
        { message: "startAfter must list Pulumi resources (or be a promise of such a list) — fix: pass e.g. [backups.restored]" },
      )
      .optional(),
    secretGenerator: z
      .enum(["random", "node-crypto"], { error: 'secretGenerator must be "random" or "node-crypto" — fix: choose one, once (switching regenerates every key)' })
      .default("random"),
    bootstrap: z
      .object({
        organization: quayNameSetting("bootstrap.organization").default("quay-mirror-bootstrap"),
        application: z.string().regex(APP_NAME_RE, "bootstrap.application must be letters, digits, '.', '_' and '-'").default("quay-mirror-bootstrap"),
        renew: z.number().int().min(0).default(0),
      })
      .strict()
      .default({ organization: "quay-mirror-bootstrap", application: "quay-mirror-bootstrap", renew: 0 }),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.quayImage !== undefined && a.imageArchive !== undefined) {
      ctx.addIssue({ code: "custom", path: ["imageArchive"], message: "quayImage and imageArchive are mutually exclusive — fix: set quayImage to pull, or imageArchive to load an archive (air-gapped), not both" });
    }
    const overlay = a.extraConfig ?? {};
    const wide = proxyAddressProblem(a.proxyAddress) === undefined && !a.allowWideProxyNetwork ? proxyNetworkTooWide(a.proxyAddress) : undefined;
    if (wide) ctx.addIssue({ code: "custom", path: ["proxyAddress"], message: wide });
    // The security posture (config/quay-posture.ts): relaxing a key takes two explicit lines.
    for (const [key, p] of Object.entries(SECURITY_POSTURE)) {
      if (!(key in overlay) || overlay[key] === p.value || typeof overlay[key] !== "boolean") continue;
      if (!a.postureOverrides.includes(key)) {
        ctx.addIssue({
          code: "custom",
          path: ["extraConfig", key],
          message: `${key}: ${String(overlay[key])} relaxes the host's security posture (pinned ${String(p.value)}: ${p.why}) — fix: remove it from extraConfig, or add "${key}" to postureOverrides to relax it on purpose`,
        });
      }
    }
    a.postureOverrides.forEach((key, i) => {
      const p = SECURITY_POSTURE[key];
      if (p === undefined) {
        ctx.addIssue({ code: "custom", path: ["postureOverrides", i], message: `"${key}" is not a posture key — fix: use one of ${Object.keys(SECURITY_POSTURE).join(", ")}` });
      } else if (!(key in overlay) || overlay[key] === p.value) {
        ctx.addIssue({ code: "custom", path: ["postureOverrides", i], message: `extraConfig does not relax ${key} — fix: remove it from postureOverrides` });
      }
    });
    if (overlay.FEATURE_INVITE_ONLY_USER_CREATION === true && overlay.FEATURE_USER_CREATION !== true) {
      ctx.addIssue({
        code: "custom",
        path: ["extraConfig", "FEATURE_INVITE_ONLY_USER_CREATION"],
        message: "FEATURE_INVITE_ONLY_USER_CREATION: true needs FEATURE_USER_CREATION: true (Quay's config validator refuses it otherwise, and Quay does not start) — fix: remove it; with FEATURE_USER_CREATION false nobody can sign up anyway",
      });
    }
    const tls = overlay.EXTERNAL_TLS_TERMINATION ?? true;
    const scheme = overlay.PREFERRED_URL_SCHEME ?? "https";
    if (tls === true && scheme !== "https") {
      ctx.addIssue({
        code: "custom",
        path: ["extraConfig", "PREFERRED_URL_SCHEME"],
        message: "EXTERNAL_TLS_TERMINATION: true needs PREFERRED_URL_SCHEME: https (Quay would generate http:// URLs behind the TLS proxy) — fix: set PREFERRED_URL_SCHEME to https, or EXTERNAL_TLS_TERMINATION to false as well",
      });
    }
    if (tls !== true && scheme === "https") {
      ctx.addIssue({
        code: "custom",
        path: ["extraConfig", "EXTERNAL_TLS_TERMINATION"],
        message: "PREFERRED_URL_SCHEME: https without EXTERNAL_TLS_TERMINATION: true makes Quay require ssl.cert/ssl.key in /conf/stack, which the component does not install — fix: set EXTERNAL_TLS_TERMINATION: true (TLS at the proxy), or PREFERRED_URL_SCHEME: http as well",
      });
    }
    if (a.storagePreflight === true && a.tools?.mcBinary === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["storagePreflight"],
        message: "storagePreflight needs the MinIO client on the host — fix: set tools.mcBinary to a local mc binary (it is uploaded), or drop storagePreflight",
      });
    }
    if (overlay.FEATURE_MAILING === true && a.superuserEmail === undefined) {
      ctx.addIssue({ code: "custom", path: ["superuserEmail"], message: "FEATURE_MAILING: true makes Quay require an email for the first user — fix: set superuserEmail, or leave FEATURE_MAILING false" });
    }
    const def = typeof overlay.DEFAULT_TAG_EXPIRATION === "string" ? overlay.DEFAULT_TAG_EXPIRATION : "2w";
    const options = Array.isArray(overlay.TAG_EXPIRATION_OPTIONS) ? (overlay.TAG_EXPIRATION_OPTIONS as unknown[]) : ["0s", "1d", "1w", "2w", "4w"];
    if (!options.includes(def)) {
      ctx.addIssue({
        code: "custom",
        path: ["extraConfig", "DEFAULT_TAG_EXPIRATION"],
        message: `DEFAULT_TAG_EXPIRATION ${def} is not one of TAG_EXPIRATION_OPTIONS [${options.join(", ")}] — fix: add it to TAG_EXPIRATION_OPTIONS or choose one of them`,
      });
    }
  });

/** What callers pass (defaults optional). */
export type QuayHostInput = z.input<typeof quayHostArgsSchema>;
/** What the component works with: validated, defaults applied. */
export type QuayHostSettings = z.output<typeof quayHostArgsSchema>;

export interface QuayHostConfigIssue {
  /** JSON path from the argument object's root, e.g. `$.storage.bucket`. */
  path: string;
  message: string;
}

/** Every problem with the arguments at once, each with its JSON path and the fix. */
export class QuayHostConfigError extends Error {
  readonly issues: QuayHostConfigIssue[];
  /** @pulumi/pulumi's RunError marker: the engine prints the message only, no stack trace (config/errors.ts). */
  readonly __pulumiRunError = true;
  constructor(issues: QuayHostConfigIssue[], where = "QuayHost arguments") {
    super(`${issues.length} problem${issues.length === 1 ? "" : "s"} in ${where}:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`);
    this.name = "QuayHostConfigError";
    this.issues = issues;
  }
}

function hint(issue: z.core.$ZodIssue): string {
  // Our own messages carry their fix; add one for zod's generic messages. Never echo the value itself:
  // it may be a secret.
  if (issue.message.includes("— fix:")) return issue.message;
  switch (issue.code) {
    case "unrecognized_keys":
      return `unknown key${issue.keys.length === 1 ? "" : "s"} ${issue.keys.map((k) => `"${k}"`).join(", ")} — fix: remove ${issue.keys.length === 1 ? "it" : "them"} (or check the spelling)`;
    case "invalid_type":
      return `${issue.message} — fix: give a value of type ${issue.expected}`;
    case "invalid_value":
      return `${issue.message} — fix: use one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_union": {
      // a string-or-Output input: report the string branch's problem, which is the useful one
      const inner = issue.errors.flat()[0];
      return inner && inner.code !== "custom" ? hint(inner) : inner ? inner.message : "has the wrong type — fix: give a string (or a pulumi Output<string>)";
    }
    case "too_small":
    case "too_big":
      return `${issue.message} — fix: give a value within that range`;
    default:
      return `${issue.message} — fix: correct this value`;
  }
}

/** Parses, cross-checks and defaults QuayHost's arguments; throws QuayHostConfigError naming every problem. */
export function parseQuayHostArgs(args: unknown, where?: string): QuayHostSettings {
  const r = quayHostArgsSchema.safeParse(args);
  if (r.success) return r.data;
  throw new QuayHostConfigError(
    r.error.issues.map((issue) => ({ path: jsonPath(issue.path), message: hint(issue) })),
    where,
  );
}

/**
 * Checks a value that was an Output at parse time once it resolves (host names produced by another
 * resource, keys read as secrets). Returns the value unchanged or throws with the JSON path; never echoes
 * the value, since it may be a secret.
 */
export function checkLater(value: StringInput, schema: z.ZodType<string>, path: readonly PropertyKey[]): pulumi.Output<string> {
  return pulumi.output(value).apply((v) => {
    const r = schema.safeParse(v);
    if (!r.success) throw new QuayHostConfigError(r.error.issues.map((i) => ({ path: jsonPath([...path, ...i.path]), message: hint(i) })));
    return v;
  });
}

/** The plain-string rules, for values that were Outputs at parse time. */
export const lateRules = {
  host: hostnameOrIp("host"),
  privateKey: privateKeyText,
  nonEmpty: z.string().min(1, "must not be empty"),
};

/** The image the component runs when neither quayImage nor imageArchive is given. */
export function defaultQuayImage(version: string): string {
  return `${QUAY_IMAGE_REPOSITORY}:${version}`;
}
