// Rebuild from backup (disaster recovery) through the real engine on two disposable test hosts, against a real
// MinIO on this machine that both reach under one name (minio.test: each guest's /etc/hosts points it at its
// own side of its veth, where a TCP forwarder of this test hands the connection to MinIO on 127.0.0.1).
//   host A: up; data in Quay's database (tables like Quay's and a probe table), a blob in quay-storage; the
//           backup service; then writes after the backup (what the rebuild loses); host A destroyed (its
//           nspawn machine stopped and removed).
//   host B: the same stack with host.connection pointing at B and restoreFrom: latest. One `up` restores the
//           database before Quay first starts, with the same DATABASE_SECRET_KEY and SECRET_KEY (compared by
//           hash), the blob still in quay-storage; a second `up` changes nothing; the rebuild command refuses
//           to restore again over newer data, into a database that holds tables, or with other secrets; with
//           --overwrite it restores a named backup and keeps the replaced database; `preview --refresh`.
// The stand-in Quay (tests/e2e/stand-in, the project's emulator, as lab-full ships it) keeps all its state in
// the host's PostgreSQL `quay` database (schema quay_standin) and its blobs in quay-storage, so what Quay
// issued on A is part of the proof: the stack's ApiToken, two robots' tokens, the pull user's password and an
// image pushed with skopeo before the backup all work on B after the rebuild (the same /v2/auth grants, the
// same manifest digest). The test's own tables in `public` stand for Quay's tables next to them.
// This machine reaches Quay's API at one address (a forwarder of this test, pointed at A, then at B), so the
// stack's apiUrl does not change with the host.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { EngineStack, findPlaintext, repoRoot } from "../support/engine";
import { Credential, grantedActions } from "../support/registry";
import { buildOciLayout, OciLayoutImage, skopeo, startTlsFront, TlsFront, writeAuthFile } from "../support/skopeo";
import { copyModuleClosure, STAND_IN_S3_MODULES } from "../support/stand-in-modules";
import { Minio, MinioCredentials, startMinio } from "../support/minio";
import { describeOnTestHost, startTestHost, TestHost } from "../support/testhost";

jest.setTimeout(40 * 60_000);

const HOSTNAME = "quay.test.example";

/** The stand-in image as lab-full builds it: the compiled emulator (bin/), its modules' closure, server.js. */
function buildStandInArchive(dir: string): string {
  const app = path.join(dir, "app");
  fs.mkdirSync(path.join(app, "node_modules"), { recursive: true });
  fs.cpSync(path.join(repoRoot, "bin/tests/emulator"), path.join(app, "emulator"), { recursive: true });
  copyModuleClosure(repoRoot, ["yaml", "pg", "ioredis", ...STAND_IN_S3_MODULES], app);
  fs.copyFileSync(path.join(repoRoot, "tests/e2e/stand-in/server.js"), path.join(app, "server.js"));
  const out = path.join(dir, "quay-standin.tar");
  execFileSync(path.join(repoRoot, "scripts/testhost/build-image-archive.sh"), ["--out", out, "--tag", "localhost/quay-standin:rebuild", "--app", app], { stdio: "inherit" });
  return out;
}

/** A TCP forwarder on address:port to 127.0.0.1:port (MinIO), so a guest reaches MinIO at its own veth address. */
function forward(address: string, port: number): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => resolve(server));
  });
}

/** A TCP forwarder on 127.0.0.1 (a free port) to whichever address `target()` names, port 8080 (Quay's API). */
function switchableForward(target: () => string): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(8080, target());
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

const dockerConfig = (c: Credential) => JSON.stringify({ auths: { [HOSTNAME]: { auth: Buffer.from(`${c.username}:${c.password}`).toString("base64") } } });
const STANDIN_COUNTS = "SELECT (SELECT count(*) FROM quay_standin.entities) || ' ' || (SELECT count(*) FROM quay_standin.repos)";

const psql = (sql: string) => `cd /tmp && sudo -u postgres psql -X -q -At -v ON_ERROR_STOP=1 -d quay -c ${JSON.stringify(sql).replace(/\$/g, "\\$")}`;
const SECRET_HASHES = "for k in DATABASE_SECRET_KEY SECRET_KEY; do sudo grep -m1 \"^$k:\" /etc/quay/config/config.yaml | sha256sum | cut -c1-64; done";

describeOnTestHost("rebuild from backup: backup on host A, destroy A, rebuild on host B with restoreFrom", () => {
  let a: TestHost;
  let b: TestHost;
  let minio: Minio;
  let stack: EngineStack;
  let dir: string;
  const forwarders: net.Server[] = [];
  const engineOutput: string[] = [];
  let STORAGE: MinioCredentials;
  let backupStamp = "";
  let hashesA = "";
  let probe = "";
  let blobKey = "";
  let newest = "";
  // Quay's API as this machine reaches it: the forwarder's address, pointed at A, then at B
  let apiHost = "";
  let apiUrl = "";
  let front: TlsFront;
  // what Quay issued on A (stack outputs) and what it granted there
  let apiToken = "";
  let credentials: Credential[] = [];
  let grantsA: string[][] = [];
  let image: OciLayoutImage;
  let standInCountsA = "";
  const REPO = "rebuild/tiny";

  const config = (h: TestHost) => ({ host: h.host, port: String(h.port), user: h.user, hostKey: h.hostKey, proxyAddress: h.hostAddress });
  const objects = async (bucket: string) => (await minio.mc(["ls", "--recursive", `root/${bucket}/`])).json.filter((o) => o.status === "success").map((o) => String(o.key)).sort();

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-rebuild-e2e-"));
    [a, b] = await Promise.all([startTestHost("qrba", {}), startTestHost("qrbb", {})]);
    minio = await startMinio();
    for (const h of [a, b]) {
      forwarders.push(await forward(h.hostAddress, minio.port));
      await h.sshOk(`echo '${h.hostAddress} minio.test' | sudo tee -a /etc/hosts >/dev/null`);
    }
    apiHost = a.host;
    const api = await switchableForward(() => apiHost);
    forwarders.push(api);
    apiUrl = `http://127.0.0.1:${(api.address() as net.AddressInfo).port}`;
    front = await startTlsFront(dir, HOSTNAME, apiUrl);
    const archive = buildStandInArchive(dir);
    fs.mkdirSync(path.join(repoRoot, "bin", "quay-backups"), { recursive: true });
    stack = await EngineStack.create({
      program: "../quay-backups/rebuild-program",
      projectName: "qm-rebuild-e2e",
      config: {
        ...config(a),
        imageArchive: archive,
        mcBinary: minio.mcPath,
        minioLocal: minio.endpoint,
        minioHost: "minio.test",
        minioPort: String(minio.port),
        minioRootUser: minio.root.accessKey,
        apiUrl,
      },
      secrets: { privateKey: a.privateKey, minioRootPassword: minio.root.secretKey },
    });
    // the second host's key, for the rebuild (set before the first up: config changes later are plain values)
    fs.writeFileSync(path.join(dir, "b.key"), b.privateKey, { mode: 0o600 });
  }, 25 * 60_000);

  afterAll(async () => {
    try {
      if (stack) {
        for (const bucket of ["quay-backups", "quay-storage"]) await minio.mc(["rm", "--recursive", "--force", "--versions", `root/${bucket}`], { allowFailure: true });
        await stack.cleanup();
      }
    } finally {
      for (const f of forwarders) f.close();
      await front?.stop();
      await minio?.stop();
      await a?.stop();
      await b?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 15 * 60_000);

  test("host A: up, Quay's data in the database and a blob in quay-storage, a backup, then writes after the backup", async () => {
    const up = await stack.up();
    engineOutput.push(up.stdout, up.stderr);
    expect(up.steps.filter((s) => s.name === "backups-restore")).toEqual([]); // no restore without restoreFrom
    STORAGE = up.outputs.storageCredentials!.value as MinioCredentials;
    expect(await a.sshOk("curl -fsS http://127.0.0.1:8080/health/instance")).toMatch(/"status_code":\s*200|healthy/);

    // What Quay issued on A: the stack's ApiToken answers; the robots' tokens and the pull user's password get
    // their grants from /v2/auth; the pusher robot pushes an image with skopeo (through the TLS front).
    apiToken = String(up.outputs.apiToken!.value);
    expect(apiToken).toMatch(/^[A-Za-z0-9]{20,}$/);
    const org = await fetch(`${apiUrl}/api/v1/organization/rebuild`, { headers: { Authorization: `Bearer ${apiToken}` } });
    expect(org.status).toBe(200);
    credentials = [...(up.outputs.robotCredentials!.value as Credential[]), up.outputs.pullCredential!.value as Credential];
    expect(credentials.map((c) => c.username)).toEqual(["rebuild+pusher", "rebuild+reader", "rebuild_pull"]);
    grantsA = [];
    for (const c of credentials) grantsA.push(await grantedActions(apiUrl, HOSTNAME, c, REPO, ["pull", "push"]));
    expect(grantsA).toEqual([["pull", "push"], ["pull"], ["pull"]]);
    image = buildOciLayout(dir, "rebuild");
    const pushAuth = writeAuthFile(path.join(dir, "push-auth.json"), dockerConfig(credentials[0]!));
    const pushed = await skopeo(dir, HOSTNAME, front.address, ["copy", "--dest-authfile", pushAuth, "--dest-tls-verify=false", image.ref, `docker://${HOSTNAME}/${REPO}:before-the-backup`]);
    expect({ code: pushed.code, stderr: pushed.stderr }).toEqual({ code: 0, stderr: "" });
    const stored = await objects("quay-storage");
    for (const digest of image.blobs) expect(stored.filter((k) => k.endsWith(`sha256/${digest.slice(7, 9)}/${digest.slice(7)}`))).toHaveLength(1);
    // Quay's objects are rows of the `quay` database (schema quay_standin), owned by Quay's role
    standInCountsA = await a.sshOk(psql(STANDIN_COUNTS));
    expect(standInCountsA).toMatch(/^[1-9]\d* [1-9]\d*\n$/);

    probe = `probe-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    await a.sshOk(
      `cd /tmp && sudo -u postgres psql -X -q -v ON_ERROR_STOP=1 -d quay <<'SQL'
CREATE TABLE "user" (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE repository (id serial PRIMARY KEY, namespace_user_id int REFERENCES "user"(id), name text);
CREATE TABLE robotaccounttoken (id serial PRIMARY KEY, robot_account_id int REFERENCES "user"(id), token text);
CREATE TABLE probe (id serial PRIMARY KEY, value text NOT NULL, written text NOT NULL);
INSERT INTO "user"(name) SELECT 'user' || g FROM generate_series(1, 7) g;
INSERT INTO repository(namespace_user_id, name) SELECT 1 + g % 7, 'repo' || g FROM generate_series(1, 23) g;
INSERT INTO robotaccounttoken(robot_account_id, token) SELECT 1 + g % 7, md5(g::text) FROM generate_series(1, 5) g;
INSERT INTO probe(value, written) VALUES ('${probe}', 'before the backup');
SQL`,
    );
    // a blob as Quay stores it (storage_path /datastorage/registry), written with the storage user's keys
    blobKey = "datastorage/registry/sha256/ab/ab" + "0".repeat(62);
    fs.writeFileSync(path.join(dir, "blob"), "a blob pushed before the disaster\n");
    await minio.mc(["cp", path.join(dir, "blob"), `u/quay-storage/${blobKey}`], { as: STORAGE });

    await a.sshOk("sudo systemctl start quay-backup.service", { timeoutMs: 10 * 60_000 });
    const keys = await objects("quay-backups");
    expect(keys).toHaveLength(3);
    backupStamp = /^quay\/(\d{8}T\d{6}Z)\//.exec(keys[0]!)![1]!;
    // written after the backup: the rebuild loses it
    await a.sshOk(psql("INSERT INTO probe(value, written) VALUES ('lost', 'after the backup')"));
    hashesA = await a.sshOk(SECRET_HASHES);
    expect(hashesA.split("\n").filter(Boolean)).toHaveLength(2);
  });

  test("host B: one up with restoreFrom: latest restores the database before Quay first starts, with A's secrets; the blob is still there", async () => {
    // the disaster: host A is gone
    await a.stop();
    expect((await a.ssh("true", { timeoutMs: 15_000 })).code).not.toBe(0);
    apiHost = b.host; // this machine's address of Quay's API now leads to B

    for (const [k, v] of Object.entries(config(b))) await stack.setConfig(k, v);
    await stack.setConfig("privateKey", b.privateKey, true);
    await stack.setConfig("restoreFrom", "latest");
    const started = Date.now();
    const up = await stack.up();
    const seconds = Math.round((Date.now() - started) / 1000);
    engineOutput.push(up.stdout, up.stderr);
    console.log(`rebuild on host B (one up with restoreFrom: latest): ${seconds} s; steps: ${JSON.stringify(up.summary)}`);

    // the restore step ran (created) and finished before Quay's unit step started
    const names = up.steps.map((s) => s.name);
    expect(up.steps.filter((s) => s.name === "backups-restore").map((s) => s.op)).toEqual(["create"]);
    expect(names.indexOf("backups-restore")).toBeLessThan(names.indexOf("quay-unit"));
    // what the restore step printed (its stdout, kept in the state: nothing secret in it)
    const restoreStep = (await stack.resources()).find((r) => r.urn.endsWith("::backups-restore"))!;
    const said = String(restoreStep.outputs!.stdout);
    console.log(`the restore step said:\n${said}`);
    const restored = new RegExp(`restored backup ${backupStamp} \\(quay-backups/quay/${backupStamp}/quay-${backupStamp}\\.tar\\.gz\\.enc\\) into database quay: (\\d+) tables, (\\d+) rows, every count as its manifest recorded`).exec(said);
    expect(restored).not.toBeNull();
    expect(said).toContain("secrets match: the backup's DATABASE_SECRET_KEY and SECRET_KEY are this host's");

    // the database content of the backup; what was written after it is lost
    expect(await b.sshOk(psql("SELECT value || ' / ' || written FROM probe ORDER BY id"))).toBe(`${probe} / before the backup\n`);
    expect(await b.sshOk(psql(`SELECT (SELECT count(*) FROM "user") || ' ' || (SELECT count(*) FROM repository) || ' ' || (SELECT count(*) FROM robotaccounttoken)`))).toBe("7 23 5\n");
    // the stand-in Quay's rows (schema quay_standin) came with the backup: the same counts as on A
    expect(await b.sshOk(psql(STANDIN_COUNTS))).toBe(standInCountsA);
    // owned by Quay's role, not by postgres, in both schemas (the schemas too); pg_trgm present
    expect(await b.sshOk(psql("SELECT string_agg(DISTINCT schemaname || ':' || tableowner, ',' ORDER BY schemaname || ':' || tableowner) FROM pg_tables WHERE schemaname IN ('public', 'quay_standin')"))).toBe("public:quay,quay_standin:quay\n");
    expect(await b.sshOk(psql("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'quay_standin'"))).toBe("quay\n");
    expect(await b.sshOk(psql("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'"))).toBe("pg_trgm\n");
    // the restore is recorded, before Quay's first start
    const marker = JSON.parse(await b.sshOk("sudo cat /var/lib/quay/.quay-mirror-restored"));
    expect(marker).toMatchObject({ stamp: backupStamp, backup: `quay-${backupStamp}.tar.gz.enc`, replacedDatabase: null, rowCounts: { "public.probe": 1, "public.user": 7 } });
    // the backup (pg_dump of the whole `quay` database) holds the stand-in's schema: its tables are in the
    // manifest's row counts the restore compared, and the restore's summary counts them
    const counted = Object.keys(marker.rowCounts as Record<string, number>);
    expect(counted.filter((t) => t.startsWith("quay_standin.")).length).toBeGreaterThan(0);
    expect(counted.filter((t) => !t.startsWith("quay_standin.")).sort()).toEqual(["public.probe", "public.repository", "public.robotaccounttoken", "public.user"]);
    expect(Number(restored![1])).toBe(counted.length);
    expect(Number(restored![2])).toBe(Object.values(marker.rowCounts as Record<string, number>).reduce((x, y) => x + y, 0));
    expect((marker.rowCounts as Record<string, number>)["quay_standin.entities"]).toBe(Number(standInCountsA.split(" ")[0]));
    const restoredAt = Date.parse(marker.restoredAt);
    const quayStarted = Date.parse((await b.sshOk("systemctl show -p ActiveEnterTimestamp --value quay.service | xargs -I{} date -u -d '{}' +%Y-%m-%dT%H:%M:%SZ")).trim());
    expect(restoredAt).toBeLessThanOrEqual(quayStarted);
    // the same stack's secrets: A's DATABASE_SECRET_KEY and SECRET_KEY, by hash
    expect(await b.sshOk(SECRET_HASHES)).toBe(hashesA);
    // Quay (the stand-in) is healthy on B; the blob is still in quay-storage, and B's storage preflight passed
    expect(await b.sshOk("curl -fsS http://127.0.0.1:8080/health/instance")).toMatch(/"status_code":\s*200|healthy/);
    expect(await objects("quay-storage")).toContain(blobKey);
    expect(up.steps.filter((s) => s.name === "quay-preflight").map((s) => s.op)).toEqual(["update"]);
  });

  test("after the rebuild, what Quay issued on A works on B: robot tokens, the pull user's password, the ApiToken, the image pushed to A", async () => {
    // every robot token and the pull user's password issued on A: the same /v2/auth grants from B (fresh JWTs:
    // the stand-in signs them with a key of its process, so a client re-authenticates after any restart)
    const grantsB: string[][] = [];
    for (const c of credentials) grantsB.push(await grantedActions(apiUrl, HOSTNAME, c, REPO, ["pull", "push"]));
    expect(grantsB).toEqual(grantsA);
    // and a wrong password is still refused (the grants above are not a stand-in that lets anyone in)
    await expect(grantedActions(apiUrl, HOSTNAME, { username: credentials[2]!.username, password: "not-the-password" }, REPO, ["pull"])).rejects.toThrow(/401|403/);
    // the stack's ApiToken minted on A answers on B (an authenticated API GET; A is gone, the API address leads to B)
    const org = await fetch(`${apiUrl}/api/v1/organization/rebuild`, { headers: { Authorization: `Bearer ${apiToken}` } });
    expect(org.status).toBe(200);
    expect(((await org.json()) as { name: string }).name).toBe("rebuild");
    const robots = await fetch(`${apiUrl}/api/v1/organization/rebuild/robots`, { headers: { Authorization: `Bearer ${apiToken}` } });
    expect(robots.status).toBe(200);
    // the image pushed to A pulls from B with the pull user's password, with the same manifest digest (its
    // blobs are still in quay-storage; the manifest and tag came back with the database)
    const pullAuth = writeAuthFile(path.join(dir, "pull-auth.json"), dockerConfig(credentials[2]!));
    const out = path.join(dir, "pulled");
    const pulled = await skopeo(dir, HOSTNAME, front.address, ["copy", "--src-authfile", pullAuth, "--src-tls-verify=false", `docker://${HOSTNAME}/${REPO}:before-the-backup`, `oci:${out}:pulled`]);
    expect({ code: pulled.code, stderr: pulled.stderr }).toEqual({ code: 0, stderr: "" });
    expect((JSON.parse(fs.readFileSync(path.join(out, "index.json"), "utf8")) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest)).toEqual([image.manifestDigest]);
    for (const digest of image.blobs) expect(fs.existsSync(path.join(out, "blobs", "sha256", digest.slice(7)))).toBe(true);
  });

  test("a second up changes nothing; preview --refresh afterwards", async () => {
    const again = await stack.up();
    engineOutput.push(again.stdout, again.stderr);
    expect(Object.keys(again.summary).filter((op) => op !== "same")).toEqual([]);
    const pr = await stack.preview({ refresh: true });
    engineOutput.push(pr.stdout, pr.stderr);
    const changed = pr.steps.filter((s) => s.op !== "same" && s.op !== "read" && s.op !== "refresh").map((s) => `${s.op} ${s.name}`);
    console.log(`preview --refresh after the rebuild: ${JSON.stringify(pr.summary)}; changes: ${JSON.stringify(changed)}`);
    expect(changed).toEqual([]);
  });

  test("the rebuild command refuses to restore again over newer data, into a database that holds tables, or with other secrets", async () => {
    const rebuild = (args: string) => b.ssh(`sudo /usr/local/sbin/quay-restore-database ${args}`, { timeoutMs: 10 * 60_000 });
    // a rerun: already restored, nothing to do (latest or the same name)
    for (const args of ["latest", backupStamp]) {
      const r = await rebuild(args);
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
      expect(r.stdout).toContain(`already restored from backup ${backupStamp}`);
    }
    // B writes, makes its own backup; restoring that one (or any other) needs --overwrite
    await b.sshOk(psql("INSERT INTO probe(value, written) VALUES ('b', 'on host B after the rebuild')"));
    await b.sshOk("sudo systemctl start quay-backup.service", { timeoutMs: 10 * 60_000 });
    newest = (await objects("quay-backups")).map((k) => /^quay\/(\d{8}T\d{6}Z)\//.exec(k)![1]!).sort().pop()!;
    expect(newest > backupStamp).toBe(true);
    let r = await rebuild(newest);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`quay-restore-database FAILED: this host was restored from backup ${backupStamp}`);
    expect(r.stderr).toContain("— fix: ");
    // latest still means "the one restored": B's own newer backup is not restored over B's data
    r = await rebuild("latest");
    expect(r.code).toBe(0);
    // without the record, a database that holds tables is never replaced
    await b.sshOk("sudo mv /var/lib/quay/.quay-mirror-restored /root/restored.keep");
    r = await rebuild("latest");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/quay-restore-database FAILED: database quay already holds \d+ tables \(Quay's data\) and this host has no record of a restore .* — fix: /);
    // other secrets than the backup's: refused before anything is replaced, and nothing secret printed
    await b.sshOk("sudo cp -a /etc/quay/config/config.yaml /root/config.keep && sudo sed -i 's/^DATABASE_SECRET_KEY: .*/DATABASE_SECRET_KEY: not-the-key-of-the-backup/' /etc/quay/config/config.yaml");
    r = await rebuild(`--overwrite ${backupStamp}`);
    await b.sshOk("sudo cp -a /root/config.keep /etc/quay/config/config.yaml && sudo mv /root/restored.keep /var/lib/quay/.quay-mirror-restored");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`quay-restore-database FAILED: backup ${backupStamp} was made with another DATABASE_SECRET_KEY than this host's /etc/quay/config/config.yaml`);
    expect(await b.sshOk(SECRET_HASHES)).toBe(hashesA);
    expect(await b.sshOk(psql("SELECT count(*) FROM probe"))).toBe("2\n"); // untouched
    // a forged name is refused by the argument check
    r = await rebuild("'20261207T031500Z; id'");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown argument");
  });

  test("--overwrite restores another named backup over the live database, keeps the replaced one, and Quay runs again", async () => {
    // B's own backup (A's row and B's first row), then a write after it
    await b.sshOk(psql("INSERT INTO probe(value, written) VALUES ('c', 'on host B after its backup')"));
    const r = await b.ssh(`sudo /usr/local/sbin/quay-restore-database --overwrite ${newest}`, { timeoutMs: 10 * 60_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const m = /the database it replaced is kept as (quay_replaced_\d{14})/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(await b.sshOk(psql("SELECT value FROM probe ORDER BY id"))).toBe(`${probe}\nb\n`);
    expect(await b.sshOk(`cd /tmp && sudo -u postgres psql -X -At -d ${m![1]} -c "SELECT count(*) FROM probe"`)).toBe("3\n");
    expect(JSON.parse(await b.sshOk("sudo cat /var/lib/quay/.quay-mirror-restored"))).toMatchObject({ stamp: newest, replacedDatabase: m![1] });
    expect(await b.sshOk("systemctl is-active quay.service")).toBe("active\n");
    // the same backup again is "already restored"
    const again = await b.ssh(`sudo /usr/local/sbin/quay-restore-database --overwrite ${newest}`, { timeoutMs: 10 * 60_000 });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already restored from backup ${newest}`);
    await b.sshOk(`cd /tmp && sudo -u postgres dropdb ${m![1]}`);
    expect(await b.sshOk("sudo find /var/lib/quay-backup -mindepth 1 | wc -l")).toBe("0\n");
    expect((await b.ssh("getent passwd quay")).code).not.toBe(0); // the restore's system user is gone again
  });

  test("nothing secret in the engine's output or the state", async () => {
    const state = JSON.stringify(await stack.exportState());
    const passphrase = String((await stack.up()).outputs.backupPassphrase!.value);
    for (const secret of [passphrase, STORAGE.secretKey, minio.root.secretKey]) {
      expect(findPlaintext(state, secret)).toEqual([]);
      for (const text of engineOutput) expect(text.includes(secret)).toBe(false);
    }
  });
});
