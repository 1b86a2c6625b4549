// The restore proof authenticates a backup before anything reads it (format quay-mirror-backup/2,
// encrypt-then-MAC): the real quay-restore-validate script, rendered with a scratch work root, a stand-in mc
// serving objects from a local directory and stand-ins for runuser/useradd (so no database is touched), is
// given backups whose tags this test computes independently with Node's crypto. A byte flipped in the
// ciphertext with its .sha256 recomputed passes the checksum and is refused at the MAC check, before openssl
// decrypts or pg_restore could run; a wrong passphrase, a renamed backup and an untagged (format 1) backup are
// refused too, each naming the cause. The HMAC and key derivation of both scripts match Node's.
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { COUNT_ROWS_SQL, MAC_KEY_SALT, MANIFEST_FORMAT, readBackupTemplate, renderBackupTemplate } from "../../components/quay-backups/render";

const ITER = 1000; // the scripts take the count as a value; a small one keeps the test fast
const PASSPHRASE = "the-right-passphrase-0123456789abcdef";
const isRoot = process.getuid?.() === 0;

/** The shared HMAC block of a template (between its markers). */
function hmacBlock(text: string): string {
  const m = /^# --- HMAC-SHA256, encrypt-then-MAC[\s\S]*?^# --- end of HMAC-SHA256 ---$/m.exec(text);
  if (!m) throw new Error("HMAC block not found");
  return m[0];
}
const macKey = (passphrase: string) => crypto.pbkdf2Sync(passphrase, Buffer.from(MAC_KEY_SALT, "hex"), ITER, 32, "sha512");
const hmac = (key: Buffer, ...parts: Buffer[]) => {
  const h = crypto.createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "qm-restore-auth-"))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("both scripts carry the same HMAC block; it computes RFC 2104 HMAC-SHA256 and the PBKDF2-SHA512 key Node computes", () => {
  const block = hmacBlock(readBackupTemplate("quay-backup-to-minio"));
  expect(hmacBlock(readBackupTemplate("quay-restore-validate"))).toBe(block);
  const pf = path.join(dir, "pass");
  fs.writeFileSync(pf, `${PASSPHRASE}\n`, { mode: 0o600 });
  const data = path.join(dir, "data");
  fs.writeFileSync(data, Buffer.concat([crypto.randomBytes(5000), Buffer.from([0, 0, 10, 0])]));
  const r = spawnSync("bash", ["-c", `set -euo pipefail\niterations=${ITER}; mac_salt=${MAC_KEY_SALT}; passphrase_file=${pf}; format=x\n${block}\nk=$(mac_key); echo "$k"; hmac_sha256 "$k" "$1" "$1"`, "_", data], {
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin", HOME: dir },
  });
  expect(r.stderr).toBe("");
  const [k, mac] = r.stdout.trim().split("\n");
  expect(k).toBe(macKey(PASSPHRASE).toString("hex").toUpperCase());
  const body = fs.readFileSync(data);
  expect(mac).toBe(hmac(macKey(PASSPHRASE), body, body));
  // a key with bytes that XOR to 0 and to '\' in the pads, and a zero byte
  const odd = Buffer.from("365c00ff36365c5c0000000000000000000000000000000000000000000000ff", "hex");
  const r2 = spawnSync("bash", ["-c", `set -euo pipefail\n${block}\nhmac_sha256 "$2" "$1"`, "_", data, odd.toString("hex").toUpperCase()], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", HOME: dir } });
  expect(r2.stdout.trim()).toBe(hmac(odd, body));
});

(isRoot ? describe : describe.skip)("quay-restore-validate refuses what it cannot authenticate, before decrypting", () => {
  let s3: string;
  let fakeBin: string;
  let calls: string;
  let passFile: string;
  let script: string;
  let n = 0;
  const plaintext = () => {
    const work = path.join(dir, `plain-${n++}`);
    fs.mkdirSync(work);
    fs.writeFileSync(path.join(work, "quay.dump"), "not really a dump");
    const sha = crypto.createHash("sha256").update("not really a dump").digest("hex");
    fs.writeFileSync(path.join(work, "manifest.json"), JSON.stringify({ format: MANIFEST_FORMAT, files: [{ name: "quay.dump", size: 17, sha256: sha }], rowCounts: {} }));
    const tar = path.join(work, "b.tar.gz");
    execFileSync("tar", ["-czf", tar, "-C", work, "manifest.json", "quay.dump"]);
    return tar;
  };
  /** An object as the backup makes it; tag fields can be overridden; sets it as the only backup. */
  const put = (stamp: string, opts: { flip?: boolean; passphrase?: string; tagObject?: string; noTag?: boolean } = {}) => {
    fs.rmSync(path.join(s3, "quay-backups"), { recursive: true, force: true });
    const d = path.join(s3, "quay-backups/quay", stamp);
    fs.mkdirSync(d, { recursive: true });
    const name = `quay-${stamp}.tar.gz.enc`;
    const pass = opts.passphrase ?? PASSPHRASE;
    const enc = execFileSync("openssl", ["enc", "-aes-256-cbc", "-salt", "-pbkdf2", "-iter", String(ITER), "-pass", "stdin", "-in", plaintext()], { input: `${pass}\n` });
    const key = macKey(pass);
    const tag = [
      `format ${MANIFEST_FORMAT}`,
      `object ${opts.tagObject ?? name}`,
      `key-check ${hmac(key, Buffer.from(`${MANIFEST_FORMAT} key check\n`))}`,
      `hmac-sha256 ${hmac(key, Buffer.from(`${MANIFEST_FORMAT}\n${opts.tagObject ?? name}\n`), enc)}`,
    ].join("\n");
    const body = Buffer.from(enc);
    if (opts.flip) body[Math.floor(body.length / 2)] ^= 0x01;
    fs.writeFileSync(path.join(d, name), body);
    // the checksum always matches what is stored: whoever changed the object recomputed it
    fs.writeFileSync(path.join(d, `${name}.sha256`), `${crypto.createHash("sha256").update(body).digest("hex")}  ${name}\n`);
    if (!opts.noTag) fs.writeFileSync(path.join(d, `${name}.hmac`), `${tag}\n`);
  };
  const run = () => {
    fs.rmSync(calls, { force: true });
    const r = spawnSync("bash", [script], { encoding: "utf8", env: { PATH: `${fakeBin}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: dir }, timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: fs.existsSync(calls) ? fs.readFileSync(calls, "utf8") : "" };
  };

  beforeAll(() => {
    s3 = path.join(dir, "s3");
    fakeBin = path.join(dir, "bin");
    calls = path.join(dir, "calls.log");
    fs.mkdirSync(fakeBin);
    // mc: `ls --recursive restore/<bucket>/<prefix>/` and `cp restore/<object> <file>`, from the local directory
    fs.writeFileSync(
      path.join(fakeBin, "mc"),
      `#!/usr/bin/env bash
set -euo pipefail
root=${JSON.stringify(s3)}
while [ "\${1:-}" = --json ] || [ "\${1:-}" = --quiet ]; do shift; done
case "$1" in
  ls) p=\${3#restore/}; (cd "$root/$p" && find . -type f | sed 's|^\\./||' | while read -r k; do printf '{"status":"success","type":"file","key":"%s"}\\n' "$k"; done) ;;
  cp) cp "$root/\${2#restore/}" "$3"; echo '{"status":"success"}' ;;
  *) exit 1 ;;
esac
`,
      { mode: 0o755 },
    );
    // runuser (psql, pg_restore) and useradd only record that they were asked; nothing on this machine changes
    for (const [tool, code] of [["runuser", 1], ["useradd", 0]] as const) fs.writeFileSync(path.join(fakeBin, tool), `#!/bin/sh\necho "${tool} $*" >>${JSON.stringify(calls)}\nexit ${code}\n`, { mode: 0o755 });
    const cfg = path.join(dir, "mc-config.json");
    fs.writeFileSync(cfg, "{}", { mode: 0o600 });
    passFile = path.join(dir, "passphrase");
    fs.writeFileSync(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    script = path.join(dir, "quay-restore-validate");
    fs.writeFileSync(
      script,
      renderBackupTemplate("quay-restore-validate", {
        DATABASE: "quay", MC: path.join(fakeBin, "mc"), MC_CONFIG: cfg, BUCKET: "quay-backups", PREFIX: "quay", PASSPHRASE_FILE: passFile,
        WORK_ROOT: path.join(dir, "work"), ITERATIONS: ITER, COUNT_SQL: COUNT_ROWS_SQL, TEMP_PREFIX: "quay_restore_proof",
        FORMAT: MANIFEST_FORMAT, MAC_SALT: MAC_KEY_SALT, RESTORE_ROLE: "quay_restore_proof",
      }),
      { mode: 0o755 },
    );
  });

  test("control: a genuine backup authenticates and decrypts, and only then would the role and pg_restore be asked for", () => {
    put("29990101T000000Z");
    const r = run();
    expect(r.stdout).toMatch(/checksum ok/);
    expect(r.stdout).toMatch(/authenticated \(hmac-sha256 [0-9a-f]{16}…, quay-mirror-backup\/2\)/);
    expect(r.stdout).toMatch(/decrypted; manifest quay-mirror-backup\/2/);
    // the stand-in runuser refuses CREATE ROLE: the run stops there, after authentication and decryption
    expect(r.stderr).toMatch(/quay-restore-validate FAILED: cannot create the role quay_restore_proof/);
    expect(r.calls).toMatch(/CREATE ROLE "quay_restore_proof" LOGIN NOSUPERUSER/);
    expect(r.calls).toMatch(/^useradd --system .*quay_restore_proof$/m);
  });

  test("one ciphertext byte flipped and its .sha256 recomputed: the checksum passes, the MAC refuses it; nothing is decrypted or restored", () => {
    put("29990102T000000Z", { flip: true });
    const r = run();
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/checksum ok/);
    expect(r.stderr).toMatch(/quay-restore-validate FAILED: authentication failed: quay-backups\/quay\/29990102T000000Z\/quay-29990102T000000Z\.tar\.gz\.enc does not match its HMAC \(hmac-sha256 [0-9a-f]{16}…, quay-29990102T000000Z\.tar\.gz\.enc\.hmac says [0-9a-f]{16}…\) under the right passphrase \(its key check matches\) — the object was modified after it was made/);
    expect(r.stdout).not.toMatch(/decrypted|authenticated/);
    expect(r.calls).not.toMatch(/pg_restore|CREATE (ROLE|DATABASE)/);
  });

  test("a wrong passphrase is named as such (the key check), before decrypting", () => {
    put("29990103T000000Z", { passphrase: "another-passphrase-entirely-0000000" });
    const r = run();
    expect(r.stderr).toMatch(/quay-restore-validate FAILED: cannot decrypt quay-backups\/quay\/29990103T000000Z\/quay-29990103T000000Z\.tar\.gz\.enc with the passphrase in \S+: wrong passphrase — fix: .*\(its key check in quay-29990103T000000Z\.tar\.gz\.enc\.hmac does not match this passphrase\)/);
    expect(r.calls).not.toMatch(/pg_restore|CREATE (ROLE|DATABASE)/);
  });

  test("a genuine older backup renamed to look newer, and a backup without a tag (format 1), are refused", () => {
    put("29990104T000000Z", { tagObject: "quay-20260101T000000Z.tar.gz.enc" });
    let r = run();
    expect(r.stderr).toMatch(/FAILED: authentication failed: \S+\.hmac is the tag of another object \(quay-20260101T000000Z\.tar\.gz\.enc\)/);
    put("29990105T000000Z", { noTag: true });
    r = run();
    expect(r.stderr).toMatch(/FAILED: quay-backups\/quay\/29990105T000000Z\/quay-29990105T000000Z\.tar\.gz\.enc has no quay-29990105T000000Z\.tar\.gz\.enc\.hmac beside it: it cannot be authenticated, so it is not restored/);
    expect(r.calls).not.toMatch(/pg_restore|CREATE (ROLE|DATABASE)/);
  });
});
