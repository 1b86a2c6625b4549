// Full mode through the real engine on a disposable test host, shaped like Pulumi.lab.yaml: one `up` of the
// real program makes MinIO's buckets and users (a real MinIO), takes a bare Debian 12 host to a running
// registry behind the storage preflight with the lab model applied and the backup timers installed; the
// pullSecret output's credential gets `pull` from the running registry's /v2/auth; a backup lands in MinIO
// and the restore proof passes; a second `up` runs no remote command and changes nothing. The registry is a
// stand-in image (the project's Quay API emulator, tests/e2e/stand-in) loaded through the air-gapped archive
// path, because Quay's image cannot be pulled here.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runVerifyCommand } from "../support/verify";
import { argvHits, runArgvCanary, startGuestArgvSampler, startLocalArgvSampler } from "../support/argv-sampler";
import { credentialFromDockerConfig, grantedActions } from "../support/registry";
import { findPlaintext, repoRoot, withEngineStack } from "../support/engine";
import { Minio, startMinio } from "../support/minio";
import { describeOnTestHost, startTestHost, TestHost } from "../support/testhost";
import { buildOciLayout, skopeo, startTlsFront, writeAuthFile } from "../support/skopeo";
import { copyModuleClosure, STAND_IN_S3_MODULES } from "../support/stand-in-modules";

const HOSTNAME = "quay.test.example";
jest.setTimeout(40 * 60_000);

/**
 * The node modules the stand-in requires (their whole dependency closure is shipped): yaml for config.yaml,
 * pg and ioredis for DB_URI and Redis (emulator/backends.js), the S3 client of the blob store. Add one here.
 */
const STAND_IN_MODULES = ["yaml", "pg", "ioredis", ...STAND_IN_S3_MODULES];

/** The stand-in image: the compiled emulator, the modules it requires, and server.js. */
function buildStandInArchive(dir: string): string {
  const app = path.join(dir, "app");
  fs.mkdirSync(path.join(app, "node_modules"), { recursive: true });
  fs.cpSync(path.join(repoRoot, "bin/tests/emulator"), path.join(app, "emulator"), { recursive: true });
  copyModuleClosure(repoRoot, STAND_IN_MODULES, app);
  fs.copyFileSync(path.join(__dirname, "stand-in/server.js"), path.join(app, "server.js"));
  const out = path.join(dir, "quay-standin.tar");
  execFileSync(path.join(repoRoot, "scripts/testhost/build-image-archive.sh"), ["--out", out, "--tag", "localhost/quay-standin:lab", "--app", app], { stdio: "inherit" });
  return out;
}

describeOnTestHost("full mode on a test host", () => {
  let host: TestHost;
  let minio: Minio;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-lab-full-"));
    host = await startTestHost("labfull");
    // The lab's MinIO: on the host side of the guest's network, where the guest reaches it.
    minio = await startMinio({ address: host.hostAddress });
  });
  /** Stops this machine's argv sampler if a failed test left it running. */
  let stopLocal: (() => Promise<unknown>) | undefined;
  afterAll(async () => {
    await stopLocal?.().catch(() => undefined);
    await host?.stop();
    await minio?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("bare host to a running registry with the lab model, MinIO's side and backups in one up; the pull secret pulls; a backup is restorable; a second up does nothing", async () => {
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
          "quay-mirror:objectStorage": JSON.stringify({ endpoint: minio.endpoint, adminAccessKey: minio.root.accessKey }),
          "quay-mirror:backups": JSON.stringify({ prefix: "quay" }),
          "quay-mirror:host": JSON.stringify({
            connection: { host: host.host, port: host.port, user: host.user, hostKey: host.hostKey },
            proxyAddress: host.hostAddress,
            imageArchive: archive,
            quayVersion: "v3.18.0",
            storage: {},
            tools: { mcBinary: minio.mcPath },
            healthTimeoutSeconds: 240,
            purgeOnDestroy: true,
          }),
        },
        secrets: { "quay-mirror:sshPrivateKey": host.privateKey, "quay-mirror:minioAdminSecretKey": minio.root.secretKey },
      },
      async (stack) => {
        // Every process's arguments, here (the engine, its plugins, ssh) and on the host, every few ms for the
        // whole run; first the control: each sampler sees canaries on short-lived processes' command lines.
        const local = startLocalArgvSampler();
        stopLocal = () => local.stop();
        const guest = await startGuestArgvSampler(host);
        const localCanaries = await runArgvCanary();
        const guestCanaries = await runArgvCanary({ host });
        const up = await stack.up();
        const created = up.steps.filter((s) => s.op === "create");
        expect(created.filter((s) => s.type === "command:remote:Command").length).toBeGreaterThanOrEqual(10);
        expect(created.filter((s) => s.type === "pulumi-nodejs:dynamic/quay:Organization")).toHaveLength(5);
        expect(created.filter((s) => s.type === "pulumi-nodejs:dynamic/quay:Repository")).toHaveLength(8);
        expect(created.filter((s) => s.type === "pulumi-nodejs:dynamic/minio:Bucket")).toHaveLength(2);
        expect(created.filter((s) => s.type === "pulumi-nodejs:dynamic/minio:User")).toHaveLength(3);
        expect(created.map((s) => s.name)).toEqual(expect.arrayContaining(["quay-preflight", "backups-install"]));
        expect(up.outputs.backupPassphrase.secret).toBe(true);
        const passphrase = up.outputs.backupPassphrase.value as string;

        // A backup of what the database holds lands in MinIO as exactly two objects, and the restore proof passes.
        await host.sshOk(`sudo -u postgres psql -v ON_ERROR_STOP=1 -d quay -c 'CREATE TABLE IF NOT EXISTS lab_probe (n int); INSERT INTO lab_probe SELECT generate_series(1, 42);'`);
        for (const unit of ["quay-backup.service", "quay-restore-validate.service"]) {
          const r = await host.ssh(`sudo systemctl start ${unit}`, { timeoutMs: 10 * 60_000 });
          expect({ unit, code: r.code, journal: r.code === 0 ? "" : (await host.ssh(`sudo journalctl -u ${unit} --no-pager -n 40`)).stdout }).toEqual({ unit, code: 0, journal: "" });
        }
        const objects = (await minio.mc(["ls", "--recursive", "root/quay-backups/quay/"])).json.map((o) => String(o.key));
        expect(objects).toHaveLength(3);
        expect(objects.map((k) => k.replace(/\d{8}T\d{6}Z/g, "<ts>")).sort()).toEqual(["<ts>/quay-<ts>.tar.gz.enc", "<ts>/quay-<ts>.tar.gz.enc.hmac", "<ts>/quay-<ts>.tar.gz.enc.sha256"]);

        // The cluster's credential pulls a mirror repository from the running registry, and nothing outside.
        const pull = credentialFromDockerConfig(up.outputs.pullSecret.value as string, HOSTNAME);
        expect(await grantedActions(endpoint, HOSTNAME, pull, "openshift-release/openshift/release-images", ["pull"])).toEqual(["pull"]);
        expect(await grantedActions(endpoint, HOSTNAME, pull, "platform/smoke", ["pull"])).toEqual([]);

        // Images flow (the seed's exercise) with Debian's skopeo through a TLS front for registryHostname: the
        // mirror robot pushes to a nested path of its namespace (the repository is created on push), the same
        // robot is refused another namespace, the pull secret pulls the image back, its blobs are in quay-storage.
        const front = await startTlsFront(dir, HOSTNAME, endpoint);
        try {
          const mirrorAuth = writeAuthFile(path.join(dir, "mirror-auth.json"), (up.outputs.mirrorCredentials.value as Record<string, string>)["openshift-release"]!);
          const pullAuth = writeAuthFile(path.join(dir, "pull-auth.json"), up.outputs.pullSecret.value as string);
          const img = buildOciLayout(dir, "e2e");
          const run = (args: string[]) => skopeo(dir, HOSTNAME, front.address, args);
          const pushed = await run(["copy", "--dest-authfile", mirrorAuth, "--dest-tls-verify=false", img.ref, `docker://${HOSTNAME}/openshift-release/e2e/lab/tiny:e2e`]);
          expect({ code: pushed.code, stderr: pushed.stderr }).toEqual({ code: 0, stderr: "" });
          const denied = await run(["copy", "--dest-authfile", mirrorAuth, "--dest-tls-verify=false", img.ref, `docker://${HOSTNAME}/platform/smoke:e2e`]);
          expect(denied.code).not.toBe(0);
          expect(denied.stderr).toMatch(/platform\/smoke: unauthorized: authentication required/);
          const out = path.join(dir, "pulled");
          const pulled = await run(["copy", "--src-authfile", pullAuth, "--src-tls-verify=false", `docker://${HOSTNAME}/openshift-release/e2e/lab/tiny:e2e`, `oci:${out}:e2e`]);
          expect({ code: pulled.code, stderr: pulled.stderr }).toEqual({ code: 0, stderr: "" });
          expect((JSON.parse(fs.readFileSync(path.join(out, "index.json"), "utf8")) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest)).toEqual([img.manifestDigest]);
          const stored = (await minio.mc(["ls", "--recursive", "root/quay-storage"])).json.map((o) => String(o.key));
          for (const digest of img.blobs) expect(stored.filter((k) => k.endsWith(`sha256/${digest.slice(7, 9)}/${digest.slice(7)}`))).toHaveLength(1);
        } finally {
          await front.stop();
        }

        // No secret in the state, in the engine's output, or in any process's arguments on the host.
        const [localSamples, guestSamples] = [await local.stop(), await guest.stop()];
        stopLocal = undefined;
        expect(argvHits(localSamples, localCanaries)).toHaveLength(3);
        expect(argvHits(guestSamples, guestCanaries)).toHaveLength(3);
        expect(localSamples.scans).toBeGreaterThan(1000);
        expect(guestSamples.scans).toBeGreaterThan(1000);
        // the host sampler saw the backup and the restore proof run
        expect(guestSamples.samples.some((s) => s.cmdline.includes("quay-restore-validate"))).toBe(true);
        const state = await stack.exportState();
        // The decrypted export: every generated secret and the long-lived API token, to look for below.
        const plain = (v: unknown): unknown => (v && typeof v === "object" && "plaintext" in (v as object) ? JSON.parse((v as { plaintext: string }).plaintext) : v);
        const resources = ((await stack.exportState({ showSecrets: true })) as unknown as { deployment: { resources: Array<{ type: string; outputs?: Record<string, unknown> }> } }).deployment.resources;
        const generated = resources.filter((r) => /Secret$/.test(r.type)).map((r) => plain(r.outputs?.result) as string);
        expect(generated.length).toBeGreaterThanOrEqual(6); // PostgreSQL, Redis, SECRET_KEY, DATABASE_SECRET_KEY, superuser, pull user
        expect(generated.every((g) => typeof g === "string" && g.length >= 24)).toBe(true);
        const apiToken = plain(resources.find((r) => r.type === "pulumi-nodejs:dynamic/quay:ApiToken")?.outputs?.token) as string;
        expect(apiToken).toMatch(/^[A-Z0-9]{40}$/);
        for (const secret of [pull.password, minio.root.secretKey, passphrase, host.privateKey.split("\n")[4]!, apiToken, ...generated]) {
          expect(findPlaintext(state, secret)).toEqual([]);
          expect(`${up.stdout}\n${up.stderr}`).not.toContain(secret);
        }
        const secrets = [pull.password, minio.root.secretKey, passphrase, host.privateKey.split("\n")[4]!, apiToken, ...generated];
        expect(argvHits(localSamples, secrets)).toEqual([]);
        expect(argvHits(guestSamples, secrets)).toEqual([]);

        // PostgreSQL answers on loopback only.
        const remote = await host.ssh(`PGCONNECT_TIMEOUT=5 psql "host=${host.host} user=quay dbname=quay" -c 'select 1' </dev/null`);
        expect(remote.code).not.toBe(0);
        expect(remote.stderr).toMatch(/refused|no pg_hba|rejected|timeout/i);

        // The registry's objects are rows of the host's PostgreSQL `quay` database (the stand-in keeps its
        // state there, as Quay does), and a restart of the Quay unit loses none of them.
        const rowsSql = `sudo -u postgres psql -d quay -AtX -c "SELECT doc->>'username' FROM quay_standin.entities ORDER BY 1"`;
        const entities = (await host.sshOk(rowsSql)).trim().split("\n");
        const model = JSON.parse(fs.readFileSync(path.join(repoRoot, "data/quay/bootstrap-model.json"), "utf8")) as { organizations?: Array<{ name: string }> };
        const orgs = (model.organizations ?? []).map((o) => o.name);
        expect(orgs.length).toBeGreaterThan(0);
        expect(entities).toEqual(expect.arrayContaining(orgs));
        expect(entities.filter((e) => e.includes("+")).length).toBeGreaterThan(0); // robots
        const repoCount = Number((await host.sshOk(`sudo -u postgres psql -d quay -AtX -c "SELECT count(*) FROM quay_standin.repos"`)).trim());
        expect(repoCount).toBeGreaterThanOrEqual(8);
        // every table's rows (pg_dump's \restrict lines carry a fresh random key each run: left out)
        const dump = "set -o pipefail; sudo -u postgres pg_dump --data-only --schema=quay_standin -d quay | grep -v -E '^.(un)?restrict ' | sha256sum";
        const before = await host.sshOk(dump);
        await host.sshOk("sudo systemctl restart quay.service");
        const waitHealthy = `for i in $(seq 1 60); do [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/health/instance)" = 200 ] && exit 0; sleep 1; done; exit 1`;
        await host.sshOk(waitHealthy, { timeoutMs: 120_000 });
        expect(await host.sshOk(dump)).toBe(before);
        for (const org of orgs) {
          const r = await fetch(`${endpoint}/api/v1/organization/${org}`, { headers: { Authorization: `Bearer ${apiToken}` } });
          expect({ org, status: r.status }).toEqual({ org, status: 200 });
        }
        // The pull credential still pulls after the restart (robot tokens and users came back from the database).
        expect(await grantedActions(endpoint, HOSTNAME, pull, "openshift-release/openshift/release-images", ["pull"])).toEqual(["pull"]);

        // /health/instance of the running stand-in checks what config.yaml names, as Quay's: it fails naming
        // redis while Redis is stopped, and the database while PostgreSQL is, and recovers when they are back.
        const health = async () => {
          const r = await fetch(`${endpoint}/health/instance`);
          return { status: r.status, services: ((await r.json()) as { data: { services: Record<string, boolean> } }).data.services };
        };
        expect(await health()).toEqual({ status: 200, services: expect.objectContaining({ database: true, redis: true, storage: true }) });
        await host.sshOk("sudo systemctl stop redis-server");
        try {
          expect(await health()).toEqual({ status: 503, services: expect.objectContaining({ database: true, redis: false, storage: true }) });
        } finally {
          await host.sshOk("sudo systemctl start redis-server");
        }
        await host.sshOk(waitHealthy, { timeoutMs: 120_000 });
        const pgUnit = `postgresql@$(ls /etc/postgresql)-main`;
        await host.sshOk(`sudo systemctl stop "${pgUnit}"`);
        try {
          expect(await health()).toEqual({ status: 503, services: expect.objectContaining({ database: false, redis: true, storage: true }) });
        } finally {
          await host.sshOk(`sudo systemctl start "${pgUnit}"`);
        }
        await host.sshOk(waitHealthy, { timeoutMs: 120_000 });

        // A second up: no remote command runs, nothing changes.
        const again = await stack.up();
        expect(Object.keys(again.summary)).toEqual(["same"]);

        // The verify command on this stack (README "Verify"): over SSH with the stack's connection (pinned host key,
        // the sshPrivateKey secret through a private agent) every host check holds — units, /health/instance,
        // local discovery, the backup and restore proof that just ran — and so do discovery, model and access.
        // A mirror pass leaves the robot admin on the repositories its pushes created, where the model declares write:
        // verify names that as drift (seen in this test once images flow), and refresh + up puts the declared role back.
        await stack.refresh();
        await stack.up();
        const verified = await runVerifyCommand(stack, { registryUrl: endpoint });
        expect({ code: verified.code, notOk: verified.checks.filter((l) => !l.startsWith("ok ")), stderr: verified.code === 0 ? "" : verified.stderr }).toEqual({ code: 0, notOk: [], stderr: "" });
        for (const what of ["host: unit quay.service active", "host: unit postgresql active", "host: unit redis-server active", "host: timer quay-backup.timer active", "host: timer quay-restore-validate.timer active", "host: /health/instance on 127.0.0.1:8080 answers 200", "discovery: on the host, http://127.0.0.1:8080/api/v1/discovery"]) {
          expect(verified.checks).toContain(`ok   ${what}`);
        }
        expect(verified.checks).toEqual(expect.arrayContaining([expect.stringMatching(/^ok   backups: latest backup — quay-backup\.service succeeded 0\.\d h ago$/), expect.stringMatching(/^ok   backups: last restore proof — quay-restore-validate\.service succeeded/)]));
        for (const secret of [pull.password, passphrase, apiToken, host.privateKey.split("\n")[4]!]) expect(verified.stdout).not.toContain(secret);

        // The cleanup's destroy refuses buckets that hold objects (it never loses blobs): empty them first.
        for (const bucket of ["quay-storage", "quay-backups"]) await minio.mc(["rm", "--recursive", "--force", "--versions", `root/${bucket}`]);
      },
    );
  });
});
