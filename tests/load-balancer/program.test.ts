// `quay-mirror:loadBalancer` in the real program (components/program.ts) under pulumi mocks: the lab stack
// with the setting declares the LoadBalancer and its steps, the TLS key reaches the host on the tls step's
// stdin only (never in a script), the backends default to the Quay host's :8080; without the setting nothing
// of it is declared; bad settings are refused with the stack file and the key.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { QuayMirrorOutputs, quayMirror, requiredSecretKeys } from "../../components/program";
import { RegistryCertificateProvider } from "../../providers/local/registry-certificate";

/** Where the generated key starts in the step's stdin (the header of a PKCS#8 PEM; no key is in this file). */
const PEM_PRIVATE_KEY_HEADER = /-{5}BEGIN PRIVATE KEY-{5}/;
import { fillHostKeyPlaceholders } from "../../config/known-hosts";

const repoRoot = path.resolve(__dirname, "../..");
const HOST = "quay.v7.comptech-lab.com";
const AGENT = "/run/quay-mirror/ssh-agent.sock";
const LB_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-lb-program-"));
  const run = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore", cwd: dir });
  run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test mirror CA"]);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", `/CN=${HOST}`]);
  fs.writeFileSync(path.join(dir, "ext.cnf"), `subjectAltName=DNS:${HOST}\n`);
  run(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"]);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Pulumi.lab.yaml's config as the engine hands it to the program (placeholder host key replaced). */
function labConfig(): Record<string, string> {
  const doc = YAML.parse(fs.readFileSync(path.join(repoRoot, "Pulumi.lab.yaml"), "utf8")) as { config: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc.config)) out[k] = typeof v === "string" ? v : JSON.stringify(v);
  out["quay-mirror:host"] = fillHostKeyPlaceholders(out["quay-mirror:host"]!).host;
  return out;
}

interface Declared {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

/** The outputs of the last `declare`. */
let lastOutputs: QuayMirrorOutputs | undefined;

async function declare(extra: Record<string, string>, secrets: Record<string, string>): Promise<Declared[]> {
  const declared: Declared[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: async (args) => {
        declared.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
        // The generated certificate is really generated (the provider's own create), so the wiring can be checked with real PEM.
        if (args.type.endsWith("/local:RegistryCertificate")) {
          const p = RegistryCertificateProvider.instance;
          const checked = await p.check({} as never, args.inputs as never);
          const { id, outs } = await p.create(checked.inputs!);
          return { id, state: outs as unknown as Record<string, unknown> };
        }
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type.endsWith("/local:RandomSecret")) state.result = "Mocked0Secret0Value0123456789abcd";
        if (args.type.endsWith("/quay:ApiToken") || args.type.endsWith("/quay:RobotAccount")) state.token = "mocked-token";
        if (args.type.endsWith("/quay:RobotAccount")) state.fullName = `${String(args.inputs.namespace)}+${String(args.inputs.name)}`;
        if (args.type === "command:remote:Command") state.stdout = args.name.endsWith("-initialize") ? "mocked-bootstrap-token\n" : "";
        return { id: `${args.name}-id`, state };
      },
      call: () => ({}),
    },
    "quay-mirror",
    "lab",
    true,
  );
  pulumi.runtime.setAllConfig({ ...labConfig(), ...extra, ...secrets }, Object.keys(secrets));
  const outputs = quayMirror(repoRoot);
  lastOutputs = outputs;
  await new Promise((resolve) => outputs.pullSecret.apply(resolve));
  for (let seen = -1, deadline = Date.now() + 30_000; seen !== declared.length && Date.now() < deadline; ) {
    seen = declared.length;
    await new Promise((r) => setTimeout(r, 300));
  }
  return declared;
}

const baseSecrets = () => ({ "quay-mirror:minioAdminSecretKey": "THROWAWAY-minio-admin" });

describe("quay-mirror:loadBalancer", () => {
  test("unset (the committed lab stack): no LoadBalancer and none of its steps", async () => {
    const declared = await declare({}, baseSecrets());
    expect(declared.filter((d) => d.type === "quay-mirror:host:LoadBalancer" || d.name.startsWith("lb-"))).toEqual([]);
    expect(declared.some((d) => d.type === "quay-mirror:host:QuayHost")).toBe(true);
  }, 60_000);

  test("set: the LoadBalancer's steps, the key on stdin only, the Quay host's :8080 as the backend", async () => {
    const key = fs.readFileSync(path.join(dir, "server.key"), "utf8");
    const loadBalancer = { connection: { host: "lb.v7.comptech-lab.com", hostKey: LB_HOST_KEY, agentSocketPath: "/run/quay-mirror/ssh-agent.sock" }, certificateFile: path.join(dir, "server.pem") };
    const declared = await declare({ "quay-mirror:loadBalancer": JSON.stringify(loadBalancer) }, { ...baseSecrets(), "quay-mirror:tlsPrivateKey": key });
    expect(declared.filter((d) => d.type === "quay-mirror:host:LoadBalancer").map((d) => d.name)).toEqual(["lb"]);
    const steps = declared.filter((d) => d.type === "command:remote:Command" && d.name.startsWith("lb-"));
    expect(steps.map((d) => d.name).sort()).toEqual(["lb-config", "lb-firewall", "lb-lifecycle", "lb-packages", "lb-tls", "lb-wait"]);
    const keyLine = key.split("\n")[1]!;
    for (const s of steps) expect(String(s.inputs.create)).not.toContain(keyLine);
    const tls = steps.find((s) => s.name === "lb-tls")!;
    // Under mocks a secret input arrives wrapped ({ <sig>: …, value }): it is secret, and it holds the key.
    const stdin = tls.inputs.stdin as { value?: unknown };
    expect(typeof stdin).toBe("object");
    expect(String(stdin.value)).toContain(keyLine);
    expect(tls.inputs.logging).toBe("none");
    const config = String(steps.find((s) => s.name === "lb-config")!.inputs.create);
    expect(config).toContain("server quay-1 gf-ocp-quay-01.v7.comptech-lab.com:8080 check");
    expect(config).toContain("haproxy -c -f");
    const connection = steps.find((s) => s.name === "lb-config")!.inputs.connection as { host?: string; value?: { host: string } };
    expect(connection.host ?? connection.value?.host).toBe("lb.v7.comptech-lab.com");
  }, 60_000);

  test("the secrets a preview must fill: tlsPrivateKey with a load balancer, sshPrivateKey when either host uses no agent", () => {
    const agent = { connection: { agentSocketPath: AGENT } };
    const os_ = { objectStorage: {} };
    expect(requiredSecretKeys({ mode: "full", host: agent, ...os_ })).toEqual(["minioAdminSecretKey"]);
    const own = { certificateFile: "registry.pem" };
    expect(requiredSecretKeys({ mode: "full", host: agent, loadBalancer: { ...agent, ...own }, ...os_ })).toEqual(["tlsPrivateKey", "minioAdminSecretKey"]);
    expect(requiredSecretKeys({ mode: "full", host: agent, loadBalancer: JSON.stringify({ ...agent, ...own }), ...os_ })).toEqual(["tlsPrivateKey", "minioAdminSecretKey"]);
    expect(requiredSecretKeys({ mode: "full", host: agent, loadBalancer: { connection: {}, ...own }, ...os_ })).toEqual(["sshPrivateKey", "tlsPrivateKey", "minioAdminSecretKey"]);
    // Generated certificate (no certificateFile, or certificate: generate): no tlsPrivateKey.
    expect(requiredSecretKeys({ mode: "full", host: agent, loadBalancer: agent, ...os_ })).toEqual(["minioAdminSecretKey"]);
    expect(requiredSecretKeys({ mode: "full", host: agent, loadBalancer: { ...agent, certificate: "generate" }, ...os_ })).toEqual(["minioAdminSecretKey"]);
    expect(requiredSecretKeys({ mode: "existing", loadBalancer: agent })).toEqual([]);
  });

  test("additionalTrustBundleFile must hold the CA that signed the certificate", async () => {
    const key = fs.readFileSync(path.join(dir, "server.key"), "utf8");
    const loadBalancer = { connection: { host: "lb.v7.comptech-lab.com", hostKey: LB_HOST_KEY, agentSocketPath: AGENT }, certificateFile: path.join(dir, "server.pem") };
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=another CA"], { stdio: "ignore", cwd: dir });
    const secrets = { ...baseSecrets(), "quay-mirror:tlsPrivateKey": key };
    const ok = await declare({ "quay-mirror:loadBalancer": JSON.stringify(loadBalancer), "quay-mirror:additionalTrustBundleFile": path.join(dir, "ca.pem") }, secrets);
    expect(ok.some((d) => d.type === "quay-mirror:host:LoadBalancer")).toBe(true);
    let message = "";
    try {
      await declare({ "quay-mirror:loadBalancer": JSON.stringify(loadBalancer), "quay-mirror:additionalTrustBundleFile": path.join(dir, "other-ca.pem") }, secrets);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/Pulumi\.lab\.yaml \$\["quay-mirror:additionalTrustBundleFile"\]: holds no CA that signed the load balancer's certificate \(.*server\.pem, issuer CN=test mirror CA\)/);
  }, 60_000);

  test.each([
    ["certificate: other than generate", { connection: { host: "lb.example.com", hostKey: LB_HOST_KEY, agentSocketPath: AGENT }, certificate: "self-signed" }, /Pulumi\.lab\.yaml \$\["quay-mirror:loadBalancer"\]\.certificate: must be "generate" \(got "self-signed"\) — fix: write `certificate: generate`/],
    ["certificate: generate with a certificateFile", { connection: { host: "lb.example.com", hostKey: LB_HOST_KEY, agentSocketPath: AGENT }, certificate: "generate", certificateFile: "x.pem" }, /\["quay-mirror:loadBalancer"\]\.certificateFile: is set together with certificate: generate — fix: keep one/],
    ["an empty certificateFile", { connection: { host: "lb.example.com", hostKey: LB_HOST_KEY, agentSocketPath: AGENT }, certificateFile: "" }, /\.certificateFile: must be the path of a PEM file — fix:/],
    ["the Quay host itself", { connection: { host: "gf-ocp-quay-01.v7.comptech-lab.com", hostKey: LB_HOST_KEY, agentSocketPath: AGENT }, certificateFile: "x.pem" }, /\.connection\.host: is the Quay host .*the two firewalls would fight/],
    ["a certificate file that does not exist", { connection: { host: "lb.example.com", hostKey: LB_HOST_KEY, agentSocketPath: AGENT }, certificateFile: "no-such.pem" }, /no-such\.pem \$: the certificate .* does not exist/],
  ])("%s is refused before anything is declared", async (_what, loadBalancer: Record<string, unknown>, expected) => {
    let message = "";
    try {
      await declare({ "quay-mirror:loadBalancer": JSON.stringify(loadBalancer) }, { ...baseSecrets(), "quay-mirror:tlsPrivateKey": "unused" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(expected);
  }, 60_000);

  describe("generated certificate (no certificateFile, or certificate: generate)", () => {
    const lbConnection = { host: "lb.v7.comptech-lab.com", hostKey: LB_HOST_KEY, agentSocketPath: AGENT };
    const unwrap = (v: unknown): string => String((v as { value?: unknown })?.value ?? v);
    const resolve = <T>(o: pulumi.Input<T> | undefined): Promise<T | undefined> => new Promise((r) => (o === undefined ? r(undefined) : pulumi.output(o).apply((v) => r(v as T))));

    test.each([
      ["no certificateFile", { connection: lbConnection }],
      ["certificate: generate", { connection: lbConnection, certificate: "generate" }],
    ])("%s: one RegistryCertificate for registryHostname; its certificate and key go to lb-tls; the CA is the trust bundle; the CA key a secret output", async (_what, loadBalancer) => {
      const declared = await declare({ "quay-mirror:loadBalancer": JSON.stringify(loadBalancer) }, baseSecrets());
      const out = lastOutputs!;
      const certs = declared.filter((d) => d.type.endsWith("/local:RegistryCertificate"));
      expect(certs.map((d) => d.name)).toEqual(["registry-tls"]);
      expect(certs[0]!.inputs.hostname).toBe(HOST);
      const tls = declared.find((d) => d.name === "lb-tls")!;
      const stdin = unwrap(tls.inputs.stdin);
      expect(typeof tls.inputs.stdin).toBe("object"); // a secret input under mocks
      const ca = (await resolve(out.additionalTrustBundle))!;
      const caKey = (await resolve(out.registryCaKey))!;
      expect(await pulumi.isSecret(out.registryCaKey!)).toBe(true);
      expect(await pulumi.isSecret(pulumi.output(out.additionalTrustBundle!))).toBe(false);
      // lb-tls gets the leaf (signed by the CA, valid for the hostname) and its key; never the CA key.
      const leafPem = stdin.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)![0];
      const leaf = new crypto.X509Certificate(leafPem);
      const caCert = new crypto.X509Certificate(ca);
      expect(leaf.verify(caCert.publicKey)).toBe(true);
      expect(leaf.checkHost(HOST)).toBe(HOST);
      expect(leaf.checkPrivateKey(crypto.createPrivateKey(stdin.slice(stdin.search(PEM_PRIVATE_KEY_HEADER))))).toBe(true);
      expect(caCert.checkPrivateKey(crypto.createPrivateKey(caKey))).toBe(true);
      expect(stdin).not.toContain(caKey.split("\n")[1]!);
      const leafKeyLine = stdin.slice(stdin.search(PEM_PRIVATE_KEY_HEADER)).split("\n")[1]!;
      for (const d of declared.filter((x) => x.type === "command:remote:Command")) {
        expect(String(d.inputs.create)).not.toContain(leafKeyLine);
        expect(String(d.inputs.create)).not.toContain(caKey.split("\n")[1]!);
      }
      // installConfig's additionalTrustBundle is the generated CA.
      const installConfig = YAML.parse((await resolve(out.installConfig))!) as { additionalTrustBundle?: string };
      expect(installConfig.additionalTrustBundle?.trim()).toBe(ca.trim());
    }, 60_000);

    test("with the certificate the user provides, or without a load balancer, nothing is generated and registryCaKey is unset", async () => {
      const key = fs.readFileSync(path.join(dir, "server.key"), "utf8");
      const own = await declare({ "quay-mirror:loadBalancer": JSON.stringify({ connection: lbConnection, certificateFile: path.join(dir, "server.pem") }) }, { ...baseSecrets(), "quay-mirror:tlsPrivateKey": key });
      expect(own.filter((d) => d.type.endsWith("/local:RegistryCertificate"))).toEqual([]);
      expect(lastOutputs!.registryCaKey).toBeUndefined();
      const none = await declare({}, baseSecrets());
      expect(none.filter((d) => d.type.endsWith("/local:RegistryCertificate"))).toEqual([]);
      expect(lastOutputs!.registryCaKey).toBeUndefined();
      expect(lastOutputs!.additionalTrustBundle).toBeUndefined();
    }, 60_000);

    test.each([
      ["a tlsPrivateKey secret", {}, { "quay-mirror:tlsPrivateKey": "unused" }, /Pulumi\.lab\.yaml \$\["quay-mirror:tlsPrivateKey"\]: is set, but the load balancer's certificate is generated .* — fix: give quay-mirror:loadBalancer\.certificateFile/],
      ["an additionalTrustBundleFile", { "quay-mirror:additionalTrustBundleFile": "BUNDLE" }, {}, /\$\["quay-mirror:additionalTrustBundleFile"\]: is set, but the load balancer's certificate is generated.* — fix: remove quay-mirror:additionalTrustBundleFile/],
    ])("with %s: refused before anything is declared", async (_what, extra: Record<string, string>, secrets: Record<string, string>, expected) => {
      const cfg = Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, v === "BUNDLE" ? path.join(dir, "ca.pem") : v]));
      let message = "";
      try {
        await declare({ ...cfg, "quay-mirror:loadBalancer": JSON.stringify({ connection: lbConnection }) }, { ...baseSecrets(), ...secrets });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(expected);
      expect(message).not.toContain("unused");
    }, 60_000);
  });
});
