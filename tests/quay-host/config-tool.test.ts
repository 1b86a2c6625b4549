// The rendered config.yaml through Quay's own validator, config-tool (the Go module that Quay's container
// runs at boot: conf/init/d_validate_config_bundle.sh). Build it with tests/quay-host/build-config-tool.sh;
// without the binary this suite is skipped (and says so).
//
// No mode of config-tool (HEAD ffba0c70) is fully offline: the Database, Redis and DistributedStorage
// validators always try to connect ("offline" and "testing" skip only some other checks). So the test
// accepts exactly those connection failures and nothing else: every field group's structural validation
// must pass. The online check belongs on the real host, where the services exist.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderQuayConfig, serializeQuayConfig, QuayConfigInput } from "../../components/quay-host/render";

const cache = process.env.QUAY_MIRROR_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "quay-mirror");
const binary = process.env.QUAY_CONFIG_TOOL ?? path.join(cache, "config-tool", "config-tool");
const available = fs.existsSync(binary);
if (!available) {
  // eslint-disable-next-line no-console
  console.warn(`config-tool not found at ${binary}: run tests/quay-host/build-config-tool.sh to validate config.yaml with Quay's own validator`);
}

const input: QuayConfigInput = {
  serverHostname: "quay.v7.comptech-lab.com",
  superuserName: "quayadmin",
  proxyCache: true,
  storage: { hostname: "127.0.0.1", port: 1, bucket: "quay-storage", accessKey: "ak", secretKey: `s'k"$(x)`, isSecure: false, storagePath: "/datastorage/registry", signatureVersion: "v4" },
  secrets: { postgresPassword: "pg:pass/word", redisPassword: "redis-pass", secretKey: "S".repeat(64), databaseSecretKey: "D".repeat(64) },
};

/** Runs config-tool; returns the red rows as [fieldGroup, message]. */
function validate(config: Record<string, unknown>): [string, string][] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quay-config-tool-"));
  try {
    fs.writeFileSync(path.join(dir, "config.yaml"), serializeQuayConfig(config));
    const r = spawnSync(binary, ["validate", "-c", dir, "--mode", "testing"], { encoding: "utf8", timeout: 60_000 });
    let group = "";
    const red: [string, string][] = [];
    for (const line of r.stdout.split("\n")) {
      const cells = line.split("|").map((c) => c.trim());
      if (cells.length < 4) continue;
      if (cells[1]) group = cells[1];
      if (cells[3] === "🔴") red.push([group, cells[2]!]);
    }
    if (r.status !== 0 && red.length === 0) throw new Error(`config-tool failed: ${r.stdout}${r.stderr}`);
    return red;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const connectionOnly = (red: [string, string][]) => red.filter(([, m]) => !/^Could not connect/.test(m));

(available ? describe : describe.skip)("config-tool validates the rendered config.yaml", () => {
  test("the lab's config passes every structural check (only the connection checks fail without services)", () => {
    const red = validate(renderQuayConfig(input));
    expect(connectionOnly(red)).toEqual([]);
    expect(new Set(red.map(([g]) => g))).toEqual(new Set(["Database", "DistributedStorage", "Redis"]));
  });

  test("the pinned posture (TESTING, no sign-up, no anonymous access, proxied downloads, server_side_assembly) passes", () => {
    const c = renderQuayConfig(input);
    expect(c).toMatchObject({ TESTING: false, FEATURE_USER_CREATION: false, FEATURE_ANONYMOUS_ACCESS: false, FEATURE_PROXY_STORAGE: true });
    expect(connectionOnly(validate(c))).toEqual([]);
    expect(connectionOnly(validate(renderQuayConfig({ ...input, storage: { ...input.storage, serverSideAssembly: false, directDownloads: true } })))).toEqual([]);
  });

  test("config-tool refuses invite-only sign-up without sign-up, as the schema does", () => {
    const red = validate({ ...renderQuayConfig(input), FEATURE_INVITE_ONLY_USER_CREATION: true });
    expect(connectionOnly(red)).toEqual([["AccessSettings", expect.stringMatching(/requires FEATURE_USER_CREATION/)]]);
  });

  test("the TLS pair rule matches config-tool: https without EXTERNAL_TLS_TERMINATION needs ssl.cert", () => {
    const red = validate({ ...renderQuayConfig(input), EXTERNAL_TLS_TERMINATION: false });
    expect(connectionOnly(red)).toEqual([["HostSettings", expect.stringMatching(/ssl\.cert is required/)]]);
  });

  test("a string Redis port (the mistake config-tool catches) is refused; ours is an int", () => {
    const c = renderQuayConfig(input);
    expect(() => validate({ ...c, BUILDLOGS_REDIS: { ...(c.BUILDLOGS_REDIS as object), port: "6379" } })).toThrow(/port must be of type int/);
  });
});
