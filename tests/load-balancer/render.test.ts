// LoadBalancer's pure parts (components/load-balancer/render.ts, config/load-balancer.ts): haproxy.cfg as
// rendered is accepted by this machine's HAProxy (`haproxy -c`, Debian's package: apt-get install haproxy),
// the step templates pass shellcheck, the tls step writes the PEM 0600 from stdin without printing it, the
// config step refuses a config HAProxy refuses and leaves the live one, and the arguments are validated.
// Certificates are made by openssl in a temporary directory (never committed).
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseLoadBalancerArgs } from "../../config/load-balancer";
import { LB_STEP_TEMPLATES, LbStepTemplate, renderHaproxyConfig, renderLbStep } from "../../components/load-balancer/render";
import { RegistryCertificateProvider } from "../../providers/local/registry-certificate";

const HOST = "quay.v7.comptech-lab.com";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

let dir: string;
const file = (name: string) => path.join(dir, name);
const read = (name: string) => fs.readFileSync(file(name), "utf8");

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore", cwd: dir });
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-lb-"));
  // A CA, and a server certificate it signs for HOST; a second key that matches nothing.
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test mirror CA"]);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", `/CN=${HOST}`]);
  fs.writeFileSync(file("ext.cnf"), `subjectAltName=DNS:${HOST}\nextendedKeyUsage=serverAuth\n`);
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"]);
  openssl(["genpkey", "-algorithm", "ed25519", "-out", "other.key"]);
  fs.writeFileSync(file("bundle.pem"), read("server.pem") + read("server.key"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function haproxyCheck(cfg: string): { status: number | null; output: string } {
  fs.writeFileSync(file("haproxy.cfg"), cfg);
  const r = spawnSync("haproxy", ["-c", "-f", file("haproxy.cfg")], { encoding: "utf8" });
  if (r.error) throw new Error(`haproxy is not installed (apt-get install -y haproxy): ${r.error.message}`);
  return { status: r.status, output: r.stdout + r.stderr };
}

describe("haproxy.cfg", () => {
  const input = () => ({
    registryHostname: HOST,
    backends: [
      { address: "10.0.0.11", port: 8080 },
      { address: "quay-2.example.com", port: 8080 },
    ],
    healthCheckPath: "/health/instance",
    certPath: file("bundle.pem"),
    adminSocket: file("admin.sock"),
  });

  test("haproxy -c accepts the rendered config: TLS on :443 with the certificate, the nodes with health checks on /health/instance", () => {
    const cfg = renderHaproxyConfig(input());
    const r = haproxyCheck(cfg);
    expect(r.output).toMatch(/Configuration file is valid/);
    expect(r.status).toBe(0);
    expect(cfg).toContain(`bind :443 ssl crt ${file("bundle.pem")}`);
    expect(cfg).toContain(`http-check send meth GET uri /health/instance ver HTTP/1.1 hdr Host ${HOST}`);
    expect(cfg.match(/^ {4}server quay-\d+ \S+:8080 check /gm)).toHaveLength(2);
    expect(cfg).toMatch(/stats socket \S+ mode 660 level admin expose-fd listeners/);
  });

  test("haproxy -c accepts the certificate and key the stack generates (local:RegistryCertificate), as lb-tls writes them", async () => {
    const { outs } = await RegistryCertificateProvider.instance.create({ hostname: HOST, validityDays: 365, renewBeforeDays: 30 });
    fs.writeFileSync(file("generated.pem"), `${outs!.certificate.trim()}\n${outs!.privateKey.trim()}\n`);
    const r = haproxyCheck(renderHaproxyConfig({ ...input(), certPath: file("generated.pem") }));
    expect(r.output).toMatch(/Configuration file is valid/);
    expect(r.status).toBe(0);
  });

  test("haproxy -c fails on a certificate file it cannot load (the check is real)", () => {
    const r = haproxyCheck(renderHaproxyConfig({ ...input(), certPath: file("ca.pem") }));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/ca\.pem/);
  });

  test.each([
    ["a hostname with a space", { registryHostname: "quay example" }],
    ["a backend with a newline", { backends: [{ address: "10.0.0.1\n    server evil 1.2.3.4", port: 8080 }] }],
    ["no backends", { backends: [] }],
    ["a bad port", { backends: [{ address: "10.0.0.1", port: 70000 }] }],
  ])("refuses %s", (_what, patch) => {
    expect(() => renderHaproxyConfig({ ...input(), ...patch })).toThrow(/renderHaproxyConfig/);
  });
});

const SAMPLES: Record<LbStepTemplate, Record<string, string | number | boolean | string[]>> = {
  packages: { PACKAGES: ["ca-certificates", "curl", "haproxy", "ufw"] },
  firewall: { SSH_PORT: 22, HTTPS_PORT: 443 },
  tls: { CERT_DIR: "/etc/haproxy/quay-mirror", CERT_PATH: "/etc/haproxy/quay-mirror/registry.pem", FINGERPRINT: "0123456789abcdef" },
  config: { CONFIG_PATH: "/etc/haproxy/haproxy.cfg", CONFIG: "global\n  log /dev/log local0 'it''s' $HOME `x`\n", REGISTRY_HOSTNAME: HOST, HTTPS_PORT: 443, TLS_FINGERPRINT: "0123456789abcdef" },
  destroy: { CERT_DIR: "/etc/haproxy/quay-mirror" },
};

describe("step templates", () => {
  test("every rendered step passes shellcheck", () => {
    const files = LB_STEP_TEMPLATES.map((t) => {
      const f = file(`step-${t}.sh`);
      fs.writeFileSync(f, renderLbStep(t, SAMPLES[t]));
      return f;
    });
    const r = spawnSync("shellcheck", ["--shell=bash", "--severity=style", ...files], { encoding: "utf8" });
    if (r.error) throw new Error(`shellcheck is not installed: ${r.error.message}`);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  test("a value with quotes, $ and backticks reaches the script unchanged", () => {
    const config = SAMPLES.config.CONFIG as string;
    const script = renderLbStep("config", SAMPLES.config);
    const values = script.slice(script.indexOf("# --- values"), script.indexOf("# --- end of values ---"));
    const r = spawnSync("bash", ["-c", `${values}\nprintf '%s' "$config"`], { encoding: "utf8" });
    expect(r.stdout).toBe(config);
  });

  test("tls: the PEM from stdin, 0600 in a 0700 directory, never printed; a second run changes nothing", () => {
    const certDir = file("certs");
    const certPath = path.join(certDir, "registry.pem");
    const script = renderLbStep("tls", { CERT_DIR: certDir, CERT_PATH: certPath, FINGERPRINT: "fp" });
    const pem = read("bundle.pem");
    const first = spawnSync("bash", ["-c", script], { input: pem, encoding: "utf8" });
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/certificate written/);
    expect(fs.readFileSync(certPath, "utf8")).toBe(pem);
    expect(fs.statSync(certPath).mode & 0o777).toBe(0o600);
    expect(fs.statSync(certDir).mode & 0o777).toBe(0o700);
    const keyBody = read("server.key").split("\n")[1]!;
    expect(first.stdout + first.stderr).not.toContain(keyBody);
    const second = spawnSync("bash", ["-c", script], { input: pem, encoding: "utf8" });
    expect(second.stdout).toMatch(/certificate unchanged/);
    expect(fs.readdirSync(certDir)).toEqual(["registry.pem"]);
    // Without the key the step refuses and leaves the file.
    const bad = spawnSync("bash", ["-c", script], { input: read("server.pem"), encoding: "utf8" });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/must hold the certificate chain and the private key/);
    expect(fs.readFileSync(certPath, "utf8")).toBe(pem);
  });

  test("config: a configuration haproxy -c refuses never replaces the live one", () => {
    const live = file("live.cfg");
    fs.writeFileSync(live, "# the live config\n");
    const broken = renderHaproxyConfig({ registryHostname: HOST, backends: [{ address: "10.0.0.1", port: 8080 }], healthCheckPath: "/health/instance", certPath: file("no-such.pem"), adminSocket: file("a.sock") });
    const script = renderLbStep("config", { CONFIG_PATH: live, CONFIG: broken, REGISTRY_HOSTNAME: HOST, HTTPS_PORT: 443, TLS_FINGERPRINT: "fp" });
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/haproxy -c refused the new configuration; the live one is unchanged/);
    expect(r.stderr).toMatch(/no-such\.pem/);
    expect(fs.readFileSync(live, "utf8")).toBe("# the live config\n");
    expect(fs.readdirSync(dir).filter((f) => f.startsWith("live.cfg."))).toEqual([]);
  });
});

describe("LoadBalancer arguments", () => {
  const args = (patch: Record<string, unknown> = {}) => ({
    connection: { host: "192.0.2.20", hostKey: HOST_KEY, agentSocketPath: "/run/quay-mirror/ssh-agent.sock" },
    registryHostname: HOST,
    backends: [{ address: "10.0.0.11" }],
    certificate: read("server.pem"),
    privateKey: read("server.key"),
    ...patch,
  });

  test("valid arguments get their defaults", () => {
    const s = parseLoadBalancerArgs(args());
    expect(s.backends).toEqual([{ address: "10.0.0.11", port: 8080 }]);
    expect(s.healthCheckPath).toBe("/health/instance");
    expect(s.connection.port).toBe(22);
  });

  test.each([
    ["a certificate for another name", () => ({ registryHostname: "other.example.com" }), /\$\.certificate: the certificate \(.*\) is not valid for other\.example\.com/],
    ["the key of another certificate", () => ({ privateKey: read("other.key") }), /\$\.privateKey: the TLS private key is not the certificate's key/],
    ["an SSH public key as the TLS key", () => ({ privateKey: HOST_KEY }), /\$\.privateKey: the TLS private key must be the PEM text of a private key/],
    ["the key inside the certificate file", () => ({ certificate: read("bundle.pem") }), /\$\.certificate: the certificate holds a private key — fix: give the key as the secret quay-mirror:tlsPrivateKey/],
    ["no host key", () => ({ connection: { host: "192.0.2.20", agentSocketPath: "/run/quay-mirror/ssh-agent.sock" } }), /\$\.connection\.hostKey: hostKey is required/],
    ["trust-on-first-use", () => ({ connection: { host: "192.0.2.20", hostKeyPolicy: "trust-on-first-use", agentSocketPath: "/run/quay-mirror/ssh-agent.sock" } }), /\$\.connection\.hostKeyPolicy: trust-on-first-use is not supported/],
    ["an IPv6 backend", () => ({ backends: [{ address: "2001:db8::1" }] }), /\$\.backends\[0\]\.address: address must be a Quay node's IPv4 address or DNS name/],
    ["no backends", () => ({ backends: [] }), /\$\.backends: at least one Quay node/],
    ["an unknown key", () => ({ tlsKey: "x" }), /\$: .*— fix: remove "tlsKey"/],
  ])("%s is refused with the JSON path", (_what, patch, expected) => {
    let message = "";
    try {
      parseLoadBalancerArgs(args(patch()), "site.yaml (quay-mirror:loadBalancer)");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/site\.yaml \(quay-mirror:loadBalancer\)/);
    expect(message).toMatch(expected);
    // The key is never echoed.
    expect(message).not.toContain(read("server.key").split("\n")[1]!);
    expect(message).not.toContain(read("other.key").split("\n")[1]!);
  });
});
