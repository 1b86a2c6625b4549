// Pure functions that render what QuayHost installs: config.yaml (an object, serialized by `yaml`),
// quay.service, and the shell steps filled from templates/*.sh. No Pulumi here: everything is testable
// with plain values.
import * as crypto from "crypto";
import * as fs from "fs";
import YAML from "yaml";
import { SECURITY_POSTURE } from "../../config/quay-posture";
import { readComponentTemplate } from "../templates";

// ---- fixed facts of the host layout ----------------------------------------------------------------

export const QUAY_CONFIG_DIR = "/etc/quay/config";
export const QUAY_STORAGE_DIR = "/var/lib/quay/storage";
export const QUAY_UNIT_PATH = "/etc/systemd/system/quay.service";
/**
 * Where CopyToRemote uploads (image archive, mc). Created 0700 for the SSH user by the wait-for-ssh step, under
 * a root-owned parent no other user can write (a directory in /var/tmp could be made in advance by anyone).
 */
export const UPLOAD_DIR = "/var/lib/quay-mirror/upload";
/** Every image the component runs is tagged under this local name. */
export const LOCAL_IMAGE_REPOSITORY = "localhost/quay-mirror/quay";
/** Quay's container runs as UID 1001, GID 0 (Dockerfile: USER 1001, CNB_GROUP_ID=0). */
export const QUAY_CONTAINER_UID = 1001;
/** The no-login system account the account step reserves UID 1001 for on the host (rootful podman, no userns). */
export const QUAY_CONTAINER_USER = "quay-container";
/** Written by the expose step once the first superuser exists; the firewall step then keeps 8080 open to the proxy. */
export const INITIALIZED_MARKER = "/var/lib/quay/.quay-mirror-initialized";
export const QUAY_HTTP_PORT = 8080;
export const POSTGRES_PORT = 5432;
export const REDIS_PORT = 6379;
/** The apt packages of the lab's install script, plus acl (setfacl: config.yaml readable by UID 1001 only). */
export const APT_PACKAGES = ["ca-certificates", "curl", "jq", "podman", "postgresql", "postgresql-contrib", "redis-server", "skopeo", "ufw", "python3", "acl"] as const;
/** The scope string /api/v1/user/initialize gives its token (endpoints/web.py); the sign-in path mints the same. */
export const BOOTSTRAP_TOKEN_SCOPE = "org:admin repo:admin repo:create repo:read repo:write super:user user:admin user:read";
/** Lifetime of the initialize token (data/model/oauth.py default, 2.5 h); the sign-in path mints the same. */
export const BOOTSTRAP_TOKEN_LIFETIME_SECONDS = 9000;

// ---- shell quoting ----------------------------------------------------------------------------------

/**
 * The one shell-quoting helper: wraps a value in single quotes, each embedded `'` written as `'\''`.
 * Inside single quotes the shell interprets nothing, so the value reaches the program unchanged.
 * NUL cannot exist in a shell word and is refused.
 */
export function shq(value: string | number | boolean): string {
  const s = String(value);
  if (s.includes("\0")) throw new Error("shq: a NUL byte cannot be passed through the shell");
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export type StepValue = string | number | boolean | readonly (string | number)[];

/** The step templates, one per provisioning step, in templates/<name>.sh. */
export const STEP_TEMPLATES = [
  "wait-for-ssh",
  "packages",
  "postgres",
  "redis",
  "config",
  "image",
  "unit",
  "firewall",
  "health",
  "initialize",
  "destroy",
  "tools",
  "preflight",
  "account",
] as const;
export type StepTemplate = (typeof STEP_TEMPLATES)[number];

const PLACEHOLDER = /@@([A-Z][A-Z0-9_]*)@@/g;
/** A placeholder may only stand alone as the right-hand side of an assignment in the values block. */
const VALUE_LINE = /^readonly [a-z_][a-z0-9_]*=(?:@@[A-Z][A-Z0-9_]*@@|\(@@[A-Z][A-Z0-9_]*@@\))$/;
export const VALUES_BEGIN = "# --- values (filled by renderStep, each quoted by shq) ---";
export const VALUES_END = "# --- end of values ---";

export function readTemplate(name: StepTemplate): string {
  if (!(STEP_TEMPLATES as readonly string[]).includes(name)) throw new Error(`unknown step template ${name}`);
  return readComponentTemplate("quay-host", name);
}

/** The placeholder names a template declares, in order. */
export function templatePlaceholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/**
 * Fills templates/<name>.sh. Each `@@NAME@@` is replaced by `shq(value)` (arrays: one quoted word per
 * element, inside the template's `( … )`). Placeholders are only allowed as `readonly var=@@NAME@@`
 * lines between the values markers; every placeholder needs a value and every value a placeholder.
 */
export function renderStep(name: StepTemplate, values: Record<string, StepValue>): string {
  return renderTemplateText(readTemplate(name), values, name);
}

export function renderTemplateText(text: string, values: Record<string, StepValue>, name = "template"): string {
  const lines = text.split("\n");
  const begin = lines.indexOf(VALUES_BEGIN);
  const end = lines.indexOf(VALUES_END);
  lines.forEach((line, i) => {
    if (PLACEHOLDER.test(line)) {
      PLACEHOLDER.lastIndex = 0;
      if (!(i > begin && i < end && begin >= 0 && VALUE_LINE.test(line))) {
        throw new Error(`${name}: line ${i + 1} uses a placeholder outside a 'readonly var=@@NAME@@' line of the values block`);
      }
    }
    PLACEHOLDER.lastIndex = 0;
  });
  const wanted = new Set(templatePlaceholders(text));
  const missing = [...wanted].filter((k) => !(k in values));
  const extra = Object.keys(values).filter((k) => !wanted.has(k));
  if (missing.length || extra.length) {
    throw new Error(`${name}: ${missing.length ? `missing values ${missing.join(", ")}` : ""}${missing.length && extra.length ? "; " : ""}${extra.length ? `unused values ${extra.join(", ")}` : ""}`);
  }
  // Each value line gets a shellcheck directive: its value is a literal by design, so shellcheck's
  // "expressions don't expand in single quotes" style notes about its content do not apply.
  return text
    .split("\n")
    .map((line) => (VALUE_LINE.test(line) ? `${VALUE_DIRECTIVE}\n${line}` : line))
    .join("\n")
    .replace(PLACEHOLDER, (_, key: string) => {
      const v = values[key]!;
      return Array.isArray(v) ? v.map((x) => shq(x)).join(" ") : shq(v as string | number | boolean);
    });
}

const VALUE_DIRECTIVE = "# shellcheck disable=SC1003,SC2016 # a literal value, quoted by shq";

/** The values block of a rendered step (what tests evaluate in bash to prove the quoting). */
export function valuesBlock(rendered: string): string {
  const lines = rendered.split("\n");
  return lines.slice(lines.indexOf(VALUES_BEGIN) + 1, lines.indexOf(VALUES_END)).join("\n");
}

/**
 * The command line pulumi-command runs over SSH for a rendered step: `bash -c '<script>' <label>`,
 * under `sudo -n` unless the SSH user is root. The script carries no secret: secrets arrive on stdin.
 */
export function sshCommand(script: string, options: { sudo: boolean; label: string }): string {
  if (!/^[a-z0-9-]+$/.test(options.label)) throw new Error(`bad step label ${options.label}`);
  return `${options.sudo ? "sudo -n -- " : ""}bash -c ${shq(script)} quay-mirror-${options.label}`;
}

export function sha256Hex(data: string | Buffer): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

/** SHA-256 of a file, read in chunks (image archives can be gigabytes). */
export function sha256File(file: string): string {
  const hash = crypto.createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(8 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

// ---- tools and the storage preflight -------------------------------------------------------------------

/** Where the tools step installs the uploaded MinIO client (root-owned, 0755); backups use it too. */
export const MC_REMOTE_PATH = "/usr/local/lib/quay-mirror/bin/mc";
/** The storage preflight's probe objects live under this prefix of Quay's bucket (outside storagePath). */
export const PREFLIGHT_PROBE_PREFIX = ".quay-mirror-preflight";

/** Where CopyToRemote puts the mc binary: named by content, so a new binary is a new upload. */
export function mcUploadPath(sha256: string): string {
  return `${UPLOAD_DIR}/mc-${sha256.slice(0, 16)}`;
}

/** The S3 endpoint URL of the storage settings (IPv6 literals in brackets). */
export function storageEndpoint(storage: { hostname: string; port: number; isSecure: boolean }): string {
  const host = storage.hostname.includes(":") ? `[${storage.hostname}]` : storage.hostname;
  return `${storage.isSecure ? "https" : "http"}://${host}:${storage.port}`;
}

// ---- config.yaml -------------------------------------------------------------------------------------

export interface QuayConfigInput {
  serverHostname: string;
  superuserName: string;
  /** FEATURE_PROXY_CACHE: true when the registry model declares proxy caches. */
  proxyCache: boolean;
  storage: {
    hostname: string;
    port: number;
    bucket: string;
    accessKey: string;
    secretKey: string;
    isSecure: boolean;
    storagePath: string;
    signatureVersion: string;
    regionName?: string;
    /** RadosGWStorage's server_side_assembly (Quay's default true). See README "Chunked uploads". */
    serverSideAssembly?: boolean;
    /** Redirect blob downloads to MinIO (FEATURE_PROXY_STORAGE false). Default false: downloads go through Quay. */
    directDownloads?: boolean;
  };
  secrets: {
    postgresPassword: string;
    redisPassword: string;
    secretKey: string;
    databaseSecretKey: string;
  };
  /** Validated overlay (config/quay-host.ts extraConfigSchema). */
  extraConfig?: Record<string, unknown>;
}

/** The id of the one storage location (DISTRIBUTED_STORAGE_CONFIG key and PREFERENCE entry). */
export const STORAGE_LOCATION = "default";

/**
 * config.yaml as an object: every knob the lab pins and the security posture (config/quay-posture.ts), the
 * keys Quay requires, then the overlay, then the keys the component owns (which the overlay cannot
 * override). SUPER_USERS always contains the superuser. The overlay may relax a posture key only when the
 * schema let it through (postureOverrides names it); TESTING and FEATURE_PROXY_STORAGE are owned.
 */
export function renderQuayConfig(input: QuayConfigInput): Record<string, unknown> {
  const overlay = { ...(input.extraConfig ?? {}) };
  const extraSuperUsers = Array.isArray(overlay.SUPER_USERS) ? (overlay.SUPER_USERS as string[]) : [];
  delete overlay.SUPER_USERS;
  const scheme = (overlay.PREFERRED_URL_SCHEME as string | undefined) ?? "https";

  const s = input.storage;
  const radosgw: Record<string, unknown> = {
    access_key: s.accessKey,
    secret_key: s.secretKey,
    bucket_name: s.bucket,
    hostname: s.hostname,
    is_secure: s.isSecure,
    port: s.port,
    storage_path: s.storagePath,
    signature_version: s.signatureVersion,
    server_side_assembly: s.serverSideAssembly ?? true,
  };
  if (s.regionName !== undefined) radosgw.region_name = s.regionName;

  const redis = { host: "127.0.0.1", port: REDIS_PORT, password: input.secrets.redisPassword };
  const pinned: Record<string, unknown> = {
    FEATURE_EXTENDED_REPOSITORY_NAMES: true,
    CREATE_NAMESPACE_ON_PUSH: true,
    EXTERNAL_TLS_TERMINATION: true,
    PREFERRED_URL_SCHEME: "https",
    SESSION_COOKIE_SECURE: scheme === "https",
    FEATURE_USER_INITIALIZE: true,
    FEATURE_DIRECT_LOGIN: true,
    ...Object.fromEntries(Object.entries(SECURITY_POSTURE).map(([key, p]) => [key, p.value])),
    FEATURE_MAILING: false,
    FEATURE_PROXY_CACHE: input.proxyCache,
    DEFAULT_TAG_EXPIRATION: "2w",
    TAG_EXPIRATION_OPTIONS: ["0s", "1d", "1w", "2w", "4w"],
  };
  const owned: Record<string, unknown> = {
    // Quay's config.py defaults TESTING to true (e-mail off, global locks skipped, test-only code paths on).
    TESTING: false,
    // Downloads through Quay's nginx (the TLS proxy is all a client needs) unless storage.directDownloads.
    FEATURE_PROXY_STORAGE: !(s.directDownloads ?? false),
    AUTHENTICATION_TYPE: "Database",
    SETUP_COMPLETE: true,
    SERVER_HOSTNAME: input.serverHostname,
    SUPER_USERS: [...new Set([input.superuserName, ...extraSuperUsers])],
    SECRET_KEY: input.secrets.secretKey,
    DATABASE_SECRET_KEY: input.secrets.databaseSecretKey,
    DB_URI: `postgresql://quay:${encodeURIComponent(input.secrets.postgresPassword)}@127.0.0.1:${POSTGRES_PORT}/quay`,
    BUILDLOGS_REDIS: { ...redis },
    USER_EVENTS_REDIS: { ...redis },
    DISTRIBUTED_STORAGE_CONFIG: { [STORAGE_LOCATION]: ["RadosGWStorage", radosgw] },
    DISTRIBUTED_STORAGE_PREFERENCE: [STORAGE_LOCATION],
    // Quay's default checker (LocalHealthCheck) leaves Redis and storage out of /health/instance; with no
    // instance_skips it checks them too, so the health step fails when either is unreachable or refuses
    // the rendered credentials (health/healthcheck.py, health/services.py).
    HEALTH_CHECKER: ["LocalHealthCheck", { instance_skips: [] }],
  };
  return { ...pinned, ...overlay, ...owned };
}

/** YAML text of the config object (library serialization, keys sorted so the hash is stable). */
export function serializeQuayConfig(config: Record<string, unknown>): string {
  return YAML.stringify(config, { sortMapEntries: true, lineWidth: 0 });
}

// ---- images --------------------------------------------------------------------------------------------

export type ImageSource = { kind: "pull"; reference: string } | { kind: "archive"; sha256: string; remotePath: string };

/**
 * The local tag the unit runs. It changes whenever the image source changes (version, reference or
 * archive content), so the unit file — and with it the restart fingerprint — changes too.
 */
export function localImageRef(version: string, source: ImageSource): string {
  const id = source.kind === "pull" ? sha256Hex(source.reference).slice(0, 12) : source.sha256.slice(0, 12);
  const tag = `${version}-${source.kind === "pull" ? "" : "archive-"}${id}`.slice(0, 128);
  return `${LOCAL_IMAGE_REPOSITORY}:${tag}`;
}

/** Where CopyToRemote puts an archive: named by content, so a new archive is a new upload. */
export function archiveRemotePath(sha256: string): string {
  return `${UPLOAD_DIR}/quay-image-${sha256.slice(0, 16)}.tar`;
}

// ---- quay.service --------------------------------------------------------------------------------------

const UNIT_SAFE = /^[A-Za-z0-9._/:@-]+$/;

/** quay.service, as the lab's install script writes it (host network, config read-only, restart always). */
export function renderQuayUnit(options: { image: string }): string {
  if (!UNIT_SAFE.test(options.image)) throw new Error(`renderQuayUnit: image reference ${JSON.stringify(options.image)} has characters a unit file would need to escape`);
  return [
    "# Managed by quay-mirror (Pulumi QuayHost). Local edits are overwritten on the next change.",
    "[Unit]",
    "Description=Quay container registry (quay-mirror)",
    "Wants=network-online.target postgresql.service redis-server.service",
    "After=network-online.target postgresql.service redis-server.service",
    "",
    "[Service]",
    "Restart=always",
    "RestartSec=10",
    "TimeoutStartSec=300",
    "TimeoutStopSec=60",
    "ExecStartPre=-/usr/bin/podman rm -f quay",
    `ExecStart=/usr/bin/podman run --name quay --pull=never --network host -v ${QUAY_CONFIG_DIR}:/conf/stack:ro -v ${QUAY_STORAGE_DIR}:/datastorage ${options.image}`,
    "ExecStop=/usr/bin/podman stop -t 30 quay",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** The podman drop-in for hosts without the cgroup-v2 `pids` controller (TESTHOST.md). */
export const PODMAN_CGROUPS_DROPIN = '[containers]\ncgroups = "disabled"\n';
export const PODMAN_CGROUPS_DROPIN_PATH = "/etc/containers/containers.conf.d/50-quay-mirror-cgroups.conf";
