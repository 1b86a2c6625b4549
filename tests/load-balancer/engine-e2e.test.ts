// LoadBalancer through the real engine on a disposable test host (SLOW: boots an nspawn guest, apt installs
// haproxy and ufw). A stand-in answers /health/instance on the guest's 127.0.0.1:8080; HAProxy serves it on
// :443 with a certificate for quay.test.example, and this machine gets the answer through TLS verified against
// the CA that signed it. UFW admits 22 and 443 only; the key is 0600 and not in the state in plain text; a
// second up changes nothing; a new certificate re-runs tls and config and HAProxy reloads (same master PID).
// Run alone: flock /tmp/qm/testhost.lock npx jest tests/load-balancer/engine-e2e.test.ts
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describeOnTestHost, startTestHost, TestHost } from "../support/testhost";
import { findPlaintext, repoRoot, withEngineStack } from "../support/engine";

const MIN = 60_000;
const NAME = "quay.test.example";
jest.setTimeout(30 * MIN);

function makeCertificate(dir: string, tag: string): { cert: string; key: string } {
  const run = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore", cwd: dir });
  run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${tag}.key`, "-out", `${tag}.csr`, "-subj", `/CN=${NAME}`]);
  fs.writeFileSync(path.join(dir, "ext.cnf"), `subjectAltName=DNS:${NAME}\nextendedKeyUsage=serverAuth\n`);
  run(["x509", "-req", "-in", `${tag}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${tag}.pem`, "-days", "2", "-extfile", "ext.cnf"]);
  return { cert: fs.readFileSync(path.join(dir, `${tag}.pem`), "utf8"), key: fs.readFileSync(path.join(dir, `${tag}.key`), "utf8") };
}

/** GET through TLS verified against the CA (no -k), the name resolved to the guest. */
function curlVerified(host: TestHost, dir: string, urlPath: string): { code: number | null; out: string } {
  const r = spawnSync("curl", ["-sS", "--max-time", "10", "--cacert", path.join(dir, "ca.pem"), "--resolve", `${NAME}:443:${host.host}`, `https://${NAME}${urlPath}`], { encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr };
}

describeOnTestHost("LoadBalancer through the engine on a test host", () => {
  let host: TestHost;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-lb-e2e-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=quay-mirror test CA"], { stdio: "ignore", cwd: dir });
    host = await startTestHost("lbe2e", { persistent: false });
  }, 15 * MIN);
  afterAll(async () => {
    await host?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 3 * MIN);

  test("bare host → HAProxy with TLS in front of the stand-in; 443 only; no-op second up; a new certificate reloads", async () => {
    const t0 = Date.now();
    // The stand-in Quay node: python3's http.server on 127.0.0.1:8080 answering /health/instance.
    await host.sshOk(
      "sudo install -d /srv/standin/health && printf '%s' '{\"data\":{\"services\":{}},\"status_code\":200}' | sudo tee /srv/standin/health/instance >/dev/null && " +
        "sudo systemd-run --unit qm-standin python3 -m http.server 8080 --bind 127.0.0.1 --directory /srv/standin >/dev/null",
    );
    const first = makeCertificate(dir, "first");
    fs.mkdirSync(path.join(repoRoot, "bin", "load-balancer"), { recursive: true });
    await withEngineStack(
      {
        program: "../load-balancer/e2e-program",
        projectName: "qm-lb-e2e",
        config: { host: host.host, port: String(host.port), user: host.user, hostKey: host.hostKey, certificate: first.cert, backendAddress: "127.0.0.1", backendPort: "8080" },
        secrets: { privateKey: host.privateKey, tlsKey: first.key },
      },
      async (stack) => {
        const up1 = await stack.up();
        // eslint-disable-next-line no-console
        console.log(`first up (bare host → HAProxy serving): ${Math.round((Date.now() - t0) / 1000)} s`);
        expect(up1.summary.create).toBeGreaterThanOrEqual(7);

        // Through TLS, verified against the CA: the stand-in's answer.
        const through = curlVerified(host, dir, "/health/instance");
        expect(through.out).toContain('"status_code":200');
        expect(through.code).toBe(0);
        // The health check on /health/instance passes (the admin socket's `show stat`: UP, L7OK).
        const stat = async () =>
          (await host.sshOk(`sudo python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect("/run/haproxy/admin.sock"); s.sendall(b"show stat\\n"); print(s.makefile().read())'`))
            .split("\n")
            .find((l) => l.startsWith("quay,quay-1,")) ?? "";
        let line = "";
        for (let i = 0; i < 30 && !/,UP,.*L7OK/.test(line); i++) {
          line = await stat();
          if (!/,UP,.*L7OK/.test(line)) await new Promise((r) => setTimeout(r, 1000));
        }
        expect(line).toMatch(/,UP,.*L7OK/);

        // On the host: the PEM 0600 root in a 0700 directory; the config is what haproxy -c accepts.
        expect(await host.sshOk("sudo stat -c '%a %U' /etc/haproxy/quay-mirror /etc/haproxy/quay-mirror/registry.pem")).toBe("700 root\n600 root\n");
        expect(await host.sshOk("sudo haproxy -c -f /etc/haproxy/haproxy.cfg")).toMatch(/Configuration file is valid/);
        // UFW: SSH and 443 only; the stand-in's 8080 is not reachable from here even if it listened on all addresses.
        const rules = (await host.sshOk("sudo ufw show added | tail -n +2")).trim().split("\n").sort();
        expect(rules).toEqual([`ufw allow ${host.port}/tcp`, "ufw allow 443/tcp"].sort());
        expect((await host.sshOk("sudo ufw status")).split("\n")[0]).toBe("Status: active");

        // Secrets: the TLS key and the SSH key only encrypted in the state, never in a command line.
        const state = await stack.exportState();
        const keyLine = first.key.split("\n")[1]!;
        expect(findPlaintext(state, keyLine)).toEqual([]);
        expect(JSON.stringify(state)).not.toContain(keyLine);

        // Second up: nothing changes.
        const up2 = await stack.up();
        expect(Object.keys(up2.summary)).toEqual(["same"]);

        // A new certificate: tls and config re-run, HAProxy reloads (the master keeps its PID), the new one is served.
        const pidBefore = (await host.sshOk("systemctl show -p MainPID --value haproxy")).trim();
        const second = makeCertificate(dir, "second");
        await stack.setConfig("certificate", second.cert);
        await stack.setConfig("tlsKey", second.key, true);
        const pre = await stack.preview();
        expect(pre.steps.filter((s) => s.op === "update").map((s) => s.name).sort()).toEqual(["lb-config", "lb-tls"]);
        await stack.up();
        expect((await host.sshOk("systemctl show -p MainPID --value haproxy")).trim()).toBe(pidBefore);
        const served = execFileSync("bash", ["-c", `echo | openssl s_client -connect ${host.host}:443 -servername ${NAME} 2>/dev/null | openssl x509 -noout -fingerprint -sha256`], { encoding: "utf8" });
        const expected = execFileSync("openssl", ["x509", "-in", path.join(dir, "second.pem"), "-noout", "-fingerprint", "-sha256"], { encoding: "utf8" });
        expect(served).toBe(expected);
        expect(curlVerified(host, dir, "/health/instance").code).toBe(0);
        // eslint-disable-next-line no-console
        console.log(`whole scenario: ${Math.round((Date.now() - t0) / 1000)} s`);
      },
    );
  });
});
