// config.yaml and quay.service as rendered: every key Quay requires, every knob the lab pins, the storage
// block exactly as the seed shows it, a faithful YAML round trip.
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { QUAY_REQUIRED_KEYS } from "../../config/quay-host";
import { SECURITY_POSTURE } from "../../config/quay-posture";
import {
  archiveRemotePath,
  localImageRef,
  QuayConfigInput,
  renderQuayConfig,
  renderQuayUnit,
  serializeQuayConfig,
  sha256Hex,
} from "../../components/quay-host/render";
import { HOSTILE } from "./samples";

function labInput(over: Partial<QuayConfigInput> = {}): QuayConfigInput {
  return {
    serverHostname: "quay.v7.comptech-lab.com",
    superuserName: "quayadmin",
    proxyCache: false,
    storage: {
      hostname: "minio.v7.comptech-lab.com",
      port: 9000,
      bucket: "quay-storage",
      accessKey: "quay-storage-user",
      secretKey: "quay-storage-pass",
      isSecure: false,
      storagePath: "/datastorage/registry",
      signatureVersion: "v4",
    },
    secrets: { postgresPassword: "pgPASS123", redisPassword: "redisPASS456", secretKey: "sk".repeat(32), databaseSecretKey: "dsk".repeat(20) },
    ...over,
  };
}

describe("renderQuayConfig", () => {
  const config = renderQuayConfig(labInput());

  test("has every key Quay's schema requires (util/config/schema.py)", () => {
    for (const key of QUAY_REQUIRED_KEYS) expect(config).toHaveProperty([key]);
    expect(QUAY_REQUIRED_KEYS).toHaveLength(10);
  });

  test("pins every knob of the lab", () => {
    expect(config).toMatchObject({
      FEATURE_EXTENDED_REPOSITORY_NAMES: true,
      CREATE_NAMESPACE_ON_PUSH: true,
      EXTERNAL_TLS_TERMINATION: true,
      PREFERRED_URL_SCHEME: "https",
      SESSION_COOKIE_SECURE: true,
      FEATURE_USER_INITIALIZE: true,
      FEATURE_MAILING: false,
      FEATURE_PROXY_CACHE: false,
      SUPER_USERS: ["quayadmin"],
      SETUP_COMPLETE: true,
      AUTHENTICATION_TYPE: "Database",
      SERVER_HOSTNAME: "quay.v7.comptech-lab.com",
      SECRET_KEY: "sk".repeat(32),
      DATABASE_SECRET_KEY: "dsk".repeat(20),
      DEFAULT_TAG_EXPIRATION: "2w",
      TAG_EXPIRATION_OPTIONS: ["0s", "1d", "1w", "2w", "4w"],
      DISTRIBUTED_STORAGE_PREFERENCE: ["default"],
    });
  });

  test("PostgreSQL and Redis on loopback with the generated passwords; Redis port is an int", () => {
    expect(config.DB_URI).toBe("postgresql://quay:pgPASS123@127.0.0.1:5432/quay");
    for (const key of ["BUILDLOGS_REDIS", "USER_EVENTS_REDIS"]) {
      expect(config[key]).toEqual({ host: "127.0.0.1", port: 6379, password: "redisPASS456" });
      expect(Number.isInteger((config[key] as { port: unknown }).port)).toBe(true);
    }
  });

  test("a password with URI-special characters is percent-encoded in DB_URI", () => {
    const c = renderQuayConfig(labInput({ secrets: { ...labInput().secrets, postgresPassword: "a@b:c/d%e" } }));
    expect(c.DB_URI).toBe("postgresql://quay:a%40b%3Ac%2Fd%25e@127.0.0.1:5432/quay");
    expect(decodeURIComponent(new URL(c.DB_URI as string).password)).toBe("a@b:c/d%e");
  });

  test("the storage block is the seed's RadosGWStorage block", () => {
    expect(config.DISTRIBUTED_STORAGE_CONFIG).toEqual({
      default: [
        "RadosGWStorage",
        {
          access_key: "quay-storage-user",
          secret_key: "quay-storage-pass",
          bucket_name: "quay-storage",
          hostname: "minio.v7.comptech-lab.com",
          is_secure: false,
          port: 9000,
          storage_path: "/datastorage/registry",
          signature_version: "v4",
          server_side_assembly: true,
        },
      ],
    });
    // only parameters RadosGWStorage.__init__ accepts (an unknown kwarg is a TypeError at start-up)
    const params = (config.DISTRIBUTED_STORAGE_CONFIG as any).default[1];
    const accepted = ["hostname", "is_secure", "storage_path", "access_key", "secret_key", "bucket_name", "region_name", "signature_version", "port", "minimum_chunk_size_mb", "maximum_chunk_size_mb", "server_side_assembly"];
    for (const k of Object.keys(params)) expect(accepted).toContain(k);
  });

  test("the security posture is pinned (README table): no TESTING mode, no self-registration, no anonymous access, private pushes", () => {
    expect(config).toMatchObject({
      TESTING: false,
      FEATURE_USER_CREATION: false,
      FEATURE_ANONYMOUS_ACCESS: false,
      CREATE_PRIVATE_REPO_ON_PUSH: true,
      FEATURE_DIRECT_LOGIN: true,
      FEATURE_USER_INITIALIZE: true,
    });
    // not pinned: Quay's validator refuses FEATURE_INVITE_ONLY_USER_CREATION true while FEATURE_USER_CREATION is false
    expect(config).not.toHaveProperty(["FEATURE_INVITE_ONLY_USER_CREATION"]);
    // every posture key of the README's table is in config.yaml with its pinned value
    for (const [key, p] of Object.entries(SECURITY_POSTURE)) expect({ key, value: config[key] }).toEqual({ key, value: p.value });
  });

  test("the README's posture table lists every pinned posture key with its value", () => {
    const readme = fs.readFileSync(path.join(__dirname, "../../components/quay-host/README.md"), "utf8");
    for (const key of [...Object.keys(SECURITY_POSTURE), "TESTING", "FEATURE_PROXY_STORAGE"]) {
      expect({ key, row: new RegExp(`^\\| \`${key}\` \\| \`${String(config[key])}\` \\|`, "m").test(readme) }).toEqual({ key, row: true });
    }
  });

  test("TESTING can never be turned on, not even by an (unvalidated) overlay", () => {
    expect(renderQuayConfig(labInput({ extraConfig: { TESTING: true } })).TESTING).toBe(false);
  });

  test("an acknowledged overlay may relax a posture key (the schema demands the acknowledgement)", () => {
    expect(renderQuayConfig(labInput({ extraConfig: { FEATURE_ANONYMOUS_ACCESS: true } })).FEATURE_ANONYMOUS_ACCESS).toBe(true);
  });

  test("/health/instance checks Redis and storage as well (HEALTH_CHECKER without instance_skips); the overlay cannot change it", () => {
    expect(config.HEALTH_CHECKER).toEqual(["LocalHealthCheck", { instance_skips: [] }]);
    expect(renderQuayConfig(labInput({ extraConfig: { HEALTH_CHECKER: ["LocalHealthCheck", {}] } })).HEALTH_CHECKER).toEqual(["LocalHealthCheck", { instance_skips: [] }]);
  });

  test("blob downloads go through Quay by default (FEATURE_PROXY_STORAGE); storage.directDownloads turns the 302 to MinIO on", () => {
    expect(config.FEATURE_PROXY_STORAGE).toBe(true);
    const direct = renderQuayConfig(labInput({ storage: { ...labInput().storage, directDownloads: true } }));
    expect(direct.FEATURE_PROXY_STORAGE).toBe(false);
    // the overlay cannot flip it behind the setting's back
    expect(renderQuayConfig(labInput({ extraConfig: { FEATURE_PROXY_STORAGE: false } })).FEATURE_PROXY_STORAGE).toBe(true);
  });

  test("storage.serverSideAssembly is rendered into the RadosGWStorage arguments (default: Quay's own, true)", () => {
    expect((config.DISTRIBUTED_STORAGE_CONFIG as any).default[1].server_side_assembly).toBe(true);
    const off = renderQuayConfig(labInput({ storage: { ...labInput().storage, serverSideAssembly: false } }));
    expect((off.DISTRIBUTED_STORAGE_CONFIG as any).default[1].server_side_assembly).toBe(false);
  });

  test("FEATURE_PROXY_CACHE follows the proxyCache input", () => {
    expect(renderQuayConfig(labInput({ proxyCache: true })).FEATURE_PROXY_CACHE).toBe(true);
  });

  test("the overlay adds and overrides lab knobs, but never the owned keys; SUPER_USERS keeps the superuser", () => {
    const c = renderQuayConfig(
      labInput({ extraConfig: { FEATURE_SUPERUSERS_FULL_ACCESS: true, DEFAULT_TAG_EXPIRATION: "4w", SUPER_USERS: ["ops", "quayadmin"], REGISTRY_TITLE: "Lab mirror", CUSTOM_THING: { a: [1, "b"] } } }),
    );
    expect(c.FEATURE_SUPERUSERS_FULL_ACCESS).toBe(true);
    expect(c.DEFAULT_TAG_EXPIRATION).toBe("4w");
    expect(c.SUPER_USERS).toEqual(["quayadmin", "ops"]);
    expect(c.CUSTOM_THING).toEqual({ a: [1, "b"] });
    // the renderer puts owned keys last even if an (unvalidated) overlay tried them
    const forced = renderQuayConfig(labInput({ extraConfig: { DB_URI: "postgresql://evil", SERVER_HOSTNAME: "evil" } }));
    expect(forced.DB_URI).toBe("postgresql://quay:pgPASS123@127.0.0.1:5432/quay");
    expect(forced.SERVER_HOSTNAME).toBe("quay.v7.comptech-lab.com");
  });

  test("an http overlay (no TLS proxy) turns SESSION_COOKIE_SECURE off", () => {
    const c = renderQuayConfig(labInput({ extraConfig: { EXTERNAL_TLS_TERMINATION: false, PREFERRED_URL_SCHEME: "http" } }));
    expect(c).toMatchObject({ EXTERNAL_TLS_TERMINATION: false, PREFERRED_URL_SCHEME: "http", SESSION_COOKIE_SECURE: false });
  });

  test("serializes with the yaml library and round-trips exactly, with stable key order", () => {
    const text = serializeQuayConfig(config);
    expect(YAML.parse(text)).toEqual(config);
    expect(text).toMatch(/^AUTHENTICATION_TYPE: Database$/m);
    expect(text).toMatch(/^DATABASE_SECRET_KEY: /m); // the config step's key guard greps this line
    const shuffled = Object.fromEntries(Object.entries(config).reverse());
    expect(serializeQuayConfig(shuffled)).toBe(text);
  });

  test.each(HOSTILE.map((h) => [JSON.stringify(h), h]))("any secret or free-text value %s survives the YAML round trip", (_l, h) => {
    const c = renderQuayConfig(
      labInput({
        storage: { ...labInput().storage, accessKey: h, secretKey: h },
        secrets: { postgresPassword: h, redisPassword: h, secretKey: h, databaseSecretKey: h },
        extraConfig: { REGISTRY_TITLE: h, SOME_FUTURE_KEY: [h, { nested: h }] },
      }),
    );
    const back = YAML.parse(serializeQuayConfig(c));
    expect(back).toEqual(c);
    expect(back.DATABASE_SECRET_KEY).toBe(h);
    expect(back.DISTRIBUTED_STORAGE_CONFIG.default[1].secret_key).toBe(h);
  });
});

describe("renderQuayUnit", () => {
  const unit = renderQuayUnit({ image: "localhost/quay-mirror/quay:v3.18.0-0123456789ab" });

  test("is the lab's unit: host network, config read-only, storage, restart, ordering", () => {
    expect(unit).toContain("Restart=always\n");
    expect(unit).toContain("After=network-online.target postgresql.service redis-server.service\n");
    expect(unit).toContain("Wants=network-online.target postgresql.service redis-server.service\n");
    expect(unit).toContain("ExecStartPre=-/usr/bin/podman rm -f quay\n");
    expect(unit).toContain("ExecStop=/usr/bin/podman stop -t 30 quay\n");
    expect(unit).toContain("WantedBy=multi-user.target\n");
    const exec = unit.split("\n").find((l) => l.startsWith("ExecStart="))!;
    expect(exec).toContain("--network host");
    expect(exec).toContain("-v /etc/quay/config:/conf/stack:ro");
    expect(exec).toContain("-v /var/lib/quay/storage:/datastorage");
    expect(exec.endsWith(" localhost/quay-mirror/quay:v3.18.0-0123456789ab")).toBe(true);
    expect(exec).not.toMatch(/-p |--publish/); // a published port would be dropped by UFW's routed policy
  });

  test("refuses an image reference a unit file would have to escape", () => {
    expect(() => renderQuayUnit({ image: "a b" })).toThrow(/escape/);
    expect(() => renderQuayUnit({ image: "x%i" })).toThrow(/escape/);
  });
});

describe("image naming", () => {
  test("the local tag changes with the version, the reference and the archive content", () => {
    const a = localImageRef("v3.18.0", { kind: "pull", reference: "quay.io/projectquay/quay:v3.18.0" });
    const b = localImageRef("v3.18.1", { kind: "pull", reference: "quay.io/projectquay/quay:v3.18.1" });
    const c = localImageRef("v3.18.0", { kind: "archive", sha256: sha256Hex("x"), remotePath: archiveRemotePath(sha256Hex("x")) });
    const d = localImageRef("v3.18.0", { kind: "archive", sha256: sha256Hex("y"), remotePath: archiveRemotePath(sha256Hex("y")) });
    expect(new Set([a, b, c, d]).size).toBe(4);
    for (const r of [a, b, c, d]) expect(r).toMatch(/^localhost\/quay-mirror\/quay:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/);
    expect(archiveRemotePath(sha256Hex("x"))).toMatch(/^\/var\/lib\/quay-mirror\/upload\/quay-image-[0-9a-f]{16}\.tar$/);
  });
});
