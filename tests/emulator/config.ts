// Quay config.yaml keys the emulator honours, with the defaults of Quay's config.py.
import * as fs from "node:fs";

export const QUAY_DEFAULTS: Record<string, unknown> = {
  SERVER_HOSTNAME: "localhost:5000",
  PREFERRED_URL_SCHEME: "http",
  AUTHENTICATION_TYPE: "Database",
  SUPER_USERS: [],
  GLOBAL_READONLY_SUPER_USERS: null,
  LIBRARY_NAMESPACE: "library",
  DEFAULT_TAG_EXPIRATION: "2w",
  TAG_EXPIRATION_OPTIONS: ["0s", "1d", "1w", "2w", "4w"],
  SSRF_ALLOWED_HOSTS: [],
  PUBLIC_NAMESPACES: [],
  CREATE_PRIVATE_REPO_ON_PUSH: true,
  CREATE_NAMESPACE_ON_PUSH: false,
  FRESH_LOGIN_TIMEOUT: "10m",
  REGISTRY_STATE: "normal",
  ROBOTS_DISALLOW: false,
  BROWSER_API_CALLS_XHR_ONLY: true,
  LAST_ACCESSED_UPDATE_THRESHOLD_S: 60,
  OAUTH_APPLICATION_MAXIMUM_TOKEN_COUNT: null,
  FEATURE_USER_INITIALIZE: false,
  FEATURE_MAILING: true,
  FEATURE_REQUIRE_TEAM_INVITE: true,
  FEATURE_PROXY_CACHE: false,
  FEATURE_SUPER_USERS: true,
  FEATURE_SUPERUSERS_FULL_ACCESS: false,
  FEATURE_SUPERUSERS_ORG_CREATION_ONLY: false,
  FEATURE_ANONYMOUS_ACCESS: true,
  FEATURE_EXTENDED_REPOSITORY_NAMES: true,
  FEATURE_DIRECT_LOGIN: true,
  FEATURE_USER_CREATION: true,
  FEATURE_CHANGE_TAG_EXPIRATION: true,
  FEATURE_ORG_SHARED_EMAIL: false,
  FEATURE_USER_LAST_ACCESSED: true,
  FEATURE_REPO_MIRROR: false,
  FEATURE_QUOTA_MANAGEMENT: false,
  FEATURE_SIGNING: false,
  FEATURE_RESTRICTED_USERS: false,
  FEATURE_BILLING: false,
};

export class QuayConfig {
  readonly values: Record<string, unknown>;
  constructor(overrides: Record<string, unknown> = {}) {
    this.values = { ...QUAY_DEFAULTS, ...overrides };
  }
  get<T = unknown>(key: string): T {
    return this.values[key] as T;
  }
  feature(name: string): boolean {
    const v = this.values[`FEATURE_${name}`];
    return v === true || v === "true" || v === "True";
  }
  get superUsers(): string[] {
    return ((this.values.SUPER_USERS as string[] | null) ?? []).map(String);
  }
  get tagExpirationOptionsS(): number[] {
    return (this.get<string[]>("TAG_EXPIRATION_OPTIONS") ?? []).map(convertToSeconds);
  }
  get defaultTagExpirationS(): number {
    return convertToSeconds(this.get<string>("DEFAULT_TAG_EXPIRATION"));
  }
}

/** util/timedeltastring.convert_to_timedelta: "<n>[smhdw]". */
export function convertToSeconds(s: string): number {
  const m = /^(\d+)([smhdw])$/.exec(String(s).trim());
  if (!m) throw new Error(`invalid time delta string: ${s}`);
  const n = Number(m[1]);
  const mult = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as "s" | "m" | "h" | "d" | "w"];
  return n * mult;
}

export function loadConfigFile(path: string): Record<string, unknown> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const YAML = require("yaml") as typeof import("yaml");
  const parsed = YAML.parse(fs.readFileSync(path, "utf8"));
  return parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
}
