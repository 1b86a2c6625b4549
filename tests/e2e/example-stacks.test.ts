// Every committed stack file (Pulumi.<stack>.yaml) is an example a newcomer copies, so each one must pass
// the program's own validation and declare its resources; a broken example fails CI here, not on a
// newcomer's first preview. The existing-registry example also previews through the real engine against the
// Quay API emulator (its apiUrl pointed at the emulator), the way `scripts/pulumi.sh preview` runs it.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { SECRET_KEYS, quayMirror, requiredSecretKeys, usesSshAgent } from "../../components/program";
import { ConfigError } from "../../config/errors";
import { loadProgramInputs, rawStackConfig } from "../../config/program";
import { fillHostKeyPlaceholders, isHostKeyPlaceholder } from "../../config/known-hosts";
import { cacheOrganizationName } from "../../config/stack";
import { repoRoot, withEngineStack } from "../support/engine";
import { engineSuiteOnEmulator } from "../support/engine-suite";

const NS = "quay-mirror";
const PROJECT = (YAML.parse(fs.readFileSync(path.join(repoRoot, "Pulumi.yaml"), "utf8")) as { name: string }).name;

/** Pulumi.<stack>.yaml files at the repository root (Pulumi.yaml itself is the project file). */
const STACK_FILES = fs
  .readdirSync(repoRoot)
  .filter((f) => /^Pulumi\.[^/]+\.yaml$/.test(f))
  .sort();

const stackOf = (file: string) => /^Pulumi\.(.+)\.yaml$/.exec(file)![1];

/** The stack file's `config:` block as YAML values. */
function configBlock(file: string): Record<string, unknown> {
  const doc = YAML.parse(fs.readFileSync(path.join(repoRoot, file), "utf8")) as { config?: Record<string, unknown> } | null;
  return doc?.config ?? {};
}

/**
 * The engine's config map for a stack file, as `pulumi.runtime.allConfig()` hands it to the program: keys
 * with their namespace (the project's when none is written), strings as they are, everything else as JSON.
 */
function engineConfig(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(configBlock(file))) {
    out[key.includes(":") ? key : `${PROJECT}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

/**
 * What scripts/preview-lab.sh previews: the engine's config with a REPLACE-ME placeholder host key replaced by
 * a throwaway key (lab-stack.js fill-host-key-placeholders).
 */
function previewConfig(file: string): Record<string, string> {
  const config = engineConfig(file);
  const host = config[`${NS}:host`];
  return host === undefined ? config : { ...config, [`${NS}:host`]: fillHostKeyPlaceholders(host).host };
}

/** Secret config keys the program reads in the stack's mode (what scripts/lab-stack.ts missing-secrets lists). */
function secretKeysFor(config: Record<string, string>): string[] {
  // A host whose key comes from an SSH agent takes no sshPrivateKey (and refuses one).
  const agent = usesSshAgent(config[`${NS}:host`]);
  const keys = SECRET_KEYS.filter((k) => !(agent && k === "sshPrivateKey")).map((k) => `${NS}:${k}`);
  if (config[`${NS}:mode`] === "existing") keys.push("quay:token");
  return keys;
}

/** Throwaway secret values, shaped the way the program's schemas want them (the host wants PEM text). */
function throwawaySecret(key: string): string {
  if (key === `${NS}:sshPrivateKey`) {
    return crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  }
  return `THROWAWAY-${key}-${crypto.randomBytes(8).toString("hex")}`;
}

function validate(file: string, config: Record<string, string>) {
  return loadProgramInputs(rawStackConfig(config, NS, SECRET_KEYS), repoRoot, path.join(repoRoot, file));
}

function validationError(file: string, config: Record<string, string>): string {
  try {
    validate(file, config);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`${file}: the broken copy passed validation`);
}

interface Declared {
  type: string;
  name: string;
}

/**
 * Runs the real program (components/program.ts) under pulumi.runtime.setMocks with the stack file's config
 * and throwaway secrets, and returns every resource it declared and its plain outputs.
 */
async function declareUnderMocks(
  file: string,
  config: Record<string, string> = previewConfig(file),
  extraSecrets: Record<string, string> = {},
): Promise<{ declared: Declared[]; registryHostname: string; apiUrl: string; proxyCacheMirrors: unknown; secretOutputs: string[]; remoteInputs: { name: string; inputs: Record<string, unknown> }[] }> {
  const declared: Declared[] = [];
  const remoteInputs: { name: string; inputs: Record<string, unknown> }[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        declared.push({ type: args.type, name: args.name });
        if (args.type.startsWith("command:remote:")) remoteInputs.push({ name: args.name, inputs: args.inputs as Record<string, unknown> });
        const state: Record<string, unknown> = { ...args.inputs };
        // Outputs the program reads from its resources: generated secrets, tokens, the robot's full name.
        if (args.type.endsWith("/local:RandomSecret")) state.result = "Mocked0Secret0Value0123456789abcd";
        if (args.type.endsWith("/quay:ApiToken") || args.type.endsWith("/quay:RobotAccount")) state.token = "mocked-token";
        if (args.type.endsWith("/quay:RobotAccount")) state.fullName = `${String(args.inputs.namespace)}+${String(args.inputs.name)}`;
        if (args.type === "command:remote:Command") state.stdout = args.name.endsWith("-initialize") ? "mocked-bootstrap-token\n" : "";
        return { id: `${args.name}-id`, state };
      },
      call: () => ({}),
    },
    PROJECT,
    stackOf(file),
    true,
  );
  const secrets = [...secretKeysFor(config), ...Object.keys(extraSecrets)];
  pulumi.runtime.setAllConfig({ ...config, ...Object.fromEntries(secrets.map((k) => [k, extraSecrets[k] ?? throwawaySecret(k)])) }, secrets);

  const outputs = quayMirror(repoRoot);
  const value = <T>(o: pulumi.Input<T>) => new Promise<T>((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
  await Promise.all([value(outputs.pullSecret), value(outputs.mirrorCredentials), value(outputs.robotCredentials)]);
  // Registrations finish asynchronously: wait until no new resource has arrived for a while.
  for (let seen = -1, deadline = Date.now() + 30_000; seen !== declared.length && Date.now() < deadline; ) {
    seen = declared.length;
    await new Promise((r) => setTimeout(r, 300));
  }
  const secretOutputs: string[] = [];
  for (const [key, o] of Object.entries(outputs)) {
    if (pulumi.Output.isInstance(o) && (await pulumi.isSecret(o as pulumi.Output<unknown>))) secretOutputs.push(key);
  }
  return {
    declared,
    registryHostname: outputs.registryHostname,
    apiUrl: await value(outputs.apiUrl),
    proxyCacheMirrors: outputs.proxyCacheMirrors,
    secretOutputs: secretOutputs.sort(),
    remoteInputs,
  };
}

const countOf = (declared: Declared[], type: string) => declared.filter((d) => d.type === type).length;

test("the committed examples include the lab (full mode) and the lab's registry in existing mode", () => {
  expect(STACK_FILES).toEqual(expect.arrayContaining(["Pulumi.lab.yaml", "Pulumi.lab-existing.yaml"]));
  expect(configBlock("Pulumi.lab.yaml")[`${NS}:mode`]).toBe("full");
  expect(configBlock("Pulumi.lab-existing.yaml")[`${NS}:mode`]).toBe("existing");
});

describe.each(STACK_FILES)("%s", (file) => {
  const config = engineConfig(file);

  test("holds no secret: secrets are set per machine with scripts/pulumi.sh config set --secret", () => {
    const secretKeys = [...SECRET_KEYS.map((k) => `${NS}:${k}`), "quay:token"];
    expect(Object.keys(config).filter((k) => secretKeys.includes(k))).toEqual([]);
    const secure = Object.entries(configBlock(file)).filter(([, v]) => typeof v === "object" && v !== null && "secure" in v);
    expect(secure.map(([k]) => k)).toEqual([]);
  });

  test("passes the program's validation: stack config, model, mappings, pull secrets", () => {
    const inputs = validate(file, config);
    expect(inputs.model.organizations.length).toBeGreaterThan(0);
    if (inputs.config.mirrorMappings.length > 0) expect(inputs.mirrorRepositories.length).toBeGreaterThan(0);
    if (inputs.config.mode === "existing") expect(inputs.config.apiUrl).toMatch(/^https?:\/\//);
    else expect(inputs.config.host).toBeDefined();
  });

  test("a broken copy fails validation naming the file, the key and the fix", () => {
    // A misspelt key: the schema is strict, so a typo never passes silently.
    const typo = validationError(file, { ...config, [`${NS}:registryHostnme`]: "quay.example.com" });
    expect(typo).toContain(file);
    expect(typo).toMatch(/registryHostnme/);
    // The key the mode cannot do without.
    const required = config[`${NS}:mode`] === "existing" ? "apiUrl" : "host";
    const broken = { ...config };
    delete broken[`${NS}:${required}`];
    const missing = validationError(file, broken);
    expect(missing).toContain(file);
    expect(missing).toContain(`${NS}:${required}`);
  });

  test("full mode pins the host's SSH key (or holds the REPLACE-ME placeholder, which the program refuses naming the fix)", async () => {
    const host = config[`${NS}:host`];
    if (host === undefined) return; // existing mode: no SSH at all
    const connection = (JSON.parse(host) as { connection: Record<string, unknown> }).connection;
    const sources = ["hostKey", "knownHostsFile", "hostKeyPolicy"].filter((k) => connection[k] !== undefined);
    expect(sources).toEqual(["hostKey"]);
    if (!isHostKeyPlaceholder(connection.hostKey)) {
      expect(connection.hostKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/]+={0,3}( .*)?$/);
      return;
    }
    // As committed (what `up` would run): refused, naming the key and how to get the real one.
    let message = "";
    try {
      await declareUnderMocks(file, config);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(file);
    expect(message).toMatch(/\$\.connection\.hostKey: hostKey is still the placeholder of the committed example — fix: .*ssh-keyscan -t ed25519/);
    // Without any host key at all: required, with the fix.
    delete connection.hostKey;
    message = "";
    try {
      await declareUnderMocks(file, { ...config, [`${NS}:host`]: JSON.stringify({ ...JSON.parse(host), connection }) });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/\$\.connection\.hostKey: hostKey is required: /);
    expect(message).toContain(`ssh-keyscan -t ed25519 ${String(connection.host)}`);
  }, 120_000);

  test("the whole program declares its resources from it (under mocks, with throwaway secrets)", async () => {
    const inputs = validate(file, config);
    const { declared, registryHostname, apiUrl, proxyCacheMirrors, secretOutputs } = await declareUnderMocks(file);
    expect(registryHostname).toBe(inputs.config.registryHostname);
    const orgs = inputs.model.organizations.length + (inputs.config.proxyCaches?.upstreams.length ?? 0);
    expect(countOf(declared, "pulumi-nodejs:dynamic/quay:Organization")).toBe(orgs);
    expect(countOf(declared, "pulumi-nodejs:dynamic/quay:RobotAccount")).toBe(inputs.model.robots.length);
    expect(countOf(declared, "pulumi-nodejs:dynamic/quay:ProxyCache")).toBe(inputs.config.proxyCaches?.upstreams.length ?? 0);
    expect((proxyCacheMirrors as unknown[]).length).toBe(inputs.config.proxyCaches?.upstreams.length ?? 0);
    if (inputs.config.mode === "existing") {
      // No host work and no token minting: the stack's quay:token is the credential.
      expect(declared.filter((d) => d.type.startsWith("command:"))).toEqual([]);
      expect(countOf(declared, "pulumi-nodejs:dynamic/quay:ApiToken")).toBe(0);
      expect(apiUrl).toBe(inputs.config.apiUrl!.replace(/\/+$/, ""));
    } else {
      expect(countOf(declared, "quay-mirror:host:QuayHost")).toBe(1);
      expect(countOf(declared, "pulumi-nodejs:dynamic/quay:ApiToken")).toBe(1);
      for (const step of ["wait", "packages", "postgres", "redis", "account", "config", "image", "firewall", "unit", "health", "initialize", "expose"]) {
        expect(declared).toContainEqual({ type: "command:remote:Command", name: `quay-${step}` });
      }
    }
    // Managed object storage: MinIO's buckets and users, and the host checks the bucket before Quay starts.
    const managed = inputs.config.objectStorage !== undefined;
    expect(countOf(declared, "pulumi-nodejs:dynamic/minio:Bucket")).toBe(managed ? 2 : 0);
    expect(countOf(declared, "pulumi-nodejs:dynamic/minio:User")).toBe(managed ? 3 : 0);
    if (managed && inputs.config.mode === "full") {
      expect(declared).toContainEqual({ type: "command:remote:Command", name: "quay-preflight" });
      expect(declared).toContainEqual({ type: "command:remote:CopyToRemote", name: "quay-mc-binary" });
    }
    // Backups: the timer, the restore proof and the passphrase as a secret output.
    const backups = inputs.config.backups !== undefined;
    expect(countOf(declared, "quay-mirror:host:QuayBackups")).toBe(backups ? 1 : 0);
    expect(secretOutputs).toEqual(backups ? ["backupPassphrase", "installConfig", "mirrorCredentials", "pullSecret", "robotCredentials"] : ["installConfig", "mirrorCredentials", "pullSecret", "robotCredentials"]);
  }, 120_000);
});

describe("object storage and backups settings", () => {
  const file = "Pulumi.lab.yaml";
  const lab = previewConfig(file);
  const hostWith = (patch: (host: Record<string, unknown>) => void) => {
    const host = JSON.parse(lab[`${NS}:host`]) as Record<string, unknown>;
    patch(host);
    return { ...lab, [`${NS}:host`]: JSON.stringify(host) };
  };
  const failure = async (config: Record<string, string>): Promise<string> => {
    try {
      await declareUnderMocks(file, config);
    } catch (e) {
      // ConfigError, or the component schemas' own error: either names the stack file, the key and the fix.
      expect((e as Error).name).toMatch(/^(ConfigError|QuayHostConfigError)$/);
      expect((e as Error).message).toContain(file);
      return (e as Error).message;
    }
    throw new Error("the program accepted the settings");
  };

  test("the lab manages MinIO and backs up: storage host, port and bucket come from objectStorage", () => {
    expect(lab[`${NS}:objectStorage`]).toBeDefined();
    expect(lab[`${NS}:backups`]).toBeDefined();
  });

  test("Quay's storage keys set by hand next to objectStorage are refused, naming the key and the fix", async () => {
    const message = await failure(hostWith((h) => ((h.storage as Record<string, unknown>).accessKey = "quay-storage")));
    expect(message).toMatch(/quay-mirror:host"\]\.storage\.accessKey/);
    expect(message).toMatch(/objectStorage creates Quay's storage user/);
    const bucket = await failure(hostWith((h) => ((h.storage as Record<string, unknown>).bucket = "other-bucket")));
    expect(bucket).toMatch(/quay-mirror:host"\]\.storage\.bucket/);
  });

  test("backups need objectStorage (the uploader and the restore reader are its users)", async () => {
    const noStorage = { ...lab };
    delete noStorage[`${NS}:objectStorage`];
    const message = validationError(file, noStorage);
    expect(message).toContain("quay-mirror:backups");
    expect(message).toMatch(/together with quay-mirror:objectStorage/);
  });

  test("a bad backup schedule and a bad objectStorage endpoint name their keys", async () => {
    const schedule = await failure({ ...lab, [`${NS}:backups`]: JSON.stringify({ schedules: { backup: "every day; rm -rf /" } }) });
    expect(schedule).toContain("quay-mirror:backups");
    expect(schedule).toMatch(/schedules\.backup/);
    const endpoint = await failure({ ...lab, [`${NS}:objectStorage`]: JSON.stringify({ endpoint: "minio.lab:9000", adminAccessKey: "admin" }) });
    expect(endpoint).toContain("quay-mirror:objectStorage");
    expect(endpoint).toMatch(/endpoint/);
  });

  test("the MinIO client for the host: host.tools.mcBinary when set, and a clear error when it is neither set nor on PATH", async () => {
    const missing = await failure(hostWith((h) => (h.tools = { mcBinary: "/nonexistent/mc" })));
    expect(missing).toMatch(/no such file: \/nonexistent\/mc/);
    const savedPath = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      const none = await failure(lab);
      expect(none).toMatch(/quay-mirror:host"\]\.tools\.mcBinary/);
      expect(none).toMatch(/scripts\/install-tools\.sh/);
    } finally {
      process.env.PATH = savedPath;
    }
  });
});

describe("the SSH key of Pulumi.lab.yaml comes from an ssh-agent (host.connection.agentSocketPath)", () => {
  const file = "Pulumi.lab.yaml";
  const lab = previewConfig(file);
  const AGENT = "/run/quay-mirror/ssh-agent.sock";
  const raw = () => Object.fromEntries(Object.entries(configBlock(file)).filter(([k]) => k.startsWith(`${NS}:`)).map(([k, v]) => [k.slice(NS.length + 1), v]));
  const withoutAgent = () => {
    const host = JSON.parse(lab[`${NS}:host`]) as { connection: Record<string, unknown> };
    delete host.connection.agentSocketPath;
    return { ...lab, [`${NS}:host`]: JSON.stringify(host) };
  };
  /** A step's connection as the engine gets it (the SDK marks it secret: unwrap). */
  const connectionOf = (inputs: Record<string, unknown>) => {
    const c = inputs.connection as Record<string, unknown>;
    return (c["4dabf18193072939515e22adb298388d"] ? c.value : c) as Record<string, unknown>;
  };

  test("the committed lab names a fixed agent socket, and the program requires no SSH key secret for it", () => {
    expect((configBlock(file)[`${NS}:host`] as { connection: Record<string, unknown> }).connection.agentSocketPath).toBe(AGENT);
    expect(requiredSecretKeys(raw())).not.toContain("sshPrivateKey");
    expect(requiredSecretKeys(raw())).toEqual(["minioAdminSecretKey"]);
    // Without the socket, the key is a required secret again (a stack of one's own on a laptop).
    const host = raw().host as { connection: Record<string, unknown> };
    delete host.connection.agentSocketPath;
    expect(requiredSecretKeys({ ...raw(), host })).toContain("sshPrivateKey");
  });

  test("every host step and upload (QuayBackups' included) gets the socket's path and no private key", async () => {
    const { remoteInputs } = await declareUnderMocks(file, lab);
    expect(remoteInputs.map((r) => r.name)).toEqual(expect.arrayContaining(["quay-config", "quay-mc-binary", "backups-timer"].filter((n) => remoteInputs.some((r) => r.name === n))));
    expect(remoteInputs.some((r) => r.name.startsWith("backups-"))).toBe(true);
    expect(remoteInputs.length).toBeGreaterThan(10);
    for (const r of remoteInputs) {
      const conn = connectionOf(r.inputs);
      expect({ step: r.name, agentSocketPath: conn.agentSocketPath, privateKey: conn.privateKey }).toEqual({ step: r.name, agentSocketPath: AGENT, privateKey: undefined });
    }
    expect(JSON.stringify(remoteInputs)).not.toMatch(/PRIVATE KEY/);
  }, 120_000);

  test("without the socket, the key from the sshPrivateKey secret is every step's privateKey (what the agent keeps out of the state)", async () => {
    const pem = throwawaySecret(`${NS}:sshPrivateKey`);
    const { remoteInputs } = await declareUnderMocks(file, withoutAgent(), { [`${NS}:sshPrivateKey`]: pem });
    expect(remoteInputs.length).toBeGreaterThan(10);
    for (const r of remoteInputs) expect({ step: r.name, privateKey: connectionOf(r.inputs).privateKey }).toEqual({ step: r.name, privateKey: pem });
  }, 120_000);

  test("the sshPrivateKey secret next to agentSocketPath is refused, naming the key and the fix; a bad socket path names its JSON path", async () => {
    let message = "";
    try {
      await declareUnderMocks(file, lab, { [`${NS}:sshPrivateKey`]: throwawaySecret(`${NS}:sshPrivateKey`) });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(file);
    expect(message).toMatch(/\$\["quay-mirror:host"\]\.connection\.agentSocketPath: is set, and so is the secret quay-mirror:sshPrivateKey.* — fix: remove the secret \(pulumi config rm quay-mirror:sshPrivateKey/);
    const host = JSON.parse(lab[`${NS}:host`]) as { connection: Record<string, unknown> };
    host.connection.agentSocketPath = "ssh-agent.sock";
    message = "";
    try {
      await declareUnderMocks(file, { ...lab, [`${NS}:host`]: JSON.stringify(host) });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(file);
    expect(message).toMatch(/\$\.connection\.agentSocketPath: agentSocketPath must be an absolute path/);
  }, 120_000);
});

describe("Pulumi.lab-existing.yaml through the real engine", () => {
  const suite = engineSuiteOnEmulator();

  test("previews the lab's model, the pre-seeded repositories and the proxy caches against an empty running Quay (the emulator), with no error", async () => {
    const file = "Pulumi.lab-existing.yaml";
    const config = engineConfig(file);
    const inputs = validate(file, config);
    // An empty registry: the first preview plans the organizations too (the grants' check finds their
    // namespaces missing, which Quay reports as 403, and plans nothing there).
    await withEngineStack(
      {
        program: "lab",
        config: { ...config, [`${NS}:apiUrl`]: suite.quay.emulator.url },
        secrets: { "quay:token": suite.quay.connection.token },
      },
      async (stack) => {
        suite.quay.emulator.counter.reset();
        const plan = await stack.preview();
        const creates = (type: string) => plan.steps.filter((s) => s.op === "create" && s.type === `pulumi-nodejs:dynamic/quay:${type}`).map((s) => s.name);
        expect(plan.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
        expect(creates("Organization").sort()).toEqual(
          [...inputs.model.organizations.map((o) => `mirror-model-org-${o.name}`), ...inputs.config.proxyCaches!.upstreams.map((u) => `mirror-proxy-cache-${cacheOrganizationName(u)}`)].sort(),
        );
        expect(creates("RobotAccount")).toHaveLength(inputs.model.robots.length);
        expect(creates("ProxyCache")).toHaveLength(3);
        expect(creates("User")).toEqual(["mirror-model-cluster-pull-user"]);
        expect(plan.steps.filter((s) => s.type.startsWith("command:") || s.type.endsWith(":ApiToken"))).toEqual([]);
        // The pre-seed's own log line, whatever resources it declares them with.
        const perOrg: Record<string, number> = {};
        for (const r of inputs.mirrorRepositories) perOrg[r.organization] = (perOrg[r.organization] ?? 0) + 1;
        expect(Object.keys(perOrg).length).toBeGreaterThan(0);
        const logged = plan.diagnostics.map((d) => d.message).join("\n");
        for (const [org, n] of Object.entries(perOrg)) expect(logged).toContain(`mirror pre-seed: ${n} destination repositories in ${org}`);
        // The preview read the registry: nothing was written.
        expect(suite.quay.emulator.counter.writes()).toBe(0);
      },
    );
  }, 600_000);
});
