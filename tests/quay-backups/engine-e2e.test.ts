// QuayBackups (and QuayHost's storage preflight) through the real engine on a disposable test host, against a
// real MinIO on this machine (the guest reaches it at the host side of its veth), whose buckets and users the
// same program makes with ObjectStorage. One host, one stack, used by every case in order:
//   up → timers installed and enabled, secrets in root-only files, nothing secret in the state;
//   the backup service → exactly the three artifacts under one timestamped prefix, encrypted, authenticated
//   (an HMAC this test recomputes from the passphrase), checksummed, with a manifest (format
//   quay-mirror-backup/2) whose row counts are the database's; a failed backup leaves the unit failed, saying why;
//   the put-only uploader cannot list, read or delete anything;
//   the restore proof passes, leaves no temporary database and does not touch the production database;
//   the proof restores as the unprivileged role quay_restore_proof (the sampler sees pg_restore under its uid);
//   a corrupted object, a ciphertext byte flipped with its .sha256 recomputed (refused at the MAC check, before
//   decrypting or pg_restore), a wrong passphrase and a backup whose row counts differ from its manifest each
//   fail the proof (unit failed) with a message naming the cause;
//   a lifecycle rule on quay-storage makes the preflight refuse the next deployment until it is removed;
//   a backup under concurrent writes records the counts of its own snapshot, and the proof passes;
//   no secret in any process's arguments here or on the host (/proc sampled every few ms throughout, with a
//   control that proves the samplers catch a canary on a short-lived process), the engine's output or the state.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import { MAC_KEY_SALT, MANIFEST_FORMAT, PBKDF2_ITERATIONS } from "../../components/quay-backups/render";
import { ArgvSampler, argvHits, runArgvCanary, startGuestArgvSampler, startLocalArgvSampler } from "../support/argv-sampler";
import { EngineStack, findPlaintext, repoRoot } from "../support/engine";
import { Minio, MinioCredentials, startMinio } from "../support/minio";
import { describeOnTestHost, startTestHost, TestHost } from "../support/testhost";

jest.setTimeout(30 * 60_000);

const OBJECT = /^quay\/(\d{8}T\d{6}Z)\/quay-(\d{8}T\d{6}Z)\.tar\.gz\.enc(\.sha256|\.hmac)?$/;

/** The .hmac tag of a format-2 backup, computed here independently of the host's script. */
function tagFor(objectName: string, body: Buffer, passphrase: string): string {
  const key = crypto.pbkdf2Sync(passphrase, Buffer.from(MAC_KEY_SALT, "hex"), PBKDF2_ITERATIONS, 32, "sha512");
  const mac = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), crypto.createHmac("sha256", key)).digest("hex");
  return [
    `format ${MANIFEST_FORMAT}`,
    `object ${objectName}`,
    `key-check ${mac(Buffer.from(`${MANIFEST_FORMAT} key check\n`))}`,
    `hmac-sha256 ${mac(Buffer.from(`${MANIFEST_FORMAT}\n${objectName}\n`), body)}`,
  ].join("\n") + "\n";
}

function buildStandInArchive(dir: string): string {
  const app = path.join(dir, "app");
  fs.mkdirSync(app, { recursive: true });
  const source = fs.readFileSync(path.join(repoRoot, "tests/quay-host/fake-quay.ts"), "utf8");
  fs.writeFileSync(path.join(app, "fake-quay.js"), ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 } }).outputText);
  fs.copyFileSync(path.join(repoRoot, "tests/quay-host/e2e-program/stand-in.js"), path.join(app, "server.js"));
  const out = path.join(dir, "quay-standin.tar");
  execFileSync(path.join(repoRoot, "scripts/testhost/build-image-archive.sh"), ["--out", out, "--tag", "localhost/quay-standin:backups", "--app", app], { stdio: "inherit" });
  return out;
}

describeOnTestHost("QuayBackups through the engine on a test host, against real MinIO", () => {
  let host: TestHost;
  let minio: Minio;
  let stack: EngineStack;
  let dir: string;
  let passphrase: string;
  let STORAGE: MinioCredentials;
  let BACKUP: MinioCredentials;
  let RESTORE: MinioCredentials;
  const engineOutput: string[] = [];
  let localArgv: ArgvSampler | undefined;
  let guestArgv: ArgvSampler | undefined;
  let canaries: { local: string[]; guest: string[] };
  /** Every object under quay-backups/quay/, as the root user sees it. */
  const objects = async () => (await minio.mc(["ls", "--recursive", "root/quay-backups/quay/"])).json.filter((o) => o.status === "success").map((o) => `quay/${o.key as string}`).sort();
  const journal = async (unit: string) => host.sshOk(`sudo journalctl -u ${unit} --no-pager -o cat -n 40`);
  /** Starts a service the way an operator does; its exit status is the verdict. */
  const start = async (unit: string) => {
    await host.ssh(`sudo systemctl reset-failed ${unit}`);
    const r = await host.ssh(`sudo systemctl start ${unit}`, { timeoutMs: 10 * 60_000 });
    return { code: r.code, state: (await host.ssh(`systemctl is-failed ${unit}`)).stdout.trim(), journal: await journal(unit) };
  };
  const productionFingerprint = () =>
    host.sshOk(`cd /tmp && sudo -u postgres psql -X -At -d quay -c "SELECT (SELECT count(*) FROM \\"user\\") || '/' || (SELECT md5(string_agg(name, ',' ORDER BY id)) FROM \\"user\\") || '/' || (SELECT count(*) FROM tag)"`);
  const tempDatabases = () => host.sshOk(`cd /tmp && sudo -u postgres psql -X -At -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'quay_restore_proof%'"`);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-backups-e2e-"));
    host = await startTestHost("qbk", {});
    minio = await startMinio({ address: host.hostAddress });
    const archive = buildStandInArchive(dir);
    fs.mkdirSync(path.join(repoRoot, "bin", "quay-backups"), { recursive: true });
    stack = await EngineStack.create({
      program: "../quay-backups/e2e-program",
      projectName: "qm-backups-e2e",
      config: {
        host: host.host,
        port: String(host.port),
        user: host.user,
        hostKey: host.hostKey,
        imageArchive: archive,
        proxyAddress: host.hostAddress,
        mcBinary: minio.mcPath,
        minioHost: minio.address,
        minioPort: String(minio.port),
        minioRootUser: minio.root.accessKey,
      },
      secrets: { privateKey: host.privateKey, minioRootPassword: minio.root.secretKey },
    });
  }, 20 * 60_000);

  afterAll(async () => {
    await localArgv?.stop().catch(() => undefined);
    try {
      if (stack) {
        // ObjectStorage refuses to delete a bucket that holds objects: empty both (every version) first
        for (const bucket of ["quay-backups", "quay-storage"]) await minio.mc(["rm", "--recursive", "--force", "--versions", `root/${bucket}`], { allowFailure: true });
        await stack.cleanup();
        // destroy removed the timers, the scripts and the secrets
        expect((await host.ssh("sudo test -e /etc/quay-backup")).code).not.toBe(0);
        expect((await host.ssh("systemctl cat quay-backup.timer")).code).not.toBe(0);
      }
    } finally {
      await minio?.stop();
      await host?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 10 * 60_000);

  test("up: the storage preflight passes, the backup secrets land in root-only files, the timers are enabled", async () => {
    // Sample every process's arguments, here and on the host, every few ms from here to the end; the control
    // first: canaries on short-lived processes' command lines (checked in the last test).
    localArgv = startLocalArgvSampler();
    guestArgv = await startGuestArgvSampler(host);
    canaries = { local: await runArgvCanary(), guest: await runArgvCanary({ host }) };
    const up = await stack.up();
    engineOutput.push(up.stdout, up.stderr);
    expect(up.steps.filter((s) => s.name === "quay-preflight").map((s) => s.op)).toEqual(["create"]);
    expect(up.steps.filter((s) => ["backups-secrets", "backups-install"].includes(s.name)).map((s) => s.op)).toEqual(["create", "create"]);
    expect(up.outputs.backupPassphrase!.secret).toBe(true);
    passphrase = String(up.outputs.backupPassphrase!.value);
    const creds = (k: string) => {
      expect(up.outputs[k]!.secret).toBe(true);
      return up.outputs[k]!.value as MinioCredentials;
    };
    [STORAGE, BACKUP, RESTORE] = [creds("storageCredentials"), creds("backupCredentials"), creds("restoreCredentials")];
    expect([STORAGE.accessKey, BACKUP.accessKey, RESTORE.accessKey]).toEqual(["quay-storage", "quay-backup", "quay-restore"]);
    // ObjectStorage made the buckets the way the design wants them
    expect((await minio.mc(["ilm", "rule", "ls", "root/quay-backups"])).json[0]!.config).toMatchObject({ Rules: [expect.objectContaining({ Expiration: { Days: 90 } })] });
    expect((await minio.mc(["ilm", "rule", "ls", "root/quay-storage"], { allowFailure: true })).code).not.toBe(0); // no lifecycle configuration at all
    expect(passphrase).toMatch(/^[A-Za-z0-9]{48}$/);

    expect(await host.sshOk("sudo stat -c '%U %a %n' /etc/quay-backup /etc/quay-backup/passphrase /etc/quay-backup/mc-backup/config.json /etc/quay-backup/mc-restore/config.json")).toBe(
      "root 700 /etc/quay-backup\nroot 600 /etc/quay-backup/passphrase\nroot 600 /etc/quay-backup/mc-backup/config.json\nroot 600 /etc/quay-backup/mc-restore/config.json\n",
    );
    expect(await host.sshOk("sudo cat /etc/quay-backup/passphrase")).toBe(`${passphrase}\n`);
    expect((await host.ssh("cat /etc/quay-backup/passphrase")).code).not.toBe(0); // not for the SSH user
    // each MinIO user alone in its own file
    expect(await host.sshOk("sudo jq -c '.aliases | to_entries | map([.key, .value.accessKey])' /etc/quay-backup/mc-backup/config.json /etc/quay-backup/mc-restore/config.json")).toBe(
      '[["backup","quay-backup"]]\n[["restore","quay-restore"]]\n',
    );
    expect(await host.sshOk("systemctl is-enabled quay-backup.timer quay-restore-validate.timer; systemctl is-active quay-backup.timer quay-restore-validate.timer")).toBe("enabled\nenabled\nactive\nactive\n");
    expect(await host.sshOk("systemctl show -p TimersCalendar -p Persistent -p RandomizedDelayUSec quay-backup.timer")).toMatch(/OnCalendar=\*-\*-\* 00:00:00[\s\S]*Persistent=yes|Persistent=yes[\s\S]*OnCalendar=\*-\*-\* 00:00:00/);
    expect(await host.sshOk("systemctl show -p TimersCalendar quay-restore-validate.timer")).toMatch(/OnCalendar=Mon \*-\*-\* 00:00:00/);
    expect(await host.sshOk("systemctl show -p RandomizedDelayUSec quay-backup.timer")).toBe("RandomizedDelayUSec=1h\n");

    // A second up changes nothing.
    const again = await stack.up();
    engineOutput.push(again.stdout, again.stderr);
    expect(Object.keys(again.summary).filter((op) => op !== "same")).toEqual([]);
  });

  test("the backup service puts exactly the three artifacts under one timestamped prefix, authenticated; the manifest holds the database's exact row counts", async () => {
    // The database holds what the test puts there (Quay's schema is not needed for the proof).
    await host.sshOk(
      `cd /tmp && sudo -u postgres psql -X -q -v ON_ERROR_STOP=1 -d quay <<'SQL'
CREATE TABLE "user" (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE repository (id serial PRIMARY KEY, namespace_user_id int REFERENCES "user"(id), name text);
CREATE TABLE manifest (id serial PRIMARY KEY, digest text);
CREATE TABLE tag (id serial PRIMARY KEY, repository_id int REFERENCES repository(id), manifest_id int REFERENCES manifest(id), name text);
INSERT INTO "user"(name) SELECT 'user' || g FROM generate_series(1, 7) g;
INSERT INTO repository(namespace_user_id, name) SELECT 1 + g % 7, 'repo' || g FROM generate_series(1, 23) g;
INSERT INTO manifest(digest) SELECT md5(g::text) FROM generate_series(1, 311) g;
INSERT INTO tag(repository_id, manifest_id, name) SELECT 1 + g % 23, 1 + g % 311, 't' || g FROM generate_series(1, 1009) g;
SQL`,
    );
    expect(await objects()).toEqual([]);
    const r = await start("quay-backup.service");
    expect(r.journal).toMatch(/quay-backup-to-minio: uploaded quay-backups\/quay\/\d{8}T\d{6}Z\/quay-\d{8}T\d{6}Z\.tar\.gz\.enc .*format quay-mirror-backup\/2\) with its \.hmac and \.sha256; database quay: 4 tables, 1350 rows/);
    expect({ code: r.code, state: r.state }).toEqual({ code: 0, state: "inactive" });

    const list = await objects();
    expect(list).toHaveLength(3);
    const [enc, tag, sum] = list as [string, string, string];
    const m = OBJECT.exec(enc)!;
    expect(m[1]).toBe(m[2]);
    expect(sum).toBe(`${enc}.sha256`);
    expect(tag).toBe(`${enc}.hmac`);
    // encrypted (openssl's salted header), and the .sha256 is the object's
    const encFile = path.join(dir, "backup.tar.gz.enc");
    await minio.mc(["cp", `root/quay-backups/${enc}`, encFile]);
    expect(fs.readFileSync(encFile).subarray(0, 8).toString("latin1")).toBe("Salted__");
    const sha = crypto.createHash("sha256").update(fs.readFileSync(encFile)).digest("hex");
    expect((await minio.mc(["cat", `root/quay-backups/${sum}`])).stdout).toBe(`${sha}  ${path.basename(enc)}\n`);
    // the tag is the HMAC this test computes from the passphrase (the custody copy), independently
    expect((await minio.mc(["cat", `root/quay-backups/${tag}`])).stdout).toBe(tagFor(path.basename(enc), fs.readFileSync(encFile), passphrase));

    // Decrypted with the stack's passphrase output (the custody copy): the four files and the manifest.
    const tarFile = path.join(dir, "backup.tar.gz");
    execFileSync("openssl", ["enc", "-d", "-aes-256-cbc", "-salt", "-pbkdf2", "-iter", "200000", "-pass", "stdin", "-in", encFile, "-out", tarFile], { input: `${passphrase}\n` });
    expect(execFileSync("tar", ["-tzf", tarFile], { encoding: "utf8" }).split("\n").filter(Boolean).sort()).toEqual(["config.yaml", "manifest.json", "quay.dump", "quay.service"]);
    const manifest = JSON.parse(execFileSync("tar", ["-xzOf", tarFile, "manifest.json"], { encoding: "utf8" }));
    expect(manifest.rowCounts).toEqual({ "public.manifest": 311, "public.repository": 23, "public.tag": 1009, "public.user": 7 });
    expect(manifest.format).toBe("quay-mirror-backup/2");
    expect(manifest.encryption).toMatchObject({ cipher: "aes-256-cbc", iterations: 200000, macKdf: "pbkdf2-hmac-sha512", macSalt: MAC_KEY_SALT });
    expect(manifest.created).toBe(m[1]);
    expect(manifest.versions.postgresqlServer).toMatch(/^15\./);
    expect(manifest.versions.pgDump).toMatch(/pg_dump \(PostgreSQL\) 15/);
    expect(manifest.versions.quayImage).toMatch(/^localhost\/quay-mirror\/quay:v3\.18\.0-archive-/);
    expect(manifest.files.map((f: { name: string }) => f.name).sort()).toEqual(["config.yaml", "quay.dump", "quay.service"]);
    const config = execFileSync("tar", ["-xzOf", tarFile, "config.yaml"]);
    const configEntry = manifest.files.find((f: { name: string }) => f.name === "config.yaml");
    expect(configEntry).toEqual({ name: "config.yaml", size: config.length, sha256: crypto.createHash("sha256").update(config).digest("hex") });
    expect(config.toString()).toContain(STORAGE.secretKey); // config.yaml is in the backup — which is why it is encrypted
    fs.rmSync(tarFile);

    // Nothing unencrypted stays behind on the host.
    expect(await host.sshOk("sudo find /var/lib/quay-backup -mindepth 1 | wc -l")).toBe("0\n");
    expect(await host.sshOk("sudo find / -xdev \\( -name '*.tar.gz' -o -name 'quay.dump' -o -name 'manifest.json' \\) -newer /etc/quay-backup/passphrase -not -path '/proc/*' 2>/dev/null | wc -l")).toBe("0\n");
  });

  test("a failed backup leaves the unit failed and says why in the journal; nothing is uploaded or left behind", async () => {
    const before = await objects();
    // the uploader's keys no longer match MinIO's
    await host.sshOk("sudo cp -a /etc/quay-backup/mc-backup/config.json /root/mc-backup.keep && sudo sh -c \"jq '.aliases.backup.secretKey = \\\"not-the-key-0000\\\"' /root/mc-backup.keep > /etc/quay-backup/mc-backup/config.json\"");
    let r = await start("quay-backup.service");
    await host.sshOk("sudo mv -f /root/mc-backup.keep /etc/quay-backup/mc-backup/config.json");
    expect(r.code).not.toBe(0);
    expect(r.state).toBe("failed");
    expect(r.journal).toMatch(/quay-backup-to-minio FAILED: uploading quay-backups\/quay\/\d{8}T\d{6}Z\/quay-\d{8}T\d{6}Z\.tar\.gz\.enc: MinIO rejected the backup user's keys \(SignatureDoesNotMatch\) — fix: /);
    // a passphrase file others can read is refused before anything is dumped
    await host.sshOk("sudo chmod 0644 /etc/quay-backup/passphrase");
    r = await start("quay-backup.service");
    await host.sshOk("sudo chmod 0600 /etc/quay-backup/passphrase");
    expect(r.state).toBe("failed");
    expect(r.journal).toMatch(/quay-backup-to-minio FAILED: \/etc\/quay-backup\/passphrase must be owned by root with mode 0600 \(it is root 644\) — fix: /);
    expect(await objects()).toEqual(before);
    expect(await host.sshOk("sudo find /var/lib/quay-backup -mindepth 1 | wc -l")).toBe("0\n");
  });

  test("the backup user cannot list, read or delete anything", async () => {
    const [enc] = await objects();
    for (const args of [
      ["ls", "u/quay-backups"],
      ["ls", "--recursive", "u/quay-backups/quay/"],
      ["cat", `u/quay-backups/${enc}`],
      ["stat", `u/quay-backups/${enc}`],
      ["rm", `u/quay-backups/${enc}`],
      ["rm", "--recursive", "--force", "u/quay-backups/quay/"],
      ["ls", "u/quay-storage"],
      ["cat", `u/quay-storage/anything`],
      ["ls", "u"],
    ]) {
      const r = await minio.mc(args, { as: BACKUP, allowFailure: true });
      const denied = r.code !== 0 || r.json.every((o) => o.status !== "success");
      expect({ args, denied }).toEqual({ args, denied: true });
      expect({ args, out: r.stdout + r.stderr }).toEqual({ args, out: expect.stringMatching(/Access Denied|AccessDenied|not have permission|Insufficient permissions|Unable/i) });
    }
    expect((await objects()).length).toBe(3); // nothing was deleted
  });

  test("the restore proof passes; it leaves no temporary database and does not touch the production database", async () => {
    const before = await productionFingerprint();
    const r = await start("quay-restore-validate.service");
    expect(r.journal).toMatch(/restore proof PASSED: quay-backups\/quay\/\d{8}T\d{6}Z\/quay-\d{8}T\d{6}Z\.tar\.gz\.enc — checksum ok, authenticated, decrypted, restored as quay_restore_proof \(no superuser\) into a temporary database; all 4 tables have the row counts the manifest recorded \(1350 rows; public\.manifest=311 public\.repository=23 public\.tag=1009 public\.user=7\); temporary database quay_restore_proof_\d{14}_\d+ dropped/);
    expect({ code: r.code, state: r.state }).toEqual({ code: 0, state: "inactive" });
    expect(await tempDatabases()).toBe("");
    expect(await productionFingerprint()).toBe(before);
    expect(await host.sshOk("sudo find /var/lib/quay-backup -mindepth 1 | wc -l")).toBe("0\n");
    // the restore role is gone again; its system user stays, with no login
    expect(await host.sshOk(`cd /tmp && sudo -u postgres psql -X -At -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname = 'quay_restore_proof'"`)).toBe("0\n");
    expect(await host.sshOk("getent passwd quay_restore_proof | cut -d: -f7")).toBe("/usr/sbin/nologin\n");
  });

  test("a corrupted object, a flipped byte with its checksum recomputed, a wrong passphrase and row counts that differ from the manifest each fail the proof, naming the cause", async () => {
    const [enc, , sum] = (await objects()) as [string, string, string];
    const original = OBJECT.exec(enc)![1]!;
    const encFile = path.join(dir, "good.tar.gz.enc");
    await minio.mc(["cp", `root/quay-backups/${enc}`, encFile]);
    const good = fs.readFileSync(encFile);
    const sumText = (await minio.mc(["cat", `root/quay-backups/${sum}`])).stdout;
    /** Uploads a backup as the newest one (a later timestamp), so the proof picks it. */
    const plant = async (stamp: string, body: Buffer, shaLine: string, tag: string) => {
      const f = path.join(dir, `quay-${stamp}.tar.gz.enc`);
      fs.writeFileSync(f, body);
      fs.writeFileSync(`${f}.sha256`, shaLine);
      fs.writeFileSync(`${f}.hmac`, tag);
      await minio.mc(["cp", f, `root/quay-backups/quay/${stamp}/quay-${stamp}.tar.gz.enc`]);
      await minio.mc(["cp", `${f}.hmac`, `root/quay-backups/quay/${stamp}/quay-${stamp}.tar.gz.enc.hmac`]);
      await minio.mc(["cp", `${f}.sha256`, `root/quay-backups/quay/${stamp}/quay-${stamp}.tar.gz.enc.sha256`]);
      return async () => {
        await minio.mc(["rm", "--recursive", "--force", `root/quay-backups/quay/${stamp}/`]);
      };
    };
    const before = await productionFingerprint();

    // 1. corrupted: one byte flipped in the middle, the checksum of the original beside it
    const corrupted = Buffer.from(good);
    corrupted[Math.floor(corrupted.length / 2)] ^= 0x01;
    let remove = await plant("29990101T000000Z", corrupted, sumText.replace(`quay-${original}`, "quay-29990101T000000Z"), tagFor("quay-29990101T000000Z.tar.gz.enc", good, passphrase));
    let r = await start("quay-restore-validate.service");
    expect(r.code).not.toBe(0);
    expect(r.state).toBe("failed");
    expect(r.journal).toMatch(/quay-restore-validate FAILED: checksum mismatch: quay-backups\/quay\/29990101T000000Z\/quay-29990101T000000Z\.tar\.gz\.enc has sha256 [0-9a-f]{16}…, its \.sha256 says [0-9a-f]{16}… — the backup object is corrupted/);
    await remove();

    // 1b. one ciphertext byte flipped AND its .sha256 recomputed (whoever can write the bucket can do that), the
    //     genuine tag of the unmodified object beside it: the checksum passes; the MAC refuses it before openssl
    //     decrypts anything and before pg_restore could run.
    const flipStamp = "29990101T000001Z";
    remove = await plant(flipStamp, corrupted, `${crypto.createHash("sha256").update(corrupted).digest("hex")}  quay-${flipStamp}.tar.gz.enc\n`, tagFor(`quay-${flipStamp}.tar.gz.enc`, good, passphrase));
    r = await start("quay-restore-validate.service");
    expect(r.code).not.toBe(0);
    expect(r.state).toBe("failed");
    expect(r.journal).toMatch(new RegExp(`checksum ok[\\s\\S]*quay-restore-validate FAILED: authentication failed: quay-backups/quay/${flipStamp}/quay-${flipStamp}\\.tar\\.gz\\.enc does not match its HMAC \\(hmac-sha256 [0-9a-f]{16}…, quay-${flipStamp}\\.tar\\.gz\\.enc\\.hmac says [0-9a-f]{16}…\\) under the right passphrase \\(its key check matches\\) — the object was modified after it was made`));
    const thisRun = r.journal.slice(r.journal.lastIndexOf(`latest backup: quay-backups/quay/${flipStamp}/`));
    expect(thisRun).toMatch(/^checksum ok/m);
    expect(thisRun).not.toMatch(/^(authenticated|decrypted)|pg_restore of/m);
    await remove();

    // 2. wrong passphrase: the genuine latest backup, another passphrase in the file
    await host.sshOk("sudo cp -a /etc/quay-backup/passphrase /root/passphrase.keep && printf '%s\\n' 'not-the-passphrase-of-this-backup-0000' | sudo tee /etc/quay-backup/passphrase >/dev/null");
    r = await start("quay-restore-validate.service");
    await host.sshOk("sudo mv -f /root/passphrase.keep /etc/quay-backup/passphrase");
    expect(r.code).not.toBe(0);
    expect(r.state).toBe("failed");
    expect(r.journal).toMatch(/quay-restore-validate FAILED: cannot decrypt quay-backups\/quay\/\d{8}T\d{6}Z\/quay-\d{8}T\d{6}Z\.tar\.gz\.enc with the passphrase in \/etc\/quay-backup\/passphrase: wrong passphrase — fix: /);

    // 3. row counts that differ: the genuine dump, a manifest that recorded one more user (re-packed,
    //    re-encrypted with the real passphrase, a correct checksum: only the counts disagree)
    const work = path.join(dir, "tamper");
    fs.mkdirSync(work);
    const tarFile = path.join(dir, "good.tar.gz");
    execFileSync("openssl", ["enc", "-d", "-aes-256-cbc", "-salt", "-pbkdf2", "-iter", "200000", "-pass", "stdin", "-in", encFile, "-out", tarFile], { input: `${passphrase}\n` });
    execFileSync("tar", ["-xzf", tarFile, "-C", work]);
    const manifest = JSON.parse(fs.readFileSync(path.join(work, "manifest.json"), "utf8"));
    manifest.rowCounts["public.user"] = 8;
    fs.writeFileSync(path.join(work, "manifest.json"), JSON.stringify(manifest));
    execFileSync("tar", ["-czf", tarFile, "-C", work, "manifest.json", "quay.dump", "config.yaml", "quay.service"]);
    const tampered = execFileSync("openssl", ["enc", "-aes-256-cbc", "-salt", "-pbkdf2", "-iter", "200000", "-pass", "stdin", "-in", tarFile], { input: `${passphrase}\n` });
    fs.rmSync(work, { recursive: true });
    fs.rmSync(tarFile);
    const stamp = "29990102T000000Z";
    remove = await plant(stamp, tampered, `${crypto.createHash("sha256").update(tampered).digest("hex")}  quay-${stamp}.tar.gz.enc\n`, tagFor(`quay-${stamp}.tar.gz.enc`, tampered, passphrase));
    r = await start("quay-restore-validate.service");
    expect(r.code).not.toBe(0);
    expect(r.state).toBe("failed");
    expect(r.journal).toMatch(/quay-restore-validate FAILED: row counts of the restored backup 29990102T000000Z differ from its manifest: public\.user: manifest 8, restored 7 — /);
    await remove();

    // every failure dropped its temporary database and left production alone
    expect(await tempDatabases()).toBe("");
    expect(await productionFingerprint()).toBe(before);
    expect(await host.sshOk("sudo find /var/lib/quay-backup -mindepth 1 | wc -l")).toBe("0\n");

    // with the causes gone, the proof passes again
    r = await start("quay-restore-validate.service");
    expect({ code: r.code, state: r.state }).toEqual({ code: 0, state: "inactive" });
  });

  test("a lifecycle rule on quay-storage: the preflight refuses the next deployment while it exists", async () => {
    const deployed = await host.sshOk("sudo cat /var/lib/quay/.quay-mirror-deployment");
    await minio.mc(["ilm", "rule", "add", "--expire-days", "30", "root/quay-storage"]);
    await stack.setConfig("extraTitle", "second");
    let message = "";
    try {
      await stack.up();
    } catch (e) {
      message = String(e);
    }
    expect(message).toMatch(/storage preflight FAILED: bucket quay-storage has lifecycle rules: .+\(Enabled\)\. A lifecycle rule on Quay's blob bucket expires blobs/);
    expect(message).toMatch(/fix: remove them \(mc ilm rule rm --all --force <alias>\/quay-storage\)/);
    // Quay was not restarted with the new configuration
    expect(await host.sshOk("sudo cat /var/lib/quay/.quay-mirror-deployment")).toBe(deployed);

    await minio.mc(["ilm", "rule", "rm", "--all", "--force", "root/quay-storage"]);
    const up = await stack.up();
    engineOutput.push(up.stdout, up.stderr);
    expect(up.steps.filter((s) => ["quay-preflight", "quay-unit"].includes(s.name)).map((s) => `${s.name}:${s.op}`).sort()).toEqual(["quay-preflight:update", "quay-unit:update"]);
    expect(await host.sshOk("sudo cat /var/lib/quay/.quay-mirror-deployment")).not.toBe(deployed);
  });

  test("under concurrent writes the manifest's counts are the dump's: one snapshot for both, so the restore proof passes", async () => {
    // A writer commits a row into tag every few milliseconds for the whole backup.
    await host.sshOk(
      "sudo sh -c 'cd /tmp && nohup timeout 120 runuser -u postgres -- psql -X -q -d quay -c \"DO \\$\\$ BEGIN FOR i IN 1..1000000 LOOP INSERT INTO tag(repository_id, manifest_id, name) VALUES (1, 1, i::text); COMMIT; PERFORM pg_sleep(0.002); END LOOP; END \\$\\$\" >/var/tmp/writer.log 2>&1 &'",
    );
    const count = async () => Number((await host.sshOk(`cd /tmp && sudo -u postgres psql -X -At -d quay -c "SELECT count(*) FROM tag"`)).trim());
    const c0 = await count();
    await new Promise((r) => setTimeout(r, 1000));
    expect(await count()).toBeGreaterThan(c0); // the writer is writing
    const r = await start("quay-backup.service");
    const c1 = await count();
    // stop the writer's backend itself (a killed client would leave the DO loop running in the server)
    await host.sshOk(`cd /tmp && sudo -u postgres psql -X -At -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'DO %FOR i IN 1..1000000%' AND pid <> pg_backend_pid()"`);
    expect({ code: r.code, state: r.state }).toEqual({ code: 0, state: "inactive" });
    // the newest backup's manifest, decrypted with the custody copy of the passphrase
    const list = await objects();
    const enc = list.filter((k) => k.endsWith(".enc")).pop()!;
    const encFile = path.join(dir, "concurrent.tar.gz.enc");
    await minio.mc(["cp", `root/quay-backups/${enc}`, encFile]);
    const tarFile = path.join(dir, "concurrent.tar.gz");
    execFileSync("openssl", ["enc", "-d", "-aes-256-cbc", "-salt", "-pbkdf2", "-iter", "200000", "-pass", "stdin", "-in", encFile, "-out", tarFile], { input: `${passphrase}\n` });
    const manifest = JSON.parse(execFileSync("tar", ["-xzOf", tarFile, "manifest.json"], { encoding: "utf8" }));
    fs.rmSync(tarFile);
    const tagCount = manifest.rowCounts["public.tag"] as number;
    expect(tagCount).toBeGreaterThan(c0); // taken while the writer ran …
    expect(tagCount).toBeLessThan(c1); // … and not at its end
    const proof = await start("quay-restore-validate.service");
    expect({ code: proof.code, state: proof.state }).toEqual({ code: 0, state: "inactive" });
    expect(proof.journal).toContain(`public.tag=${tagCount}`);
  });

  test("no secret in any process's arguments here or on the host, in the engine's output or in the state; pg_restore ran as the restore role", async () => {
    const local = await localArgv!.stop();
    localArgv = undefined;
    const guest = await guestArgv!.stop();
    // the controls: both samplers caught every canary of a ~50 ms process, and scanned often
    expect(argvHits(local, canaries.local)).toHaveLength(3);
    expect(argvHits(guest, canaries.guest)).toHaveLength(3);
    expect(local.scans).toBeGreaterThan(1000);
    expect(guest.scans).toBeGreaterThan(1000);
    // the sampler saw the backup and the restore proof run
    expect(guest.samples.some((s) => s.cmdline.includes("quay-backup-to-minio"))).toBe(true);
    expect(guest.samples.some((s) => s.cmdline.includes("quay-restore-validate"))).toBe(true);
    // every pg_restore ran under the restore role's uid, never root's or postgres's
    const uid = (name: string) => host.sshOk(`id -u ${name}`).then((o) => Number(o.trim()));
    const [restoreUid, postgresUid] = [await uid("quay_restore_proof"), await uid("postgres")];
    // The processes that ARE pg_restore (their program, not a shell whose script text mentions it): Debian's
    // /usr/bin/pg_restore is pg_wrapper, a Perl script that execs /usr/lib/postgresql/N/bin/pg_restore; both run
    // as the role (runuser, which starts them, is root's).
    const restores = guest.samples.filter((s) => /^(\S*\/)?pg_restore --exit-on-error|^\S*perl \S*\/pg_restore --exit-on-error/.test(s.cmdline));
    expect(restores.map((s) => s.cmdline.split(" --")[0])).toEqual(expect.arrayContaining([expect.stringMatching(/^\/usr\/lib\/postgresql\/\d+\/bin\/pg_restore$/)]));
    expect([...new Set(restores.map((s) => s.uid))]).toEqual([restoreUid]);
    expect(restoreUid).not.toBe(postgresUid);
    const state = await stack.exportState();
    const secrets = [passphrase, STORAGE.secretKey, BACKUP.secretKey, RESTORE.secretKey, minio.root.secretKey, host.privateKey.split("\n")[4]!];
    expect(argvHits(local, secrets)).toEqual([]);
    expect(argvHits(guest, secrets)).toEqual([]);
    for (const secret of secrets) {
      expect(findPlaintext(state, secret)).toEqual([]);
      for (const out of engineOutput) expect(out).not.toContain(secret);
    }
  });
});
