// Shared fixtures for the QuayHost tests: valid arguments, realistic step values, the hostile corpus.
import { spawnSync } from "child_process";
import { StepTemplate, StepValue } from "../../components/quay-host/render";

// Shaped like a PEM key but no key at all; assembled so no committed file looks like a private key.
const PEM_LABEL = ["OPENSSH", "PRIVATE", "KEY"].join(" ");
export const PEM = `-----BEGIN ${PEM_LABEL}-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END ${PEM_LABEL}-----\n`;

/** A host key in authorized_keys format (a throwaway key's public half) and its SHA256 fingerprint. */
export const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHy3XWNwZOJqEOv/wzgpXthNqdbKAu5ksNZIhvWgdUc9";
export const HOST_KEY_FINGERPRINT = "SHA256:w8LP9S9fGIBy8uLhfodmsmmAQmjIl33A23q+npPmq3Q";

/** The lab's arguments (as in Pulumi.lab.yaml): valid as they are. */
export function labArgs(): Record<string, any> {
  return {
    connection: { host: "10.77.0.2", user: "ci", privateKey: PEM, hostKey: HOST_KEY },
    serverHostname: "quay.v7.comptech-lab.com",
    proxyAddress: "30.30.200.102",
    storage: {
      hostname: "minio.v7.comptech-lab.com",
      port: 9000,
      bucket: "quay-storage",
      accessKey: "quay-storage-user",
      secretKey: "quay-storage-pass",
      isSecure: false,
      storagePath: "/datastorage/registry",
    },
    superuserName: "quayadmin",
  };
}

/** Realistic values for every template (what the component passes, with fixed hashes). */
export const SAMPLE_VALUES: Record<StepTemplate, Record<string, StepValue>> = {
  "wait-for-ssh": { BOOT_TIMEOUT: 900, UPLOAD_DIR: "/var/lib/quay-mirror/upload" },
  packages: {
    PACKAGES: ["ca-certificates", "curl", "jq", "podman", "postgresql", "postgresql-contrib", "redis-server", "skopeo", "ufw", "python3", "acl"],
    DROPIN_PATH: "/etc/containers/containers.conf.d/50-quay-mirror-cgroups.conf",
    DROPIN_CONTENT: '[containers]\ncgroups = "disabled"\n',
  },
  postgres: { PG_PORT: 5432 },
  redis: { MAIN_CONF: "/etc/redis/redis.conf", INCLUDE_CONF: "/etc/redis/quay-mirror.conf", REDIS_PORT: 6379 },
  config: { CONFIG_DIR: "/etc/quay/config", STORAGE_DIR: "/var/lib/quay/storage", CONTAINER_UID: 1001, CONFIG_SHA256: "a".repeat(64) },
  image: { MODE: "pull", SOURCE: "quay.io/projectquay/quay:v3.18.0", LOCAL_REF: "localhost/quay-mirror/quay:v3.18.0-0123456789ab", SHA256: "" },
  unit: { UNIT_PATH: "/etc/systemd/system/quay.service", UNIT_CONTENT: "[Unit]\nDescription=x\n", FINGERPRINT: "b".repeat(64), STATE_FILE: "/var/lib/quay/.quay-mirror-deployment" },
  firewall: { SSH_PORT: 22, QUAY_PORT: 8080, PROXY_ADDRESS: "30.30.200.102", MARKER: "/var/lib/quay/.quay-mirror-initialized", OPEN: false },
  health: { URL: "http://127.0.0.1:8080/health/instance", TIMEOUT: 600, INTERVAL: 5, DEPLOYMENT: "c".repeat(64) },
  initialize: {
    BASE_URL: "http://127.0.0.1:8080",
    ORGANIZATION: "quay-mirror-bootstrap",
    APPLICATION: "quay-mirror-bootstrap",
    TOKEN_NAME: "quay-mirror bootstrap",
    TOKEN_SCOPE: "org:admin repo:admin repo:create repo:read repo:write super:user user:admin user:read",
    TOKEN_LIFETIME: 9000,
  },
  destroy: {
    PURGE: false,
    UNIT_PATH: "/etc/systemd/system/quay.service",
    CONFIG_DIR: "/etc/quay/config",
    QUAY_VAR_DIR: "/var/lib/quay",
    UPLOAD_DIR: "/var/lib/quay-mirror/upload",
    LOCAL_REPOSITORY: "localhost/quay-mirror/quay",
  },
  tools: { UPLOAD: "/var/lib/quay-mirror/upload/mc-0123456789abcdef", TARGET: "/usr/local/lib/quay-mirror/bin/mc", SHA256: "d".repeat(64) },
  account: { CONTAINER_UID: 1001, CONTAINER_USER: "quay-container" },
  preflight: { MC: "/usr/local/lib/quay-mirror/bin/mc", ENDPOINT: "http://minio.v7.comptech-lab.com:9000", BUCKET: "quay-storage", PROBE_PREFIX: ".quay-mirror-preflight", DEPLOYMENT: "e".repeat(64) },
};

/** Values an attacker (or a careless copy-paste) might put into any string input. */
export const HOSTILE: readonly string[] = [
  "'",
  '"',
  "it's",
  `a"b'c`,
  "$(touch PWNED)",
  "`touch PWNED`",
  "${IFS}$HOME",
  "$((1+1))",
  "a\nb",
  "x\ntouch PWNED",
  "; touch PWNED",
  "&& touch PWNED",
  "|| touch PWNED",
  "| touch PWNED",
  "& touch PWNED &",
  "*",
  "?",
  "[a-z]*",
  "~",
  "~root",
  "-rf",
  "--help",
  "-",
  "\\",
  "\\'",
  " leading",
  "trailing ",
  "\ttab",
  "{a,b}",
  "!!",
  "#not-a-comment",
  "%s%n",
  "é中\u202e",
  ">PWNED",
  "<(touch PWNED)",
  "$'\\x41'",
  "'; touch PWNED; '",
  '"; touch PWNED; "',
  "\r\n",
  "",
];

/** Runs bash with a script; returns stdout (raw), stderr and the exit status. */
export function bash(script: string, options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}) {
  const r = spawnSync("bash", ["-c", script, "test"], { cwd: options.cwd, input: options.input, env: options.env ?? process.env, encoding: "utf8", timeout: options.timeout ?? 30_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** bash without blocking the event loop (for scripts that talk to an in-process HTTP server). */
export function bashAsync(script: string, options: { input?: string; timeout?: number } = {}): Promise<{ stdout: string; stderr: string; status: number | null }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawn } = require("child_process") as typeof import("child_process");
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", script, "test"], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? 60_000);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, status });
    });
    child.stdin.end(options.input ?? "");
  });
}
