// Full mode through the real engine on a disposable test host: one `up` of the real program takes a bare
// Debian 12 host to a running registry with the lab model applied; the pullSecret output's credential
// gets `pull` from the running registry's /v2/auth; a second `up` runs no remote command and changes
// nothing. The registry is a stand-in image (the project's Quay API emulator, tests/e2e/stand-in) loaded
// through the air-gapped archive path, because Quay's image cannot be pulled here.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { credentialFromDockerConfig, grantedActions } from "../support/registry";
import { findPlaintext, repoRoot, withEngineStack } from "../support/engine";
import { hostE2eEnabled, startTestHost, TestHost } from "../support/testhost";

const HOSTNAME = "quay.test.example";
jest.setTimeout(40 * 60_000);

/** The stand-in image: the compiled emulator, the yaml module it reads config.yaml with, and server.js. */
function buildStandInArchive(dir: string): string {
  const app = path.join(dir, "app");
  fs.mkdirSync(path.join(app, "node_modules"), { recursive: true });
  fs.cpSync(path.join(repoRoot, "bin/tests/emulator"), path.join(app, "emulator"), { recursive: true });
  fs.cpSync(path.join(repoRoot, "node_modules/yaml"), path.join(app, "node_modules/yaml"), { recursive: true });
  fs.copyFileSync(path.join(__dirname, "stand-in/server.js"), path.join(app, "server.js"));
  const out = path.join(dir, "quay-standin.tar");
  execFileSync(path.join(repoRoot, "scripts/testhost/build-image-archive.sh"), ["--out", out, "--tag", "localhost/quay-standin:lab", "--app", app], { stdio: "inherit" });
  return out;
}

(hostE2eEnabled() ? describe : describe.skip)("full mode on a test host", () => {
  let host: TestHost;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-lab-full-"));
    host = await startTestHost("labfull");
  });
  afterAll(async () => {
    await host?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("bare host to a running registry with the lab model in one up; the pull secret pulls; a second up does nothing", async () => {
    const archive = buildStandInArchive(dir);
    const endpoint = `http://${host.host}:8080`;
    await withEngineStack(
      {
        program: "lab",
        config: {
          "quay-mirror:mode": "full",
          "quay-mirror:registryHostname": HOSTNAME,
          "quay-mirror:apiUrl": endpoint,
          "quay-mirror:modelFile": path.join(repoRoot, "data/quay/bootstrap-model.json"),
          "quay-mirror:host": JSON.stringify({
            connection: { host: host.host, port: host.port, user: host.user, hostKey: host.hostKey },
            proxyAddress: host.hostAddress,
            imageArchive: archive,
            quayVersion: "v3.18.0",
            storage: { hostname: host.hostAddress, bucket: "quay-storage", accessKey: "quay-storage" },
            healthTimeoutSeconds: 240,
            purgeOnDestroy: true,
          }),
        },
        secrets: { "quay-mirror:sshPrivateKey": host.privateKey, "quay-mirror:storageSecretKey": "minio-secret-$(id)" },
      },
      async (stack) => {
        // Sample every process's arguments on the host every 100 ms for the whole run.
        await host.sshOk("sudo sh -c 'nohup sh -c \"while :; do ps -eo args >> /var/tmp/ps-samples.log; sleep 0.1; done\" >/dev/null 2>&1 &'");
        const up = await stack.up();
        const created = up.steps.filter((s) => s.op === "create");
        expect(created.filter((s) => s.type === "command:remote:Command").length).toBeGreaterThanOrEqual(10);
        expect(created.filter((s) => s.type === "pulumi-nodejs:dynamic/quay:Organization")).toHaveLength(5);
        expect(created.filter((s) => s.type === "pulumi-nodejs:dynamic/quay:Repository")).toHaveLength(8);

        // The cluster's credential pulls a mirror repository from the running registry, and nothing outside.
        const pull = credentialFromDockerConfig(up.outputs.pullSecret.value as string, HOSTNAME);
        expect(await grantedActions(endpoint, HOSTNAME, pull, "openshift-release/openshift/release-images", ["pull"])).toEqual(["pull"]);
        expect(await grantedActions(endpoint, HOSTNAME, pull, "platform/smoke", ["pull"])).toEqual([]);

        // No secret in the state, in the engine's output, or in any process's arguments on the host.
        await host.ssh("sudo pkill -f ps-samples.log");
        const samples = await host.sshOk("sudo cat /var/tmp/ps-samples.log");
        expect(samples.split("\n").length).toBeGreaterThan(100);
        const state = await stack.exportState();
        // The decrypted export: every generated secret and the long-lived API token, to look for below.
        const plain = (v: unknown): unknown => (v && typeof v === "object" && "plaintext" in (v as object) ? JSON.parse((v as { plaintext: string }).plaintext) : v);
        const resources = ((await stack.exportState({ showSecrets: true })) as unknown as { deployment: { resources: Array<{ type: string; outputs?: Record<string, unknown> }> } }).deployment.resources;
        const generated = resources.filter((r) => /Secret$/.test(r.type)).map((r) => plain(r.outputs?.result) as string);
        expect(generated.length).toBeGreaterThanOrEqual(6); // PostgreSQL, Redis, SECRET_KEY, DATABASE_SECRET_KEY, superuser, pull user
        expect(generated.every((g) => typeof g === "string" && g.length >= 24)).toBe(true);
        const apiToken = plain(resources.find((r) => r.type === "pulumi-nodejs:dynamic/quay:ApiToken")?.outputs?.token) as string;
        expect(apiToken).toMatch(/^[A-Z0-9]{40}$/);
        for (const secret of [pull.password, "minio-secret-$(id)", host.privateKey.split("\n")[1]!, apiToken, ...generated]) {
          expect(findPlaintext(state, secret)).toEqual([]);
          expect(`${up.stdout}\n${up.stderr}`).not.toContain(secret);
          expect(samples).not.toContain(secret);
        }

        // PostgreSQL answers on loopback only.
        const remote = await host.ssh(`PGCONNECT_TIMEOUT=5 psql "host=${host.host} user=quay dbname=quay" -c 'select 1' </dev/null`);
        expect(remote.code).not.toBe(0);
        expect(remote.stderr).toMatch(/refused|no pg_hba|rejected|timeout/i);

        // A second up: no remote command runs, nothing changes.
        const again = await stack.up();
        expect(Object.keys(again.summary)).toEqual(["same"]);
      },
    );
  });
});
