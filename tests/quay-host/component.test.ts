// QuayHost under pulumi.runtime.setMocks: the commands it declares, their order and dependencies, which
// values are secret, and that no secret is ever part of a command line.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { QuayHost } from "../../components/quay-host";
import { resolveHostKey } from "../../config/quay-host";
import { bash, HOST_KEY, labArgs, PEM } from "./samples";
import { unwrap, isSecret } from "../support/outputs";

type Captured = { type: string; name: string; props: Record<string, any>; opts: pulumi.CustomResourceOptions };
const engineInputs: { type: string; name: string; inputs: any }[] = [];
const TOKEN = "BOOTSTRAPTOKEN0123456789ABCDEFGHIJKLMNOP";
const RECORDED_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRecordedOnFirstUseByThePluginXXXXXXXXXXXXX";
const RECORDED_BASTION_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRecordedBastionKeyByThePluginXXXXXXXXXXXX";
const BASTION_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPinnedBastionKeyXXXXXXXXXXXXXXXXXXXXXXXXXX";

/** Each generated secret gets a recognisable value; the same for every component instance. */
const secretFor = (resourceName: string) => `GENERATED-${resourceName.replace(/^[a-z0-9]+-/, "")}-Zq8`;

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        engineInputs.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, any> = { ...args.inputs };
        if (args.type === "random:index/randomPassword:RandomPassword") state.result = secretFor(args.name);
        if (args.type === "pulumi-nodejs:dynamic/local:RandomSecret") state.result = secretFor(args.name);
        if (args.type === "command:remote:Command") state.stdout = args.name.endsWith("-initialize") ? `${TOKEN}\n` : "";
        // What the command plugin does for a trust-on-first-use connection: records the offered keys.
        if (args.type === "command:remote:Command" && args.name.endsWith("-host-key")) {
          const SECRET_SIG = "4dabf18193072939515e22adb298388d";
          const c = args.inputs.connection[SECRET_SIG] ? args.inputs.connection.value : args.inputs.connection;
          state.connection = {
            ...c,
            ...(c.hostKey === "trust-on-first-use" ? { hostKey: RECORDED_KEY } : {}),
            ...(c.proxy?.hostKey === "trust-on-first-use" ? { proxy: { ...c.proxy, hostKey: RECORDED_BASTION_KEY } } : {}),
          };
        }
        return { id: `${args.name}-id`, state };
      },
      call: () => ({}),
    },
    "quay-mirror",
    "test",
    false,
  );
});


async function build(name: string, args: Record<string, any>) {
  const captured: Captured[] = [];
  const host = new QuayHost(name, args as any, {
    transformations: [
      (a: pulumi.ResourceTransformationArgs) => {
        captured.push({ type: a.type, name: a.name, props: a.props, opts: a.opts as pulumi.CustomResourceOptions });
        return undefined;
      },
    ],
  });
  const commands = captured.filter((c) => c.type === "command:remote:Command");
  const creates: Record<string, string> = {};
  for (const c of commands) creates[c.name.slice(name.length + 1)] = await unwrap<string>(c.props.create);
  return { host, captured, commands, creates };
}

/** The script inside `[sudo -n --] bash -c '<script>' <label>`, unquoted by bash itself. */
function scriptOf(line: string): string {
  const m = /^(?:sudo -n -- )?bash -c ('.*') quay-mirror-[a-z-]+$/s.exec(line);
  if (!m) throw new Error(`not a step command line: ${line.slice(0, 80)}`);
  return bash(`set -- ${m[1]}; printf '%s' "$1"`).stdout;
}

const secretValues = () => [
  ...["postgres-password", "redis-password", "secret-key", "database-secret-key", "superuser-password"].map((n) => secretFor(`x-${n}`)),
  "quay-storage-pass",
  PEM.split("\n")[1]!,
];

describe("QuayHost", () => {
  test("declares the steps in order, each chained to what it needs", async () => {
    const { host, commands } = await build("qh", labArgs());
    expect(commands.map((c) => c.name)).toEqual(["qh-wait", "qh-packages", "qh-postgres", "qh-redis", "qh-account", "qh-config", "qh-image", "qh-firewall", "qh-unit", "qh-lifecycle", "qh-health", "qh-initialize", "qh-expose"]);
    const deps = (step: string) => {
      const c = commands.find((x) => x.name === `qh-${step}`)!;
      const list = (c.opts.dependsOn ?? []) as pulumi.Resource[];
      return list.map((r) => Object.entries(host.steps).find(([, v]) => v === r)?.[0]).sort();
    };
    expect(deps("wait")).toEqual([]);
    expect(deps("packages")).toEqual(["wait"]);
    expect(deps("postgres")).toEqual(["packages"]);
    expect(deps("redis")).toEqual(["packages"]);
    expect(deps("account")).toEqual(["wait"]);
    expect(deps("config")).toEqual(["account", "packages"]);
    expect(deps("image")).toEqual(["packages"]);
    expect(deps("firewall")).toEqual(["packages"]);
    expect(deps("unit")).toEqual(["config", "firewall", "image", "postgres", "redis"]);
    expect(deps("lifecycle")).toEqual(["unit"]);
    expect(deps("health")).toEqual(["unit"]);
    expect(deps("initialize")).toEqual(["health"]);
    expect(deps("expose")).toEqual(["initialize"]);
    for (const c of commands) expect(c.opts.parent).toBe(host);
    expect(host.ready).toBe(host.steps.expose);
  });

  test("Quay is never reachable from outside before its first superuser exists: UFW first, 8080 for the proxy only after initialize", async () => {
    const { host, commands, creates } = await build("fw", labArgs());
    // transitively: every path from the unit (Quay's first start) back to the root passes the firewall step
    const depsOf = (r: pulumi.Resource): pulumi.Resource[] => ((commands.find((c) => host.steps[c.name.slice(3)] === r)?.opts.dependsOn ?? []) as pulumi.Resource[]);
    const ancestors = (r: pulumi.Resource, seen = new Set<pulumi.Resource>()): Set<pulumi.Resource> => {
      for (const d of depsOf(r)) if (!seen.has(d)) (seen.add(d), ancestors(d, seen));
      return seen;
    };
    expect(ancestors(host.steps.unit!).has(host.steps.firewall!)).toBe(true);
    expect(ancestors(host.steps.expose!).has(host.steps.initialize!)).toBe(true);
    expect(ancestors(host.steps.initialize!).has(host.steps.expose!)).toBe(false);
    // the firewall step admits the proxy only on a host that is already initialized (marker); the expose step,
    // after initialize, writes the marker and admits it
    const firewall = scriptOf(creates.firewall!);
    const expose = scriptOf(creates.expose!);
    expect(firewall).toContain("readonly open='false'");
    expect(expose).toContain("readonly open='true'");
    for (const script of [firewall, expose]) {
      expect(script).toContain("readonly proxy_address='30.30.200.102'");
      expect(script).toContain("readonly marker='/var/lib/quay/.quay-mirror-initialized'");
    }
    // both run as root; the bootstrap token output waits for the port to open (consumers use it through the proxy)
    expect(creates.expose!.startsWith("sudo -n -- ")).toBe(true);
    const deps: Set<pulumi.Resource> = await (host.bootstrapToken as any).allResources();
    expect([...deps]).toEqual(expect.arrayContaining([host.steps.initialize, host.steps.expose]));
  });

  test("secrets travel on stdin, marked secret; steps that read them never log and keep their output secret", async () => {
    const { commands } = await build("qh", labArgs());
    const byStep = (s: string) => commands.find((c) => c.name === `qh-${s}`)!;
    for (const s of ["postgres", "redis", "config", "initialize"]) {
      const c = byStep(s);
      expect({ s, secret: await isSecret(c.props.stdin) }).toEqual({ s, secret: true });
      expect(c.props.logging).toBe("none");
      expect(c.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
      expect(c.props.addPreviousOutputInEnv).toBe(false);
    }
    expect(await unwrap(byStep("postgres").props.stdin)).toBe(secretFor("x-postgres-password"));
    expect(await unwrap(byStep("redis").props.stdin)).toBe(secretFor("x-redis-password"));
    const config = await unwrap<string>(byStep("config").props.stdin);
    for (const v of ["postgres-password", "redis-password", "secret-key", "database-secret-key"]) expect(config).toContain(secretFor(`x-${v}`));
    expect(JSON.parse(await unwrap<string>(byStep("initialize").props.stdin))).toEqual({ username: "quayadmin", password: secretFor("x-superuser-password") });
    // the private key is secret in the connection of every step
    for (const c of commands) expect(await isSecret(pulumi.output(c.props.connection).apply((x: any) => x.privateKey))).toBe(true);
  });

  test("no secret is ever part of a command line, and no command line is secret", async () => {
    const { commands, creates } = await build("qh", labArgs());
    for (const c of commands) {
      expect({ step: c.name, secret: await isSecret(c.props.create) }).toEqual({ step: c.name, secret: false });
      for (const field of ["create", "update", "delete"]) {
        const text = field === "create" ? creates[c.name.slice(3)]! : ((await unwrap<string | undefined>(c.props[field])) ?? "");
        for (const secret of secretValues()) expect({ step: c.name, field, leaks: text.includes(secret) }).toEqual({ step: c.name, field, leaks: false });
      }
    }
    // and what the engine receives (the mock monitor's view) agrees
    for (const r of engineInputs.filter((e) => e.type === "command:remote:Command")) {
      for (const secret of secretValues()) expect(String(r.inputs.create ?? "")).not.toContain(secret);
    }
  });

  test("every declared script passes shellcheck; non-root users get sudo -n, the API steps run unprivileged", async () => {
    const { creates } = await build("qh", labArgs());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quay-host-creates-"));
    try {
      const files = Object.entries(creates)
        .filter(([step]) => step !== "lifecycle")
        .map(([step, line]) => {
          const m = /^(sudo -n -- )?bash -c ('.*') (quay-mirror-[a-z-]+)$/s.exec(line);
          expect({ step, parsed: m !== null }).toEqual({ step, parsed: true });
          expect({ step, sudo: Boolean(m![1]) }).toEqual({ step, sudo: !["health", "initialize"].includes(step) });
          const script = scriptOf(line);
          const f = path.join(dir, `${step}.sh`);
          fs.writeFileSync(f, script);
          return f;
        });
      const r = spawnSync("shellcheck", ["--shell=bash", ...files], { encoding: "utf8" });
      expect(r.stdout + r.stderr).toBe("");
      expect(creates.lifecycle).toBe("true");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const root = await build("rooted", { ...labArgs(), connection: { ...labArgs().connection, user: "root" } });
    for (const line of Object.values(root.creates)) expect(line.startsWith("sudo")).toBe(false);
  });

  test("the destroy hook stops Quay, and purges only when purgeOnDestroy is set", async () => {
    const keep = await build("keep", labArgs());
    const purge = await build("purge", { ...labArgs(), purgeOnDestroy: true });
    const del = async (b: typeof keep, n: string) => unwrap<string>(b.commands.find((c) => c.name === `${n}-lifecycle`)!.props.delete);
    expect(scriptOf(await del(keep, "keep"))).toContain("readonly purge='false'");
    expect(scriptOf(await del(purge, "purge"))).toContain("readonly purge='true'");
  });

  test("changing one config key changes only the config, unit (restart) and health steps", async () => {
    const a = await build("a", labArgs());
    const b = await build("b", { ...labArgs(), extraConfig: { FEATURE_SUPERUSERS_FULL_ACCESS: true } });
    const changed = Object.keys(a.creates).filter((s) => a.creates[s] !== b.creates[s]);
    expect(changed.sort()).toEqual(["config", "health", "unit"]);
    expect(await unwrap(a.host.configSha256)).not.toBe(await unwrap(b.host.configSha256));
  });

  test("changing quayVersion upgrades in place: image, unit, health — config, secrets and data untouched", async () => {
    const a = await build("a", labArgs());
    const b = await build("b", { ...labArgs(), quayVersion: "v3.18.1" });
    const changed = Object.keys(a.creates).filter((s) => a.creates[s] !== b.creates[s]);
    expect(changed.sort()).toEqual(["health", "image", "unit"]);
    expect(b.creates.image).toContain("quay.io/projectquay/quay:v3.18.1");
    expect(await unwrap(a.host.configSha256)).toBe(await unwrap(b.host.configSha256));
    // no step is replaced: only the initialize step has triggers (bootstrap.renew)
    for (const c of b.commands) expect({ n: c.name, t: c.props.triggers !== undefined }).toEqual({ n: c.name, t: c.name === "b-initialize" });
    // the generated secrets ignore changes to their own inputs: generated once
    for (const r of b.captured.filter((c) => c.type === "random:index/randomPassword:RandomPassword")) expect(r.opts.ignoreChanges).toEqual(expect.arrayContaining(["length", "special"]));
  });

  test("an image archive is uploaded with CopyToRemote and loaded; the upload is named by content", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quay-host-archive-"));
    const file = path.join(dir, "quay.tar");
    fs.writeFileSync(file, "not really an image");
    try {
      const { host, captured, creates } = await build("ar", { ...labArgs(), imageArchive: file });
      const upload = captured.find((c) => c.type === "command:remote:CopyToRemote")!;
      expect(upload.name).toBe("ar-image-archive");
      expect(upload.props.source).toBeInstanceOf(pulumi.asset.FileAsset);
      const remotePath = await unwrap<string>(upload.props.remotePath);
      expect(remotePath).toMatch(/^\/var\/lib\/quay-mirror\/upload\/quay-image-[0-9a-f]{16}\.tar$/);
      expect(scriptOf(creates.image!)).toContain(`readonly source_ref='${remotePath}'`);
      expect(scriptOf(creates.image!)).toContain("readonly mode='archive'");
      const image = captured.find((c) => c.name === "ar-image")!;
      expect(image.opts.dependsOn).toEqual(expect.arrayContaining([host.steps["image-archive"]]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("outputs: secrets stay secret; the bootstrap token is the initialize step's stdout", async () => {
    const { host } = await build("qh", labArgs());
    expect(await unwrap(host.apiUrl)).toBe("http://10.77.0.2:8080");
    expect(await unwrap(host.registryHostname)).toBe("quay.v7.comptech-lab.com");
    expect(await unwrap(host.superuserName)).toBe("quayadmin");
    expect(await isSecret(host.superuserPassword)).toBe(true);
    expect(await isSecret(host.bootstrapToken)).toBe(true);
    expect(await unwrap(host.bootstrapToken)).toBe(TOKEN);
    expect(await isSecret(host.configSha256)).toBe(false);
    expect(await unwrap(host.configSha256)).toMatch(/^[0-9a-f]{64}$/);
    expect(await isSecret(pulumi.output(host.connection).apply((c: any) => c.privateKey))).toBe(true);
  });

  test('secretGenerator "node-crypto": the same secrets from the RandomSecret dynamic resource, still only on stdin', async () => {
    const { captured, commands, creates } = await build("nc", { ...labArgs(), secretGenerator: "node-crypto" });
    expect(captured.filter((c) => c.type.startsWith("random:"))).toEqual([]);
    const generated = captured.filter((c) => c.type === "pulumi-nodejs:dynamic/local:RandomSecret");
    expect(generated.map((g) => g.name).sort()).toEqual(["nc-database-secret-key", "nc-postgres-password", "nc-redis-password", "nc-secret-key", "nc-superuser-password"]);
    for (const g of generated) expect(g.opts.additionalSecretOutputs).toContain("result");
    const stdin = await unwrap<string>(commands.find((c) => c.name === "nc-postgres")!.props.stdin);
    expect(stdin).toBe(secretFor("x-postgres-password"));
    expect(await isSecret(commands.find((c) => c.name === "nc-config")!.props.stdin)).toBe(true);
    for (const line of Object.values(creates)) for (const secret of secretValues()) expect(line).not.toContain(secret);
  });

  test("tools.mcBinary: mc uploaded and installed; the storage preflight runs after config, before the unit, on every restart", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quay-host-mc-"));
    const mc = path.join(dir, "mc");
    fs.writeFileSync(mc, "not really mc");
    try {
      const { host, captured, commands, creates } = await build("pf", { ...labArgs(), tools: { mcBinary: mc } });
      expect(commands.map((c) => c.name)).toEqual(["pf-wait", "pf-packages", "pf-postgres", "pf-redis", "pf-account", "pf-config", "pf-image", "pf-tools", "pf-preflight", "pf-firewall", "pf-unit", "pf-lifecycle", "pf-health", "pf-initialize", "pf-expose"]);
      const upload = captured.find((c) => c.name === "pf-mc-binary")!;
      expect(upload.type).toBe("command:remote:CopyToRemote");
      expect(await unwrap<string>(upload.props.remotePath)).toMatch(/^\/var\/lib\/quay-mirror\/upload\/mc-[0-9a-f]{16}$/);
      const deps = (step: string) => ((commands.find((x) => x.name === `pf-${step}`)!.opts.dependsOn ?? []) as pulumi.Resource[]).map((r) => Object.entries(host.steps).find(([, v]) => v === r)?.[0]).sort();
      expect(deps("tools")).toEqual(["mc-binary", "wait"]);
      expect(deps("preflight")).toEqual(["config", "packages", "tools"]);
      expect(deps("unit")).toEqual(["config", "firewall", "image", "postgres", "preflight", "redis"]);
      expect(host.mcPath).toBe("/usr/local/lib/quay-mirror/bin/mc");
      const preflight = commands.find((c) => c.name === "pf-preflight")!;
      expect(await isSecret(preflight.props.stdin)).toBe(true);
      expect(JSON.parse(await unwrap<string>(preflight.props.stdin))).toEqual({ accessKey: "quay-storage-user", secretKey: "quay-storage-pass" });
      expect(preflight.props.logging).toBe("stdoutAndStderr");
      const script = scriptOf(creates.preflight!);
      expect(script).toContain("readonly endpoint='http://minio.v7.comptech-lab.com:9000'");
      expect(script).toContain("readonly bucket='quay-storage'");
      for (const secret of secretValues()) expect(creates.preflight!).not.toContain(secret);
      // the preflight re-runs whenever Quay is restarted: one config key changes it, like the unit step
      const b = await build("pf2", { ...labArgs(), tools: { mcBinary: mc }, extraConfig: { FEATURE_SUPERUSERS_FULL_ACCESS: true } });
      const a2 = await build("pf3", { ...labArgs(), tools: { mcBinary: mc } });
      expect(Object.keys(a2.creates).filter((k) => a2.creates[k] !== b.creates[k]).sort()).toEqual(["config", "health", "preflight", "unit"]);
      // storagePreflight: false keeps the tools step only
      const off = await build("off", { ...labArgs(), tools: { mcBinary: mc }, storagePreflight: false });
      expect(off.commands.map((c) => c.name)).toContain("off-tools");
      expect(off.commands.map((c) => c.name)).not.toContain("off-preflight");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(() => new QuayHost("nomc", { ...labArgs(), storagePreflight: true } as any)).toThrow(/\$\.storagePreflight: storagePreflight needs the MinIO client on the host — fix: set tools.mcBinary/);
    expect(() => new QuayHost("nomc2", { ...labArgs(), tools: { mcBinary: "/nonexistent/mc" } } as any)).toThrow(/\$\.tools\.mcBinary: no such file/);
  });

  test("bad arguments fail at construction with the JSON path", async () => {
    expect(() => new QuayHost("bad", { ...labArgs(), proxyAddress: "$(reboot)" } as any)).toThrow(/\$\.proxyAddress: proxyAddress must be an IP address/);
    expect(() => new QuayHost("bad2", { ...labArgs(), imageArchive: "/nonexistent/quay.tar" } as any)).toThrow(/\$\.imageArchive: no such file/);
  });

  describe("the SSH key through an agent (connection.agentSocketPath)", () => {
    const AGENT = "/run/quay-mirror/ssh-agent.sock";
    const connectionOf = async (c: Captured) => unwrap<Record<string, any>>(pulumi.output(c.props.connection) as any);

    test("every step and upload gets the agent's socket and no private key; the bastion uses the same agent unless it has its own key", async () => {
      const args = labArgs();
      delete args.connection.privateKey;
      args.connection.agentSocketPath = AGENT;
      args.connection.bastion = { host: "bastion.example.com", hostKey: BASTION_KEY };
      const { captured, host } = await build("agent", args);
      const remote = captured.filter((c) => c.type.startsWith("command:remote:"));
      expect(remote.length).toBeGreaterThan(5);
      for (const c of remote) {
        const conn = await connectionOf(c);
        expect({ step: c.name, conn }).toEqual({
          step: c.name,
          conn: expect.objectContaining({ agentSocketPath: AGENT, proxy: expect.objectContaining({ agentSocketPath: AGENT, hostKey: BASTION_KEY }) }),
        });
        expect(Object.keys(conn)).not.toContain("privateKey");
        expect(Object.keys(conn.proxy)).not.toContain("privateKey");
      }
      // What QuayBackups reuses: the same connection.
      const shared = await unwrap<Record<string, any>>(pulumi.output(host.connection) as any);
      expect(shared.agentSocketPath).toBe(AGENT);
      expect(Object.keys(shared)).not.toContain("privateKey");
      // Nothing the engine received holds a key.
      expect(JSON.stringify(engineInputs.filter((e) => e.name.startsWith("agent-")))).not.toMatch(/PRIVATE KEY/);

      // A bastion with a key of its own: that key for the bastion, the agent for the host.
      const own = labArgs();
      delete own.connection.privateKey;
      own.connection.agentSocketPath = AGENT;
      own.connection.bastion = { host: "bastion.example.com", hostKey: BASTION_KEY, privateKey: PEM };
      const o = await build("agentown", own);
      const conn = await connectionOf(o.commands.find((c) => c.name === "agentown-config")!);
      expect(conn.agentSocketPath).toBe(AGENT);
      expect(conn.proxy.privateKey).toBe(PEM);
      expect(conn.proxy.agentSocketPath).toBeUndefined();
      // And the other way round: the host's key, the bastion through an agent.
      const mixed = labArgs();
      mixed.connection.bastion = { host: "bastion.example.com", hostKey: BASTION_KEY, agentSocketPath: AGENT };
      const m = await build("keyagent", mixed);
      const mc = await connectionOf(m.commands.find((c) => c.name === "keyagent-config")!);
      expect(mc.privateKey).toBe(PEM);
      expect(mc.agentSocketPath).toBeUndefined();
      expect(mc.proxy).toMatchObject({ agentSocketPath: AGENT });
      expect(Object.keys(mc.proxy)).not.toContain("privateKey");
    });
  });

  describe("the SSH host key", () => {
    const hostKeysOf = async (c: Captured) => unwrap<{ hostKey?: string; proxy?: { hostKey?: string } }>(pulumi.output(c.props.connection) as any);

    test("every step and upload pins the host's key, and the bastion's", async () => {
      const args = labArgs();
      args.connection.bastion = { host: "bastion.example.com", hostKey: BASTION_KEY };
      const { captured, host } = await build("pin", args);
      const remote = captured.filter((c) => c.type.startsWith("command:remote:"));
      expect(remote.length).toBeGreaterThan(5);
      for (const c of remote) {
        const conn = await hostKeysOf(c);
        expect({ step: c.name, hostKey: conn.hostKey, bastion: conn.proxy?.hostKey }).toEqual({ step: c.name, hostKey: HOST_KEY, bastion: BASTION_KEY });
      }
      expect((await unwrap<any>(pulumi.output(host.connection) as any)).hostKey).toBe(HOST_KEY);
      expect(remote.map((c) => c.name)).not.toContain("pin-host-key");
    });

    test("knownHostsFile: the host's entry is read at program time and pinned", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quay-host-kh-"));
      try {
        const kh = path.join(dir, "known_hosts");
        fs.writeFileSync(kh, `other ${BASTION_KEY}\n10.77.0.2 ${HOST_KEY}\n`);
        const args = labArgs();
        delete args.connection.hostKey;
        args.connection.knownHostsFile = kh;
        const { commands } = await build("kh", args);
        for (const c of commands) expect({ step: c.name, hostKey: (await hostKeysOf(c)).hostKey }).toEqual({ step: c.name, hostKey: HOST_KEY });
        // a host name that is an Output: looked up when it resolves
        expect(await unwrap(resolveHostKey({ knownHostsFile: kh, hostKeyPolicy: "strict" }, pulumi.output("10.77.0.2"), 22, ["connection"]))).toBe(HOST_KEY);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test("trust-on-first-use: a host-key step records the offered keys first; every other step requires the recorded ones", async () => {
      const args = labArgs();
      delete args.connection.hostKey;
      args.connection.hostKeyPolicy = "trust-on-first-use";
      args.connection.bastion = { host: "bastion.example.com", hostKeyPolicy: "trust-on-first-use" };
      const { captured, commands, host, creates } = await build("tofu", args);
      expect(commands[0]!.name).toBe("tofu-host-key");
      const recorder = commands[0]!;
      expect(await hostKeysOf(recorder)).toMatchObject({ hostKey: "trust-on-first-use", proxy: { hostKey: "trust-on-first-use" } });
      expect(creates["host-key"]).toBe("true");
      expect(await unwrap(recorder.props.triggers)).toEqual(["10.77.0.2", 22, "bastion.example.com", 22]);
      expect(recorder.props.logging).toBe("none");
      expect(host.steps["host-key"]).toBeDefined();
      for (const c of captured.filter((x) => x.type.startsWith("command:remote:") && x.name !== "tofu-host-key")) {
        const conn = await hostKeysOf(c);
        expect({ step: c.name, hostKey: conn.hostKey, bastion: conn.proxy?.hostKey }).toEqual({ step: c.name, hostKey: RECORDED_KEY, bastion: RECORDED_BASTION_KEY });
      }
      // only the bastion on trust-on-first-use: the host's pinned key stays as it is
      const mixed = labArgs();
      mixed.connection.bastion = { host: "bastion.example.com", hostKeyPolicy: "trust-on-first-use" };
      const m = await build("mixed", mixed);
      expect(await hostKeysOf(m.commands[0]!)).toMatchObject({ hostKey: HOST_KEY, proxy: { hostKey: "trust-on-first-use" } });
      expect(await hostKeysOf(m.commands.find((c) => c.name === "mixed-config")!)).toMatchObject({ hostKey: HOST_KEY, proxy: { hostKey: RECORDED_BASTION_KEY } });
    });
  });
});
